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
from pipeline.schemas import ALIASES, REJECT_COLUMNS, REQUIRED

ROW = "row"
"""Column holding the 1-based spreadsheet row number (header = row 1)."""


@dataclass(frozen=True)
class RawTable:
    """A file as read: string cells under the original headers, one ``row`` number per data row."""

    file: str
    frame: pd.DataFrame
    encoding: str
    rejects: pd.DataFrame = field(default_factory=lambda: empty_rejects())
    blank_rows: int = 0

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


def _rows_from_xlsx(path: Path, *, file: str, kind: str | None = None) -> list[list[str]]:
    """Rows of the first sheet — or, when the workbook has several, of the first sheet whose header
    names a required column of ``kind``.  Formulas give their last calculated value; merged cells
    their top-left value."""
    import openpyxl  # imported here: only XLSX inputs pay for it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a broken file
        raise InputError(
            file,
            f"Excel ファイルとして開けません（{type(err).__name__}）。",
            f"cannot open as an Excel workbook ({type(err).__name__}: {err}).",
            "Excel で開けるか確認し、.xlsx で保存し直してください。",
            "check it opens in Excel and save it again as .xlsx.",
        ) from None
    try:
        sheets = [[[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
                  for ws in wb.worksheets]
    finally:
        wb.close()
    if not sheets:
        return []
    if kind is not None and len(sheets) > 1:
        wanted = {header_key(a) for req in REQUIRED[kind] for a in ALIASES[kind][req]}
        for rows in sheets:
            header = next((r for r in rows if any(c.strip() for c in r)), [])
            if wanted & {header_key(h) for h in header}:
                return rows
    return sheets[0]


def read_table(path: Path, *, file: str | None = None, kind: str | None = None) -> RawTable:
    """Read one CSV/TSV/XLSX file into string cells; the first non-blank row is the header.

    Rows with more non-empty cells than the header has columns are refused (shifted columns would
    put text under the wrong header); fully blank rows are skipped and counted.
    """
    name = file or path.name
    if not path.is_file():
        raise InputError(name, "ファイルが見つかりません。", "file not found.")
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            rows, encoding = _rows_from_xlsx(path, file=name, kind=kind), "xlsx"
        else:
            text, encoding = decode_bytes(path.read_bytes(), file=name)
            rows = _rows_from_csv(text)
    except OSError as err:
        raise InputError(name, f"読み込めません（{err.strerror}）。", f"cannot read ({err}).") from None
    except csv.Error as err:
        raise InputError(name, f"CSV として解釈できません（{err}）。", f"not a valid CSV file ({err}).") from None

    header_index = next((i for i, r in enumerate(rows) if isinstance(r, list) and any(c.strip() for c in r)),
                        None)
    if header_index is None:
        raise InputError(
            name,
            "空のファイルです（見出し行がありません）。",
            "the file is empty (no header row).",
            "1行目に列名（例: ID, 意見, 種別）を入れてください。",
            "put column names (e.g. comment_id, text, kind) in the first row.",
        )
    header = [h.strip() for h in rows[header_index]]  # type: ignore[union-attr]
    while header and not header[-1]:
        header.pop()
    width = len(header)
    data: list[list[str]] = []
    numbers: list[int] = []
    rejects: list[tuple[str, int, str, str, str]] = []
    blank = 0
    for offset, cells in enumerate(rows[header_index + 1 :], start=header_index + 2):
        if isinstance(cells, tuple):
            rejects.append((name, offset, "", "引用符（\"）が閉じていません / unbalanced or malformed quotes",
                            cells[1][:200]))
            continue
        if not any(c.strip() for c in cells):
            blank += 1
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
    unique_header = _dedupe_header(header)
    frame = pd.DataFrame(data, columns=unique_header, dtype="object")
    frame[ROW] = pd.Series(numbers, dtype="int64")
    return RawTable(file=name, frame=frame, encoding=encoding, rejects=make_rejects(rejects), blank_rows=blank)


def _dedupe_header(header: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, h in enumerate(header):
        h = h or f"(列{i + 1})"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}.{seen[h]}")
    return out


