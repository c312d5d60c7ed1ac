"""What the policy table covers: theme ↔ measure links, the text threshold calibrated on the table, citations.

**Theme links.**  When the codebook's measure ids are the table's (the city the codebook was written for), its
``measures:`` lists are the links.  Otherwise the links come from the table's own text: every measure's name,
description and keywords are tagged with the codebook, and a theme found there is linked to that measure.  A
theme is *covered* when some measure is linked to it (through the codebook or the table's text), or to one of
its ``related`` themes.

**Text threshold.**  An item is covered by a measure's wording when its cosine similarity with the measure — in
a TF-IDF space built from the measures *and* the meeting's items, so words no measure uses weigh against
coverage — is at least half of what the measure's own name scores against the measure (the median over the
table).  A terse table and a wordy one get thresholds of their own instead of one number tuned to one table.
"""

from __future__ import annotations

import difflib
import functools
import re
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pipeline.schemas import Measures
from pipeline.text.normalise import normalise_text
from pipeline.themes.codebook import Codebook

NAME_SHARE = 0.5
"""An item is covered by text when its similarity reaches this share of the table's name-to-measure similarity."""
THRESHOLD_BOUNDS = (0.12, 0.4)

@dataclass(frozen=True)
class Citation:
    """A quotation or ``柱N`` mention in a comment that refers to a measure or pillar."""

    start: int
    end: int
    pillar_id: str
    measure_id: str = ""


def _strip_marks(s: str) -> str:
    return re.sub(r"[~〜～…・、。\s等]+$", "", normalise_text(s))


def citable_names(measures: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(name without trailing marks, pillar id, measure id or '') for every measure and pillar name."""
    names: list[tuple[str, str, str]] = [
        (_strip_marks(n), p, m) for p, m, n in zip(measures[Measures.pillar_id], measures[Measures.measure_id],
                                                    measures[Measures.measure_name], strict=True)]
    names += [(_strip_marks(n), p, "") for p, n in
              zip(measures[Measures.pillar_id], measures[Measures.pillar_name], strict=True) if n]
    return names


@functools.lru_cache(maxsize=4096)
def _quoted_name(quote: str, names: tuple[tuple[str, str, str], ...]) -> tuple[str, str] | None:
    """(pillar id, measure id) of the first name that reproduces ≥ 80 % of ``quote`` (a run quotes the same few
    names many times: each quote is compared with the names once)."""
    if len(quote) < 4:
        return None
    for name, pid, mid in names:
        match = difflib.SequenceMatcher(None, quote, name, autojunk=False).find_longest_match()
        if match.size >= 0.8 * len(quote):
            return pid, mid
    return None


def citations(text: str, measures: pd.DataFrame, *,
              names: Sequence[tuple[str, str, str]] | None = None) -> list[Citation]:
    """Quoted spans that reproduce a measure or pillar name (≥ 80 % of the quote), and 柱N mentions.
    ``names`` is :func:`citable_names` of ``measures``, computed once by callers that loop."""
    if names is None:
        names = citable_names(measures)
    out = []
    for m in _QUOTE.finditer(text):
        cited = _quoted_name(_strip_marks(m.group(1) or m.group(2)), tuple(names))
        if cited is not None:
            out.append(Citation(m.start(), m.end(), *cited))
    mentions = list(_PILLAR_MENTION.finditer(text))
    pillar_ids = list(dict.fromkeys(measures[Measures.pillar_id])) if mentions else []
    for m in mentions:
        pid = next((p for p in pillar_ids if re.sub(r"\D", "", p) == m.group(1)), "")
        if pid:
            out.append(Citation(m.start(), m.end(), pid))
    return out


def without_citations(text: str, cites: Sequence[Citation]) -> str:
    """The text with cited quotations removed (what the comment itself adds)."""
    keep, last = [], 0
    for c in sorted(cites, key=lambda c: c.start):
        if c.measure_id or text[c.start:c.start + 1] in "「『":
            keep.append(text[last:c.start])
            last = c.end
    keep.append(text[last:])
    return "".join(keep)



def own_words(text: str, measures: pd.DataFrame, names: Sequence[tuple[str, str, str]]) -> str:
    """``text`` without the measure and pillar names it quotes (:func:`citations`, :func:`without_citations`): the
    text the perspectives stage matches (a module function: the item pass computes its terms in the workers)."""
    return without_citations(text, citations(text, measures, names=names))


_QUOTE = re.compile(r"「([^」]{2,})」|『([^』]{2,})』")
_PILLAR_MENTION = re.compile(r"柱\s*([0-9]+)")
LINK_COLUMNS = ["theme", "label", "kind", "measures", "how"]


@dataclass(frozen=True)
class ThemeLinks:
    """Theme ↔ measure links of one policy table."""

    matching: Mapping[str, tuple[str, ...]]
    """theme → measures, used in the measure scores (the codebook's links when its ids are the table's)."""
    coverage: Mapping[str, tuple[str, ...]]
    """theme → measures that cover it (the codebook's links and those read from the table's text)."""
    derived: bool
    """True when the codebook's ids are not the table's, so the links come from the table's text only."""
    table: pd.DataFrame

    def covered(self, codebook: Codebook) -> set[str]:
        """Themes some measure covers, directly or through a related theme."""
        direct = {t for t, ms in self.coverage.items() if ms}
        return direct | {t.theme_id for t in codebook.themes if set(t.related) & direct}


def measure_texts(measures: pd.DataFrame) -> list[str]:
    """A measure as it is tagged: name, description, keywords."""
    return [normalise_text(f"{n}。{d}。{k.replace(';', '、')}") for n, d, k in zip(
        measures[Measures.measure_name], measures[Measures.description], measures[Measures.keywords], strict=True)]


def theme_links(measures: pd.DataFrame, codebook: Codebook, tag_texts) -> ThemeLinks:
    """``tag_texts(ids, texts) → id → themes`` tags the measures (the run's :class:`~pipeline.themes.tagging.Tagger`).

    A measure for one group of people (its name names a population: 高齢者, 障害のある人, 子ども — a theme of kind
    ``group``) covers an area only for that group: an area found only in its description (「障害のある人が…住まいを
    整える」) is not read as covering the area for everyone; one its name or keywords say is."""
    ids = list(measures[Measures.measure_id])
    known = set(ids)
    book = {t.theme_id: tuple(m for m in t.measures if m in known) for t in codebook.themes}
    derived = not any(book.values())
    tagged = tag_texts(ids, measure_texts(measures))
    named = tag_texts(ids, [normalise_text(f"{n}。{k.replace(';', '、')}") for n, k in zip(
        measures[Measures.measure_name], measures[Measures.keywords], strict=True)])
    groups = {t.theme_id for t in codebook.themes if t.kind == "group"}
    from_text: dict[str, list[str]] = {t: [] for t in codebook.theme_ids}
    for mid in ids:
        in_name = set(filter(None, named.get(mid, "").split("|")))
        for t in filter(None, tagged.get(mid, "").split("|")):
            if t not in from_text or (in_name & groups and t not in in_name and t not in groups):
                continue
            from_text[t].append(mid)
    rows = []
    coverage: dict[str, tuple[str, ...]] = {}
    for t in codebook.themes:
        if t.kind == "document":
            continue
        both = tuple(dict.fromkeys([*book[t.theme_id], *from_text[t.theme_id]]))
        coverage[t.theme_id] = both
        how = "codebook+table" if book[t.theme_id] and from_text[t.theme_id] else \
            "codebook" if book[t.theme_id] else "table" if from_text[t.theme_id] else ""
        rows.append({"theme": t.theme_id, "label": t.label, "kind": t.kind, "measures": "|".join(both), "how": how})
    matching = {t: (ms if not derived else tuple(from_text[t])) for t, ms in book.items()}
    return ThemeLinks(matching=matching, coverage=coverage, derived=derived,
                      table=pd.DataFrame(rows, columns=LINK_COLUMNS))


def text_threshold(name_scores: Sequence[float]) -> float:
    """:data:`NAME_SHARE` of the median name-to-measure similarity, within :data:`THRESHOLD_BOUNDS`."""
    if not name_scores:
        return THRESHOLD_BOUNDS[1]
    low, high = THRESHOLD_BOUNDS
    return round(min(high, max(low, NAME_SHARE * statistics.median(name_scores))), 3)


EMPTY_ANSWER = re.compile(r"(?:特に|とくに)?(?:なし|無し|ない|ありません|ございません|無い)|同上|無回答|未回答|未記入|"
                          r"以上|わからない|分からない|不明|特になし|[-ー―‐・。、.…]*")


def is_empty_answer(text: str) -> bool:
    """特になし / なし / 同上 / 無回答 … (and marks only): counted, never analysed."""
    core = re.sub(r"[\s。、．，.!！?？」「『』()（）]", "", text)
    return bool(EMPTY_ANSWER.fullmatch(core))
