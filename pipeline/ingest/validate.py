"""Row-by-row validation of canonical frames: each ``validate_*`` is pure — a canonical frame of strings
in, the accepted rows (schemas in :mod:`pipeline.schemas`) and the refused ones out."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from pipeline.ingest.columns import QUESTION, REPLY, SECTION, label
from pipeline.ingest.documents import split_cell
from pipeline.ingest.read import ROW, make_rejects
from pipeline.schemas import ALIASES, ID_SEPARATORS, KIND_ALIASES, Cards, Feedback, Measures, Votes


@dataclass(frozen=True)
class Validated:
    """Output of a ``validate_*`` stage: the accepted rows and the refused ones (``cells_split``: cells that held
    several comments, each made an item of its own)."""

    ok: pd.DataFrame
    rejects: pd.DataFrame
    cells_split: int = 0
    items_from_split: int = 0
    notes: tuple[str, ...] = ()
    """What the analyst must look at though no row was refused (a card whose measure could not be linked)."""



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


_ID_LIKE = re.compile(r"[A-Za-z]*\d+(?:[-_.]\d+)*|[A-Za-z]+[-_]?\d+(?:[-_.][A-Za-z0-9]+)*")
Resolver = Callable[[str], tuple[list[str], str]]
"""A measure reference in words (「柱2 (1) 相談体制の充実」) → (the measure ids it names, why not when none)."""


def link_measures(cell: str, known: set[str], resolve: Resolver | None) -> tuple[list[str], list[str], str]:
    """The measure ids of a card's ``measure_ids`` cell: ids as written, else each part (between | ; , 、 or line
    breaks) resolved from its numbering or name.  Returns (ids, unknown ids, the part that could not be linked
    and why — '' when all were)."""
    mids = split_ids(cell)
    unknown = [m for m in mids if m not in known]
    if not unknown or resolve is None or all(_ID_LIKE.fullmatch(m) for m in unknown):
        return mids, unknown, ""          # ids as written; an unknown id (P9-9) is a typo to fix, refused
    ids: list[str] = []
    for part in (p.strip() for p in re.split(r"[|;；,，、\n]+", cell) if p.strip()):
        tokens = split_ids(part)
        if tokens and all(t in known for t in tokens):
            ids += tokens
            continue
        found, why = resolve(part)
        if not found:
            return [], [], f"「{part}」: {why}"
        ids += found
    return list(dict.fromkeys(ids)), [], ""


def validate_cards(frame: pd.DataFrame, *, file: str, measure_ids: Iterable[str],
                   resolve: Resolver | None = None) -> Validated:
    """Canonical cards frame in → validated :class:`Cards` (+ rejects).

    Refused: empty or duplicate ``card_id``, no title and no body, a ``measure_ids`` cell naming a
    measure id that is not in the policy table.  With ``resolve``, a measure named in words (numbering or name,
    :meth:`pipeline.ingest.policy.PolicyTable.resolve`) is linked when it names one measure; a card whose words
    name none or several keeps no link and is listed in ``notes`` for the analyst (the card is still read).
    """
    known = set(measure_ids)
    notes: list[str] = []
    attrs = extra_columns(frame, ALIASES["cards"])
    ok, rejects = [], []
    first: dict[str, int] = {}
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        cid = clean_id(rec[Cards.card_id])
        title, body = rec[Cards.title].strip(), rec[Cards.body].strip()
        mids, unknown, unlinked = link_measures(rec[Cards.measure_ids], known, resolve)
        if unlinked and cid:
            notes.append(f"{file} {row}行目（カード {cid}）の施策「{rec[Cards.measure_ids].strip()}」は紐づけていません — "
                         f"{unlinked}")
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
                **{a: str(rec[a]).strip() for a in attrs},
            })
    out = pd.DataFrame(ok, columns=[*Cards.to_schema().columns, *attrs])
    out = out.astype({c: str for c in out.columns if c != Cards.row} | {Cards.row: "int64"})
    return Validated(Cards.validate(out), make_rejects(rejects), notes=tuple(notes))


MAX_KIND_CHARS = 40


def _kind(value: str, default: str = "その他") -> str | None:
    """A comment kind: a known spelling → its canonical kind; blank → ``default``; any other short label
    (困りごと, 要望 …) is kept as written; None for a cell too long to be a kind (a shifted column)."""
    key = unicodedata.normalize("NFKC", value).strip()
    if not key:
        return default
    known = KIND_ALIASES.get(key, KIND_ALIASES.get(key.lower()))
    if known is not None:
        return known
    return key if len(key) <= MAX_KIND_CHARS else None


def extra_columns(frame: pd.DataFrame, canonical: Iterable[str]) -> list[str]:
    """The attribute columns of a canonical frame (those after the canonical ones, without internal ones)."""
    known = set(canonical) | {ROW}
    return [c for c in frame.columns if c not in known and not c.startswith("_")]


def validate_feedback(
    frame: pd.DataFrame,
    *,
    file: str,
    card_ids: Iterable[str] | None,
    reserved_ids: Iterable[str] = (),
    has_id_column: bool = True,
    default_kind: str = "その他",
    id_prefix: str = "F",
    split_cells: bool = True,
) -> Validated:
    """Canonical feedback frame in → validated :class:`Feedback` (+ rejects).

    Without an id column, ids are made from the row number (``F0002`` for row 2; ``id_prefix`` keeps the ids
    of a second source apart); a survey row answering several questions gives ``<id>-1``, ``<id>-2`` ….  A
    blank kind is ``default_kind``; a kind outside the known ones is kept as written.  Refused: empty text,
    empty/duplicate id or an id already used by a card, a kind cell too long to be a kind, a ``card_id``
    that is not a card of this meeting (checked only when the meeting has cards).  Attribute columns are
    kept.  With ``split_cells``, a cell holding several comments (:func:`pipeline.ingest.documents.split_cell`)
    gives one item per comment, ids ``<id>.1``, ``<id>.2`` …, the cell's other columns on each.
    """
    cards = set(card_ids) if card_ids is not None else None
    reserved = set(reserved_ids)
    attrs = extra_columns(frame, [*ALIASES["feedback"], SECTION, REPLY, QUESTION])
    several = "_q" in frame.columns
    ok: list[dict[str, object]] = []
    rejects = []
    split = from_split = 0
    first: dict[str, int] = {}
    for rec in frame.to_dict("records"):
        row = int(rec[ROW])
        cid = clean_id(rec[Feedback.comment_id]) if has_id_column else f"{id_prefix}{row:04d}"
        if several and cid:
            cid = f"{cid}-{int(rec['_q'])}"
        text = rec[Feedback.text].strip()
        kind = _kind(rec[Feedback.kind], default_kind)
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
                f"種別が長すぎます（{MAX_KIND_CHARS}文字まで。列がずれていませんか）/ "
                f"kind longer than {MAX_KIND_CHARS} characters (shifted columns?)"
            ), rec[Feedback.kind][:80]))
        elif card and cards is not None and card not in cards:
            rejects.append((file, row, Feedback.card_id,
                            f"カードID「{card}」はこの会議のカードにありません / unknown card_id {card}", card))
        else:
            first[cid] = row
            parts = split_cell(text) if split_cells and "\n" in text else [text]
            if len(parts) > 1:
                split, from_split = split + 1, from_split + len(parts)
            ok += [{
                Feedback.comment_id: cid if len(parts) == 1 else f"{cid}.{k}",
                Feedback.text: part,
                Feedback.kind: kind,
                Feedback.card_id: card,
                Feedback.group: rec[Feedback.group].strip(),
                Feedback.section: rec.get(SECTION, "").strip(),
                Feedback.reply: rec.get(REPLY, "").strip(),
                Feedback.question: rec.get(QUESTION, ""),
                Feedback.row: row,
                **{a: str(rec[a]).strip() for a in attrs},
            } for k, part in enumerate(parts, start=1)]
    out = pd.DataFrame(ok, columns=[*Feedback.to_schema().columns, *attrs])
    out = out.astype({c: str for c in out.columns if c != Feedback.row} | {Feedback.row: "int64"})
    return Validated(Feedback.validate(out), make_rejects(rejects), split, from_split)


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


