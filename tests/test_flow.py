"""End to end: the sample meeting through the Prefect flow (one session-scoped harness).

The vote numbers are the ones worked out by hand in data/README.md from votes.csv.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from flows.meeting import meeting_flow
from pipeline.errors import InputError
from tests.conftest import LOCAL_CODEBOOK, MEASURES, MEETING_1, MEETING_2, MODELS, ROOT, sample_settings
from tests.factories import add_new_comment

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


def run(meeting: Path, out_root: Path, decisions: Path | None = None) -> Path:
    return Path(meeting_flow(meeting_dir=meeting, settings=sample_settings(out_root, decisions=decisions)))


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def meeting2(meeting2_run: Path) -> Path:
    return meeting2_run


def test_outputs_exist(meeting2: Path) -> None:
    assert meeting2.name == "2024-05-22"
    for name in ("report.html", "report.md", "tagged.csv", "manifest.json", "rejects.csv", "votes_by_card.csv",
                 "votes_by_measure.csv", "votes_by_pillar.csv", "votes_by_department.csv", "keywords.csv"):
        assert (meeting2 / name).is_file(), name
    assert not list(meeting2.parent.glob(".*tmp*"))  # the temporary folder was swapped in


def test_vote_tallies_match_the_hand_count(meeting2: Path) -> None:
    cards = read(meeting2 / "votes_by_card.csv").set_index("card_id")
    assert cards["round_1"].astype(int).to_dict() == {
        "C02": 7, "C11": 6, "C25": 5, "C03": 5, "C07": 4, "C12": 4, "C24": 4, "C01": 4,
        "C27": 3, "C16": 3, "C26": 3, "C13": 3, "C19": 2, "C21": 1}
    r2 = cards["round_2"].astype(int)
    assert r2[r2 > 0].to_dict() == {"C02": 5, "C11": 4, "C25": 3, "C03": 2, "C07": 2, "C12": 1, "C24": 1}
    assert list(cards.index[:3]) == ["C02", "C11", "C25"]
    assert cards.loc["C02", "share_2"] == "27.8"            # 5 / 18

    measures = read(meeting2 / "votes_by_measure.csv").set_index("measure_id")
    assert measures["round_1"].astype(int).to_dict() == {
        "P1-1": 9, "P1-2": 9, "P1-3": 2, "P2-1": 16, "P2-2": 11, "P2-3": 0,
        "P3-1": 13, "P3-2": 0, "P3-3": 8, "P3-4": 0, "P4-1": 9, "P4-2": 3}
    assert measures["round_2"].astype(int).to_dict() == {
        "P1-1": 2, "P1-2": 3, "P1-3": 0, "P2-1": 7, "P2-2": 7, "P2-3": 0,
        "P3-1": 5, "P3-2": 0, "P3-3": 2, "P3-4": 0, "P4-1": 4, "P4-2": 0}

    pillars = read(meeting2 / "votes_by_pillar.csv").set_index("pillar_id")
    assert pillars["round_1"].astype(int).to_dict() == {"P1": 19, "P2": 20, "P3": 21, "P4": 12, "(なし)": 0}
    assert pillars["round_2"].astype(int).to_dict() == {"P1": 5, "P2": 9, "P3": 7, "P4": 4, "(なし)": 0}

    depts = read(meeting2 / "votes_by_department.csv").set_index("department")
    assert depts["round_1"].astype(int).to_dict() == {
        "福祉政策課": 22, "地域包括支援課": 10, "防災安全課": 9, "社会福祉協議会": 6,
        "健康増進課": 3, "障害福祉課": 3, "協働推進課": 1}
    assert depts["round_2"].astype(int).sum() == 18


def test_tagged_holds_every_comment_verbatim_after_normalisation(meeting2: Path) -> None:
    tagged = read(meeting2 / "tagged.csv")
    assert len(tagged) == 40 + 28
    fb = tagged[tagged["source"] == "feedback"]
    assert fb["kind"].value_counts().to_dict() == {"重要な理由": 14, "感想": 8, "追加すべき視点": 6}
    texts = set(fb["text"])
    assert "K-Netは登録制なので、取りこぼしは出る。要支援のかたについては、個別避難計画計画を立てないと、" \
           "災害時に漏れてしまうためどちらも必要。" in texts


def test_manifest_counts_and_hashes(meeting2: Path) -> None:
    man = json.loads((meeting2 / "manifest.json").read_text(encoding="utf-8"))
    assert (man["rows"]["rows_in"], man["rows"]["rows_ok"], man["rows"]["rows_rejected"]) == (152, 152, 0)
    assert man["seed"] == 0
    assert set(man["inputs"]) >= {"cards", "feedback", "votes", "measures", "lexicon", "stopwords"}
    read_from = {"cards": MEETING_2 / "cards.csv", "feedback": MEETING_2 / "feedback.csv",
                 "votes": MEETING_2 / "votes.csv", "measures": MEASURES, "lexicon": MODELS / "lexicon.yaml",
                 "stopwords": MODELS / "stopwords.txt", "codebook": MODELS / "codebook.yaml",
                 "codebook_layer_1": LOCAL_CODEBOOK, "theme_labels": MODELS / "theme_labels.csv"}
    assert {k: (v["file"], v["sha256"]) for k, v in man["inputs"].items()} == {   # hashed here, independently
        k: (path.name, hashlib.sha256(path.read_bytes()).hexdigest()) for k, path in read_from.items()}


def test_report_sections(meeting2: Path) -> None:
    html = (meeting2 / "report.html").read_text(encoding="utf-8")
    for heading in ("概要", "この会議で分かったこと", "投票結果", "意見一覧", "重要な理由（14件）", "追加すべき視点（6件）", "感想（8件）",
                    "施策別", "裏付けのない施策案", "紐づけの見直し候補", "テーマ別", "テーマ × 種別",
                    "テーマ × 基本方針", "語の共起ネットワーク", "付録", "種別ごとの上位キーワード"):
        assert heading in html
    md = (meeting2 / "report.md").read_text(encoding="utf-8")
    assert "| C02 | あいネット（福祉の総合相談窓口） | 福祉政策課 | P2-1、P2-2 | 7 | 5 |" in md


def test_check_outputs_tool_passes(meeting2: Path) -> None:
    tool = ROOT.parent / "shared" / "tools" / "check_outputs.py"
    if not tool.exists():
        pytest.skip(f"{tool} is not beside this checkout")
    res = subprocess.run([sys.executable, str(tool), str(meeting2), "--measures", str(MEASURES)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout


def copy_meeting(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    shutil.copy(LOCAL_CODEBOOK, dst / LOCAL_CODEBOOK.name)  # the sample city's codebook layer comes along
    return dst


def test_cp932_and_xlsx_copies_give_the_same_tagged_csv(meeting2: Path, tmp_path: Path) -> None:
    sjis = copy_meeting(MEETING_2, tmp_path / "sjis")
    text = (MEETING_2 / "feedback.csv").read_text(encoding="utf-8")
    (sjis / "feedback.csv").write_bytes(text.encode("cp932"))

    xlsx = copy_meeting(MEETING_2, tmp_path / "xlsx")
    (xlsx / "feedback.csv").unlink()
    wb = openpyxl.Workbook()
    for row in csv.reader(text.splitlines()):
        wb.active.append(row)
    wb.save(xlsx / "feedback.xlsx")

    expected = (meeting2 / "tagged.csv").read_bytes()
    for folder in (sjis, xlsx):
        out = run(folder, tmp_path / f"out-{folder.name}")
        assert (out / "tagged.csv").read_bytes() == expected, folder.name


def test_unknown_card_vote_lands_in_rejects_with_row_number(tmp_path: Path) -> None:
    m = copy_meeting(MEETING_2, tmp_path / "m")
    with (m / "votes.csv").open("a", encoding="utf-8") as f:
        f.write("C99,1,1,P01,A\n")
    out = run(m, tmp_path / "out")
    rejects = read(out / "rejects.csv")
    assert rejects[["file", "row", "column"]].values.tolist() == [["votes.csv", "74", "card_id"]]
    assert "C99" in rejects.loc[0, "reason"]
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    votes = next(f for f in man["rows"]["files"] if f["kind"] == "votes")
    assert (votes["rows_in"], votes["rows_ok"], votes["rows_rejected"]) == (73, 72, 1)


def test_feedback_without_text_column_stops_the_flow_with_a_named_error(tmp_path: Path) -> None:
    m = copy_meeting(MEETING_1, tmp_path / "m")
    (m / "feedback.csv").write_text("comment_id,kind\nF01,感想\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"feedback\.csv") as err:
        run(m, tmp_path / "out")
    assert "text" in str(err.value)
    assert not (tmp_path / "out" / "2024-05-08").exists()


def test_failed_run_keeps_previous_outputs(tmp_path: Path) -> None:
    m = copy_meeting(MEETING_1, tmp_path / "m")
    out = run(m, tmp_path / "out")
    before = (out / "tagged.csv").read_bytes()
    (m / "feedback.csv").write_text("comment_id,kind\nF01,感想\n", encoding="utf-8")
    with pytest.raises(InputError):
        run(m, tmp_path / "out")
    assert (out / "tagged.csv").read_bytes() == before


def test_a_run_that_fails_while_writing_leaves_the_previous_outputs_whole(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Never half-written: the second run has new input (so every table it writes differs) and fails after the
    tables, at the HTML report; the folder still holds the first run's files, byte for byte, and nothing else."""
    m = copy_meeting(MEETING_1, tmp_path / "m")
    out = run(m, tmp_path / "out")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    add_new_comment(m)
    written: list[Path] = []

    def failing_report(*args: object, **kwargs: object) -> str:
        written.extend(p for p in (tmp_path / "out").rglob("tagged.csv") if "F99" in p.read_text(encoding="utf-8-sig"))
        raise OSError("disk full")

    monkeypatch.setattr("pipeline.run.writers.render_html", failing_report)
    with pytest.raises(OSError, match="disk full"):
        run(m, tmp_path / "out")
    assert written                                       # the failure came after the new tables were written
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith(".lock")) == [out.name]


def test_perspectives_and_network_written(meeting2: Path) -> None:
    persp = read(meeting2 / "perspectives.csv")
    assert set(persp["status"]) == {"new"}                        # no earlier meeting in this out-root
    assert (meeting2 / "network.png").read_bytes().startswith(b"\x89PNG")
    tagged = read(meeting2 / "tagged.csv").set_index("item_id")
    supporting = {i for ids in persp["item_ids"] for i in ids.split("|")}
    assert set(tagged.index[tagged["new_perspective"] == "1"]) == supporting
    assert tagged["cluster"].str.match(r"^K\d+$").all()
    html = (meeting2 / "report.html").read_text(encoding="utf-8")
    assert "新たな視点(案)" in html and "data:image/png;base64," in html
    assert "ハイティーン（16～18歳）の高校中退したかたへの支援が薄い" in html          # verbatim quote


def test_two_runs_give_byte_identical_outputs(meeting2: Path, tmp_path: Path) -> None:
    again = run(MEETING_2, tmp_path / "again")
    names = sorted(p.name for p in meeting2.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        if name == "manifest.json":
            continue
        assert (meeting2 / name).read_bytes() == (again / name).read_bytes(), name
    a, b = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (meeting2, again))
    for m in (a, b):
        for volatile in ("started_at", "finished_at", "timings_seconds", "parameters"):
            m.pop(volatile)
    assert a == b


def test_second_meeting_marks_what_recurs_from_the_first(tmp_path: Path) -> None:
    run(MEETING_1, tmp_path / "out")
    out = run(MEETING_2, tmp_path / "out")
    persp = read(out / "perspectives.csv").set_index("main_theme")
    assert persp.loc["就労", "status"] == "recurring" and persp.loc["就労", "recurring_in"] == "2024-05-08"
    assert persp.loc["ひきこもり", "status"] == "new"
    trend = read(out / "themes_trend.csv").set_index("theme")
    assert list(trend.columns) == ["2024-05-08", "2024-05-22"]
    assert int(trend.loc["防災", "2024-05-22"]) > 0
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert man["perspectives"]["earlier_meetings"] == ["2024-05-08"]


def fill(xlsx: Path, decisions: dict[str, tuple[str, str]], out: Path) -> Path:
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["レビュー"]
    header = [c.value for c in ws[1]]
    key_col, dec_col, cor_col = (header.index(c) + 1 for c in ("キー", "判定", "修正後"))
    found = set()
    for row in range(2, ws.max_row + 1):
        key = ws.cell(row=row, column=key_col).value
        if key in decisions:
            ws.cell(row=row, column=dec_col).value, ws.cell(row=row, column=cor_col).value = decisions[key]
            found.add(key)
    assert found == set(decisions), set(decisions) - found
    wb.save(out)
    return out


def test_review_decisions_change_the_next_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import EXIT_OK, EXIT_PROBLEMS, main

    root, log = tmp_path / "out", tmp_path / "review_decisions.csv"
    first = run(MEETING_2, root, decisions=log)
    persp = read(first / "perspectives.csv").set_index("main_theme")
    players = f"perspective|{persp.loc['多様な主体', 'item_ids'].replace('|', '+')}|多様な主体"
    cli = ["--log", str(log), "--out-root", str(root), "--measures", str(MEASURES),
           "--codebook", str(MODELS / "codebook.yaml")]

    bad = fill(first / "report.xlsx", {"theme|C15|居場所": ("たぶん", "")}, tmp_path / "bad.xlsx")
    assert main(["review", "apply", str(bad), *cli]) == EXIT_PROBLEMS
    assert "判定「たぶん」" in capsys.readouterr().out and not log.exists()

    good = fill(first / "report.xlsx", {
        "theme|C15|居場所": ("不採用", ""),
        "theme|F20|子ども・若者": ("修正", "就労"),
        "measure|C09|P2-3": ("採用", ""),
        players: ("不採用", ""),
    }, tmp_path / "filled.xlsx")
    assert main(["review", "apply", str(good), *cli]) == EXIT_OK
    assert len(pd.read_csv(log, encoding="utf-8-sig")) == 4

    second = run(MEETING_2, root, decisions=log)
    tagged = read(second / "tagged.csv").set_index("item_id")
    assert "居場所" not in tagged.loc["C15", "themes"].split("|")
    assert "就労" in tagged.loc["F20", "themes"].split("|") and "子ども・若者" not in tagged.loc["F20", "themes"]
    assert tagged.loc["C09", "measures"] == "P2-1|P2-3"
    assert "C09" not in set(read(second / "suggested_links.csv")["card_id"])
    assert read(second / "coverage.csv").set_index("measure_id").loc["P2-3", "status"] == "カードのみ"
    assert "多様な主体" not in set(read(second / "perspectives.csv")["main_theme"])
    html = (second / "report.html").read_text(encoding="utf-8")
    assert "前回までの判定で変わったこと" in html
    man = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    assert man["review"] == {"decisions_in_log": 4, "changes_applied": 5}   # 2 tags out, 1 in, 1 link, 1 perspective
    review = read(second / "review.csv").set_index("キー")
    assert "theme|C15|居場所" not in review.index and "measure|C09|P2-3" not in review.index


def test_prefect_artifacts_are_published(meeting2: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        keyed = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(like_="kyosei-2024-05-22")))
        progress = [a for a in client.read_artifacts() if a.type == "progress"]
    kinds = {a.key: a.type for a in keyed}
    data = {a.key: str(a.data) for a in keyed}
    assert kinds["kyosei-2024-05-22-summary"] == "markdown" and "新たな視点(案)" in data["kyosei-2024-05-22-summary"]
    assert "report.html" in data["kyosei-2024-05-22-report"]             # Prefect stores a link as markdown
    for table in ("votes", "coverage", "perspectives"):
        assert kinds[f"kyosei-2024-05-22-{table}"] == "table"
    assert progress and max(float(a.data) for a in progress) == 100.0


