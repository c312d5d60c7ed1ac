"""Match every card and comment to the draft measures; coverage per measure; suggested links.

Score of item *i* for measure *m* (0…1):

    score = (1 − link_weight) · cos(tfidf_i, tfidf_m) / max_m' cos(tfidf_m', tfidf_m')  … text similarity
          +      link_weight  · link(i, m)                                              … codebook links

where the TF-IDF space is built from the measures (name twice, description, keywords) over
content lemmas and compound terms, and ``link`` is 1 when one of the item's themes lists the
measure in the codebook, else 0.  (A theme naming only the pillar gives no link: pillars are broad
and would lift every measure under them alike.)  Measures scoring
at least ``threshold`` are the item's matches, best first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from sys import intern

import numpy as np
import pandas as pd

from pipeline.review import LinkOverrides
from pipeline.schemas import Cards, Coverage, Items, Measures, SuggestedLink, columns
from pipeline.text.tokenise import COMPOUND_POS, LEXICON_POS, Token, Tokeniser
from pipeline.themes.codebook import Codebook

COVERAGE_COLUMNS = columns(Coverage)
SUGGESTION_COLUMNS = columns(SuggestedLink)


def content_terms(tokeniser: Tokeniser, text: str, stopwords: Iterable[str] = (),
                  tokens: list[Token] | None = None, compounds: list[Token] | None = None) -> list[str]:
    """Bag of features for matching: content lemmas, plus every compound/lexicon term whole
    (``tokens`` / ``compounds``: the text's, when the caller already has them)."""
    stop = set(stopwords)
    canon = tokeniser.lexicon.canonical
    toks = tokeniser.tokens(text) if tokens is None else tokens
    out = [canon(t.lemma) for t in toks
           if t.pos.startswith(("名詞-普通名詞", "名詞-固有名詞", "動詞-一般", "形容詞-一般"))
           and not t.pos.startswith("名詞-普通名詞-副詞可能") and len(t.lemma) > 1]
    comps = tokeniser.compounds(toks) if compounds is None else compounds
    out += [canon(c.surface) for c in comps if c.pos in (COMPOUND_POS, LEXICON_POS)]
    # interned: a large meeting keeps every text's terms (TermCache), and they repeat a few thousand words
    return [intern(t) for t in out if t not in stop]


class TermCache:
    """``content_terms`` of each text computed once per run and shared by the stages that need them
    (matching, clustering, perspectives), instead of tokenising the same text again in each."""

    def __init__(self, tokeniser: Tokeniser, stopwords: Iterable[str] = ()):
        self.tokeniser = tokeniser
        self.stopwords = frozenset(stopwords)
        self._memo: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        got = self._memo.get(text)
        if got is None:
            got = self._memo[text] = content_terms(self.tokeniser, text, self.stopwords)
        return got

    def __getstate__(self) -> dict[str, object]:
        return {"tokeniser": self.tokeniser, "stopwords": self.stopwords, "_memo": {}}

    def seed(self, known: Mapping[str, list[str]], texts: Iterable[str] = ()) -> TermCache:
        """Take content terms already computed (by the text stage, from the same tokens).  ``texts``: the same texts
        as held elsewhere (the items table's), kept as the keys instead of ``known``'s copies; the words are interned
        (a batch from another process brings its own copy of every word: 500 copies at 1,000,000 comments)."""
        memo = self._memo
        for text in texts:
            terms = known.get(text)
            if terms is not None and text not in memo:
                memo[text] = [intern(t) for t in terms]
        for text, terms in known.items():
            if text not in memo:
                memo[text] = [intern(t) for t in terms]
        return self


def measure_text(measures: pd.DataFrame) -> list[str]:
    """The text a measure is matched on: its name twice (names carry the intent), description, keywords."""
    return [f"{n}。{n}。{d}。{k.replace(';', '、')}" for n, d, k in zip(
        measures[Measures.measure_name], measures[Measures.description], measures[Measures.keywords], strict=True)]


class MeasureMatcher:
    """Scores texts against measures (scikit-learn style: ``fit`` on the measures, then ``score``).

    Parameters are stored as given; learned state (``vectorizer_``, ``matrix_``, ``measure_ids_``,
    ``pillar_of_``) ends in ``_``.
    """

    def __init__(self, *, tokeniser: Tokeniser, stopwords: Iterable[str] = (), threshold: float = 0.3,
                 link_weight: float = 0.25, terms: TermCache | None = None):
        self.tokeniser = tokeniser
        self.stopwords = frozenset(stopwords)
        self.threshold = threshold
        self.link_weight = link_weight
        self.terms = terms

    def _analyzer(self, text: str) -> list[str]:
        if self.terms is not None:
            return self.terms(text)
        return content_terms(self.tokeniser, text, self.stopwords)

    def fit(self, measures: pd.DataFrame) -> MeasureMatcher:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from pipeline.text.normalise import normalise_text

        self.measure_ids_ = list(measures[Measures.measure_id])
        self.pillar_of_ = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
        self.vectorizer_ = TfidfVectorizer(analyzer=self._analyzer, sublinear_tf=True, norm="l2")
        self.matrix_ = self.vectorizer_.fit_transform([normalise_text(t) for t in measure_text(measures)])
        return self

    def similarity(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each (normalised) text with each measure, shape (n_texts, n_measures)."""
        if not len(texts):
            return np.zeros((0, len(self.measure_ids_)))
        x = self.vectorizer_.transform(list(texts))
        return np.asarray((x @ self.matrix_.T).todense())

    def link(self, themes: Sequence[Sequence[str]], links: Codebook | Mapping[str, Iterable[str]] | None) -> np.ndarray:
        """1 where one of an item's themes is linked to the measure (``links``: theme → measure ids, or a
        codebook's ``measures:`` lists), else 0."""
        out = np.zeros((len(themes), len(self.measure_ids_)))
        if links is None:
            return out
        linked = ({t.theme_id: set(t.measures) for t in links.themes} if isinstance(links, Codebook)
                  else {t: set(ms) for t, ms in links.items()})
        col = {m: j for j, m in enumerate(self.measure_ids_)}
        for i, ts in enumerate(themes):
            for t in ts:
                for mid in linked.get(t, ()):
                    if mid in col:
                        out[i, col[mid]] = 1.0
        return out

    def combine(self, similarity: np.ndarray, themes: Sequence[Sequence[str]],
                codebook: Codebook | Mapping[str, Iterable[str]] | None) -> np.ndarray:
        """Scores from :meth:`similarity` rows and each item's themes (the formula in the module docstring)."""
        return np.round((1 - self.link_weight) * similarity + self.link_weight * self.link(themes, codebook), 4)

    def score(self, texts: Sequence[str], themes: Sequence[Sequence[str]], codebook: Codebook | None) -> np.ndarray:
        return self.combine(self.similarity(texts), themes, codebook)

    def shared_terms(self, text: str, measure_index: int, *, top: int = 5) -> list[str]:
        """Terms the text shares with a measure, heaviest first (evidence for a match)."""
        x = self.vectorizer_.transform([text]).multiply(self.matrix_[measure_index]).tocsr()
        vocab = self.vectorizer_.get_feature_names_out()
        order = np.argsort(-x.data, kind="stable")[:top]
        return [str(vocab[x.indices[k]]) for k in order if x.data[k] > 0]


@dataclass(frozen=True)
class MatchResult:
    """Scores and the derived tables of the matching stage."""

    scores: pd.DataFrame            # item_id × measure_id
    measures_by_item: dict[str, str]
    suggestions: pd.DataFrame
    coverage: pd.DataFrame
    unmatched: pd.DataFrame


def match_items(
    items: pd.DataFrame,
    themes: Mapping[str, str],
    measures: pd.DataFrame,
    cards: pd.DataFrame | None,
    *,
    matcher: MeasureMatcher,
    codebook: Codebook | None,
    measure_votes: pd.DataFrame | None = None,
    suggest_min: float = 0.35,
    suggest_margin: float = 0.15,
    overrides: LinkOverrides | None = None,
    scores: np.ndarray | None = None,
) -> MatchResult:
    """Items + their themes → scores, ``measures`` per item, suggested card links, coverage.

    ``scores`` (items × measures, from ``matcher.score``) may be given when computed elsewhere.
    Comments get every measure scoring ≥ ``matcher.threshold``, best first.  Cards keep the links
    staff declared; when the best undeclared measure scores ≥ ``suggest_min`` and beats the best
    declared one by ``suggest_margin`` (or the card has none), a suggested-link row is written.
    """
    ids = list(items[Items.item_id])
    texts = list(items[Items.text])
    if scores is not None:  # computed by the caller (from the item pass's similarity)
        matrix = scores
    elif ids:
        matrix = matcher.score(texts, [[t for t in themes.get(i, "").split("|") if t] for i in ids], codebook)
    else:
        matrix = np.zeros((0, len(matcher.measure_ids_)))
    mids = matcher.measure_ids_
    scores = pd.DataFrame(matrix, index=ids, columns=mids)
    declared: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    ov = overrides or LinkOverrides()
    if cards is not None:
        declared = {c: [m for m in ms.split("|") if m] for c, ms in zip(cards[Cards.card_id], cards[Cards.measure_ids],
                                                                         strict=True)}
        for c in declared:  # links the analysts accepted or removed in the review sheet
            kept = [m for m in declared[c] if (c, m) not in ov.remove]
            declared[c] = kept + [m for m in ov.add.get(c, ()) if m not in kept and m in mids]
        titles = dict(zip(cards[Cards.card_id], cards[Cards.title], strict=True))
    sources = dict(zip(ids, items[Items.source].tolist(), strict=True))

    by_item: dict[str, str] = {}
    suggestions = []
    for n, item_id in enumerate(ids):
        row = matrix[n]
        order = sorted(range(len(mids)), key=lambda j: (-row[j], j))
        if sources[item_id] == "card":
            dec = declared.get(item_id, [])
            by_item[item_id] = "|".join(dec)
            best_dec = max((row[mids.index(m)] for m in dec if m in mids), default=0.0)
            cand = next((j for j in order if mids[j] not in dec and (item_id, mids[j]) not in ov.remove), None)
            if cand is not None and row[cand] >= suggest_min and (not dec or row[cand] - best_dec >= suggest_margin):
                suggestions.append({
                    "card_id": item_id, "title": titles.get(item_id, ""), "declared": "|".join(dec),
                    "declared_score": round(float(best_dec), 3), "suggested": mids[cand],
                    "suggested_name": str(measures.loc[measures[Measures.measure_id] == mids[cand],
                                                       Measures.measure_name].iloc[0]),
                    "score": round(float(row[cand]), 3),
                    "evidence": "|".join(matcher.shared_terms(texts[n], cand)),
                })
        else:
            chosen = [mids[j] for j in order if row[j] >= matcher.threshold and (item_id, mids[j]) not in ov.remove]
            chosen += [m for m in ov.add.get(item_id, ()) if m not in chosen and m in mids]
            by_item[item_id] = "|".join(chosen)

    # a card staff could not place is counted under the measure its content fits, marked as suggested
    unplaced = {s["card_id"]: s["suggested"] for s in suggestions if not s["declared"]}
    coverage = _coverage(items, themes, measures, declared, by_item, measure_votes, unplaced)
    unmatched_mask = np.array([by_item.get(i, "") == "" for i in ids], dtype=bool)
    unmatched = items.loc[unmatched_mask, [Items.item_id, Items.source, Items.kind, Items.raw_text]].rename(
        columns={Items.raw_text: "text"})
    best = scores.max(axis=1) if len(mids) else pd.Series(0.0, index=ids)
    unmatched = unmatched.assign(best_measure=[scores.loc[i].idxmax() if len(mids) else "" for i in unmatched[Items.item_id]],
                                 best_score=[round(float(best[i]), 3) for i in unmatched[Items.item_id]])
    return MatchResult(scores=scores, measures_by_item=by_item,
                       suggestions=pd.DataFrame(suggestions, columns=SUGGESTION_COLUMNS),
                       coverage=coverage, unmatched=unmatched.reset_index(drop=True))


def _coverage(items: pd.DataFrame, themes: Mapping[str, str], measures: pd.DataFrame,
              declared: Mapping[str, list[str]], by_item: Mapping[str, str],
              measure_votes: pd.DataFrame | None, unplaced: Mapping[str, str] | None = None) -> pd.DataFrame:
    sources = dict(zip(items[Items.item_id].tolist(), items[Items.source].tolist(), strict=True))
    votes = {}
    if measure_votes is not None and len(measure_votes):
        votes = measure_votes.set_index(Measures.measure_id).to_dict("index")
    rows = []
    for pid, mid, name in zip(measures[Measures.pillar_id], measures[Measures.measure_id],
                              measures[Measures.measure_name], strict=True):
        cards = sorted(c for c, ms in declared.items() if mid in ms)
        comments = [i for i, ms in by_item.items() if sources.get(i) == "feedback" and mid in ms.split("|")]
        theme_counts: dict[str, int] = {}
        for i in cards + comments:
            for t in filter(None, themes.get(i, "").split("|")):
                theme_counts[t] = theme_counts.get(t, 0) + 1
        top = sorted(theme_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        v = votes.get(mid, {})
        suggested = sorted(c for c, m in (unplaced or {}).items() if m == mid)
        status = "カード・コメントあり" if cards and comments else "カードのみ" if cards else \
            "コメントのみ" if comments else "紐づけ案のカードのみ" if suggested else "裏付けなし"
        rows.append({
            "pillar_id": pid, "measure_id": mid, "measure_name": name,
            "cards": len(cards), "card_ids": "|".join(cards),
            "comments": len(comments), "comment_ids": "|".join(comments),
            "votes_round_1": int(v.get("round_1", 0)), "votes_round_2": int(v.get("round_2", 0)),
            "themes": "|".join(f"{t}({n})" for t, n in top),
            "suggested_card_ids": "|".join(suggested),
            "status": status,
        })
    return pd.DataFrame(rows, columns=COVERAGE_COLUMNS)
