"""Ingest: read the transcribed CSV/XLSX files of a meeting and validate them row by row.

``read_table`` is the only place that touches the disk; the ``validate_*`` functions are pure:
a raw frame of strings in, a validated frame (schemas in :mod:`pipeline.schemas`) plus reject rows
out.  Every data row ends either in the validated frame or in the rejects, so
``rows_in == rows_ok + rows_rejected`` for every file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from pipeline.errors import InputError
from pipeline.schemas import (
    ALIASES,
    FEEDBACK_KINDS,
    HEADER_LABELS_JA,
    ID_SEPARATORS,
    KIND_ALIASES,
    REJECT_COLUMNS,
    REQUIRED,
    Cards,
    Feedback,
    Measures,
    Votes,
)

log = logging.getLogger(__name__)

INPUT_KINDS: tuple[str, ...] = ("cards", "feedback", "votes")
SUFFIXES: tuple[str, ...] = (".csv", ".xlsx", ".xlsm", ".tsv", ".txt")
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


@dataclass(frozen=True)
class Validated:
    """Output of a ``validate_*`` stage: the accepted rows and the refused ones."""

    ok: pd.DataFrame
    rejects: pd.DataFrame


@dataclass(frozen=True)
class MeetingInputs:
    """All validated inputs of one meeting (any of cards/feedback/votes may be ``None``)."""

    meeting_id: str
    meta: dict[str, str]
    measures: pd.DataFrame
    cards: pd.DataFrame | None
    feedback: pd.DataFrame | None
    votes: pd.DataFrame | None
    rejects: pd.DataFrame
    counts: list[dict[str, object]]
    files: dict[str, Path]


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


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Column mapping and cell parsing (pure)
# --------------------------------------------------------------------------------------------

def header_key(header: str) -> str:
    """How a header is compared with the alias table: NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", header)).lower()


def label(column: str) -> str:
    ja = HEADER_LABELS_JA.get(column)
    return f"{column}（{ja}）" if ja else column


def canonical_columns(raw: RawTable, kind: str) -> pd.DataFrame:
    """Rename a raw table's headers to canonical names; fill optional missing columns with "".

    Raises :class:`InputError` naming the file and the column when a required column is missing
    or two headers mean the same column.
    """
    aliases = ALIASES[kind]
    lookup = {header_key(a): canon for canon, names in aliases.items() for a in names}
    rename: dict[str, str] = {}
    for h in raw.frame.columns:
        if h == ROW:
            continue
        canon = lookup.get(header_key(h))
        if canon is None:
            continue
        if canon in rename.values():
            other = next(k for k, v in rename.items() if v == canon)
            raise InputError(
                raw.file,
                f"列「{other}」と「{h}」がどちらも {label(canon)} を表しています。",
                f"columns '{other}' and '{h}' both mean '{canon}'.",
                "どちらか一方の列名を変えるか削除してください。",
                "rename or delete one of them.",
            )
        rename[h] = canon
    found = [c for c in raw.frame.columns if c != ROW]
    for req in REQUIRED[kind]:
        if req not in rename.values():
            accepted = "、".join(aliases[req])
            raise InputError(
                raw.file,
                f"必須の列 {label(req)} がありません。見つかった列: {found}",
                f"required column '{req}' is missing. Columns found: {found}",
                f"見出しを次のいずれかにしてください: {accepted}",
                f"name the column one of: {', '.join(aliases[req])}",
            )
    ignored = [h for h in found if h not in rename]
    if ignored:
        log.info("%s: ignoring columns %s", raw.file, ignored)
    frame = raw.frame.rename(columns=rename)
    for canon in aliases:
        if canon not in frame.columns:
            frame[canon] = ""
    return frame[[*aliases, ROW]].fillna("")


def clean_id(value: str) -> str:
    """Ids are compared after NFKC and trimming (full-width 'Ｃ０１' == 'C01')."""
    return unicodedata.normalize("NFKC", value).strip()


_INT = re.compile(r"[+-]?\d+(?:\.0*)?")


def parse_int(value: str) -> int | None:
    """An integer cell ('3', '３', '3.0'), or ``None`` when it is not a whole number."""
    s = unicodedata.normalize("NFKC", value).strip().replace(",", "")
    if not _INT.fullmatch(s):
        return None
    return int(float(s)) if "." in s else int(s)


def split_ids(value: str) -> list[str]:
    """Several ids in one cell, separated by | 、 , ; / or spaces; order kept, duplicates removed."""
    out: list[str] = []
    for part in re.split(ID_SEPARATORS, clean_id(value)):
        if part and part not in out:
            out.append(part)
    return out


def _duplicate_reason(col: str, value: str, first_row: int) -> str:
    return f"{label(col)} 「{value}」が重複しています（最初は{first_row}行目）/ duplicate {col} (first at row {first_row})"


def _empty_reason(col: str) -> str:
    return f"{label(col)} が空です / {col} is empty"


# --------------------------------------------------------------------------------------------
# Validation stages (pure)
# --------------------------------------------------------------------------------------------

def validate_measures(frame: pd.DataFrame, *, file: str) -> Validated:
    """Canonical measures frame in → validated :class:`Measures` (+ rejects)."""
    ok, rejects = [], []
    first: dict[str, int] = {}
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        mid, pid = clean_id(rec[Measures.measure_id]), clean_id(rec[Measures.pillar_id])
        name = rec[Measures.measure_name].strip()
        if not mid:
            rejects.append((file, row, Measures.measure_id, _empty_reason(Measures.measure_id), ""))
        elif not pid:
            rejects.append((file, row, Measures.pillar_id, _empty_reason(Measures.pillar_id), ""))
        elif not name:
            rejects.append((file, row, Measures.measure_name, _empty_reason(Measures.measure_name), ""))
        elif mid in first:
            rejects.append((file, row, Measures.measure_id, _duplicate_reason(Measures.measure_id, mid, first[mid]), mid))
        else:
            first[mid] = row
            ok.append({
                Measures.pillar_id: pid,
                Measures.pillar_name: rec[Measures.pillar_name].strip(),
                Measures.measure_id: mid,
                Measures.measure_name: name,
                Measures.description: rec[Measures.description].strip(),
                Measures.keywords: rec[Measures.keywords].strip(),
            })
    out = pd.DataFrame(ok, columns=list(Measures.to_schema().columns), dtype="object")
    return Validated(Measures.validate(out.astype(str)), make_rejects(rejects))


def validate_cards(frame: pd.DataFrame, *, file: str, measure_ids: Iterable[str]) -> Validated:
    """Canonical cards frame in → validated :class:`Cards` (+ rejects).

    Refused: empty or duplicate ``card_id``, no title and no body, a ``measure_ids`` cell naming a
    measure that is not in the policy table.
    """
    known = set(measure_ids)
    ok, rejects = [], []
    first: dict[str, int] = {}
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        cid = clean_id(rec[Cards.card_id])
        title, body = rec[Cards.title].strip(), rec[Cards.body].strip()
        mids = split_ids(rec[Cards.measure_ids])
        unknown = [m for m in mids if m not in known]
        if not cid:
            rejects.append((file, row, Cards.card_id, _empty_reason(Cards.card_id), title[:80]))
        elif cid in first:
            rejects.append((file, row, Cards.card_id, _duplicate_reason(Cards.card_id, cid, first[cid]), cid))
        elif not title and not body:
            rejects.append((file, row, Cards.title, "事業名も内容も空です / both title and body are empty", cid))
        elif unknown:
            rejects.append((file, row, Cards.measure_ids, (
                f"施策ID {unknown} は施策一覧（measures）にありません / unknown measure id(s) {unknown}; "
                "fix the id or add the measure to measures.csv"
            ), rec[Cards.measure_ids]))
        else:
            first[cid] = row
            ok.append({
                Cards.card_id: cid,
                Cards.department: rec[Cards.department].strip(),
                Cards.title: title,
                Cards.body: body,
                Cards.measure_ids: "|".join(mids),
                Cards.group: rec[Cards.group].strip(),
                Cards.row: row,
            })
    out = pd.DataFrame(ok, columns=list(Cards.to_schema().columns))
    out = out.astype({c: str for c in out.columns if c != Cards.row} | {Cards.row: "int64"})
    return Validated(Cards.validate(out), make_rejects(rejects))


def _kind(value: str) -> str | None:
    key = unicodedata.normalize("NFKC", value).strip()
    if not key:
        return "その他"
    return KIND_ALIASES.get(key, KIND_ALIASES.get(key.lower()))


def validate_feedback(
    frame: pd.DataFrame,
    *,
    file: str,
    card_ids: Iterable[str] | None,
    reserved_ids: Iterable[str] = (),
    has_id_column: bool = True,
) -> Validated:
    """Canonical feedback frame in → validated :class:`Feedback` (+ rejects).

    Without an id column, ids are made from the row number (``F0002`` for row 2).  Refused: empty
    text, empty/duplicate id or an id already used by a card, an unknown ``kind``, a ``card_id``
    that is not a card of this meeting (checked only when the meeting has cards).
    """
    cards = set(card_ids) if card_ids is not None else None
    reserved = set(reserved_ids)
    ok, rejects = [], []
    first: dict[str, int] = {}
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        cid = clean_id(rec[Feedback.comment_id]) if has_id_column else f"F{row:04d}"
        text = rec[Feedback.text].strip()
        kind = _kind(rec[Feedback.kind])
        card = clean_id(rec[Feedback.card_id])
        if not cid:
            rejects.append((file, row, Feedback.comment_id, _empty_reason(Feedback.comment_id), text[:80]))
        elif cid in first:
            rejects.append((file, row, Feedback.comment_id,
                            _duplicate_reason(Feedback.comment_id, cid, first[cid]), cid))
        elif cid in reserved:
            rejects.append((file, row, Feedback.comment_id,
                            f"ID「{cid}」はカードIDと同じです / comment_id {cid} is also a card_id", cid))
        elif not text:
            rejects.append((file, row, Feedback.text, _empty_reason(Feedback.text), cid))
        elif kind is None:
            rejects.append((file, row, Feedback.kind, (
                f"種別「{rec[Feedback.kind]}」は使えません（{'・'.join(FEEDBACK_KINDS)}のいずれか）/ "
                f"unknown kind; use one of {list(FEEDBACK_KINDS)}"
            ), rec[Feedback.kind]))
        elif card and cards is not None and card not in cards:
            rejects.append((file, row, Feedback.card_id,
                            f"カードID「{card}」はこの会議のカードにありません / unknown card_id {card}", card))
        else:
            first[cid] = row
            ok.append({
                Feedback.comment_id: cid,
                Feedback.text: text,
                Feedback.kind: kind,
                Feedback.card_id: card,
                Feedback.group: rec[Feedback.group].strip(),
                Feedback.row: row,
            })
    out = pd.DataFrame(ok, columns=list(Feedback.to_schema().columns))
    out = out.astype({c: str for c in out.columns if c != Feedback.row} | {Feedback.row: "int64"})
    return Validated(Feedback.validate(out), make_rejects(rejects))


def validate_votes(
    frame: pd.DataFrame, *, file: str, card_ids: Iterable[str] | None, has_blocks_column: bool = True
) -> Validated:
    """Canonical votes frame in → validated :class:`Votes` (+ rejects).

    Without a blocks column each row is one block.  Refused: a card that is not in this meeting's
    cards, a round that is not a positive whole number, blocks that are empty, negative or not
    whole numbers.
    """
    cards = set(card_ids) if card_ids is not None else None
    ok, rejects = [], []
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        card = clean_id(rec[Votes.card_id])
        rnd = parse_int(rec[Votes.round])
        raw_blocks = rec[Votes.blocks] if has_blocks_column else "1"
        blocks = parse_int(raw_blocks)
        if not card:
            rejects.append((file, row, Votes.card_id, _empty_reason(Votes.card_id), ""))
        elif cards is not None and card not in cards:
            rejects.append((file, row, Votes.card_id,
                            f"カードID「{card}」はこの会議のカードにありません / vote for unknown card {card}", card))
        elif rnd is None or rnd < 1:
            rejects.append((file, row, Votes.round,
                            f"回は1以上の整数で入れてください / round must be a whole number >= 1 "
                            f"(found {rec[Votes.round]!r})", rec[Votes.round]))
        elif not raw_blocks.strip():
            rejects.append((file, row, Votes.blocks, _empty_reason(Votes.blocks), ""))
        elif blocks is None:
            rejects.append((file, row, Votes.blocks,
                            f"票数が整数ではありません / blocks is not a whole number (found {raw_blocks!r})",
                            raw_blocks))
        elif blocks < 0:
            rejects.append((file, row, Votes.blocks,
                            f"票数が負の数です / blocks is negative (found {blocks})", raw_blocks))
        else:
            ok.append({
                Votes.card_id: card,
                Votes.round: rnd,
                Votes.blocks: blocks,
                Votes.voter: rec[Votes.voter].strip(),
                Votes.group: rec[Votes.group].strip(),
                Votes.row: row,
            })
    out = pd.DataFrame(ok, columns=list(Votes.to_schema().columns))
    ints = {Votes.round: "int64", Votes.blocks: "int64", Votes.row: "int64"}
    out = out.astype({c: str for c in out.columns if c not in ints} | ints)
    return Validated(Votes.validate(out), make_rejects(rejects))


# --------------------------------------------------------------------------------------------
# A whole meeting folder
# --------------------------------------------------------------------------------------------

_SAFE_ID = re.compile(r"[^\s/\\:*?\"<>|]+")


def meeting_id_for(meeting_dir: Path, meta: dict[str, object]) -> str:
    """``meeting.yaml``'s ``id`` (a date is written as YYYY-MM-DD), else the folder name.

    An id that could leave the output folder (``..``, slashes) is refused.
    """
    raw = meta.get("id")
    if isinstance(raw, dt.date):
        raw = raw.isoformat()
    mid = str(raw).strip() if raw not in (None, "") else meeting_dir.resolve().name
    if not _SAFE_ID.fullmatch(mid) or mid.startswith("."):
        raise InputError(
            str(meeting_dir / "meeting.yaml"),
            f"会議ID「{mid}」は使えません（/ \\ : * ? \" < > | や空白、先頭の . は不可）。",
            f"meeting id {mid!r} is not allowed (no slashes, spaces or leading dot).",
            "meeting.yaml の id を 2024-05-22 のような形にしてください。",
            "set id in meeting.yaml to something like 2024-05-22.",
        )
    return mid


def read_meeting_meta(meeting_dir: Path) -> dict[str, object]:
    """``meeting.yaml`` as a dict ({} when absent); refused when it is not a mapping."""
    path = meeting_dir / "meeting.yaml"
    if not path.exists():
        return {}
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise InputError(str(path), "YAML として読めません。", f"not valid YAML ({err}).") from None
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError(str(path), "「項目: 値」の形式ではありません。", "must be a mapping of key: value.")
    for key in ("id", "title", "organiser"):
        if key in meta and isinstance(meta[key], dict | list):
            raise InputError(str(path), f"「{key}」は1つの値（文字）にしてください。",
                             f"'{key}' must be a single value, not a list or mapping.")
    date = meta.get("date")
    if date is not None and not isinstance(date, dt.date) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(date)):
        raise InputError(str(path), f"date「{date}」は 2024-05-22 の形で書いてください。",
                         f"date {date!r} must look like 2024-05-22.")
    return meta


def find_input_files(meeting_dir: Path) -> dict[str, Path]:
    """Locate ``cards``/``feedback``/``votes`` files (.csv, .xlsx, .tsv, .txt) in a meeting folder."""
    if not meeting_dir.is_dir():
        raise InputError(str(meeting_dir), "会議フォルダが見つかりません。", "meeting folder not found.")
    found: dict[str, Path] = {}
    for kind in INPUT_KINDS:
        matches = [meeting_dir / f"{kind}{s}" for s in SUFFIXES if (meeting_dir / f"{kind}{s}").is_file()]
        if len(matches) > 1:
            raise InputError(
                str(meeting_dir),
                f"{kind} のファイルが複数あります: {[m.name for m in matches]}",
                f"several {kind} files: {[m.name for m in matches]}",
                "どれか1つだけ残してください。",
                "keep only one.",
            )
        if matches:
            # never follow a link out of the meeting folder (feedback.csv -> /etc/passwd)
            if not matches[0].resolve().is_relative_to(meeting_dir.resolve()):
                raise InputError(
                    str(matches[0]),
                    "会議フォルダの外のファイルを指しています。",
                    "the file points outside the meeting folder.",
                    "ファイルそのものを会議フォルダに置いてください。",
                    "put the file itself in the meeting folder.",
                )
            found[kind] = matches[0]
    if not found:
        raise InputError(
            str(meeting_dir),
            "cards / feedback / votes のファイルがありません。",
            "no cards, feedback or votes file found.",
            "feedback.csv などを置いてください。",
            "add feedback.csv, cards.csv or votes.csv.",
        )
    return found


def _count(file: str, kind: str, raw: RawTable, validated: Validated) -> dict[str, object]:
    return {
        "file": file,
        "kind": kind,
        "encoding": raw.encoding,
        "rows_in": raw.rows_in,
        "rows_ok": len(validated.ok),
        "rows_rejected": len(raw.rejects) + len(validated.rejects),
        "blank_rows_skipped": raw.blank_rows,
    }


def load_meeting(meeting_dir: Path, measures_path: Path) -> MeetingInputs:
    """Read and validate a meeting folder and the policy table.

    Raises :class:`InputError` for a file that cannot be used at all; row problems become rejects.
    """
    meta = read_meeting_meta(meeting_dir)
    meeting_id = meeting_id_for(meeting_dir, meta)
    files = find_input_files(meeting_dir)
    counts: list[dict[str, object]] = []
    rejects: list[pd.DataFrame] = []

    raw_m = read_table(measures_path, file=measures_path.name, kind="measures")
    measures = validate_measures(canonical_columns(raw_m, "measures"), file=raw_m.file)
    counts.append(_count(raw_m.file, "measures", raw_m, measures))
    rejects += [raw_m.rejects, measures.rejects]

    cards_df = feedback_df = votes_df = None
    if "cards" in files:
        raw = read_table(files["cards"], kind="cards")
        v = validate_cards(canonical_columns(raw, "cards"), file=raw.file,
                           measure_ids=measures.ok[Measures.measure_id])
        counts.append(_count(raw.file, "cards", raw, v))
        rejects += [raw.rejects, v.rejects]
        cards_df = v.ok
    card_ids = None if cards_df is None else list(cards_df[Cards.card_id])
    if "feedback" in files:
        raw = read_table(files["feedback"], kind="feedback")
        has_id = any(header_key(h) in {header_key(a) for a in ALIASES["feedback"][Feedback.comment_id]}
                     for h in raw.frame.columns)
        v = validate_feedback(canonical_columns(raw, "feedback"), file=raw.file, card_ids=card_ids,
                              reserved_ids=card_ids or (), has_id_column=has_id)
        counts.append(_count(raw.file, "feedback", raw, v))
        rejects += [raw.rejects, v.rejects]
        feedback_df = v.ok
    if "votes" in files:
        raw = read_table(files["votes"], kind="votes")
        has_blocks = any(header_key(h) in {header_key(a) for a in ALIASES["votes"][Votes.blocks]}
                         for h in raw.frame.columns)
        v = validate_votes(canonical_columns(raw, "votes"), file=raw.file, card_ids=card_ids,
                           has_blocks_column=has_blocks)
        counts.append(_count(raw.file, "votes", raw, v))
        rejects += [raw.rejects, v.rejects]
        votes_df = v.ok

    nonempty = [r for r in rejects if len(r)]
    all_rejects = pd.concat(nonempty, ignore_index=True) if nonempty else empty_rejects()
    meta_out = {str(k): ("" if v is None else (v.isoformat() if isinstance(v, dt.date) else str(v)))
                for k, v in meta.items()}
    return MeetingInputs(
        meeting_id=meeting_id,
        meta=meta_out,
        measures=measures.ok,
        cards=cards_df,
        feedback=feedback_df,
        votes=votes_df,
        rejects=all_rejects,
        counts=counts,
        files={"measures": measures_path, **files},
    )
