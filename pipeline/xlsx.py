"""Tables written to Excel workbooks the same way everywhere (the report's workbook, the Excel codebook, the draft
of the measures): XlsxWriter in constant-memory mode (rows spooled to a temporary folder removed afterwards), fixed
document dates (same inputs, same bytes), header rows frozen, widths fitted to the content (full-width characters
count double), numbers formatted, and every text cell stored as text — a comment starting with ``=``, ``+``, ``-``
or ``@`` is never a formula."""

from __future__ import annotations

import io
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd


def display_width(text: object) -> int:
    """Columns ``text`` takes in a fixed-width layout: full-width and wide characters (Japanese) count two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))


@contextmanager
def new_workbook(buf: io.BytesIO, created: datetime = datetime(2000, 1, 1, tzinfo=UTC)) -> Iterator[Any]:
    """An XlsxWriter workbook writing into ``buf`` (constant memory, text never a formula, URL or number), closed
    at the end of the block."""
    import xlsxwriter

    with tempfile.TemporaryDirectory(prefix="kyosei-xlsx-") as tmp:
        wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "tmpdir": tmp, "strings_to_formulas": False,
                                       "strings_to_urls": False, "strings_to_numbers": False})
        wb.set_properties({"created": created})
        yield wb
        wb.close()


HEADER_FILL = "DDEBF7"
MAX_WIDTH = 60
MAX_ROWS = 1_048_575
"""Data rows one Excel sheet holds (1,048,576 rows including the header); a longer table continues on
sheets named ``<name> (2)``, ``<name> (3)`` … so no row is lost."""


def sheet_parts(name: str, frame: pd.DataFrame, max_rows: int) -> list[tuple[str, pd.DataFrame]]:
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


class Styles:
    """The workbook's cell formats, created once (XlsxWriter shares a format between cells)."""

    def __init__(self, wb: Any):
        self.header = wb.add_format({"bold": True, "bg_color": "#" + HEADER_FILL, "pattern": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.numbers = {f: wb.add_format({"num_format": f}) for f in ("0", "0.0", "0.000")}


def write_row(ws: Any, r: int, values: Sequence[object], wrapped: Sequence[bool], styles: Styles) -> None:
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


def write_sheet(wb: Any, styles: Styles, title: str, frame: pd.DataFrame, *,
                labels: Callable[[str], str] | None = None,
           wrap: Sequence[str] = (), hidden: Sequence[str] = (), min_width: dict[str, int] | None = None) -> Any:
    """Write one table as a sheet, row by row (constant-memory mode keeps 100k-row tables out of memory)."""
    ws = wb.add_worksheet(title[:31])
    headers = [labels(c) if labels is not None else c for c in frame.columns]
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
        write_row(ws, r, row, wrapped, styles)
    return ws


def sheets_workbook(sheets: Sequence[tuple[str, pd.DataFrame]], *, wrap: dict[str, list[str]] | None = None,
                    choices: dict[str, dict[str, list[str]]] | None = None) -> bytes:
    """Several tables as one workbook (headers as they are; text always text; fixed dates).  ``choices``
    gives a sheet's column a drop-down list of allowed values."""
    buf = io.BytesIO()
    with new_workbook(buf) as wb:
        styles = Styles(wb)
        for name, frame in sheets:
            ws = write_sheet(wb, styles, name, frame, wrap=(wrap or {}).get(name, []))
            for col, values in (choices or {}).get(name, {}).items():
                j = list(frame.columns).index(col)
                ws.data_validation(1, j, max(len(frame), 1) + 500, j, {
                    "validate": "list", "source": values, "ignore_blank": True,
                    "error_title": col, "error_message": "・".join(values) + " から選んでください"})
    return buf.getvalue()


def table_workbook(sheet: str, frame: pd.DataFrame) -> bytes:
    """One table as a workbook (headers as they are, so it reads back as the same table; text always text)."""
    buf = io.BytesIO()
    with new_workbook(buf) as wb:
        write_sheet(wb, Styles(wb), sheet, frame, wrap=[c for c in frame.columns if c in ("description", "evidence")])
    return buf.getvalue()
