"""Ranking the suggestions, and what earlier meetings say about them (recurring perspectives, theme trend)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from pipeline.measures.matching import content_terms
from pipeline.schemas import Tagged
from pipeline.text.tokenise import Tokeniser


@dataclass(frozen=True)
class EarlierMeeting:
    """Outputs of an earlier meeting, read by the flow from ``OUT_ROOT/<id>/``."""

    meeting_id: str
    date: str
    tagged: pd.DataFrame
    perspectives: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())


def rank(frame: pd.DataFrame) -> pd.DataFrame:
    """Most support first, then votes on supporting cards, comments, label; ids V01, V02 … in that order."""
    if not len(frame):
        return frame
    out = frame.sort_values(["support", "votes", "comments", "label"], ascending=[False, False, False, True],
                            kind="mergesort").reset_index(drop=True)
    out["perspective_id"] = [f"V{n:02d}" for n in range(1, len(out) + 1)]
    return out


def mark_recurring(frame: pd.DataFrame, text: Mapping[str, str], theme_list: Mapping[str, list[str]],
                   earlier: Sequence[EarlierMeeting], *, tokeniser: Tokeniser, stopwords: frozenset[str],
                   similar_min: float = 0.2, terms: Callable[[str], list[str]] | None = None) -> pd.DataFrame:
    """``status`` = ``recurring`` when an earlier meeting suggested the same main theme, or had a comment
    with that theme whose text resembles a supporting comment (cosine ≥ ``similar_min``)."""
    if not earlier:
        return frame
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = list(text.values()) + [t for e in earlier for t in e.tagged[Tagged.text]]
    analyze = terms or (lambda s: content_terms(tokeniser, s, stopwords))
    vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True).fit(corpus)
    out = frame.copy()
    for n, rec in enumerate(out.to_dict("records")):
        theme = rec["main_theme"]
        members = [i for i in rec["item_ids"].split("|") if i in text][:200]
        mine = vec.transform([text[i] for i in members])
        where = []
        for e in earlier:
            if theme and theme in set(e.perspectives.get("main_theme", pd.Series(dtype=str))):
                where.append(e.meeting_id)
                continue
            tg = e.tagged
            if not theme:
                continue
            same = tg[[theme in str(ts).split("|") for ts in tg[Tagged.themes]]]
            same = same[same[Tagged.source] == "feedback"]
            if len(same) and float((vec.transform(list(same[Tagged.text])) @ mine.T).max()) >= similar_min:
                where.append(e.meeting_id)
        if where:
            out.loc[n, "status"] = "recurring"
            out.loc[n, "recurring_in"] = "|".join(where)
    return out


def theme_trend(current_id: str, current: Mapping[str, str], earlier: Sequence[EarlierMeeting],
                theme_ids: Sequence[str]) -> pd.DataFrame:
    """Items per theme in each meeting (earlier meetings by date, then this one)."""
    cols: dict[str, dict[str, int]] = {}
    for e in sorted(earlier, key=lambda e: (e.date, e.meeting_id)):
        cols[e.meeting_id] = _count_themes(list(e.tagged[Tagged.themes]), theme_ids)
    cols[current_id] = _count_themes(list(current.values()), theme_ids)
    return pd.DataFrame([{"theme": t, **{m: c[t] for m, c in cols.items()}} for t in theme_ids],
                        columns=["theme", *cols])


def _count_themes(values: Sequence[str], theme_ids: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(theme_ids, 0)
    for v in values:
        for t in str(v).split("|"):
            if t in counts:
                counts[t] += 1
    return counts
