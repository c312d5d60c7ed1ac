"""Tally: votes per card / measure / pillar / department by round, cards per measure, comments per kind.

Counting rules (stated in the report too):
- A card linked to several measures credits its blocks to each of them in full; a pillar counts a
  card once even when it is linked to two measures of that pillar.  Measure and pillar totals can
  therefore exceed the number of blocks placed; the card table is the exact count.
- Cards linked to no measure are shown under pillar ``(なし)``.
- ``shift`` is last round minus first round in blocks; ``share_shift`` compares shares of each
  round's blocks in percentage points (rounds hand out different numbers of blocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from pipeline.ingest import MeetingInputs
from pipeline.schemas import FEEDBACK_KINDS, WORKSHOP_KINDS, Cards, Feedback, Measures, Votes

NO_PILLAR = "(なし)"


def round_column(r: int) -> str:
    return f"round_{r}"


def _rounds(votes: pd.DataFrame) -> list[int]:
    return sorted(int(r) for r in votes[Votes.round].unique())


def _wide_by_round(long: pd.DataFrame, key: str, rounds: list[int]) -> pd.DataFrame:
    """``key``/round/blocks rows → one row per key with a ``round_N`` column per round."""
    if long.empty:
        return pd.DataFrame(columns=[key, *map(round_column, rounds)])
    wide = long.pivot_table(index=key, columns=Votes.round, values=Votes.blocks, aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=rounds, fill_value=0)
    wide.columns = [round_column(r) for r in rounds]
    return wide.reset_index()


def _add_shift(frame: pd.DataFrame, rounds: list[int], totals: dict[int, int]) -> pd.DataFrame:
    out = frame.copy()
    cols = [round_column(r) for r in rounds]
    out[cols] = out[cols].astype("int64")
    out["total"] = out[cols].sum(axis=1).astype("int64")
    for r in rounds:
        denom = totals.get(r, 0)
        out[f"share_{r}"] = (out[round_column(r)] / denom * 100).round(1) if denom else 0.0
    if len(rounds) >= 2:
        first, last = rounds[0], rounds[-1]
        out["shift"] = out[round_column(last)] - out[round_column(first)]
        out["share_shift"] = (out[f"share_{last}"] - out[f"share_{first}"]).round(1)
    return out


def _sort(frame: pd.DataFrame, rounds: list[int], key: str) -> pd.DataFrame:
    by = [round_column(r) for r in reversed(rounds)] + [key]
    asc = [False] * len(rounds) + [True]
    return frame.sort_values(by, ascending=asc, kind="mergesort").reset_index(drop=True)


def round_totals(votes: pd.DataFrame) -> dict[int, int]:
    """Blocks placed in each round."""
    return {int(r): int(b) for r, b in votes.groupby(Votes.round)[Votes.blocks].sum().items()}


def voters_per_round(votes: pd.DataFrame) -> dict[int, int]:
    """Distinct named voters per round (rows with an empty voter are not counted)."""
    named = votes[votes[Votes.voter] != ""]
    return {int(r): int(n) for r, n in named.groupby(Votes.round)[Votes.voter].nunique().items()}


def card_votes(votes: pd.DataFrame, cards: pd.DataFrame | None) -> pd.DataFrame:
    """:class:`Votes` (+ :class:`Cards`) in → one row per voted card.

    Columns: card_id, title, department, measure_ids, round_N…, total, share_N…, shift, share_shift;
    sorted by the last round's blocks, then earlier rounds, then card_id.
    """
    rounds = _rounds(votes)
    wide = _wide_by_round(votes, Votes.card_id, rounds)
    if cards is not None:
        info = cards[[Cards.card_id, Cards.title, Cards.department, Cards.measure_ids]]
        wide = wide.merge(info, on=Cards.card_id, how="left")
    for col in (Cards.title, Cards.department, Cards.measure_ids):
        if col not in wide.columns:
            wide[col] = ""
    wide = wide.fillna({Cards.title: "", Cards.department: "", Cards.measure_ids: ""})
    wide = wide[[Cards.card_id, Cards.title, Cards.department, Cards.measure_ids,
                 *map(round_column, rounds)]]
    return _sort(_add_shift(wide, rounds, round_totals(votes)), rounds, Cards.card_id)


def _card_links(cards: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """One row per (card, measure, pillar) link; unlinked cards get measure "" and pillar (なし)."""
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    rows = []
    for cid, mids in zip(cards[Cards.card_id], cards[Cards.measure_ids], strict=True):
        ids = [m for m in mids.split("|") if m]
        if not ids:
            rows.append((cid, "", NO_PILLAR))
        rows.extend((cid, m, pillar_of[m]) for m in ids)
    return pd.DataFrame(rows, columns=[Cards.card_id, Measures.measure_id, Measures.pillar_id])


def measure_votes(votes: pd.DataFrame, cards: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """Blocks credited to each measure through its linked cards (every measure listed, in table order)."""
    rounds = _rounds(votes)
    links = _card_links(cards, measures)
    linked = votes.merge(links[links[Measures.measure_id] != ""], on=Cards.card_id)
    wide = _wide_by_round(linked, Measures.measure_id, rounds)
    base = measures[[Measures.pillar_id, Measures.measure_id, Measures.measure_name]]
    out = base.merge(wide, on=Measures.measure_id, how="left").fillna(
        {round_column(r): 0 for r in rounds})
    n_cards = links.groupby(Measures.measure_id)[Cards.card_id].nunique()
    out.insert(3, "cards", out[Measures.measure_id].map(n_cards).fillna(0).astype("int64"))
    return _add_shift(out, rounds, round_totals(votes))


def pillar_votes(votes: pd.DataFrame, cards: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """Blocks per pillar (a card counted once per pillar); cards with no measure under (なし)."""
    rounds = _rounds(votes)
    links = _card_links(cards, measures)[[Cards.card_id, Measures.pillar_id]].drop_duplicates()
    linked = votes.merge(links, on=Cards.card_id)
    wide = _wide_by_round(linked, Measures.pillar_id, rounds)
    pillars = measures[[Measures.pillar_id, Measures.pillar_name]].drop_duplicates(Measures.pillar_id)
    pillars = pd.concat([pillars, pd.DataFrame({Measures.pillar_id: [NO_PILLAR],
                                                Measures.pillar_name: ["施策に紐づかないカード"]})],
                        ignore_index=True)
    out = pillars.merge(wide, on=Measures.pillar_id, how="left").fillna({round_column(r): 0 for r in rounds})
    return _add_shift(out, rounds, round_totals(votes))


def department_votes(votes: pd.DataFrame, cards: pd.DataFrame) -> pd.DataFrame:
    """Blocks per department of the voted cards, sorted like :func:`card_votes`."""
    rounds = _rounds(votes)
    merged = votes.merge(cards[[Cards.card_id, Cards.department]], on=Cards.card_id, how="left")
    merged[Cards.department] = merged[Cards.department].fillna("").replace("", "(部署不明)")
    wide = _wide_by_round(merged, Cards.department, rounds)
    return _sort(_add_shift(wide, rounds, round_totals(votes)), rounds, Cards.department)


def cards_per_measure(cards: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """Every measure with the number and ids of the cards staff linked to it (table order)."""
    links = _card_links(cards, measures)
    links = links[links[Measures.measure_id] != ""]
    ids = links.groupby(Measures.measure_id)[Cards.card_id].agg(lambda s: "|".join(sorted(s)))
    out = measures[[Measures.pillar_id, Measures.pillar_name, Measures.measure_id, Measures.measure_name]].copy()
    out["card_ids"] = out[Measures.measure_id].map(ids).astype(object).fillna("")   # no card at all: float NaN
    out["cards"] = out["card_ids"].map(lambda s: len(s.split("|")) if s else 0).astype("int64")
    return out.reset_index(drop=True)


def unlinked_cards(cards: pd.DataFrame) -> pd.DataFrame:
    """Cards that staff could not place under any measure."""
    out = cards[cards[Cards.measure_ids] == ""][[Cards.card_id, Cards.department, Cards.title]]
    return out.reset_index(drop=True)


def comments_per_kind(feedback: pd.DataFrame) -> pd.DataFrame:
    """Number of comments of each kind: the workshop kinds always (0 included), in the contract's order, then
    the other kinds present (パブリックコメント, a city's own kinds) in the order they first appear."""
    counts = feedback[Feedback.kind].value_counts()
    kinds = [*WORKSHOP_KINDS, *(k for k in dict.fromkeys(feedback[Feedback.kind]) if k not in WORKSHOP_KINDS)]
    kinds = sorted(kinds, key=lambda k: FEEDBACK_KINDS.index(k) if k in FEEDBACK_KINDS else len(FEEDBACK_KINDS))
    return pd.DataFrame({Feedback.kind: kinds, "comments": [int(counts.get(k, 0)) for k in kinds]})


@dataclass(frozen=True)
class Tallies:
    """Every count of cards and votes (each frame empty, without columns, when its input is absent)."""

    card_votes: pd.DataFrame
    measure_votes: pd.DataFrame
    pillar_votes: pd.DataFrame
    department_votes: pd.DataFrame
    cards_per_measure: pd.DataFrame
    unlinked_cards: pd.DataFrame
    comments_per_kind: pd.DataFrame
    round_totals: Mapping[int, int]
    voters: Mapping[int, int]


def tally_meeting(inputs: MeetingInputs) -> Tallies:
    """Validated inputs → :class:`Tallies`."""
    empty = pd.DataFrame()
    votes, cards, measures = inputs.votes, inputs.cards, inputs.measures
    has_votes = votes is not None and len(votes) > 0
    with_cards = has_votes and cards is not None
    cards_frame = cards if cards is not None else pd.DataFrame(columns=list(Cards.to_schema().columns))
    return Tallies(
        card_votes=card_votes(votes, cards) if has_votes else empty,
        measure_votes=measure_votes(votes, cards_frame, measures) if with_cards else empty,
        pillar_votes=pillar_votes(votes, cards_frame, measures) if with_cards else empty,
        department_votes=department_votes(votes, cards_frame) if with_cards else empty,
        cards_per_measure=cards_per_measure(cards, measures) if cards is not None else empty,
        unlinked_cards=unlinked_cards(cards) if cards is not None else empty,
        comments_per_kind=comments_per_kind(inputs.feedback) if inputs.feedback is not None else empty,
        round_totals=round_totals(votes) if has_votes else {},
        voters=voters_per_round(votes) if has_votes else {},
    )
