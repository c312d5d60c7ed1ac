"""A whole meeting folder: read and validate every input and the policy table into :class:`MeetingInputs`.

Every data row ends either in a validated frame or in the rejects, so ``rows_in == rows_ok + rows_rejected``
for every file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.ingest.columns import canonical_columns, header_key
from pipeline.ingest.discover import find_input_files, meeting_id_for, read_meeting_meta
from pipeline.ingest.read import RawTable, empty_rejects, read_table
from pipeline.ingest.validate import (
    Validated,
    validate_cards,
    validate_feedback,
    validate_measures,
    validate_votes,
)
from pipeline.schemas import ALIASES, Cards, Feedback, Measures, Votes


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


def load_measures(path: Path) -> pd.DataFrame:
    """The validated policy table (rows that cannot be used are left out; :func:`load_meeting` reports them)."""
    raw = read_table(path, file=path.name, kind="measures")
    return validate_measures(canonical_columns(raw, "measures"), file=raw.file).ok


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

