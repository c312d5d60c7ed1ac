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


def _cell(ws: object, value: object, number_format: str = "", style: dict | None = None) -> object:
    """A streamed cell; strings are always text (never a formula)."""
    from openpyxl.cell import WriteOnlyCell

    if isinstance(value, float) and value != value:  # NaN
        value = None
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    if number_format:
        cell.number_format = number_format
    for k, v in (style or {}).items():
        setattr(cell, k, v)
    return cell


def _number_format(value: object) -> str:
    if isinstance(value, float):
        return "0.000" if abs(value) < 1 and value != 0 else "0.0"
    if isinstance(value, int) and not isinstance(value, bool):
        return "0"
    return ""


def _sheet(wb: object, title: str, frame: pd.DataFrame, *, labels: bool = True, wrap: Sequence[str] = (),
           hidden: Sequence[str] = (), min_width: dict[str, int] | None = None) -> object:
    """Write one table as a sheet, streamed (write-only mode keeps 100k-row tables out of memory)."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title[:31])  # type: ignore[attr-defined]
    headers = [label_for(c) if labels else c for c in frame.columns]
    widths = [_width(h) for h in headers]
    for j, col in enumerate(frame.columns):
        sample = frame[col].head(2000)
        if len(sample):
            widths[j] = max(widths[j], max(_width(v) for v in sample))
    for j, col in enumerate(frame.columns, start=1):
        dim = ws.column_dimensions[get_column_letter(j)]  # type: ignore[attr-defined]
        dim.width = max(min(MAX_WIDTH, widths[j - 1] + 2), (min_width or {}).get(col, 0))
        dim.hidden = col in hidden
    ws.freeze_panes = "A2"  # type: ignore[attr-defined]
    if len(frame):
        last = get_column_letter(len(frame.columns))
        ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"  # type: ignore[attr-defined]
    head_style = {"font": Font(bold=True), "fill": PatternFill("solid", fgColor=HEADER_FILL)}
    ws.append([_cell(ws, h, style=head_style) for h in headers])  # type: ignore[attr-defined]
    wrap_style = {"alignment": Alignment(wrap_text=True, vertical="top")}
    wrapped = [c in wrap for c in frame.columns]
    for row in frame.itertuples(index=False):
        ws.append([_cell(ws, v, _number_format(v), wrap_style if w else None)  # type: ignore[attr-defined]
                   for v, w in zip(row, wrapped, strict=True)])
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
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook(write_only=True)
    info = pd.DataFrame([("会議ID", meeting_id), ("会議", title), *summary,
                         ("レビューの仕方", "「レビュー」シートの「判定」で 採用・不採用・修正 を選び、修正のときは「修正後」に"
                                     "テーマIDか施策IDを入れます。保存後 kyosei review apply でこのブックを読み込むと、"
                                     "次回の分析に反映されます。「キー」列は変更しないでください。")],
                        columns=["項目", "値"])
    _sheet(wb, "概要", info, labels=False, wrap=["値"])
    for name, frame in sheets:
        _sheet(wb, name, frame, wrap=[c for c in frame.columns if c in ("text", "quotes", "representative_text")])
    ws = _sheet(wb, "レビュー", review[REVIEW_COLUMNS], labels=False, wrap=[R_TEXT, R_NOTE], hidden=[R_KEY],
                min_width={R_DECISION: 12, R_CORRECTION: 12, R_NOTE: 12})
    if len(review):
        dv = DataValidation(type="list", formula1='"採用,不採用,修正"', allow_blank=True,
                            errorTitle="判定", error="採用・不採用・修正 から選んでください",
                            promptTitle="判定", prompt="採用・不採用・修正")
        letter = get_column_letter(REVIEW_COLUMNS.index(R_DECISION) + 1)
        dv.add(f"{letter}2:{letter}{len(review) + 1}")
        ws.data_validations.append(dv)  # type: ignore[attr-defined]
    buf = io.BytesIO()
    wb.save(buf)
    stamp = f"{date}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else "2000-01-01T00:00:00Z"
    return _stable(buf.getvalue(), stamp)
