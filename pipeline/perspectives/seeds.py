"""What each card or comment says about the policy table (one decision per item, shown in the outputs):

==========================  ===================================================================================
``計画書の記述``             about the plan document itself (wording, pages, data): listed apart, never a perspective
``空の回答``                 特になし / なし / 同上 …: counted, not analysed
``担当課が紐づけ``           a card staff placed under a measure
``施策案にない分野``         one of its area themes (else, with no area theme, its target group) is covered by no
                            measure: it supports the suggestion of that theme — the strongest such theme only
``追加すべき視点``           a request for a new perspective that no measure covers in wording (each sentence of
                            it is checked): it seeds a suggestion under its main theme even when that theme is
                            covered (the request says what the measures miss)
``テーマでカバー``           its themes are covered by measures
``文言でカバー``             no theme, but a measure's wording covers it (similarity ≥ the table's threshold)
``説明なし``                 no theme and no measure: clustered; a cluster becomes a suggestion only when coherent
==========================  ===================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.themes.codebook import Codebook

DOCUMENT, EMPTY, PLACED = "計画書の記述", "空の回答", "担当課が紐づけ"
GAP, REQUEST, THEME_COVERED, TEXT_COVERED, UNEXPLAINED = (
    "施策案にない分野", "追加すべき視点", "テーマでカバー", "文言でカバー", "説明なし")
REQUEST_KIND = "追加すべき視点"
DOMINANCE = 0.375
"""How much more evidence (in rule score: 1 occurrence 0.5, 2 → 0.75, 3 → 0.875) a covered area may have before
an uncovered area of the same comment no longer counts as its gap."""


@dataclass(frozen=True)
class Decision:
    item_id: str
    decision: str
    theme: str = ""
    """The theme the decision rests on (the gap, the request's main theme, the covered theme)."""


def ranked_themes(item: str, themes: Mapping[str, str], scores: Mapping[tuple[str, str], float],
                  order: Mapping[str, int]) -> list[str]:
    """An item's themes, strongest evidence first (codebook order on ties)."""
    ts = [t for t in themes.get(item, "").split("|") if t]
    return sorted(ts, key=lambda t: (-scores.get((item, t), 0.0), order.get(t, len(order))))


def decide(ids: Sequence[str], *, kinds: Mapping[str, str], cards: set[str], placed: set[str], empty: set[str],
           themes: Mapping[str, str], scores: Mapping[tuple[str, str], float], codebook: Codebook,
           covered_themes: set[str], coverage: Mapping[str, float], threshold: float) -> list[Decision]:
    """One :class:`Decision` per item (see the module docstring)."""
    kind_of = {t.theme_id: t.kind for t in codebook.themes}
    order = {t: n for n, t in enumerate(codebook.theme_ids)}
    out = []
    for i in ids:
        ranked = ranked_themes(i, themes, scores, order)
        if i not in cards and any(kind_of.get(t) == "document" for t in ranked):
            # a programme card is never a comment on the plan document, whatever its words
            out.append(Decision(i, DOCUMENT))
            continue
        ranked = [t for t in ranked if kind_of.get(t) != "document"]
        if i in empty:
            out.append(Decision(i, EMPTY))
            continue
        if i in placed:
            out.append(Decision(i, PLACED))
            continue
        areas = [t for t in ranked if kind_of.get(t) == "area"]
        groups = [t for t in ranked if kind_of.get(t) == "group"]
        open_areas = [t for t in areas if t not in covered_themes]
        # an uncovered area mentioned in passing (far less evidence than the covered area the comment is
        # about) does not make the comment a gap
        strongest_covered = max((scores.get((i, t), 0.0) for t in areas if t in covered_themes), default=0.0)
        open_areas = [t for t in open_areas if scores.get((i, t), 0.0) >= strongest_covered - DOMINANCE]
        open_groups = [t for t in groups if t not in covered_themes] if not areas else []
        main = (areas or groups or [""])[0]
        if kinds.get(i) == REQUEST_KIND:
            if coverage.get(i, 0.0) >= threshold:
                out.append(Decision(i, TEXT_COVERED, main))
            else:
                out.append(Decision(i, REQUEST, (open_areas or open_groups or [main])[0]))
            continue
        if open_areas or open_groups:
            out.append(Decision(i, GAP, (open_areas or open_groups)[0]))
        elif main:
            out.append(Decision(i, THEME_COVERED, main))
        elif coverage.get(i, 0.0) >= threshold:
            out.append(Decision(i, TEXT_COVERED))
        else:
            out.append(Decision(i, UNEXPLAINED))
    return out
