"""The bad-input corpus through `kyosei run`: rows refused with reasons or one clear message, never a
traceback, never a half-written output folder (tests/bad_inputs/README.md)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from flows.cli import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS, main
from tests.conftest import MEASURES, MEETING_2, MODELS, ROOT
from tests.factories import add_new_comment, meeting_copy

BAD = ROOT / "tests" / "bad_inputs"
pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture(autouse=True)
def _console(no_prefect_console: None) -> None:
    """Runs here are checked through the CLI's own output (see conftest.no_prefect_console)."""


def meeting(tmp_path: Path, **replace: Path | bytes | str) -> Path:
    return meeting_copy(tmp_path, **replace)


def kyosei_run(m: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", str(m), "--measures", str(MEASURES), "--out-root", str(out), "--quiet",
                 "--lexicon", str(MODELS / "lexicon.yaml"), "--stopwords", str(MODELS / "stopwords.txt"),
                 "--codebook", str(MODELS / "codebook.yaml"), "--decisions", str(out / "none.csv")])
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text
    return code, text


def assert_no_half_output(out: Path) -> None:
    assert not (out / "2024-05-22").exists()
    assert not list(out.glob(".*tmp*")) if out.exists() else True


def rejects(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "2024-05-22" / "rejects.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


def tagged(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "2024-05-22" / "tagged.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.mark.parametrize(("replace", "message"), [
    ({"feedback.csv": BAD / "empty.csv"}, "空のファイル"),
    ({"feedback.csv": BAD / "binary_garbage.csv"}, "バイナリ"),
    ({"meeting.yaml": BAD / "meeting_escape.yaml"}, "会議ID"),
    ({"meeting.yaml": BAD / "meeting_wrong_types.yaml"}, "meeting.yaml"),
    ({"meeting.yaml": BAD / "meeting_unsafe.yaml"}, "YAML"),
    ({"feedback.csv": "ID,種別\nF1,感想\n"}, "text"),
])
def test_unusable_files_stop_with_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              replace: dict, message: str) -> None:
    code, text = kyosei_run(meeting(tmp_path, **replace), tmp_path / "out", capsys)
    assert code == EXIT_ERROR and message in text
    assert "pwned" not in text
    assert_no_half_output(tmp_path / "out")


def assert_labels_on_word_boundaries(out: Path) -> None:
    """Every suggestion's label and every cluster label of a run starts and ends where words do, in a comment."""
    from pipeline.perspectives.records import on_token_boundaries
    from pipeline.text.tokenise import Tokeniser, load_lexicon

    tokeniser = Tokeniser(lexicon=load_lexicon(MODELS / "lexicon.yaml"))
    folder = out / "2024-05-22"
    texts = tagged(out)["text"].tolist()
    read = {name: pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
            for name in ("perspectives.csv", "clusters.csv")}
    for label in read["perspectives.csv"]["label"]:
        assert any(on_token_boundaries(label, t, tokeniser) for t in texts if label in t), label
    canonical = [tokeniser.lexicon.canonical(t) for t in texts]
    clusters = read["clusters.csv"]
    for label, top in zip(clusters["label"], clusters["top_terms"], strict=True):
        terms = top.split("|")[:3]                      # the label is its first three terms (a term may hold ・)
        assert label == "・".join(terms)
        for term in terms:
            assert any(on_token_boundaries(term, t, tokeniser) for t in canonical if term in t), (label, term)


def test_bad_rows_are_refused_and_the_rest_analysed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, text = kyosei_run(meeting(tmp_path, **{"votes.csv": BAD / "votes_bad.csv"}), out, capsys)
    # 4 of the 5 vote rows refused: the outputs are written, but the run does not look finished
    assert code == EXIT_PROBLEMS and "votes.csv の 5 行のうち 4 行を取り込めませんでした（半分を超えています）" in text
    report = (out / "2024-05-22" / "report.md").read_text(encoding="utf-8")
    notes = report.split("### 注意（この結果を読む前に確かめてください）", 1)[1]
    assert notes.index("votes.csv の 5 行のうち 4 行") < notes.index("取り込めなかった行が")      # said first
    got = rejects(out)
    assert list(zip(got["file"], got["row"], strict=True)) == [("votes.csv", str(r)) for r in (3, 4, 5, 6)]
    man = json.loads((out / "2024-05-22" / "manifest.json").read_text(encoding="utf-8"))
    for f in man["rows"]["files"]:
        assert f["rows_in"] == f["rows_ok"] + f["rows_rejected"]
    assert_labels_on_word_boundaries(out)


def test_header_only_and_mixed_encodings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = kyosei_run(meeting(tmp_path / "a", **{"feedback.csv": BAD / "header_only.csv"}), tmp_path / "o1", capsys)
    assert code == EXIT_OK and (tagged(tmp_path / "o1")["source"] == "card").all()
    code, _ = kyosei_run(meeting(tmp_path / "b", **{"feedback.csv": BAD / "mixed_encodings.csv"}), tmp_path / "o2",
                         capsys)
    assert code == EXIT_OK
    fb = tagged(tmp_path / "o2").query("source == 'feedback'")
    assert fb["text"].tolist() == ["UTF-8で書かれた意見", "Shift_JISで書かれた意見", "またUTF-8の意見"]


def test_control_characters_and_injection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    hostile = (BAD / "formula_text.csv").read_text(encoding="utf-8") + \
        (BAD / "control_chars.csv").read_text(encoding="utf-8").split("\n", 1)[1].replace("F01", "F11").replace(
            "F02", "F12")
    code, _ = kyosei_run(meeting(tmp_path, **{"feedback.csv": hostile}), out, capsys)
    assert code == EXIT_OK
    t = tagged(out).set_index("item_id")
    assert t.loc["F01", "text"].startswith("'=HYPERLINK") and t.loc["F02", "text"].startswith("'+81")
    assert t.loc["F03", "text"].startswith("'-1") and t.loc["F04", "text"].startswith("'@")
    assert "\u200b" not in t.loc["F11", "text"] and "\x07" not in t.loc["F11", "text"]
    html = (out / "2024-05-22" / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    wb = openpyxl.load_workbook(out / "2024-05-22" / "report.xlsx")
    ws = wb["カード・コメント"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)
    assert_labels_on_word_boundaries(out)


def test_huge_comment_and_huge_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long_text = ("地域で相談できる場所と就労支援が必要だ。" * 5000)[:100_000]
    feedback = f"comment_id,text,kind\nF01,{long_text},追加すべき視点\nF02,ふつうの意見,感想\n"
    votes = "card_id,round,blocks,voter\n" + "".join(f"C{(i % 40) + 1:02d},{1 + i % 2},1,P{i:06d}\n"
                                                       for i in range(100_000))
    out = tmp_path / "out"
    code, _ = kyosei_run(meeting(tmp_path, **{"feedback.csv": feedback, "votes.csv": votes}), out, capsys)
    assert code == EXIT_OK
    t = tagged(out).set_index("item_id")
    assert len(t.loc["F01", "text"]) == 100_000 and "就労" in t.loc["F01", "themes"]
    man = json.loads((out / "2024-05-22" / "manifest.json").read_text(encoding="utf-8"))
    votes_row = next(f for f in man["rows"]["files"] if f["kind"] == "votes")
    assert votes_row["rows_in"] == votes_row["rows_ok"] == 100_000
    assert_labels_on_word_boundaries(out)


def test_workbook_with_sheets_merged_cells_formulas_and_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "表紙"
    wb.active.append(["第2回 意見まとめ（表紙）"])
    ws = wb.create_sheet("意見")
    ws.append(["ID", "意見", "種別", "グループ"])
    ws.append(["F01", "相談窓口の充実が必要", "重要な理由", "A"])
    ws.append(["F02", "=B2", "感想", "A"])                         # uncalculated formula: no text
    ws.append(["F03", dt.date(2024, 5, 22), "感想", "B"])          # a date typed into the text column
    ws.merge_cells("D2:D3")
    m = tmp_path / "m"
    shutil.copytree(MEETING_2, m)
    (m / "feedback.csv").unlink()
    wb.save(m / "feedback.xlsx")
    out = tmp_path / "out"
    code, _ = kyosei_run(m, out, capsys)
    assert code == EXIT_OK
    fb = tagged(out).query("source == 'feedback'").set_index("item_id")
    assert fb["text"].to_dict() == {"F01": "相談窓口の充実が必要", "F03": "2024-05-22"}
    assert rejects(out)[["row", "column"]].values.tolist() == [["3", "text"]]


def test_input_linking_outside_the_meeting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("comment_id,text\nF1,庁外秘の内容\n", encoding="utf-8")
    m = meeting(tmp_path)
    (m / "feedback.csv").unlink()
    (m / "feedback.csv").symlink_to(secret)
    code, text = kyosei_run(m, tmp_path / "out", capsys)
    assert code == EXIT_ERROR and "外" in text and "庁外秘" not in text
    assert_no_half_output(tmp_path / "out")


def test_a_failure_while_writing_keeps_the_previous_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    m = meeting(tmp_path)
    assert kyosei_run(m, out, capsys)[0] == EXIT_OK
    before = {p.name: p.read_bytes() for p in (out / "2024-05-22").iterdir()}
    add_new_comment(m)                                               # new input: every table written would differ

    def broken(*args: object, **kw: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr("pipeline.run.writers.render_html", broken)
    code, text = kyosei_run(m, out, capsys)
    assert code == EXIT_INTERNAL and "disk full" in text
    assert {p.name: p.read_bytes() for p in (out / "2024-05-22").iterdir()} == before
    assert not list(out.glob(".2024-05-22.tmp-*"))


def test_a_second_concurrent_run_stops_before_loading_the_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The lock is tried without waiting (held here, the run would hang if it waited) and before any input is
    read: the loader is never called."""
    from flows.outfolder import run_lock

    loaded: list[Path] = []
    monkeypatch.setattr("flows.meeting.load_meeting", lambda meeting_dir, *a, **k: loaded.append(meeting_dir))
    out = tmp_path / "out"
    with run_lock(out, "2024-05-22"):
        code, text = kyosei_run(meeting(tmp_path), out, capsys)
    assert code == EXIT_ERROR and "別の実行" in text and "another run of meeting 2024-05-22" in text
    assert loaded == []
    assert_no_half_output(out)
