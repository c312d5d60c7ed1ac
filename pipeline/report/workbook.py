"""The Excel report (:data:`pipeline.run.outputs.WORKBOOK`): the report's tables as sheets and the レビュー sheet.

Frames in, workbook bytes out (written with XlsxWriter in constant-memory mode, which spools rows to a
temporary folder that is removed afterwards; zip and document dates are fixed, so the bytes are stable).  Headers are Japanese, header rows frozen, widths fitted to the
content (full-width characters count double), numbers formatted, and every text cell is stored as
text — a comment starting with ``=``, ``+``, ``-`` or ``@`` is never a formula.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pipeline.report import label_for
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
from pipeline.xlsx import MAX_ROWS, Styles, new_workbook, sheet_parts, write_sheet

FIGURE_SHEET = "図"
ROW_PX = 20


def _figures(wb: Any, styles: Styles, images: Sequence[tuple[str, bytes]]) -> None:
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
    buf = io.BytesIO()
    stamp = datetime.fromisoformat(date) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else datetime(2000, 1, 1)
    with new_workbook(buf, stamp.replace(tzinfo=UTC)) as wb:  # fixed dates: same inputs, same bytes
        styles = Styles(wb)
        info = pd.DataFrame([(MEETING_ID_LABEL, meeting_id), ("会議", title), *summary,
                             ("レビューの仕方", "「レビュー」シートの「判定」で 採用・不採用・修正 を選び、修正のときは「修正後」に"
                                         "テーマIDか施策IDを入れます。保存後 kyosei review apply でこのブックを読み込むと、"
                                         "次回の分析に反映されます。「キー」列は変更しないでください。")],
                            columns=["項目", "値"])
        write_sheet(wb, styles, SUMMARY_SHEET, info, wrap=["値"])
        if images:
            _figures(wb, styles, images)
        for name, frame in sheets:
            for part_name, part in sheet_parts(name, frame, max_rows):
                write_sheet(wb, styles, part_name, part, labels=label_for,
                       wrap=[c for c in frame.columns if c in ("text", "quotes", "representative_text")])
        for part_name, part in sheet_parts(REVIEW_SHEET, review[REVIEW_COLUMNS], max_rows):
            ws = write_sheet(wb, styles, part_name, part, wrap=[R_TEXT, R_NOTE],
                        hidden=[R_KEY], min_width={R_DECISION: 12, R_CORRECTION: 12, R_NOTE: 12})
            if len(part):
                col = REVIEW_COLUMNS.index(R_DECISION)
                ws.data_validation(1, col, len(part), col, {
                    "validate": "list", "source": list(DECISIONS), "ignore_blank": True,
                    "error_title": "判定", "error_message": "採用・不採用・修正 から選んでください",
                    "input_title": "判定", "input_message": "採用・不採用・修正"})
    return buf.getvalue()
