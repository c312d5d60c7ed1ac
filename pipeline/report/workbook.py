"""The Excel report (:data:`pipeline.run.outputs.WORKBOOK`): the report's tables as sheets and the レビュー sheet.

Frames in, workbook bytes out (written with XlsxWriter in constant-memory mode, which spools rows to a
temporary folder that is removed afterwards; zip and document dates are fixed, so the bytes are stable).  Headers are Japanese, header rows frozen, widths fitted to the
content (full-width characters count double), numbers formatted, and every text cell is stored as
text — a comment starting with ``=``, ``+``, ``-`` or ``@`` is never a formula.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pipeline.report import label_for
from pipeline.report.render import display_width
from pipeline.review import (
    DECISIONS,
    MEETING_ID_LABEL,
    R_CORRECTION,
    R_DECISION,
    R_KEY,
    R_NOTE,
    R_TEXT,
    REVIEW_COLUMNS,
    REVIEW_SHEET,
    SUMMARY_SHEET,
)

HEADER_FILL = "DDEBF7"
MAX_WIDTH = 60
MAX_ROWS = 1_048_575
"""Data rows one Excel sheet holds (1,048,576 rows including the header); a longer table continues on
sheets named ``<name> (2)``, ``<name> (3)`` … so no row is lost."""


def _parts(name: str, frame: pd.DataFrame, max_rows: int) -> list[tuple[str, pd.DataFrame]]:
    if len(frame) <= max_rows:
        return [(name, frame)]
    return [(name if k == 0 else f"{name[:25]} ({k + 1})", frame.iloc[i:i + max_rows])
            for k, i in enumerate(range(0, len(frame), max_rows))]


def _number_format(value: object) -> str:
    if isinstance(value, float):
        return "0.000" if abs(value) < 1 and value != 0 else "0.0"
    if isinstance(value, int) and not isinstance(value, bool):
        return "0"
    return ""


class _Styles:
    """The workbook's cell formats, created once (XlsxWriter shares a format between cells)."""

    def __init__(self, wb: Any):
        self.header = wb.add_format({"bold": True, "bg_color": "#" + HEADER_FILL, "pattern": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.numbers = {f: wb.add_format({"num_format": f}) for f in ("0", "0.0", "0.000")}


def _write_row(ws: Any, r: int, values: Sequence[object], wrapped: Sequence[bool], styles: _Styles) -> None:
    """One row; a string is always written as text (never a formula, URL or number)."""
    for c, (v, w) in enumerate(zip(values, wrapped, strict=True)):
        if hasattr(v, "item"):
            v = v.item()  # numpy scalar
        if v is None or (isinstance(v, float) and v != v):  # NaN
            continue
        if isinstance(v, str):
            ws.write_string(r, c, v, styles.wrap if w else None)
        elif isinstance(v, bool):
            ws.write_boolean(r, c, v)
        elif isinstance(v, int | float):
            ws.write_number(r, c, v, styles.numbers[_number_format(v)])
        else:
            ws.write_string(r, c, str(v), styles.wrap if w else None)


def _sheet(wb: Any, styles: _Styles, title: str, frame: pd.DataFrame, *, labels: bool = True,
           wrap: Sequence[str] = (), hidden: Sequence[str] = (), min_width: dict[str, int] | None = None) -> Any:
    """Write one table as a sheet, row by row (constant-memory mode keeps 100k-row tables out of memory)."""
    ws = wb.add_worksheet(title[:31])
    headers = [label_for(c) if labels else c for c in frame.columns]
    widths = [display_width(h) for h in headers]
    for j, col in enumerate(frame.columns):
        sample = frame[col].head(2000)
        if len(sample):
            widths[j] = max(widths[j], max(display_width(v) for v in sample))
        width = max(min(MAX_WIDTH, widths[j] + 2), (min_width or {}).get(col, 0))
        ws.set_column(j, j, width, None, {"hidden": col in hidden})
    ws.freeze_panes(1, 0)
    if len(frame):
        ws.autofilter(0, 0, len(frame), len(frame.columns) - 1)
    for c, h in enumerate(headers):
        ws.write_string(0, c, str(h), styles.header)
    wrapped = [c in wrap for c in frame.columns]
    for r, row in enumerate(frame.itertuples(index=False, name=None), start=1):
        _write_row(ws, r, row, wrapped, styles)
    return ws


FIGURE_SHEET = "図"
ROW_PX = 20


def _figures(wb: Any, styles: _Styles, images: Sequence[tuple[str, bytes]]) -> None:
    """The charts (the report's PNGs) one below the other, each under its title, on the 図 sheet."""
    import struct

    ws = wb.add_worksheet(FIGURE_SHEET)
    ws.set_column(0, 0, 100)
    row = 0
    for title, png in images:
        ws.write_string(row, 0, title, styles.header)
        ws.insert_image(row + 1, 0, f"{title}.png", {"image_data": io.BytesIO(png), "object_position": 3})
        height = struct.unpack(">I", png[20:24])[0]          # PNG IHDR: width at 16, height at 20
        row += 3 + -(-height // ROW_PX)


def build_workbook(meeting_id: str, title: str, summary: Sequence[tuple[str, str]],
                   sheets: Sequence[tuple[str, pd.DataFrame]], review: pd.DataFrame, *,
                   date: str = "", max_rows: int = MAX_ROWS, images: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """The workbook as bytes: 概要, 図 (the charts, when there are any), one sheet per table, then レビュー
    (drop-down for 判定).

    ``date`` (the meeting date, YYYY-MM-DD) is used as the document's created/modified date.  A table
    longer than ``max_rows`` (Excel's limit) continues on numbered sheets.
    """
    import xlsxwriter

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="kyosei-xlsx-") as tmp:
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "tmpdir": tmp, "strings_to_formulas": False,
                                       "strings_to_urls": False, "strings_to_numbers": False})
        stamp = datetime.fromisoformat(date) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else datetime(2000, 1, 1)
        wb.set_properties({"created": stamp.replace(tzinfo=UTC)})  # fixed dates: same inputs, same bytes
        styles = _Styles(wb)
        info = pd.DataFrame([(MEETING_ID_LABEL, meeting_id), ("会議", title), *summary,
                             ("レビューの仕方", "「レビュー」シートの「判定」で 採用・不採用・修正 を選び、修正のときは「修正後」に"
                                         "テーマIDか施策IDを入れます。保存後 kyosei review apply でこのブックを読み込むと、"
                                         "次回の分析に反映されます。「キー」列は変更しないでください。")],
                            columns=["項目", "値"])
        _sheet(wb, styles, SUMMARY_SHEET, info, labels=False, wrap=["値"])
        if images:
            _figures(wb, styles, images)
        for name, frame in sheets:
            for part_name, part in _parts(name, frame, max_rows):
                _sheet(wb, styles, part_name, part,
                       wrap=[c for c in frame.columns if c in ("text", "quotes", "representative_text")])
        for part_name, part in _parts(REVIEW_SHEET, review[REVIEW_COLUMNS], max_rows):
            ws = _sheet(wb, styles, part_name, part, labels=False, wrap=[R_TEXT, R_NOTE],
                        hidden=[R_KEY], min_width={R_DECISION: 12, R_CORRECTION: 12, R_NOTE: 12})
            if len(part):
                col = REVIEW_COLUMNS.index(R_DECISION)
                ws.data_validation(1, col, len(part), col, {
                    "validate": "list", "source": list(DECISIONS), "ignore_blank": True,
                    "error_title": "判定", "error_message": "採用・不採用・修正 から選んでください",
                    "input_title": "判定", "input_message": "採用・不採用・修正"})
        wb.close()
    return buf.getvalue()


def table_workbook(sheet: str, frame: pd.DataFrame) -> bytes:
    """One table as a workbook (headers as they are, so it reads back as the same table; text always text)."""
    import xlsxwriter

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="kyosei-xlsx-") as tmp:
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "tmpdir": tmp, "strings_to_formulas": False,
                                       "strings_to_urls": False, "strings_to_numbers": False})
        wb.set_properties({"created": datetime(2000, 1, 1, tzinfo=UTC)})
        _sheet(wb, _Styles(wb), sheet, frame, labels=False,
               wrap=[c for c in frame.columns if c in ("description", "evidence")])
        wb.close()
    return buf.getvalue()


def sheets_workbook(sheets: Sequence[tuple[str, pd.DataFrame]], *, wrap: dict[str, list[str]] | None = None,
                    choices: dict[str, dict[str, list[str]]] | None = None) -> bytes:
    """Several tables as one workbook (headers as they are; text always text; fixed dates).  ``choices``
    gives a sheet's column a drop-down list of allowed values."""
    import xlsxwriter

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="kyosei-xlsx-") as tmp:
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "tmpdir": tmp, "strings_to_formulas": False,
                                       "strings_to_urls": False, "strings_to_numbers": False})
        wb.set_properties({"created": datetime(2000, 1, 1, tzinfo=UTC)})
        styles = _Styles(wb)
        for name, frame in sheets:
            ws = _sheet(wb, styles, name, frame, labels=False, wrap=(wrap or {}).get(name, []))
            for col, values in (choices or {}).get(name, {}).items():
                j = list(frame.columns).index(col)
                ws.data_validation(1, j, max(len(frame), 1) + 500, j, {
                    "validate": "list", "source": values, "ignore_blank": True,
                    "error_title": col, "error_message": "・".join(values) + " から選んでください"})
        wb.close()
    return buf.getvalue()
