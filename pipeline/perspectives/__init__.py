"""Suggested new perspectives (新たな視点(案)): supported ideas that no draft measure covers, one topic each.

1. **Coverage** (:mod:`~pipeline.perspectives.coverage`): which themes the policy table covers (its links, from
   the codebook or read from the table's own text) and the text threshold calibrated on the table.
2. **Decisions** (:mod:`~pipeline.perspectives.seeds`): every card and comment gets one decision — plan-document
   comment, empty answer, placed card, gap (the strongest theme no measure covers), request for a new
   perspective, covered by theme, covered by wording, unexplained.
3. **Suggestions**: one per gap theme (the items whose gap it is; at least :data:`MIN_SUPPORT`), requests under
   their main theme, and clusters of unexplained items that are coherent (their cohesion beats random sets of
   the same size from the meeting by two standard deviations).  A comment is in at most one suggestion.
4. **Records** (:mod:`~pipeline.perspectives.records`): a label taken from the comments, the theme's readable
   gap name, cohesion, the most representative comment, pillar, nearest measure, quotes; **ranking**
   (:mod:`~pipeline.perspectives.ranking`) by support, then votes, then comments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.measures.matching import MeasureMatcher, content_terms
from pipeline.perspectives.coverage import (
    Citation,
    ThemeLinks,
    citable_names,
    citations,
    is_empty_answer,
    measure_texts,
    text_threshold,
    theme_links,
    without_citations,
)
from pipeline.perspectives.ranking import EarlierMeeting, mark_recurring, rank, theme_trend
from pipeline.perspectives.records import MAX_QUOTES, SHARED_PHRASE, choose_label, cohesion, quotes
from pipeline.perspectives.seeds import (
    DOCUMENT,
    EMPTY,
    GAP,
    REQUEST,
    REQUEST_KIND,
    TEXT_COVERED,
    UNEXPLAINED,
    Decision,
    decide,
)
from pipeline.schemas import Cards, Items, Measures, Perspective, PerspectiveDecision, columns
from pipeline.text.tokenise import Tokeniser
from pipeline.themes.codebook import Codebook

__all__ = ["COVERED_COLUMNS", "DECISION_COLUMNS", "MAX_QUOTES", "PERSPECTIVE_COLUMNS", "PLAN_COLUMNS", "REQUEST_KIND",
           "Citation", "EarlierMeeting", "EvidenceIndex", "PerspectiveResult", "ThemeLinks", "citations", "is_empty_answer",
           "request_sentences", "suggest_perspectives", "theme_links", "theme_trend", "without_citations"]

PERSPECTIVE_COLUMNS = columns(Perspective)
COVERED_COLUMNS = ["item_id", "text", "best_measure_id", "best_measure_score"]
PLAN_COLUMNS = ["item_id", "kind", "section", "text", "evidence"]
DECISION_COLUMNS = columns(PerspectiveDecision)
LABEL_TEXTS = 200
"""Comments (nearest the suggestion's centroid) among which its label is chosen."""
MIN_SUPPORT = 2
"""A gap theme becomes a suggestion with at least this many items (a request needs only itself)."""
RANDOM_SETS = 40
_SENTENCE = re.compile(r"[。！？!?\n]+")


def request_sentences(text: str) -> list[str]:
    """The sentences of a request comment, each checked against the measures on its own (see :func:`_space`)."""
    return _SENTENCE.split(text)


@dataclass(frozen=True)
class PerspectiveResult:
    suggestions: pd.DataFrame
    covered: pd.DataFrame
    coverage: dict[str, float]
    plan_comments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLAN_COLUMNS))
    decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DECISION_COLUMNS))
    threshold: float = 0.0
    empty_answers: int = 0


@dataclass(frozen=True)
class _Space:
    """The meeting's items and the measures in one TF-IDF space (citations of measure names removed)."""

    x: object                 # items × terms (L2 rows)
    sims: np.ndarray          # items × measures
    coverage: dict[str, float]
    threshold: float
    cites: dict[str, list[Citation]]


def _space(ids: Sequence[str], text: Mapping[str, str], kinds: Mapping[str, str], measures: pd.DataFrame,
           analyze: Callable[[str], list[str]]) -> _Space:
    from sklearn.feature_extraction.text import TfidfVectorizer

    names = citable_names(measures)
    cites = {i: citations(text[i], measures, names=names) for i in ids}
    stripped = [without_citations(text[i], cites[i]) for i in ids]
    vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True)
    joint = vec.fit_transform(stripped + measure_texts(measures))
    x, mx = joint[: len(ids)].tocsr(), joint[len(ids):]
    sims = np.asarray((x @ mx.T).todense()) if len(ids) else np.zeros((0, mx.shape[0]))
    name_vecs = vec.transform(list(measures[Measures.measure_name]))
    name_scores = [float(name_vecs[j].multiply(mx[j]).sum()) for j in range(mx.shape[0])]
    cov = {i: float(sims[n].max()) if sims.shape[1] else 0.0 for n, i in enumerate(ids)}
    # a request of several sentences is covered only when each sentence with content is
    sentences, spans = [], []
    for n, i in enumerate(ids):
        if kinds[i] == REQUEST_KIND and sims.shape[1]:
            parts = [p for p in request_sentences(stripped[n]) if len(analyze(p)) >= 2]
            if len(parts) > 1:
                spans.append((i, len(sentences), len(parts)))
                sentences += parts
    if sentences:
        best = np.asarray((vec.transform(sentences) @ mx.T).todense()).max(axis=1)
        for i, first, count in spans:
            cov[i] = float(best[first:first + count].min())
    return _Space(x, sims, cov, text_threshold(name_scores), cites)


def _coherent_clusters(ids: Sequence[str], loose: Sequence[str], clusters: Sequence[Sequence[str]],
                       pos: Mapping[str, int], space: _Space, random_state: int) -> list[list[str]]:
    """The clusters of unexplained items (from the clustering stage, restricted to the items no theme and no
    measure's wording explains) whose cohesion beats random sets of the meeting's items of the same size by two
    standard deviations (a meeting-calibrated test, not a fixed number)."""
    if len(loose) < 3 or len(ids) < 10:
        return []
    free = set(loose)
    rng = np.random.default_rng(random_state)
    out = []
    for cluster in clusters:
        members = [i for i in cluster if i in free]
        if len(members) < 3:
            continue
        own, _ = cohesion(space.x, [pos[i] for i in members])
        rand = [cohesion(space.x, list(rng.choice(len(ids), size=len(members), replace=False)))[0]
                for _ in range(RANDOM_SETS)]
        if own >= float(np.mean(rand)) + 2 * float(np.std(rand)):
            out.append(members)
    return out


def _pillar(seeds: Sequence[str], members: Sequence[str], space: _Space, pos: Mapping[str, int],
            mids: Sequence[str], pillar_of: Mapping[str, str], theme: str, codebook: Codebook,
            links: ThemeLinks) -> str:
    """The pillar a seed comment names (quotation or 柱N); else the pillar of the measures the theme is linked to
    or the codebook's pillar for it (when in the table); else the pillar its items are closest to."""
    for s in seeds:
        for c in space.cites.get(s, []):
            return c.pillar_id
    if theme and theme in codebook.theme_ids:
        linked = [pillar_of[m] for m in links.coverage.get(theme, ()) if m in pillar_of]
        if linked:
            return linked[0]
        t = codebook.theme(theme)
        if t.pillars and t.pillars[0] in set(pillar_of.values()):
            return t.pillars[0]
    totals: dict[str, float] = {}
    for i in members:
        for j, m in enumerate(mids):
            totals[pillar_of[m]] = max(totals.get(pillar_of[m], 0.0), float(space.sims[pos[i], j]))
    if totals and max(totals.values()) > 0:
        return max(sorted(totals), key=lambda p: totals[p])
    return ""


def _groups(decisions: Sequence[Decision], clusters: Sequence[list[str]]) -> dict[str, dict]:
    """Suggestion key → seed kind, theme and members (each item in at most one suggestion)."""
    groups: dict[str, dict] = {}
    for d in decisions:
        if d.decision in (GAP, REQUEST):
            g = groups.setdefault(d.theme or f"item:{d.item_id}", {"theme": d.theme, "seeds": [], "members": [],
                                                                  "seed": "施策案にない分野"})
            g["members"].append(d.item_id)
            if d.decision == REQUEST:
                g["seeds"].append(d.item_id)
                g["seed"] = REQUEST_KIND
    for n, members in enumerate(clusters, start=1):
        groups[f"cluster:{n}"] = {"theme": "", "seeds": [], "members": list(members), "seed": "まとまり"}
    return {k: g for k, g in groups.items() if g["seeds"] or len(g["members"]) >= MIN_SUPPORT}


def _suggestion(g: Mapping[str, Any], *, ids: list[str], pos: Mapping[str, int], col: Mapping[str, Mapping[str, str]],
                space: _Space, by_item: EvidenceIndex, tokeniser: Tokeniser, mids: list[str],
                pillar_of: Mapping[str, str], gap_names: Mapping[str, str], codebook: Codebook, links: ThemeLinks,
                card_votes: Mapping[str, int]) -> dict[str, Any]:
    """One group of items → a suggestion's row: its label (among the comments nearest its centroid), the nearest
    measure, cohesion, the representative comment, counts and verbatim quotes."""
    text = col[Items.text]
    members = sorted(dict.fromkeys(g["members"]), key=lambda i: pos[i])
    closest = max(members, key=lambda i: (space.coverage[i], -pos[i]))
    best_j = int(np.argmax(space.sims[pos[closest]])) if mids else -1
    coh, rep_row = cohesion(space.x, [pos[i] for i in members])
    # the request that seeded a suggestion speaks for it; else the comment nearest the centroid
    rep = g["seeds"][0] if g["seeds"] else (ids[rep_row] if rep_row >= 0 else members[0])
    # the label is chosen among the comments nearest the centroid (a suggestion may hold thousands)
    nearest = set(_nearest(space.x, [pos[j] for j in members], ids, LABEL_TEXTS))
    near = [i for i in members if i in nearest]
    if rep not in near:
        near = [rep, *near[:-1]] if len(near) >= LABEL_TEXTS else [rep, *near]
    label, how, share = choose_label(text, near, rep, tokeniser, {i: by_item.spans(i, g["theme"]) for i in near},
                                     {i: by_item.item_spans(i) for i in near})
    n_comments = sum(col[Items.source][i] == "feedback" for i in members)
    return {
        "label": label, "theme_label": gap_names.get(g["theme"], "（テーマなし）"),
        "pillar_id": _pillar(g["seeds"], members, space, pos, mids, pillar_of, g["theme"], codebook, links),
        "support": len(members), "item_ids": "|".join(members),
        "best_measure_id": mids[best_j] if best_j >= 0 else "",
        "best_measure_score": round(space.coverage[closest], 3) if best_j >= 0 else 0.0,
        "status": "new", "recurring_in": "", "main_theme": g["theme"], "seed": g["seed"],
        "label_source": how, "phrase_share": share, "cohesion": coh, "representative_id": rep,
        "representative_text": col[Items.raw_text][rep], "comments": n_comments,
        "cards": len(members) - n_comments, "groups": len({col[Items.group][i] for i in members if col[Items.group][i]}),
        "votes": sum(int(card_votes.get(i, 0)) for i in members if col[Items.source][i] == "card"),
        "quotes": quotes(members, col[Items.raw_text]),
    }


def suggest_perspectives(
    items: pd.DataFrame,
    themes: Mapping[str, str],
    *,
    evidence: pd.DataFrame,
    measures: pd.DataFrame,
    cards: pd.DataFrame | None,
    card_votes: Mapping[str, int],
    matcher: MeasureMatcher,
    codebook: Codebook,
    links: ThemeLinks,
    tokeniser: Tokeniser,
    stopwords: frozenset[str] = frozenset(),
    earlier: Sequence[EarlierMeeting] = (),
    terms: Callable[[str], list[str]] | None = None,
    unexplained_clusters: Sequence[Sequence[str]] = (),
    random_state: int = 0,
) -> PerspectiveResult:
    """:class:`Items` + themes (+ their evidence) + measures → ranked suggestions (:data:`PERSPECTIVE_COLUMNS`),
    the requests measures already cover, the plan-document comments and one decision per item."""
    ids = items[Items.item_id].tolist()
    col = {c: dict(zip(ids, items[c].tolist(), strict=True)) for c in (Items.kind, Items.source, Items.text, Items.raw_text,
                                                              Items.group, Items.section)}
    kinds, text = col[Items.kind], col[Items.text]
    analyze = terms or (lambda s: content_terms(tokeniser, s, stopwords))
    space = _space(ids, text, kinds, measures, analyze)
    pos = {i: n for n, i in enumerate(ids)}
    by_item = EvidenceIndex(evidence)
    placed = set() if cards is None else {c for c, m in zip(cards[Cards.card_id], cards[Cards.measure_ids],
                                                            strict=True) if m}
    empty = {i for i in ids if col[Items.source][i] == "feedback" and is_empty_answer(text[i])}
    cards_ = {i for i in ids if col[Items.source][i] == "card"}
    decisions = decide(ids, kinds=kinds, cards=cards_, placed=placed, empty=empty, themes=themes, scores=by_item,
                       codebook=codebook, covered_themes=links.covered(codebook), coverage=space.coverage,
                       threshold=space.threshold)
    loose = [d.item_id for d in decisions if d.decision == UNEXPLAINED]
    groups = _groups(decisions, _coherent_clusters(ids, loose, unexplained_clusters, pos, space, random_state))
    mids = list(measures[Measures.measure_id])
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    gap_names = {t.theme_id: t.gap_label for t in codebook.themes}
    rows = [_suggestion(g, ids=ids, pos=pos, col=col, space=space, by_item=by_item, tokeniser=tokeniser, mids=mids,
                        pillar_of=pillar_of, gap_names=gap_names, codebook=codebook, links=links,
                        card_votes=card_votes) for g in groups.values()]
    # a group without a theme is a perspective only when its comments share a phrase that names it: otherwise it is
    # comments that merely sit together (its items stay in the decisions, 説明なし)
    rows = [r for r in rows if r["main_theme"] or r["label_source"] == SHARED_PHRASE]
    frame = rank(pd.DataFrame(rows, columns=PERSPECTIVE_COLUMNS))
    if len(frame):
        frame = mark_recurring(frame, text, {i: [t for t in themes.get(i, "").split("|") if t] for i in ids}, earlier,
                               tokeniser=tokeniser, stopwords=stopwords, terms=analyze)
    return PerspectiveResult(
        suggestions=frame[PERSPECTIVE_COLUMNS],
        covered=_covered_requests(decisions, col[Items.raw_text], kinds, space, mids, pos),
        coverage=space.coverage,
        plan_comments=_plan_comments(decisions, col, by_item, codebook),
        decisions=_decision_table(decisions, frame, space, mids, pos),
        threshold=space.threshold,
        empty_answers=len(empty),
    )


def _nearest(x, rows: Sequence[int], ids: Sequence[str], n: int) -> list[str]:
    """The ``n`` items of ``rows`` nearest their centroid (all of them when there are fewer)."""
    if len(rows) <= n:
        return [ids[r] for r in rows]
    sub = x[list(rows)]
    centroid = np.asarray(sub.mean(axis=0)).ravel()
    sims = np.asarray(sub @ centroid).ravel()
    keep = np.argsort(-sims, kind="stable")[:n]
    return [ids[rows[k]] for k in sorted(keep)]


def _parse_spans(spans: object) -> list[tuple[int, int]]:
    out = []
    for span in filter(None, str(spans).split("|")):
        a, _, b = span.partition("-")
        if a.isdigit() and b.isdigit():
            out.append((int(a), int(b)))
    return out


class EvidenceIndex(Mapping[tuple[str, str], float]):
    """The evidence rows by item: the score of an (item, theme) (as a mapping; the last row's when one repeats) and
    its spans, read from the rows when asked — not a dict of every row's tuples (a 100,000-comment meeting has about
    250,000 evidence rows; only the labels' comments and the plan-document comments need spans)."""

    def __init__(self, evidence: pd.DataFrame):
        self._themes = [str(t) for t in evidence["theme"].tolist()]
        self._scores = evidence["score"].tolist()
        self._spans = evidence["spans"].tolist()
        self._rows: dict[str, list[int]] = {}
        for n, item_id in enumerate(evidence["item_id"].tolist()):
            self._rows.setdefault(str(item_id), []).append(n)

    def __getitem__(self, key: tuple[str, str]) -> float:
        item_id, theme = key
        for n in reversed(self._rows.get(item_id, ())):
            if self._themes[n] == theme:
                return float(self._scores[n])
        raise KeyError(key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        seen = set()
        for item_id, rows in self._rows.items():
            for n in rows:
                if (item_id, self._themes[n]) not in seen:
                    seen.add((item_id, self._themes[n]))
                    yield item_id, self._themes[n]

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def spans(self, item_id: str, theme: str) -> list[tuple[int, int]]:
        """The spans of the item's evidence for the theme, in row order."""
        return [sp for n in self._rows.get(item_id, ()) if self._themes[n] == theme
                for sp in _parse_spans(self._spans[n])]

    def item_spans(self, item_id: str) -> list[tuple[int, int]]:
        """The spans of all the item's evidence, theme by theme (in the order the themes first appear)."""
        themes = dict.fromkeys(self._themes[n] for n in self._rows.get(item_id, ()))
        return [sp for t in themes for sp in self.spans(item_id, t)]


def _covered_requests(decisions: Sequence[Decision], text: Mapping[str, str], kinds: Mapping[str, str],
                      space: _Space, mids: Sequence[str], pos: Mapping[str, int]) -> pd.DataFrame:
    """Requests for a new perspective that a measure's wording already covers (with that measure)."""
    rows = [{"item_id": d.item_id, "text": text[d.item_id],
             "best_measure_id": mids[int(np.argmax(space.sims[pos[d.item_id]]))] if mids else "",
             "best_measure_score": round(space.coverage[d.item_id], 3)}
            for d in decisions if d.decision == TEXT_COVERED and kinds[d.item_id] == REQUEST_KIND]
    return pd.DataFrame(rows, columns=COVERED_COLUMNS)


def _plan_comments(decisions: Sequence[Decision], col: Mapping[str, Mapping[str, str]],
                   evidence: EvidenceIndex, codebook: Codebook) -> pd.DataFrame:
    doc_themes = codebook.document_themes
    rows = []
    for d in decisions:
        if d.decision != DOCUMENT:
            continue
        i = d.item_id
        terms = [col[Items.text][i][a:b] for t in doc_themes for a, b in evidence.spans(i, t)]
        rows.append({"item_id": i, "kind": col[Items.kind][i], "section": col[Items.section][i],
                     "text": col[Items.raw_text][i], "evidence": "|".join(dict.fromkeys(terms))})
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _decision_table(decisions: Sequence[Decision], frame: pd.DataFrame, space: _Space, mids: Sequence[str],
                    pos: Mapping[str, int]) -> pd.DataFrame:
    where = {i: p for p, ids in zip(frame.get("perspective_id", []), frame.get("item_ids", []), strict=True)
             for i in str(ids).split("|")}
    rows = []
    for d in decisions:
        n = pos[d.item_id]
        best = mids[int(np.argmax(space.sims[n]))] if mids and d.decision not in (DOCUMENT, EMPTY) else ""
        rows.append({"item_id": d.item_id, "decision": d.decision, "theme": d.theme,
                     "perspective_id": where.get(d.item_id, ""), "best_measure_id": best,
                     "best_measure_score": round(space.coverage[d.item_id], 3) if best else 0.0,
                     "threshold": space.threshold})
    return pd.DataFrame(rows, columns=DECISION_COLUMNS)
