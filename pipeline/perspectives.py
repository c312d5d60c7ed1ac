"""Suggested new perspectives (新たな視点(案)): supported ideas that no draft measure covers.

How a suggestion is found (every step is visible in the output):

1. **Coverage of an item** = its best cosine similarity with any measure in a TF-IDF space built from the
   measures *and* the meeting's items (so words no measure uses — 企業, NPO, 就労 — weigh against
   coverage instead of vanishing), with no codebook-link bonus, after removing quotations that cite a
   measure or pillar by name (「地域福祉活動団体同士の～」): a comment that quotes a measure in order to
   extend it is not covered by it.  A card is covered when staff linked it to a measure.
   ``covered`` = coverage ≥ ``cover_threshold``.  A 追加すべき視点 comment is covered only when each of its
   sentences with content is: 「分野にとらわれない・サポート体制も…。「福祉」に関わりがないと思っている方への
   参加・知る機会の充実が必要」 names a measure in its first sentence but asks for something new in the second.
2. **Seeds**: (a) every 追加すべき視点 comment that is not covered; (b) every theme that no measure lists in
   the codebook with ≥ ``min_theme_items`` uncovered items; (c) every cluster of unexplained items (no
   theme, no measure) with ≥ 3 uncovered items, at least 2 of them cards or comments other than 感想.
3. **Support**: a seed's main theme is its theme that no measure lists (else its strongest theme); the
   suggestion gathers the uncovered items sharing that theme which are textually related to the seed
   (cosine ≥ ``related_min``) or are cards staff could not place.  Seeds with the same main theme merge.
4. **Ranking** by support (items), then votes received by supporting cards, comments, label.

A 追加すべき視点 comment that *is* covered is not proposed; it is listed in ``covered`` with the measure
that covers it, so the analyst sees why.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.codebook import Codebook
from pipeline.matching import MeasureMatcher, content_terms, measure_text
from pipeline.normalise import normalise_text
from pipeline.schemas import Cards, Items, Measures, Tagged
from pipeline.tokenise import COMPOUND_POS, LEXICON_POS, Tokeniser

PERSPECTIVE_COLUMNS = ["perspective_id", "label", "pillar_id", "support", "item_ids", "best_measure_id",
                       "best_measure_score", "status", "recurring_in", "main_theme", "seed", "comments", "cards",
                       "groups", "votes", "quotes"]
COVERED_COLUMNS = ["item_id", "text", "best_measure_id", "best_measure_score"]
GENERIC_TERMS = frozenset({"支援", "視点", "必要", "福祉", "地域", "事業", "施策案", "施策", "柱", "取り組み",
                           "体制", "活動", "計画", "部分", "方", "目", "話", "場", "機会"})

_QUOTE = re.compile(r"「([^」]{2,})」|『([^』]{2,})』")
_PILLAR_MENTION = re.compile(r"柱\s*([0-9]+)")
MAX_QUOTES = 20
LABEL_TEXTS = 300
_SENTENCE = re.compile(r"[。！？!?\n]+")


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


def citations(text: str, measures: pd.DataFrame, *,
              names: Sequence[tuple[str, str, str]] | None = None) -> list[Citation]:
    """Quoted spans that reproduce a measure or pillar name (≥ 80 % of the quote), and 柱N mentions.
    ``names`` is :func:`citable_names` of ``measures``, computed once by callers that loop."""
    if names is None:
        names = citable_names(measures)
    out = []
    for m in _QUOTE.finditer(text):
        quote = _strip_marks(m.group(1) or m.group(2))
        if len(quote) < 4:
            continue
        for name, pid, mid in names:
            match = difflib.SequenceMatcher(None, quote, name, autojunk=False).find_longest_match()
            if match.size >= 0.8 * len(quote):
                out.append(Citation(m.start(), m.end(), pid, mid))
                break
    pillar_ids = list(dict.fromkeys(measures[Measures.pillar_id]))
    for m in _PILLAR_MENTION.finditer(text):
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


@dataclass(frozen=True)
class EarlierMeeting:
    """Outputs of an earlier meeting, read by the flow from ``OUT_ROOT/<id>/``."""

    meeting_id: str
    date: str
    tagged: pd.DataFrame
    perspectives: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PERSPECTIVE_COLUMNS))


@dataclass(frozen=True)
class PerspectiveResult:
    suggestions: pd.DataFrame
    covered: pd.DataFrame
    coverage: dict[str, float]


def suggest_perspectives(
    items: pd.DataFrame,
    themes: Mapping[str, str],
    *,
    measures: pd.DataFrame,
    cards: pd.DataFrame | None,
    card_votes: Mapping[str, int],
    matcher: MeasureMatcher,
    codebook: Codebook,
    tokeniser: Tokeniser,
    stopwords: frozenset[str] = frozenset(),
    unexplained_clusters: pd.DataFrame | None = None,
    earlier: Sequence[EarlierMeeting] = (),
    cover_threshold: float = 0.3,
    related_min: float = 0.12,
    min_theme_items: int = 2,
    terms: Callable[[str], list[str]] | None = None,
) -> PerspectiveResult:
    """:class:`Items` + themes + measures → ranked suggestions (:data:`PERSPECTIVE_COLUMNS`)."""
    ids = list(items[Items.item_id])
    if not ids:
        return PerspectiveResult(pd.DataFrame(columns=PERSPECTIVE_COLUMNS), pd.DataFrame(columns=COVERED_COLUMNS), {})
    kind = dict(zip(ids, items[Items.kind], strict=True))
    source = dict(zip(ids, items[Items.source], strict=True))
    text = dict(zip(ids, items[Items.text], strict=True))
    raw = dict(zip(ids, items[Items.raw_text], strict=True))
    group = dict(zip(ids, items[Items.group], strict=True))
    declared = {} if cards is None else dict(zip(cards[Cards.card_id], cards[Cards.measure_ids], strict=True))
    names = citable_names(measures)
    cites = {i: citations(text[i], measures, names=names) for i in ids}
    stripped = [without_citations(text[i], cites[i]) for i in ids]
    mids = matcher.measure_ids_

    from sklearn.feature_extraction.text import TfidfVectorizer

    analyze = terms or (lambda s: content_terms(tokeniser, s, stopwords))
    vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True)
    joint = vec.fit_transform(stripped + [normalise_text(t) for t in measure_text(measures)])
    x, mx = joint[: len(ids)].tocsr(), joint[len(ids):]
    sims = np.asarray((x @ mx.T).todense())

    def sim_to(rows: Sequence[int]) -> np.ndarray:
        """Cosine-like similarity of every item with the centroid of ``rows`` (one sparse pass; never an
        n × n matrix, so 100k items fit in memory)."""
        centroid = np.asarray(x[list(rows)].mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid))
        return np.asarray(x @ (centroid / norm)).ravel() if norm else np.zeros(len(ids))
    cov = {i: float(sims[n].max()) if len(mids) else 0.0 for n, i in enumerate(ids)}
    # A perspective comment of several sentences is covered only when each sentence is (all sentences of
    # all such comments are scored in one transform).
    split: list[tuple[str, int, int]] = []   # item id, first sentence row, sentence count
    sentences: list[str] = []
    for n, i in enumerate(ids):
        if kind[i] == "追加すべき視点" and len(mids):
            parts = [p for p in _SENTENCE.split(stripped[n]) if len(analyze(p)) >= 2]
            if len(parts) > 1:
                split.append((i, len(sentences), len(parts)))
                sentences += parts
    if sentences:
        best = np.asarray((vec.transform(sentences) @ mx.T).todense()).max(axis=1)
        for i, first, count in split:
            cov[i] = float(best[first:first + count].min())
    covered = {i: bool(declared.get(i)) or cov[i] >= cover_threshold for i in ids}
    theme_list = {i: [t for t in themes.get(i, "").split("|") if t] for i in ids}
    linked = {t.theme_id: bool(t.measures) for t in codebook.themes}
    labels = {t.theme_id: t.label for t in codebook.themes}
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    pos = {i: n for n, i in enumerate(ids)}

    def main_theme(i: str) -> str:
        ts = theme_list[i]
        gap = [t for t in ts if not linked.get(t, False)]
        return (gap or ts or [""])[0]

    groups: dict[str, dict] = {}   # main theme (or cluster / seed id) -> suggestion under construction

    def add(key: str, seed_kind: str, seeds: list[str], theme: str, members: list[str]) -> None:
        entry = groups.setdefault(key, {"theme": theme, "seed": seed_kind, "seeds": [], "items": {}})
        entry["seeds"] += [s for s in seeds if s not in entry["seeds"]]
        for m in members:
            entry["items"].setdefault(m, None)

    def related(seeds: list[str], theme: str) -> list[str]:
        """Uncovered items with the seeds' main theme: all of them when no measure lists the theme
        (impressions only when close to the seeds), else only those close to the seeds or unplaced cards."""
        close = sim_to([pos[s] for s in seeds]) >= related_min
        gap = bool(theme) and not linked.get(theme, False)
        out = list(seeds)
        chosen = set(seeds)
        for n, j in enumerate(ids):
            if j in chosen or covered[j] or (theme and theme not in theme_list[j]):
                continue
            unplaced_card = source[j] == "card" and not declared.get(j)
            if close[n] or (theme and unplaced_card) or (gap and kind[j] != "感想"):
                out.append(j)
        return out

    cluster_of: dict[str, str] = {}
    if unexplained_clusters is not None:
        for rec in unexplained_clusters.to_dict("records"):
            for i in str(rec["item_ids"]).split("|"):
                cluster_of[i] = str(rec["cluster"])

    covered_rows = []
    seed_groups: dict[str, list[str]] = {}
    for i in ids:                                                   # (a) 追加すべき視点 comments
        if kind[i] != "追加すべき視点":
            continue
        if cov[i] >= cover_threshold:
            best = mids[int(np.argmax(sims[pos[i]]))]
            covered_rows.append({"item_id": i, "text": text[i], "best_measure_id": best,
                                 "best_measure_score": round(cov[i], 3)})
            continue
        key = main_theme(i) or (f"cluster:{cluster_of[i]}" if i in cluster_of else f"item:{i}")
        seed_groups.setdefault(key, []).append(i)
    for key, seeds in seed_groups.items():
        theme = "" if key.startswith(("cluster:", "item:")) else key
        add(key, "追加すべき視点", seeds, theme, related(seeds, theme))

    for t in codebook.theme_ids:                                    # (b) themes no measure lists
        if linked.get(t, False) or t in groups:
            continue
        members = [i for i in ids if t in theme_list[i] and not covered[i]]
        substantive = [i for i in members if kind[i] != "感想"]
        if len(substantive) >= min_theme_items:
            seed = substantive[0]
            close = sim_to([pos[seed]])
            # impressions only support a theme gap when they say something close to the seed
            add(t, "テーマ", [seed], t, [i for i in members if kind[i] != "感想" or close[pos[i]] >= related_min])

    if unexplained_clusters is not None:                           # (c) clusters nothing explains
        for rec in unexplained_clusters.to_dict("records"):
            members = [i for i in str(rec["item_ids"]).split("|") if i in pos and not covered[i]]
            substantive = [i for i in members if kind[i] != "感想"]
            if len(members) >= 3 and len(substantive) >= 2:
                add(f"cluster:{rec['cluster']}", "クラスタ", [substantive[0]], "", members)

    rows = []
    for entry in groups.values():
        members = sorted(entry["items"], key=lambda i: pos[i])
        theme = entry["theme"]
        # the best-covered member shows how close the measures come (all members are below the threshold)
        closest = max(members, key=lambda i: (cov[i], -pos[i]))
        best_j = int(np.argmax(sims[pos[closest]])) if len(mids) else -1
        pillar = _pillar(entry["seeds"], members, cites, sims, pos, mids, pillar_of, theme, codebook)
        n_comments = sum(source[i] == "feedback" for i in members)
        votes = sum(int(card_votes.get(i, 0)) for i in members if source[i] == "card")
        rows.append({
            "label": _label(theme, labels, [stripped[pos[i]] for i in (entry["seeds"] + members)[:LABEL_TEXTS]],
                            tokeniser, stopwords, matcher, best_j),
            "pillar_id": pillar,
            "support": len(members),
            "item_ids": "|".join(members),
            "best_measure_id": mids[best_j] if best_j >= 0 else "",
            "best_measure_score": round(cov[closest], 3) if best_j >= 0 else 0.0,
            "status": "new",
            "recurring_in": "",
            "main_theme": theme,
            "seed": entry["seed"],
            "comments": n_comments,
            "cards": len(members) - n_comments,
            "groups": len({group[i] for i in members if group[i]}),
            "votes": votes,
            "quotes": _quotes(members, raw),
        })
    frame = pd.DataFrame(rows, columns=PERSPECTIVE_COLUMNS)
    if len(frame):
        frame = frame.sort_values(["support", "votes", "comments", "label"], ascending=[False, False, False, True],
                                  kind="mergesort").reset_index(drop=True)
        frame["perspective_id"] = [f"V{n:02d}" for n in range(1, len(frame) + 1)]
        frame = mark_recurring(frame, text, theme_list, earlier, tokeniser=tokeniser, stopwords=stopwords,
                               terms=analyze)
    return PerspectiveResult(frame[PERSPECTIVE_COLUMNS], pd.DataFrame(covered_rows, columns=COVERED_COLUMNS), cov)


def _quotes(members: Sequence[str], raw: Mapping[str, str]) -> str:
    """Verbatim quotes of the first supporting items (a spreadsheet cell holds at most 32,767 characters)."""
    shown = " / ".join(f"[{i}] {raw[i]}" for i in members[:MAX_QUOTES])
    more = f" / …ほか {len(members) - MAX_QUOTES} 件（item_ids 参照）" if len(members) > MAX_QUOTES else ""
    return (shown[:30000] + more) if len(shown) > 30000 else shown + more


def _pillar(seeds: Sequence[str], members: Sequence[str], cites: Mapping[str, list[Citation]], sims: np.ndarray,
            pos: Mapping[str, int], mids: Sequence[str], pillar_of: Mapping[str, str], theme: str,
            codebook: Codebook) -> str:
    """The pillar a seed comment names (quotation or 柱N); else the pillar of the measures the main theme
    is linked to, or the theme's first pillar, in the codebook; else the pillar its items are closest to."""
    for s in seeds:
        for c in cites[s]:
            return c.pillar_id
    if theme:
        t = codebook.theme(theme)
        linked = [pillar_of[m] for m in t.measures if m in pillar_of]
        if linked:
            return linked[0]
        if t.pillars and t.pillars[0] in set(pillar_of.values()):
            return t.pillars[0]
    totals: dict[str, float] = {}
    for i in members:
        for j, m in enumerate(mids):
            p = pillar_of[m]
            totals[p] = max(totals.get(p, 0.0), float(sims[pos[i], j]))
    if totals and max(totals.values()) > 0:
        return max(sorted(totals), key=lambda p: totals[p])
    return ""


def _label(theme: str, labels: Mapping[str, str], texts: Sequence[str], tokeniser: Tokeniser,
           stopwords: frozenset[str], matcher: MeasureMatcher, best_j: int) -> str:
    """Theme label + the nouns the supporting texts add that the nearest measure does not mention."""
    measure_vocab: set[str] = set()
    if best_j >= 0:
        row = matcher.matrix_[best_j]
        vocab = matcher.vectorizer_.get_feature_names_out()
        measure_vocab = {str(vocab[k]) for k in row.indices}
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for text in texts:
        seen = set()
        for t in tokeniser.terms(text):
            if not (t.pos in (COMPOUND_POS, LEXICON_POS) or t.pos.startswith("名詞")):
                continue
            term = t.text
            if term in stopwords or term in GENERIC_TERMS or term in measure_vocab or len(term) < 2 or term in seen:
                continue
            seen.add(term)
            counts[term] = counts.get(term, 0) + 1
            first.setdefault(term, len(first))
    top = sorted(counts, key=lambda t: (-counts[t], -len(t), first[t]))[:3]
    head = labels.get(theme, "") if theme else ""
    if head and top:
        return f"{head}：{'・'.join(top)}"
    return head or "・".join(top) or "(語なし)"


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
