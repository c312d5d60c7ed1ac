"""Files as cities keep them, read with no hand edits (fixtures in tests/city_files.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.ingest import load_meeting
from pipeline.ingest.columns import sense, wide_round
from tests import city_files as cf
from tests.conftest import MEASURES, MEETING_2


def folder(tmp_path: Path, name: str = "m") -> Path:
    m = tmp_path / name
    m.mkdir()
    return m


def mapping(inputs, kind: str) -> dict:
    return next(c for c in inputs.counts if c["kind"] == kind)


@pytest.mark.parametrize(("header", "expected"), [
    ("ご意見の概要", "text"), ("意見の要旨", "text"), ("意見要旨", "text"), ("ご意見", "text"), ("提出された意見", "text"),
    ("自由記述", "text"), ("付箋の内容", "text"), ("地域で困っていること（自由記述）", "text"),
    ("No.", "id"), ("Ｎｏ．", "id"), ("通し番号", "id"), ("意見番号", "id"), ("番号", "id"),
    ("該当箇所", "section"), ("該当ページ", "section"), ("ページ", "section"),
    ("市の考え方", "reply"), ("回答", "reply"), ("対応", "reply"), ("市の対応方針", "reply"),
    ("意見に対する市の考え方", "reply"), ("タイムスタンプ", "timestamp"), ("回答日時", "timestamp"),
    ("班", "group"), ("記入者の所属", "department"), ("年代", None), ("お住まいの地区", None),
    ("1回目", "round:1"), ("第2回", "round:2"), ("R1", "round:1"), ("２回目の票数", "round:2"),
])
def test_headers_are_recognised_by_their_words(header: str, expected: str | None) -> None:
    assert sense(header) == expected


def test_wide_round_headers() -> None:
    assert [wide_round(h) for h in ("1回目", "第３回", "round 2", "二回目", "回", "1")] == [1, 3, 2, 2, None, None]


def check_public_comments(inputs, file: str) -> None:
    fb = inputs.feedback
    assert list(fb["comment_id"]) == ["1", "2", "3", "4", "5", "6"]
    assert list(fb["section"]) == ["P.12", "P.20", "P.25", "全体", "P.31", "P.8"]
    assert fb.loc[0, "text"].startswith("移動手段のない高齢者")
    assert list(fb["reply"]) == cf.REPLY_WORDS
    assert set(fb["kind"]) == {"パブリックコメント"}
    c = mapping(inputs, "feedback")
    assert c["file"] == file and c["header_row"] == 3
    assert c["mapping"]["columns"] == {"comment_id": "No.", "text": "ご意見の概要", "section": "該当箇所",
                                       "reply": "市の考え方"}
    assert c["rows_in"] == 6 and c["rows_ok"] == 6 and c["rows_rejected"] == 0
    assert c["rows_below_table_skipped"] == 2                     # 合計 and 備考 are not comments


def test_public_comment_workbook_with_title_rows_and_a_total_row(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.public_comment_xlsx(m / "意見募集の結果.xlsx")
    check_public_comments(load_meeting(m, MEASURES), "意見募集の結果.xlsx")


def test_the_same_table_as_cp932_csv(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.public_comment_csv(m / "意見募集の結果.csv")
    inputs = load_meeting(m, MEASURES)
    check_public_comments(inputs, "意見募集の結果.csv")
    assert mapping(inputs, "feedback")["encoding"] == "cp932"


def test_another_citys_headers(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.other_city_csv(m / "feedback.csv")
    inputs = load_meeting(m, MEASURES)
    assert mapping(inputs, "feedback")["mapping"]["columns"] == {
        "comment_id": "番号", "text": "意見の要旨", "section": "ページ", "reply": "回答"}
    assert len(inputs.feedback) == 4 and inputs.feedback.loc[3, "reply"] == "巻末に用語解説を設けます。"


def test_survey_with_one_free_text_question(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.survey_csv(m / "アンケート.csv")
    inputs = load_meeting(m, MEASURES)
    c = mapping(inputs, "feedback")
    assert c["mapping"]["columns"] == {"text": "地域で困っていること（自由記述）"}
    assert c["mapping"]["attributes"] == ["年代", "お住まいの地区"]
    assert c["mapping"]["ignored"] == ["タイムスタンプ"]
    assert (c["rows_in"], c["rows_ok"], c["rows_rejected"]) == (5, 4, 1)      # row 6 answered nothing
    fb = inputs.feedback
    assert list(fb["comment_id"]) == ["F0002", "F0003", "F0004", "F0005"]
    assert list(fb["年代"]) == ["70代", "40代", "30代", "80代"] and set(fb["question"]) == {""}
    assert inputs.attributes == ["年代", "お住まいの地区"]


def test_survey_with_two_free_text_questions(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.survey_csv(m / "アンケート.csv", questions=2)
    inputs = load_meeting(m, MEASURES)
    c = mapping(inputs, "feedback")
    assert c["mapping"]["questions"] == ["地域で困っていること（自由記述）", "市に望むこと（自由記述）"]
    fb = inputs.feedback
    assert list(fb["comment_id"]) == ["F0002-1", "F0002-2", "F0003-1", "F0004-1", "F0004-2", "F0005-1", "F0005-2"]
    assert list(fb["question"]).count("市に望むこと（自由記述）") == 3
    assert (c["rows_in"], c["rows_ok"], c["rows_rejected"]) == (5, 4, 1)
    assert list(inputs.rejects["row"]) == [6]


def test_workshop_workbook_with_merged_groups_and_a_wide_vote_sheet(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.workshop_workbook(m / "第3回ワークショップ記録.xlsx")
    inputs = load_meeting(m, MEASURES)
    fb = inputs.feedback
    assert list(fb["group"]) == ["A", "A", "A", "B", "B"]                 # merged 班 cells filled down
    assert list(fb["記入者の所属"])[:2] == ["福祉政策課", "障害福祉課"]
    assert mapping(inputs, "feedback")["header_row"] == 2
    votes = inputs.votes
    assert list(zip(votes["card_id"], votes["round"], votes["blocks"], strict=True)) == [
        ("C01", 1, 3), ("C01", 2, 1), ("C02", 1, 5), ("C02", 2, 4), ("C03", 1, 2)]
    v = mapping(inputs, "votes")
    assert v["mapping"]["rounds"] == {"1": "1回目", "2": "2回目"} and v["header_row"] == 2
    assert (v["rows_in"], v["rows_ok"], v["rows_rejected"]) == (3, 3, 0)


def test_wide_votes_beside_cards(tmp_path: Path) -> None:
    m = folder(tmp_path)
    (m / "cards.csv").write_bytes((MEETING_2 / "cards.csv").read_bytes())
    cf.wide_votes_csv(m / "votes.csv")
    inputs = load_meeting(m, MEASURES)
    assert list(zip(inputs.votes["card_id"], inputs.votes["round"], inputs.votes["blocks"], strict=True)) == [
        ("C01", 1, 3), ("C01", 2, 1), ("C02", 1, 5), ("C03", 1, 0), ("C03", 2, 2)]


def test_a_wide_row_with_a_bad_cell_is_refused_whole(tmp_path: Path) -> None:
    m = folder(tmp_path)
    (m / "votes.csv").write_text("カードID,1回目,2回目\nC01,3,x\nC02,1,1\n", encoding="utf-8")
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.votes["card_id"]) == ["C02", "C02"]
    assert list(inputs.rejects["row"]) == [2] and "x" in inputs.rejects.loc[0, "value"]


def test_ambiguous_vote_tables_are_a_clear_error(tmp_path: Path) -> None:
    m = folder(tmp_path)
    (m / "votes.csv").write_text("カードID,回,1回目,2回目\nC01,1,3,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="縦長"):
        load_meeting(m, MEASURES)


def test_explicit_mapping_beats_detection(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.public_comment_xlsx(m / "feedback.xlsx")
    (m / "meeting.yaml").write_text(
        "id: pc-2024\nkind: パブリックコメント\ncolumns:\n  feedback:\n    text: 市の考え方\n    attributes: [ご意見の概要]\n",
        encoding="utf-8")
    fb = load_meeting(m, MEASURES).feedback
    assert list(fb["text"]) == cf.REPLY_WORDS and "ご意見の概要" in fb.columns


def test_explicit_mapping_naming_a_missing_column_lists_the_columns(tmp_path: Path) -> None:
    m = folder(tmp_path)
    cf.other_city_csv(m / "feedback.csv")
    (m / "meeting.yaml").write_text("columns:\n  feedback:\n    text: ご意見\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_meeting(m, MEASURES)
    assert "ご意見" in str(err.value) and "意見の要旨" in str(err.value)


def test_a_kind_outside_the_list_is_kept(tmp_path: Path) -> None:
    m = folder(tmp_path)
    (m / "feedback.csv").write_text("ID,意見,種別\nF1,バスが少なくて通院が大変,困りごと\nF2,サロンを増やして,要望\n",
                                    encoding="utf-8")
    assert list(load_meeting(m, MEASURES).feedback["kind"]) == ["困りごと", "要望"]


def test_a_sheet_with_no_table_is_listed_as_skipped(tmp_path: Path) -> None:
    import openpyxl

    m = folder(tmp_path)
    wb = openpyxl.Workbook()
    wb.active.title = "説明"
    wb.active.append(["このブックは第3回会議の記録です。"])
    ws = wb.create_sheet("意見")
    ws.append(["ID", "意見"])
    ws.append(["F1", "相談できる場所がほしい"])
    wb.save(m / "記録.xlsx")
    inputs = load_meeting(m, MEASURES)
    assert len(inputs.feedback) == 1
    assert inputs.skipped == [{"file": "記録.xlsx［説明］", "reason": "意見・カード・投票の表ではありません / holds no "
                                                                   "comments, cards or votes"}]


def test_replies_and_attributes_reach_the_items_but_not_the_analysis(tmp_path: Path) -> None:
    from pipeline.run.analysis import analyse
    from tests.factories import shipped_models

    m = folder(tmp_path)
    cf.public_comment_xlsx(m / "意見募集の結果.xlsx")
    result = analyse(load_meeting(m, MEASURES), shipped_models())
    assert "reply" not in result.tagged.columns and "section" in result.tagged.columns
    everything = result.tagged.to_csv() + result.evidence.to_csv() + result.perspectives.suggestions.to_csv()
    assert not any(reply in everything for reply in cf.REPLY_WORDS)
    assert list(result.replies["reply"]) == cf.REPLY_WORDS
    assert set(result.theme_by_kind.columns) >= {"パブリックコメント"}


def test_survey_attributes_are_cross_tabulated(tmp_path: Path) -> None:
    from pipeline.run.analysis import analyse
    from tests.factories import shipped_models

    m = folder(tmp_path)
    cf.survey_csv(m / "アンケート.csv", questions=2)
    result = analyse(load_meeting(m, MEASURES), shipped_models())
    table = result.theme_by_attribute
    assert list(dict.fromkeys(table["attribute"])) == ["question", "年代", "お住まいの地区"]
    north = table[(table["attribute"] == "お住まいの地区") & (table["value"] == "北部")]
    assert north["items"].sum() >= 3
    assert {"年代", "お住まいの地区", "question"} <= set(result.tagged.columns)


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness", "no_prefect_console")
def test_public_comments_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import EXIT_OK, main

    m = folder(tmp_path, "pc-2024")
    cf.public_comment_xlsx(m / "意見募集の結果.xlsx")
    assert main(["validate", str(m), "--measures", str(MEASURES)]) == EXIT_OK
    shown = capsys.readouterr().out
    assert "見出し行 3行目" in shown and "市の考え方 → 市の考え方（分析しない） / reply" in shown
    assert "表の下の 2 行" in shown
    out = tmp_path / "out"
    assert main(["run", str(m), "--measures", str(MEASURES), "--out-root", str(out), "--quiet"]) == EXIT_OK
    folder_out = out / "pc-2024"
    tagged = pd.read_csv(folder_out / "tagged.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(tagged) == 6 and not any(r in "".join(tagged.to_csv()) for r in cf.REPLY_WORDS)
    html = (folder_out / "report.html").read_text(encoding="utf-8")
    assert cf.REPLY_WORDS[0] in html and "市の考え方" in html
    man = json.loads((folder_out / "manifest.json").read_text(encoding="utf-8"))
    fb = next(f for f in man["rows"]["files"] if f["kind"] == "feedback")
    assert fb["header_row"] == 3 and fb["mapping"]["columns"]["reply"] == "市の考え方"
    assert fb["rows_in"] == fb["rows_ok"] + fb["rows_rejected"]
    assert (folder_out / "replies.csv").is_file()


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness", "no_prefect_console")
def test_workshop_workbook_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import EXIT_OK, main

    m = folder(tmp_path, "ws-3")
    cf.workshop_workbook(m / "第3回ワークショップ記録.xlsx")
    out = tmp_path / "out"
    assert main(["run", str(m), "--measures", str(MEASURES), "--out-root", str(out), "--quiet"]) == EXIT_OK
    capsys.readouterr()
    votes = pd.read_csv(out / "ws-3" / "votes_by_card.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert votes.set_index("card_id")["round_1"].to_dict() == {"C02": "5", "C01": "3", "C03": "2"}
    tagged = pd.read_csv(out / "ws-3" / "tagged.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "記入者の所属" in tagged.columns and len(tagged) == 5
