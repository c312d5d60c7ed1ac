"""Finding the header row of a table typed by hand: titles, notes, blank rows and merged title cells above it.

Among the first :data:`SEARCH_ROWS` rows, the header is the row whose cells most look like column names
(:func:`pipeline.ingest.columns.sense` or an exact alias recognises them), with at least two filled cells —
or one, when the table below has a single column.  When no row has a recognisable column name, it is the
first row of two or more filled cells followed by another such row; failing that, the first non-blank row.
A table whose first row is already a sentence has no header (comments pasted into column A and saved as CSV):
every row is data (index -1), so no comment is taken for a column name.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

from pipeline.ingest.columns import sense
from pipeline.ingest.read import RawTable, Sheet, empty_file, header_key, read_sheets, table_from_sheet
from pipeline.schemas import ALIASES, REQUIRED

SEARCH_ROWS = 20
MAX_HEADER_CHARS = 24
"""A cell longer than this is a title or a note, not a column name."""

_ALIASES = frozenset(header_key(a) for role in ALIASES.values() for names in role.values() for a in names)


def _filled(row: object) -> list[str]:
    return [c.strip() for c in row if c.strip()] if isinstance(row, list) else []


_SENTENCE = re.compile(r"[。！？!?]|(?:です|ます|ました|たい|ない|ほしい|欲しい|思う|思います|だ|ね|よ)$")


def sentence_like(cell: str) -> bool:
    """A cell that reads as a sentence (a comment), never a column name."""
    return len(cell) > MAX_HEADER_CHARS or bool(_SENTENCE.search(cell))


def _known(cell: str) -> bool:
    return not sentence_like(cell) and (header_key(cell) in _ALIASES or sense(cell) is not None)


HEADERLESS_ROWS = 3
"""A table is read as having no header only from this many filled rows on (a cover sheet's one or two sentences
are a note, not comments)."""

NO_HEADER = "見出し行なし（すべての行をデータとして読みました）/ no header row: every row read as data"


def find_header(rows: list) -> tuple[int | None, str]:
    """(0-based index of the header row, -1 for a table without one, or None for an empty table; how it was
    chosen — for messages)."""
    candidates = [(i, _filled(r)) for i, r in enumerate(rows[: SEARCH_ROWS + 1])]
    candidates = [(i, cells) for i, cells in candidates if cells][:SEARCH_ROWS]
    if not candidates:
        return None, ""
    first = candidates[0][0]
    single_column = all(len(cells) <= 1 for _, cells in candidates)
    best, best_score = None, 0
    for i, cells in candidates:
        if len(cells) < 2 and not single_column:
            continue
        score = sum(_known(c) for c in cells)
        if score > best_score:
            best, best_score = i, score
    if best is not None:
        above = [c for i, cells in candidates if i < best for c in cells]
        if single_column and any(sentence_like(c) for c in above):
            return -1, NO_HEADER
        return best, "" if best == first else "列名のある行 / the row with column names"
    if len(candidates) >= HEADERLESS_ROWS and any(sentence_like(c) for c in candidates[0][1]):
        return -1, NO_HEADER
    for (i, cells), (_, after) in pairwise(candidates):
        if len(cells) >= 2 and len(after) >= 2:
            return i, "" if i == first else "最初の表の行 / the first row of the table"
    return first, ""


def locate_header(sheet: Sheet) -> tuple[int | None, str]:
    """:func:`find_header` for a sheet; running text brings its own header (-1: every row is data)."""
    if sheet.header:
        return -1, ""
    return find_header(sheet.rows)


def header_cells(sheet: Sheet, index: int | None) -> list[str]:
    """The column names of a sheet whose header is at ``index`` (:func:`locate_header`)."""
    if index is None:
        return []
    if index < 0:
        return list(sheet.header)
    return [c for c in sheet.rows[index] if isinstance(c, str)]


def read_table(path: Path, *, file: str | None = None, kind: str | None = None) -> RawTable:
    """Read one CSV/TSV/XLSX file into string cells, with its header row found among the first rows
    (titles, notes and blank rows above it are skipped; see :func:`pipeline.ingest.header.find_header`).
    A workbook of several sheets gives the first sheet that holds a table of ``kind`` (else its first)."""
    sheets = read_sheets(path, file=file)
    if not sheets:
        raise empty_file(file or path.name)
    chosen = sheets[0]
    if kind is not None and len(sheets) > 1:
        wanted = {header_key(a) for req in REQUIRED[kind] for a in ALIASES[kind][req]}
        for sh in sheets:
            idx, _ = locate_header(sh)
            if wanted & {header_key(h) for h in header_cells(sh, idx)}:
                chosen = sh
                break
    idx, how = locate_header(chosen)
    return table_from_sheet(chosen, idx, how=how)
