"""The Excel report (``report.xlsx``): the report's tables as sheets and the レビュー sheet.

Pure: frames in, workbook bytes out.  Headers are Japanese, header rows frozen, widths fitted to the
content (full-width characters count double), numbers formatted, and every text cell is stored as
text — a comment starting with ``=``, ``+``, ``-`` or ``@`` is never a formula.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence

import pandas as pd

from pipeline.report import label_for
from pipeline.review import R_CORRECTION, R_DECISION, R_KEY, R_NOTE, R_TEXT, REVIEW_COLUMNS

HEADER_FILL = "DDEBF7"
MAX_WIDTH = 60


def _width(value: object) -> int:
    s = str(value)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _put(cell: object, value: object) -> None:
    """Write a value; strings are always text (never a formula)."""
    if isinstance(value, float) and value != value:  # NaN
        value = None
    cell.value = value  # type: ignore[attr-defined]
    if isinstance(value, str):
        cell.data_type = "s"  # type: ignore[attr-defined]


def _sheet(wb: object, title: str, frame: pd.DataFrame, *, labels: bool = True, wrap: Sequence[str] = ()) -> object:
    from openpyxl.styles import Alignment, Font, PatternFill

    ws = wb.create_sheet(title[:31])  # type: ignore[attr-defined]
    headers = [label_for(c) if labels else c for c in frame.columns]
    for j, h in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=j)
        _put(cell, h)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    widths = [_width(h) for h in headers]
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        for j, v in enumerate(row, start=1):
            value = v.item() if hasattr(v, "item") else v
            cell = ws.cell(row=i, column=j)
            _put(cell, value)
            if isinstance(value, float):
                cell.number_format = "0.000" if abs(value) < 1 and value != 0 else "0.0"
            elif isinstance(value, int) and not isinstance(value, bool):
                cell.number_format = "0"
            widths[j - 1] = max(widths[j - 1], _width(value))
    for j, col in enumerate(frame.columns, start=1):
        letter = ws.cell(row=1, column=j).column_letter
        ws.column_dimensions[letter].width = min(MAX_WIDTH, widths[j - 1] + 2)
        if col in wrap:
            for r in range(2, len(frame) + 2):
                ws.cell(row=r, column=j).alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    if len(frame):
        ws.auto_filter.ref = ws.dimensions
    return ws


def _stable(data: bytes, stamp: str) -> bytes:
    """Rewrite the xlsx package with fixed zip dates and document dates (``stamp``), so the same
    inputs give the same bytes (openpyxl stamps the save time)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                              lambda m: m.group(1) + stamp.encode() + m.group(3), body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def build_workbook(meeting_id: str, title: str, summary: Sequence[tuple[str, str]],
                   sheets: Sequence[tuple[str, pd.DataFrame]], review: pd.DataFrame, *,
                   date: str = "") -> bytes:
    """The workbook as bytes: 概要, one sheet per table, then レビュー (drop-down for 判定).

    ``date`` (the meeting date, YYYY-MM-DD) is used as the document's created/modified date.
    """
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    wb.remove(wb.active)
    info = pd.DataFrame([("会議ID", meeting_id), ("会議", title), *summary,
                         ("レビューの仕方", "「レビュー」シートの「判定」で 採用・不採用・修正 を選び、修正のときは「修正後」に"
                                     "テーマIDか施策IDを入れます。保存後 kyosei review apply でこのブックを読み込むと、"
                                     "次回の分析に反映されます。「キー」列は変更しないでください。")],
                        columns=["項目", "値"])
    _sheet(wb, "概要", info, labels=False, wrap=["値"])
    for name, frame in sheets:
        _sheet(wb, name, frame, wrap=[c for c in frame.columns if c in ("text", "quotes", "representative_text")])
    ws = _sheet(wb, "レビュー", review[REVIEW_COLUMNS], labels=False, wrap=[R_TEXT, R_NOTE])
    col = {c: REVIEW_COLUMNS.index(c) + 1 for c in REVIEW_COLUMNS}
    if len(review):
        dv = DataValidation(type="list", formula1='"採用,不採用,修正"', allow_blank=True,
                            errorTitle="判定", error="採用・不採用・修正 から選んでください",
                            promptTitle="判定", prompt="採用・不採用・修正")
        letter = ws.cell(row=1, column=col[R_DECISION]).column_letter  # type: ignore[attr-defined]
        dv.add(f"{letter}2:{letter}{len(review) + 1}")
        ws.add_data_validation(dv)  # type: ignore[attr-defined]
    for c in (R_DECISION, R_CORRECTION, R_NOTE):
        letter = ws.cell(row=1, column=col[c]).column_letter  # type: ignore[attr-defined]
        ws.column_dimensions[letter].width = max(ws.column_dimensions[letter].width or 0, 12)  # type: ignore[attr-defined]
    key_letter = ws.cell(row=1, column=col[R_KEY]).column_letter  # type: ignore[attr-defined]
    ws.column_dimensions[key_letter].hidden = True  # type: ignore[attr-defined]
    buf = io.BytesIO()
    wb.save(buf)
    stamp = f"{date}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else "2000-01-01T00:00:00Z"
    return _stable(buf.getvalue(), stamp)
