"""Closing the loop: from the perspectives the analysts accepted to the next draft of the measures (施策案の
見直し案), and whether earlier gaps were closed.

:func:`revise_measures` is pure: the policy table, the meeting's suggestions, the decision log → the table in the
same format with two more columns, ``change`` and ``evidence``:

- an accepted (採用) perspective becomes a new measure (``change`` 新設) under its pillar: name from its label,
  description from its statement (the theme as a missing perspective and the representative comment), keywords
  from the words its comments share, ``evidence`` = the supporting item ids;
- a perspective corrected (修正) with an existing measure id extends that measure (拡充): its description and
  keywords gain the perspective's words; corrected with other text, the text is the new measure's name;
- an accepted card link (a suggested link the analysts took) is recorded on its measure (紐づけ追加);
- a measure without cards or comments in every meeting analysed so far is flagged 要検討, never deleted.

New ids follow the table's own numbering within the pillar (P3-5 after P3-4), in the order of the suggestions,
so a rerun gives the same ids; a perspective whose measure is already in the table (a draft given back) adds
nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd

from pipeline.review import ACCEPT, CORRECT, latest
from pipeline.schemas import Measures, columns

MEASURE_COLUMNS = columns(Measures)
REVISION_COLUMNS = [*MEASURE_COLUMNS, "change", "evidence"]
NEW, EXTEND, LINKED, REVIEW = "新設", "拡充", "紐づけ追加", "要検討"
KEYWORD_SEP = ";"
CLOSED, OPEN, ABSENT = "解消", "未解消", "言及なし"
GAP_COLUMNS = ["meeting_id", "perspective", "main_theme", "measure_id", "status", "item_ids"]
_SUFFIX = re.compile(r"(?:という|の)?視点(?:が必要|も必要|を)?$")
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def measure_name(label: str) -> str:
    """A perspective's label as a measure's name: quotes and a trailing 「という視点」 dropped."""
    name = _SUFFIX.sub("", label.strip()).strip(" 　、。")
    name = re.sub(r"^[「『](.*)[」』]$", r"\1", name)
    return name or label.strip()


def next_measure_id(measure_ids: Sequence[str], pillar_id: str, taken: Iterable[str] = ()) -> str:
    """The id after the pillar's highest numbered one (``P3-4`` → ``P3-5``; ``A-9`` → ``A-10``), never one in
    ``taken``; a pillar without numbered ids gets ``<pillar>-1``, ``<pillar>-2`` …"""
    used = set(measure_ids) | set(taken)
    numbered = [m for m in (_NUMBERED.match(x) for x in measure_ids) if m]
    prefix, top = f"{pillar_id}-", 0
    if numbered:
        prefix, top = numbered[-1].group(1), max(int(m.group(2)) for m in numbered if m.group(1) == numbered[-1].group(1))
    n = top + 1
    while f"{prefix}{n}" in used:
        n += 1
    return f"{prefix}{n}"


def _description(statement: str, quote: str) -> str:
    """A new measure's description: the missing perspective, then the representative comment (the measure
    answers the comments that raised it, so their wording is part of what it covers)."""
    return f"{statement}。{quote}" if statement else quote


def _join_keywords(*groups: Iterable[str]) -> str:
    words = [w.strip() for g in groups for w in g if w and w.strip()]
    return KEYWORD_SEP.join(dict.fromkeys(words))


def accepted(perspectives: pd.DataFrame, decisions: pd.DataFrame, meeting_id: str) -> list[tuple[dict, str, str]]:
    """(suggestion row, decision, correction) for each suggestion the analysts accepted or corrected, in the
    suggestions' order (a decision names a suggestion by its main theme or its label)."""
    mine = latest(decisions, meeting_id)
    mine = mine[(mine["kind"] == "perspective") & mine["decision"].isin([ACCEPT, CORRECT])]
    out = []
    for rec in perspectives.to_dict("records"):
        hit = mine[(mine["suggestion"] == rec["main_theme"]) | (mine["suggestion"] == rec["label"])]
        if len(hit):
            last = hit.iloc[-1]
            out.append((rec, str(last["decision"]), str(last["correction"])))
    return out


def revise_measures(measures: pd.DataFrame, perspectives: pd.DataFrame, decisions: pd.DataFrame, meeting_id: str,
                    *, keywords_for: Callable[[Sequence[str]], list[str]] = lambda texts: [],
                    texts: Mapping[str, str] | None = None, unsupported: Iterable[str] = (),
                    card_links: Iterable[tuple[str, str]] = ()) -> pd.DataFrame:
    """The draft table (:data:`REVISION_COLUMNS`).  ``keywords_for(texts)``: the words the supporting comments
    share; ``texts``: item id → text; ``unsupported``: measures without support in every meeting so far;
    ``card_links``: accepted (card id, measure id) links."""
    table = measures[MEASURE_COLUMNS].astype(str).reset_index(drop=True).copy()
    table["change"] = ""
    table["evidence"] = ""
    texts = texts or {}
    by_name = {str(n): i for i, n in enumerate(table[Measures.measure_name])}
    new_rows: list[dict[str, str]] = []
    for rec, decision, correction in accepted(perspectives, decisions, meeting_id):
        ids = [i for i in str(rec["item_ids"]).split("|") if i]
        words = keywords_for([texts[i] for i in ids if i in texts])
        statement = str(rec.get("theme_label") or "")
        quote = str(rec.get("representative_text") or "")
        extra = [rec.get("main_theme", ""), *words]
        if decision == CORRECT and correction in set(table[Measures.measure_id]):
            n = int(table.index[table[Measures.measure_id] == correction][0])
            desc = table.at[n, Measures.description]
            addition = f"{statement}（意見: {quote[:80]}）" if statement and statement not in desc else ""
            table.at[n, Measures.description] = f"{desc.rstrip('。')}。{addition}" if addition else desc
            table.at[n, Measures.keywords] = _join_keywords(str(table.at[n, Measures.keywords]).split(KEYWORD_SEP),
                                                            extra)
            table.at[n, "change"] = EXTEND
            table.at[n, "evidence"] = "|".join(dict.fromkeys([*filter(None, table.at[n, "evidence"].split("|")),
                                                              *ids]))
            continue
        name = correction.strip() if decision == CORRECT and correction.strip() else measure_name(str(rec["label"]))
        if name in by_name or any(r[Measures.measure_name] == name for r in new_rows):
            continue                                          # already in the table (a draft given back)
        pillar = str(rec.get("pillar_id") or "")
        in_pillar = table[table[Measures.pillar_id] == pillar]
        if not pillar or not len(in_pillar):
            pillar = str(table[Measures.pillar_id].iloc[-1]) if len(table) else "P1"
            in_pillar = table[table[Measures.pillar_id] == pillar]
        mid = next_measure_id(list(in_pillar[Measures.measure_id]), pillar,
                              taken=[*table[Measures.measure_id], *(r[Measures.measure_id] for r in new_rows)])
        new_rows.append({
            Measures.pillar_id: pillar,
            Measures.pillar_name: str(in_pillar[Measures.pillar_name].iloc[0]) if len(in_pillar) else "",
            Measures.measure_id: mid, Measures.measure_name: name,
            Measures.description: _description(statement, quote),
            Measures.keywords: _join_keywords(extra),
            "change": NEW, "evidence": "|".join(ids),
        })
    for card, mid in card_links:
        hit = table.index[table[Measures.measure_id] == mid]
        if len(hit):
            n = int(hit[0])
            table.at[n, "evidence"] = "|".join(dict.fromkeys([*filter(None, table.at[n, "evidence"].split("|")), card]))
            table.at[n, "change"] = table.at[n, "change"] or LINKED
    flagged = set(unsupported)
    for n, mid in enumerate(table[Measures.measure_id]):
        if mid in flagged and not table.at[n, "change"]:
            table.at[n, "change"] = REVIEW
    return _insert_by_pillar(table, new_rows)


def _insert_by_pillar(table: pd.DataFrame, new_rows: list[dict[str, str]]) -> pd.DataFrame:
    """New measures after the last measure of their pillar (table order kept)."""
    rows = table.to_dict("records")
    for new in new_rows:
        last = max((i for i, r in enumerate(rows) if r[Measures.pillar_id] == new[Measures.pillar_id]),
                   default=len(rows) - 1)
        rows.insert(last + 1, new)
    return pd.DataFrame(rows, columns=REVISION_COLUMNS)


def shared_keywords(terms: Callable[[str], list[str]], texts: Sequence[str], *, top: int = 5) -> list[str]:
    """The content words most of the ``texts`` share (in at least two of them; with one text, its most frequent
    words), most shared first — the keywords of a new or extended measure."""
    counts: dict[str, int] = {}
    for text in texts:
        for t in dict.fromkeys(terms(text)):
            counts[t] = counts.get(t, 0) + 1
    floor = 2 if len(texts) > 1 else 1
    ranked = sorted((t for t, n in counts.items() if n >= floor and len(t) > 1), key=lambda t: (-counts[t], t))
    return ranked[:top]


def accepted_card_links(decisions: pd.DataFrame, meeting_id: str, cards: Iterable[str]) -> list[tuple[str, str]]:
    """(card, measure) for every suggested card link the analysts took (採用, or 修正 to another measure)."""
    mine = latest(decisions, meeting_id)
    mine = mine[(mine["kind"] == "measure") & mine["decision"].isin([ACCEPT, CORRECT]) & mine["item_id"].isin(set(cards))]
    return [(str(r.item_id), str(r.correction if r.decision == CORRECT and r.correction else r.suggestion))
            for r in mine.itertuples(index=False)]


def gap_closure(earlier_accepted: Sequence[tuple[str, str, str, str]], themes: Mapping[str, str],
                covered_themes: Mapping[str, Sequence[str]], suggested_themes: Iterable[str]) -> pd.DataFrame:
    """For each perspective accepted at an earlier meeting (meeting id, label, main theme, item ids): 解消 when this
    meeting's comments on its theme are covered by a measure, 未解消 when they still raise it (a suggestion on
    that theme, or no measure covers the theme), 言及なし when no comment of this meeting is on that theme."""
    on_theme: dict[str, list[str]] = {}
    for item, ts in themes.items():
        for t in filter(None, ts.split("|")):
            on_theme.setdefault(t, []).append(item)
    raised = set(suggested_themes)
    rows = []
    for meeting, label, theme, _ in earlier_accepted:
        items = sorted(on_theme.get(theme, []))
        measures = list(covered_themes.get(theme, ()))
        status = ABSENT if not items else OPEN if theme in raised or not measures else CLOSED
        rows.append({"meeting_id": meeting, "perspective": label, "main_theme": theme,
                     "measure_id": "|".join(measures), "status": status, "item_ids": "|".join(items)})
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


__all__ = ["ABSENT", "CLOSED", "EXTEND", "GAP_COLUMNS", "LINKED", "NEW", "OPEN", "REVIEW", "REVISION_COLUMNS",
           "accepted", "accepted_card_links", "gap_closure", "measure_name", "next_measure_id", "revise_measures",
           "shared_keywords"]
