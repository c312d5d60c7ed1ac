"""Reading a table file: decode CSV/TSV bytes or open an XLSX sheet, find the header, keep every data row
with its spreadsheet row number (or refuse it with a reason).  The only part of ingest that reads files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.documents import comment_sheet, docx_sheets, is_tab_table, text_lines
from pipeline.ingest.sheet import Sheet
from pipeline.schemas import REJECT_COLUMNS

ROW = "row"
"""Column holding the 1-based spreadsheet row number (header = row 1)."""


@dataclass(frozen=True)
class RawTable:
    """A table as read: string cells under the original headers, one ``row`` number per data row.

    ``header_row`` is the spreadsheet row taken as the header (1-based; 0: the file has none, every row is data);
    rows above it (titles, notes) are not data; ``footer_rows`` counts the rows below the table (合計, 備考 …)
    that were not read as data; ``set_aside`` lists the lines of running text that are not comments."""

    file: str
    frame: pd.DataFrame
    encoding: str
    rejects: pd.DataFrame = field(default_factory=lambda: empty_rejects())
    blank_rows: int = 0
    header_row: int = 1
    header_how: str = ""
    footer_rows: int = 0
    footer_from: int = 0
    sheet: str = ""
    merged: tuple[tuple[int, int, int, int], ...] = ()
    set_aside: tuple[tuple[int, str, str], ...] = ()
    title_lines: tuple[str, ...] = ()
    """The rows above the header, each as its filled cells joined (a title, 第3回 …, 令和6年7月1日)."""

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.rejects)


def header_key(header: str) -> str:
    """How a header is compared with the alias table: NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", header)).lower()


def empty_rejects() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})
    return frame.astype({"row": "int64"})


def make_rejects(rows: Iterable[tuple[str, int, str, str, str]]) -> pd.DataFrame:
    """Build a rejects frame from ``(file, row, column, reason, value)`` tuples."""
    data = list(rows)
    if not data:
        return empty_rejects()
    frame = pd.DataFrame(data, columns=REJECT_COLUMNS, dtype="object")
    return frame.astype({"row": "int64"})


def decode_bytes(data: bytes, *, file: str) -> tuple[str, str]:
    """Decode a CSV file's bytes, detecting UTF-8 (with or without BOM), UTF-16 (BOM) or CP932.

    Strict decoding in this order is reliable for Japanese: CP932 text is almost never valid UTF-8.
    A file that is neither as a whole is decoded line by line (UTF-8, else CP932): files pasted
    together from two sources mix encodings.  Characters that fit neither become U+FFFD and the rows
    holding them are refused later; a file where most lines are unreadable is refused whole.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig", errors="replace"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if b"\x00" in data:
        raise InputError(
            file,
            "テキストの表ではありません（バイナリデータを含んでいます）。",
            "this is not a text table (it contains binary data).",
            "CSV（UTF-8）か Excel（.xlsx）で保存し直してください。",
            "save it again as CSV (UTF-8) or Excel (.xlsx).",
        )
    for enc in ("utf-8", "cp932"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    lines = data.split(b"\n")
    decoded, used = [], set()
    for line in lines:
        for enc in ("utf-8", "cp932"):
            try:
                decoded.append(line.decode(enc))
                used.add(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            decoded.append(line.decode("cp932", errors="replace"))
            used.add("unreadable")
    bad = sum("\ufffd" in d for d in decoded)
    if bad > max(1, len(lines) // 2):
        raise InputError(
            file,
            "文字コードを判別できません（UTF-8 でも CP932/Shift_JIS でもありません）。",
            "cannot detect the encoding (neither UTF-8 nor CP932/Shift_JIS).",
            "Excel で開いて「CSV UTF-8」形式で保存し直してください。",
            "open it in Excel and save as 'CSV UTF-8'.",
        )
    return "\n".join(decoded), "mixed(" + "+".join(sorted(used)) + ")"


def _cell_text(value: object) -> str:
    """A spreadsheet cell as text: integral numbers without '.0', dates as ISO strings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


BROKEN = object()
"""Stands in for a record the CSV parser could not read (an unclosed quote), to keep row numbers."""


def _rows_from_csv(text: str) -> list[list[str] | object]:
    """Records of a CSV/TSV text; a record with broken quoting is replaced by ``(BROKEN, line)`` and
    parsing resumes on the next physical line, so one stray quote does not swallow the file."""
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    lines = text.splitlines(keepends=True)
    rows: list[list[str] | object] = []
    start = 0
    while start < len(lines):
        reader = csv.reader(io.StringIO("".join(lines[start:]), newline=""), delimiter=delimiter, strict=True)
        consumed = 0
        try:
            for rec in reader:
                rows.append(rec)
                consumed = reader.line_num
            break
        except csv.Error:
            bad = start + consumed
            rows.append((BROKEN, lines[bad].rstrip("\r\n")))
            start = bad + 1
    return rows


MERGES_UP_TO_BYTES = 20_000_000
"""Workbooks up to this size are opened fully (merged ranges known: merged 班 cells are filled down); larger
ones are streamed (read-only), without merged ranges."""


def _open_workbook(path: Path, *, file: str, read_only: bool):
    import openpyxl  # imported here: only XLSX inputs pay for it

    try:
        return openpyxl.load_workbook(path, read_only=read_only, data_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a broken file
        raise InputError(
            file,
            f"Excel ファイルとして開けません（{type(err).__name__}）。",
            f"cannot open as an Excel workbook ({type(err).__name__}: {err}).",
            "Excel で開けるか確認し、.xlsx で保存し直してください。",
            "check it opens in Excel and save it again as .xlsx.",
        ) from None


def _sheets_from_xlsx(path: Path, *, file: str) -> list[Sheet]:
    """Every sheet of a workbook.  Formulas give their last calculated value; a merged range its
    top-left value (its other cells are empty; ``merged`` says where they are)."""
    full = path.stat().st_size <= MERGES_UP_TO_BYTES
    wb = _open_workbook(path, file=file, read_only=not full)
    try:
        several = len(wb.worksheets) > 1
        out = []
        for ws in wb.worksheets:
            rows = [[_cell_text(v) for v in row] for row in ws.iter_rows(min_row=1, values_only=True)]
            merged = tuple((m.min_row, m.min_col, m.max_row, m.max_col) for m in ws.merged_cells.ranges) if full else ()
            out.append(Sheet(file, ws.title if several else "", rows, "xlsx", merged))
    finally:
        wb.close()
    return out


def read_sheets(path: Path, *, file: str | None = None) -> list[Sheet]:
    """The tables of one file: a CSV/TSV file or a tab-separated text file (one), an XLSX workbook (one per
    sheet), a plain text file or a Word document (its comments, then a Word document's tables)."""
    name = file or path.name
    if not path.is_file():
        raise InputError(name, "ファイルが見つかりません。", "file not found.")
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            return _sheets_from_xlsx(path, file=name)
        if suffix == ".docx":
            return docx_sheets(path, file=name)
        text, encoding = decode_bytes(path.read_bytes(), file=name)
        if suffix == ".txt" and not is_tab_table(text):
            return [comment_sheet(text_lines(text), file=name, encoding=encoding)]
        return [Sheet(name, "", _rows_from_csv(text), encoding)]
    except OSError as err:
        raise InputError(name, f"読み込めません（{err.strerror}）。", f"cannot read ({err}).") from None
    except csv.Error as err:
        raise InputError(name, f"CSV として解釈できません（{err}）。", f"not a valid CSV file ({err}).") from None


def empty_file(name: str) -> InputError:
    return InputError(
        name,
        "空のファイルです（見出し行がありません）。",
        "the file is empty (no header row).",
        "1行目に列名（例: ID, 意見, 種別）を入れてください。",
        "put column names (e.g. comment_id, text, kind) in the first row.",
    )


_FOOTER = re.compile(r"^(?:合計|総計|小計|計|備考|注記?|以上|出典|資料)(?:\s|[:：、。（(]|$)|^※")


def _is_footer(cells: list[str], width: int) -> bool:
    """A row below the table: its first filled cell is 合計 / 備考 / 注 / 以上 / ※… (counts and notes) and
    it fills at most half the columns (a full data row that happens to start with ※ is data)."""
    filled = [c.strip() for c in cells if c.strip()]
    if not filled:
        return False
    return bool(_FOOTER.match(unicodedata.normalize("NFKC", filled[0]))) and len(filled) <= max(2, width // 2)


def table_from_sheet(sheet: Sheet, header_index: int | None = None, *, how: str = "") -> RawTable:
    """A sheet's rows below its header as string cells (``header_index``: 0-based; the first non-blank row
    when not given).

    Rows with more non-empty cells than the header has columns are refused (shifted columns would put text
    under the wrong header); fully blank rows are skipped and counted; the rows from the first 合計 / 備考 /
    注 / ※ row on are below the table and are counted, not read.
    """
    rows, name = sheet.rows, sheet.label
    if sheet.header:
        header_index = -1
    if header_index is None:
        header_index = next((i for i, r in enumerate(rows) if isinstance(r, list) and any(c.strip() for c in r)),
                            None)
    if header_index is None:
        raise empty_file(name)
    header = list(sheet.header) if header_index < 0 else [h.strip() for h in rows[header_index]]
    if header_index < 0 and not header:
        header = _headerless(rows)
    while header and not header[-1]:
        header.pop()
    width = len(header)
    data: list[list[str]] = []
    numbers: list[int] = []
    rejects: list[tuple[str, int, str, str, str]] = []
    blank = footer = footer_from = 0
    for index, cells in enumerate(rows[header_index + 1 :], start=header_index + 1):
        offset = sheet.numbers[index] if sheet.numbers else index + 1
        if footer_from:
            footer += 1
            continue
        if isinstance(cells, tuple):
            rejects.append((name, offset, "", "引用符（\"）が閉じていません / unbalanced or malformed quotes",
                            cells[1][:200]))
            continue
        if not any(c.strip() for c in cells):
            blank += 1
            continue
        if data and _is_footer(cells, width):
            footer_from, footer = offset, 1
            continue
        extra = [c for c in cells[width:] if c.strip()]
        if extra:
            rejects.append((name, offset, "", (
                f"見出しより多いセルがあります（{width}列のはずが{len(cells)}列）/ "
                f"more cells than header columns ({len(cells)} > {width}); check quotes and commas"
            ), ",".join(cells)[:200]))
            continue
        if any("\ufffd" in c for c in cells):
            rejects.append((name, offset, "", "読めない文字があります（文字コードの混在か CP932 にない文字）/ "
                                              "undecodable characters (mixed encodings?)", ",".join(cells)[:200]))
            continue
        data.append([(cells[i] if i < len(cells) else "") for i in range(width)])
        numbers.append(offset)
    # blank rows after the table's last row are not "skipped rows" of the table
    frame = pd.DataFrame(data, columns=_dedupe_header(header), dtype="object")
    frame[ROW] = pd.Series(numbers, dtype="int64")
    above = [" ".join(c.strip() for c in r if c.strip()) for r in rows[:max(header_index, 0)] if isinstance(r, list)]
    return RawTable(file=name, frame=frame, encoding=sheet.encoding, rejects=make_rejects(rejects),
                    blank_rows=blank, header_row=header_index + 1, header_how=how, footer_rows=footer,
                    footer_from=footer_from, sheet=sheet.name, merged=sheet.merged, set_aside=sheet.set_aside,
                    title_lines=tuple(a for a in above if a))


HEADERLESS_TEXT = "意見"
"""The header given to the single column of a table without one (comments pasted into column A)."""


def _headerless(rows: list) -> list[str]:
    """Column names for a table without a header row: 意見 for a single column, else (列1), (列2) … (the values
    then say which column is the text)."""
    width = max((len(r) - next((i for i, c in enumerate(reversed(r)) if c.strip()), len(r))
                 for r in rows if isinstance(r, list)), default=1)
    return [HEADERLESS_TEXT] if width <= 1 else [f"(列{i + 1})" for i in range(width)]


def _dedupe_header(header: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h or f"(列{i + 1})"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}.{seen[h]}")
    return out
