"""Review loop: the sheet's rows, validation of a filled sheet, and what each decision does."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline.errors import ConfigError
from pipeline.report.workbook import build_workbook
from pipeline.review import (
    LOG_COLUMNS,
    REVIEW_COLUMNS,
    apply_perspective_decisions,
    apply_theme_decisions,
    decisions_from_sheet,
    latest,
    link_overrides,
    read_review_sheet,
    review_rows,
    review_sheet,
    training_labels,
)

ITEMS = pd.DataFrame({"item_id": ["C09", "F01", "F16"], "source": ["card", "feedback", "feedback"],
                      "text": ["日常生活自立支援事業。金銭管理の支援", "誰でも相談できる場所が重要", "就労支援の視点も必要"]})
EVIDENCE = pd.DataFrame([("C09", "権利擁護", "金銭管理", "10-14", "rule:権利擁護#rule1", 0.5),
                         ("F01", "相談窓口", "相談", "4-6", "rule:相談窓口#rule1", 0.5),
                         ("F01", "居場所", "場所", "8-10", "rule:居場所#rule1", 0.5)],
                        columns=["item_id", "theme", "terms", "spans", "source", "score"])
SUGGESTIONS = pd.DataFrame([("C09", "日常生活自立支援事業", "P2-1", 0.07, "P2-3", "権利擁護の推進", 0.58, "金銭管理")],
                           columns=["card_id", "title", "declared", "declared_score", "suggested", "suggested_name",
                                    "score", "evidence"])
PERSPECTIVES = pd.DataFrame([("V01", "就労・仕事の支援：就労支援", "就労", 1, "F16", "new", "[F16] 就労支援の視点も必要"),
                             ("V02", "子ども・若者：学校", "子ども・若者", 1, "F20", "new", "")],
                            columns=["perspective_id", "label", "main_theme", "support", "item_ids", "status", "quotes"])


def rows() -> pd.DataFrame:
    return review_rows("2024-05-22", ITEMS, EVIDENCE, {"C09": "P2-1", "F01": "P2-1|P2-2", "F16": ""},
                       SUGGESTIONS, PERSPECTIVES)


def test_review_rows_one_per_suggestion() -> None:
    got = rows()
    assert list(got.columns) == REVIEW_COLUMNS
    assert got["キー"].tolist() == [
        "theme|C09|権利擁護", "theme|F01|相談窓口", "theme|F01|居場所",
        "measure|C09|P2-3", "measure|F01|P2-1", "measure|F01|P2-2",
        "perspective|F16|就労", "perspective|F20|子ども・若者"]  # items joined by + when several
    assert set(got["種類"]) == {"テーマ", "施策の紐づけ", "新たな視点"}
    assert (got["判定"] == "").all()


def test_previous_decisions_are_prefilled() -> None:
    log = pd.DataFrame([("2024-05-22", "F01", "theme", "居場所", "不採用", "", "相談の場所", "", "t1")],
                       columns=LOG_COLUMNS)
    got = review_rows("2024-05-22", ITEMS, EVIDENCE, {}, SUGGESTIONS.iloc[0:0], PERSPECTIVES.iloc[0:0],
                      previous=log).set_index("キー")
    assert got.loc["theme|F01|居場所", "判定"] == "不採用" and got.loc["theme|F01|居場所", "メモ"] == "相談の場所"


def filled(decisions: dict[str, tuple[str, str]], *, meeting: str = "2024-05-22") -> pd.DataFrame:
    sheet = rows().assign(row=[str(n) for n in range(2, 2 + len(rows()))])
    for key, (decision, correction) in decisions.items():
        sheet.loc[sheet["キー"] == key, ["判定", "修正後"]] = [decision, correction]
    sheet["会議ID"] = meeting
    return sheet


def parse(sheet: pd.DataFrame, known: list[str] | None = None):
    return decisions_from_sheet(sheet, meeting_id="2024-05-22", theme_ids=["相談窓口", "居場所", "権利擁護", "就労"],
                                measure_ids=["P2-1", "P2-2", "P2-3"], known_items=known or ["C09", "F01", "F16"],
                                timestamp="2026-11-28T00:00:00+00:00")


def test_valid_sheet_becomes_log_rows() -> None:
    got, problems = parse(filled({"theme|F01|居場所": ("修正", "相談窓口"), "measure|C09|P2-3": ("採用", ""),
                                  "perspective|F20|子ども・若者": ("不採用", "")}))
    assert problems == []
    assert got[["item_id", "kind", "suggestion", "decision", "correction"]].values.tolist() == [
        ["F01", "theme", "居場所", "修正", "相談窓口"], ["C09", "measure", "P2-3", "採用", ""],
        ["F20", "perspective", "子ども・若者", "不採用", ""]]
    assert list(got.columns) == LOG_COLUMNS


@pytest.mark.parametrize(("decisions", "message"), [
    ({"theme|F01|居場所": ("たぶん", "")}, "判定「たぶん」"),
    ({"theme|F01|居場所": ("修正", "")}, "修正後"),
    ({"theme|F01|居場所": ("修正", "孤立")}, "テーマIDではありません"),
    ({"measure|C09|P2-3": ("修正", "P9-9")}, "施策IDではありません"),
])
def test_each_mistake_is_reported_with_its_row(decisions: dict, message: str) -> None:
    got, problems = parse(filled(decisions))
    assert got.empty and len(problems) == 1
    key = next(iter(decisions))
    assert problems[0].row == 2 + rows()["キー"].tolist().index(key)
    assert message in str(problems[0])


def test_rows_of_another_meeting_or_unknown_items_are_refused() -> None:
    _, problems = parse(filled({"theme|F01|居場所": ("採用", "")}, meeting="2024-05-08"))
    assert "別" in str(problems[0]) or "another meeting" in str(problems[0])
    _, problems = parse(filled({"theme|F01|居場所": ("採用", "")}), known=["C09"])
    assert "出力にありません" in str(problems[0])
    sheet = filled({"theme|F01|居場所": ("採用", "")})
    sheet.loc[sheet["判定"] == "採用", "キー"] = "theme|F01"
    _, problems = parse(sheet)
    assert "キー" in str(problems[0])


def test_latest_decision_wins_and_training_labels() -> None:
    log = pd.DataFrame([
        ("m", "F01", "theme", "居場所", "採用", "", "", "誰でも相談できる場所", "t1"),
        ("m", "F01", "theme", "居場所", "修正", "相談窓口", "", "誰でも相談できる場所", "t2"),
        ("m", "F02", "theme", "就労", "不採用", "", "", "職員が楽しく働く", "t3"),
        ("m", "C09", "measure", "P2-3", "採用", "", "", "", "t4"),
    ], columns=LOG_COLUMNS)
    assert len(latest(log)) == 3
    assert training_labels(log)[["text", "theme", "label"]].values.tolist() == [
        ["誰でも相談できる場所", "居場所", 0], ["誰でも相談できる場所", "相談窓口", 1], ["職員が楽しく働く", "就労", 0]]


def test_theme_decisions_remove_and_replace_tags() -> None:
    log = pd.DataFrame([("m", "F01", "theme", "居場所", "修正", "就労", "", "", "t"),
                        ("m", "C09", "theme", "権利擁護", "不採用", "", "", "", "t")], columns=LOG_COLUMNS)
    got, changes = apply_theme_decisions(EVIDENCE, log, ["相談窓口", "居場所", "権利擁護", "就労"])
    assert got[["item_id", "theme", "source"]].values.tolist() == [["F01", "相談窓口", "rule:相談窓口#rule1"],
                                                                   ["F01", "就労", "analyst"]]
    assert len(changes) == 3
    assert EVIDENCE.shape == (3, 6)                                  # input not mutated


def test_measure_decisions_become_link_overrides() -> None:
    log = pd.DataFrame([("m", "C09", "measure", "P2-3", "採用", "", "", "", "t"),
                        ("m", "F01", "measure", "P2-2", "不採用", "", "", "", "t"),
                        ("m", "F16", "measure", "P2-1", "修正", "P2-2", "", "", "t")], columns=LOG_COLUMNS)
    ov = link_overrides(log)
    assert dict(ov.add) == {"C09": ("P2-3",), "F16": ("P2-2",)}
    assert ov.remove == {("F01", "P2-2"), ("F16", "P2-1")}


def test_perspective_decisions() -> None:
    log = pd.DataFrame([("m", "F16", "perspective", "就労", "修正", "就労支援の視点", "", "", "t"),
                        ("m", "F20", "perspective", "子ども・若者", "不採用", "", "", "", "t")], columns=LOG_COLUMNS)
    got, _ = apply_perspective_decisions(PERSPECTIVES, log)
    assert got[["perspective_id", "label", "status"]].values.tolist() == [["V01", "就労支援の視点", "accepted"]]


def test_read_review_sheet_from_a_workbook(tmp_path: Path) -> None:
    data = build_workbook("2024-05-22", "第2回", [], [], rows(), date="2024-05-22")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb["レビュー"]["G3"] = "不採用"
    path = tmp_path / "report.xlsx"
    wb.save(path)
    meeting, sheet = read_review_sheet(path)
    assert meeting == "2024-05-22"
    assert sheet.loc[sheet["判定"] == "不採用", ["キー", "row"]].values.tolist() == [["theme|F01|相談窓口", "3"]]


def test_read_review_sheet_refuses_other_files(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(ConfigError, match="レビュー"):
        read_review_sheet(tmp_path / "x.xlsx")
    (tmp_path / "y.xlsx").write_bytes(b"not a workbook")
    with pytest.raises(ConfigError, match="開けません"):
        read_review_sheet(tmp_path / "y.xlsx")


def test_review_rows_beyond_one_sheet_continue_and_are_read_back(tmp_path: Path) -> None:
    """More review rows than a sheet holds (here max_rows=2 instead of Excel's 1,048,575) continue on
    レビュー (2) …; reading the workbook finds every row, and a mistake names its sheet and row."""
    review = rows()
    assert len(review) == 8
    data = build_workbook("2024-05-22", "第2回", [], [], review, date="2024-05-22", max_rows=3)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert [n for n in wb.sheetnames if n.startswith("レビュー")] == ["レビュー", "レビュー (2)", "レビュー (3)"]
    assert [wb[n].max_row for n in ("レビュー", "レビュー (2)", "レビュー (3)")] == [4, 4, 3]
    wb["レビュー (3)"]["G2"] = "たぶん"
    path = tmp_path / "report.xlsx"
    wb.save(path)
    _, sheet = read_review_sheet(path)
    assert sheet["キー"].tolist() == review["キー"].tolist()
    assert sheet[["row", "sheet"]].values.tolist()[-2:] == [["2", "レビュー (3)"], ["3", "レビュー (3)"]]
    _, problems = parse(sheet)
    assert len(problems) == 1 and str(problems[0]).startswith("レビュー (3) 2行目 / sheet レビュー (3) row 2:")


def test_a_long_review_sheet_keeps_every_perspective_and_card_and_the_first_comment_suggestions() -> None:
    kinds = ["テーマ"] * 5 + ["施策の紐づけ"] * 2 + ["テーマ"] * 3 + ["新たな視点"]
    targets = ["C1", "F1", "F2", "F3", "F4", "C1", "F5", "F6", "C2", "F7", "V01"]
    review = pd.DataFrame({c: [f"{c}{n}" for n in range(len(kinds))] for c in REVIEW_COLUMNS}).assign(
        種類=kinds, 対象ID=targets)
    assert review_sheet(review, 11, always=["C1", "C2"]).equals(review)     # short enough: whole
    cut = review_sheet(review, 6, always=["C1", "C2"])
    # cards C1 (rows 0, 5), C2 (row 8) and the perspective (row 10) kept; the first two comment rows fill the rest
    assert list(cut["キー"]) == ["キー0", "キー1", "キー2", "キー5", "キー8", "キー10"]      # in the sheet's order
    assert list(cut["種類"]) == ["テーマ", "テーマ", "テーマ", "施策の紐づけ", "テーマ", "新たな視点"]
    assert list(review_sheet(review, 2, always=["C1", "C2"])["対象ID"]) == ["C1", "C1", "C2", "V01"]  # never lost
    assert list(review_sheet(review, 2)["対象ID"]) == ["C1", "V01"]       # without cards: the perspective, then in order


def test_coded_rows_hold_the_same_text() -> None:
    plain = rows()
    coded = review_rows("2024-05-22", ITEMS, EVIDENCE, {"C09": "P2-1", "F01": "P2-1|P2-2", "F16": ""},
                        SUGGESTIONS, PERSPECTIVES, coded=True)
    assert {c for c in coded.columns if isinstance(coded[c].dtype, pd.CategoricalDtype)} == {
        "種類", "会議ID", "提案", "判定", "修正後", "メモ"}
    pd.testing.assert_frame_equal(coded.astype(str), plain.astype(str))
    assert len(plain) > 5


def test_no_evidence_at_all_gives_the_other_rows() -> None:
    got = review_rows("2024-05-22", ITEMS, pd.DataFrame(), {"F01": "P2-1"}, SUGGESTIONS.iloc[0:0],
                      PERSPECTIVES.iloc[0:0])
    assert got["キー"].tolist() == ["measure|F01|P2-1"]


def test_an_evidence_text_repeated_is_one_object() -> None:
    """Two comments tagged with the same words, rule and score have the same 根拠: it is kept once."""
    evidence = pd.DataFrame([("F01", "相談窓口", "相談", "4-6", "rule:相談窓口#rule1", 0.5),
                             ("F16", "相談窓口", "相談", "0-2", "rule:相談窓口#rule1", 0.5),
                             ("C09", "権利擁護", "金銭管理", "10-14", "rule:権利擁護#rule1", 0.5)],
                            columns=EVIDENCE.columns)
    got = review_rows("2024-05-22", ITEMS, evidence, {}, SUGGESTIONS.iloc[0:0], PERSPECTIVES.iloc[0:0])
    said = got["根拠"].tolist()
    assert said == ["相談（ルール, 0.5）", "相談（ルール, 0.5）", "金銭管理（ルール, 0.5）"]
    assert said[0] is said[1]
