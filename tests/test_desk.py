"""On a real analyst's desk: Japanese folder names, shared drives, meetings with nothing usable, series, loud
warnings, Ctrl-C — each through the command line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, main
from pipeline.run import outputs
from tests.conftest import LOCAL_CODEBOOK, MEASURES, MEETING_1, MEETING_2

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness", "no_prefect_console")]


def meeting(tmp_path: Path, name: str, source: Path = MEETING_2, **yaml: str) -> Path:
    """A copy of a sample meeting in ``tmp_path/<name>`` whose meeting.yaml has only ``yaml`` (no id: the folder
    name is the meeting's id)."""
    folder = tmp_path / name
    shutil.copytree(source, folder)
    shutil.copy(LOCAL_CODEBOOK, folder / LOCAL_CODEBOOK.name)  # the sample city's codebook layer comes along
    (folder / "meeting.yaml").write_text("".join(f"{k}: {v}\n" for k, v in yaml.items()), encoding="utf-8")
    return folder


def run(folder: Path, out: Path, *extra: str) -> int:
    return main(["run", str(folder), "--measures", str(MEASURES), "--out-root", str(out), "--quiet", *extra])


@pytest.mark.parametrize("name", ["第3回連携会議（7月）", "第3回 連携会議 (7月)"])
def test_japanese_folder_names_with_and_without_spaces(tmp_path: Path, name: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = meeting(tmp_path, name, title="連携会議", date="2024-07-10")
    assert main(["validate", str(folder), "--measures", str(MEASURES)]) == EXIT_OK
    assert run(folder, tmp_path / "out") == EXIT_OK, capsys.readouterr().err
    out = tmp_path / "out" / name
    man = json.loads((out / outputs.MANIFEST.file).read_text(encoding="utf-8"))
    assert man["meeting_id"] == name
    assert name in (out / outputs.REPORT_HTML.file).read_text(encoding="utf-8")


def test_a_bad_folder_name_points_at_the_folder_not_a_missing_meeting_yaml(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = meeting(tmp_path, "会議.")                                  # Windows cannot end a name with a dot
    (folder / "meeting.yaml").unlink()
    assert run(folder, tmp_path / "out") == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{folder}: フォルダ名「会議.」は会議IDに使えません" in err and "meeting.yaml を作って" in err
    assert "meeting.yaml:" not in err


def test_outputs_follow_the_umask_so_colleagues_can_read_them(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert run(MEETING_2, tmp_path / "out") == EXIT_OK
    finally:
        os.umask(old)
    folder = tmp_path / "out" / "2024-05-22"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name


def test_nothing_usable_stops_with_reasons_and_never_breaks_the_next_run(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = meeting(tmp_path, "全部だめ", title="空の会議")
    for f in ("cards.csv", "votes.csv"):
        (bad / f).unlink()
    (bad / "feedback.csv").write_text("comment_id,text,kind\nF1,,感想\nF2,,感想\nF3,   ,感想\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run(bad, out) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "使えるカード・意見が1件もありません（入力 3 行をすべて除外）" in err
    assert f"{out / '全部だめ.rejects.csv'}" in err
    assert (out / "全部だめ.rejects.csv").read_text(encoding="utf-8-sig").count("\n") == 4  # header + 3 rows
    assert not (out / "全部だめ").exists()
    # an empty folder, a folder of someone else's files and a broken earlier output sit in the same out-root
    (out / "空のフォルダ").mkdir()
    (out / "よその資料").mkdir()
    (out / "よその資料" / "メモ.txt").write_text("会議のメモ", encoding="utf-8")
    broken = out / "2024-05-01"
    broken.mkdir()
    (broken / outputs.MANIFEST.file).write_text('{"meeting_id": "2024-05-01"}', encoding="utf-8")
    (broken / outputs.TAGGED.file).write_text("", encoding="utf-8")
    assert run(MEETING_2, out) == EXIT_OK
    report = (out / "2024-05-22" / outputs.REPORT_MD.file).read_text(encoding="utf-8")
    assert f"{broken}: 以前の会議として使いませんでした — 壊れているか古い形式です" in report
    assert "よその資料: 以前の会議として使いませんでした — kyosei の出力ではありません" in report


def test_series_decide_which_earlier_meetings_count(tmp_path: Path) -> None:
    out = tmp_path / "out"
    a = meeting(tmp_path / "連携会議", "第1回", MEETING_1, date="2024-05-08")
    pc = meeting(tmp_path / "計画案", "意見募集", MEETING_2, date="2024-05-15", series="計画案への意見募集")
    b = meeting(tmp_path / "連携会議", "第2回", MEETING_2, date="2024-05-22")
    for folder in (a, pc, b):
        assert run(folder, out) == EXIT_OK
    man = {m: json.loads((out / m / outputs.MANIFEST.file).read_text(encoding="utf-8"))
           for m in ("第1回", "意見募集", "第2回")}
    assert man["第1回"]["series"] == man["第2回"]["series"] == "連携会議 / ワークショップ"   # default: folder + kind
    assert man["意見募集"]["series"] == "計画案への意見募集"                                  # declared
    assert man["意見募集"]["perspectives"]["earlier_meetings"] == []       # 第1回 is another series
    assert man["第2回"]["perspectives"]["earlier_meetings"] == ["第1回"]   # not the public-comment round


def test_warnings_on_the_terminal_in_the_report_and_from_validate(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    m = meeting(tmp_path / "data" / "meetings", "第5回", date="2024-06-01")
    lines = (m / "feedback.csv").read_text(encoding="utf-8").splitlines()
    lines[0] += ",記入日時"
    lines[1:] = [f"{line},2024/06/01 10:{n:02d}" for n, line in enumerate(lines[1:])]
    lines.append("F99,,感想,,,2024/06/01 11:00")                    # an empty comment: refused
    (m / "feedback.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import openpyxl

    wb = openpyxl.Workbook()                                      # the meeting's budget sheet: not a table we read
    wb.active.title = "予算"
    wb.active.append(["項目", "金額"])
    wb.active.append(["会場費", 12000])
    wb.save(m / "会議資料.xlsx")
    other = tmp_path / "施策一覧.csv"
    other.write_text("pillar_id,pillar_name,measure_id,measure_name,description\n"
                     "A,相談,A-1,総合相談窓口の設置,どこに相談すればよいかわからない人の相談を受け止める\n", encoding="utf-8")
    assert main(["validate", str(m), "--measures", str(other)]) != EXIT_OK   # one row refused
    said = capsys.readouterr().out
    assert "記入日時" in said and "この施策一覧にありません" in said and "会議資料.xlsx は読み込んでいません" in said
    # most cards name measures this table lacks: the outputs are written, the run does not look finished
    assert main(["run", str(m), "--measures", str(other), "--out-root", str(tmp_path / "out")]) == EXIT_PROBLEMS
    captured = capsys.readouterr()
    said = captured.out
    assert "cards.csv の 40 行のうち" in captured.err and "半分を超えています" in said
    assert "注意: 取り込めなかった行が " in said                   # cards linked to measures the table lacks, too
    assert "注意: feedback.csv の列 「記入日時」 は使っていません" in said
    assert "注意: コードブックがテーマと紐づけている施策ID" in said
    assert "注意: 会議資料.xlsx は読み込んでいません（意見・カード・投票の表ではありません）。" in said
    report = (tmp_path / "out" / "第5回" / outputs.REPORT_MD.file).read_text(encoding="utf-8")
    assert "### 注意（この結果を読む前に確かめてください）" in report and "記入日時" in report


def test_the_sample_policy_table_used_by_default_is_announced(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    m = meeting(tmp_path / "庁内" / "会議", "第6回", date="2024-06-08")   # no measures.csv beside it
    cwd = Path.cwd()
    os.chdir(MEASURES.parents[1])                                       # a kyosei checkout: data/measures.csv
    try:
        assert main(["run", str(m), "--out-root", str(tmp_path / "out")]) == EXIT_OK
        said = capsys.readouterr().out
        assert main(["validate", str(m)]) == EXIT_OK
        checked = capsys.readouterr().out
    finally:
        os.chdir(cwd)
    assert "注意: 施策一覧を指定していないため、見本の施策一覧" in said
    assert "施策一覧を指定していないため" in checked and "問題はありません" not in checked


# --- Ctrl-C, in a real process group -----------------------------------------------------------------------

PAUSED_AT = """
import sys, time
from pathlib import Path
from flows.cli.common import _prefect_env
from flows.terminal import private_stderr
private_stderr()                                   # as the kyosei command starts
_prefect_env(verbose=False)
import flows.meeting, flows.outfolder
stage, ready = sys.argv[1], Path(sys.argv[2])

def pause():
    ready.write_text(stage, encoding="utf-8")     # the test sends Ctrl-C once it sees this
    time.sleep(600)

if stage == "swap":                                # between the swap's two renames
    rename, calls = flows.outfolder._rename, [0]
    def pausing(src, dst):
        calls[0] += 1
        if calls[0] == 2:
            pause()
        rename(src, dst)
    flows.outfolder._rename = pausing
else:                                              # right after the stage's end
    done = flows.meeting.StageClock.done
    def pausing_done(self, name, *args, **kwargs):
        done(self, name, *args, **kwargs)
        if name == stage:
            pause()
    flows.meeting.StageClock.done = pausing_done
from flows.cli import main
sys.exit(main(sys.argv[3:]))
"""
"""``kyosei run`` that pauses at a named stage and says so in a file: the test's Ctrl-C lands there, on any machine."""


@pytest.mark.slow
@pytest.mark.parametrize(("stage", "new_outputs"), [
    ("ingest", False),          # inputs read, nothing analysed
    ("themes", False),          # mid-analysis
    ("swap", False),            # between the two renames: the old folder is renamed back at once
    ("report", True),           # the new outputs are in
])
def test_ctrl_c_ends_with_one_line_and_keeps_a_whole_output_folder(tmp_path: Path, meeting2_run: Path,
                                                                   stage: str, new_outputs: bool) -> None:
    out = tmp_path / "out"
    shutil.copytree(meeting2_run, out / "2024-05-22")                   # an earlier run's outputs
    folder = out / "2024-05-22"
    (folder / outputs.MANIFEST.file).write_text(                         # marked, to tell them from a new run's
        (folder / outputs.MANIFEST.file).read_text(encoding="utf-8").replace('"meeting_id"', '"earlier": 1, "meeting_id"'),
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    ready = tmp_path / "ready"
    proc = subprocess.Popen([sys.executable, "-c", PAUSED_AT, stage, str(ready), "run", str(MEETING_2), "--measures",
                             str(MEASURES), "--out-root", str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), f"the run never reached {stage}: {proc.poll()}"
        os.killpg(proc.pid, signal.SIGINT)                              # like Ctrl-C: the whole process group
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130
    assert err.strip().splitlines() == [
        "中断しました。出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）/ "
        "interrupted; the output folder holds either the previous or the finished new results, never a "
        "half-written one"]
    man = json.loads((folder / outputs.MANIFEST.file).read_text(encoding="utf-8"))
    assert all((folder / f).is_file() for f in man["files"])            # a whole folder, old or new
    assert ("earlier" not in man) is new_outputs
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock")) == ["2024-05-22"]


def test_a_cp932_console_gets_question_marks_not_a_crash(tmp_path: Path) -> None:
    folder = meeting(tmp_path, "会議🌸特別", title="連携会議", date="2024-05-22")   # no CP932 code for 🌸
    env = {**os.environ, "PYTHONIOENCODING": "cp932"}
    res = subprocess.run([str(Path(sys.executable).parent / "kyosei"), "validate", str(folder), "--measures",
                          str(MEASURES)], env=env, capture_output=True, timeout=120, check=False)
    assert res.returncode == EXIT_OK, res.stderr.decode("cp932", "replace")
    out = res.stdout.decode("cp932")
    assert "会議?特別" in out and "問題はありません" in out         # replaced, and the check went on
