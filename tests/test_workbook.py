"""Excel workbook: Japanese headers, frozen rows, widths, text never a formula, the review drop-down."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from pipeline.report.workbook import build_workbook
from pipeline.review import REVIEW_COLUMNS

HOSTILE = ["=HYPERLINK(\"http://example.invalid\",\"x\")", "+81-4-7167", "-1は困る", "@SUM(A1)", "普通の意見"]


def review() -> pd.DataFrame:
    return pd.DataFrame([["テーマ", "2024-05-22", "F01", "相談窓口", "相談", "=1+1", "", "", "", "theme|F01|相談窓口"]],
                        columns=REVIEW_COLUMNS)


def workbook(**kw) -> bytes:
    votes = pd.DataFrame({"card_id": ["C02", "C11"], "round_1": [7, 6], "share_1": [12.96, 11.11],
                          "score": [0.077, 0.5]})
    comments = pd.DataFrame({"item_id": [f"F{i}" for i in range(len(HOSTILE))], "text": HOSTILE})
    return build_workbook("2024-05-22", "第2回", [("入力行", "152")],
                          [("投票_カード", votes), ("コメント", comments)], review(), date="2024-05-22", **kw)


def test_sheets_headers_and_layout() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(workbook()))
    assert wb.sheetnames == ["概要", "投票_カード", "コメント", "レビュー"]
    ws = wb["投票_カード"]
    assert [c.value for c in ws[1]] == ["カードID", "1回目", "1回目(%)", "一致度"]
    assert ws.freeze_panes == "A2"
    assert ws["B2"].value == 7 and ws["B2"].number_format == "0"
    assert ws["C2"].number_format == "0.0" and ws["D2"].number_format == "0.000"
    assert ws.column_dimensions["A"].width >= 10
    assert wb["概要"]["A2"].value == "会議ID" and wb["概要"]["B2"].value == "2024-05-22"


def test_text_is_never_a_formula() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(workbook()))
    ws = wb["コメント"]
    for row, text in enumerate(HOSTILE, start=2):
        cell = ws.cell(row=row, column=2)
        assert cell.value == text and cell.data_type == "s"
    assert wb["レビュー"]["F2"].value == "=1+1" and wb["レビュー"]["F2"].data_type == "s"


def test_review_sheet_has_a_decision_drop_down_and_a_hidden_key() -> None:
    ws = openpyxl.load_workbook(io.BytesIO(workbook()))["レビュー"]
    assert [c.value for c in ws[1]] == REVIEW_COLUMNS
    validations = ws.data_validations.dataValidation
    assert len(validations) == 1 and validations[0].formula1 == '"採用,不採用,修正"'
    assert str(validations[0].sqref) == "G2"
    assert ws.column_dimensions["J"].hidden


def test_same_inputs_same_bytes() -> None:
    assert workbook() == workbook()


def test_long_tables_continue_on_numbered_sheets_and_dates_are_fixed() -> None:
    frame = pd.DataFrame({"item_id": [f"F{i}" for i in range(5)], "text": HOSTILE})
    data = build_workbook("2024-05-22", "第2回", [], [("カード・コメント", frame)], review(), date="2024-05-22",
                          max_rows=2)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["概要", "カード・コメント", "カード・コメント (2)", "カード・コメント (3)", "レビュー"]
    got = [r[1] for n in wb.sheetnames[1:4] for r in wb[n].iter_rows(min_row=2, values_only=True)]
    assert got == HOSTILE
    assert len({tuple(c.value for c in wb[n][1]) for n in wb.sheetnames[1:4]}) == 1  # same header on each
    assert wb.properties.created.isoformat().startswith("2024-05-22T00:00:00")
