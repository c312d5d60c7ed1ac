"""Theme tagging: codebook rules with evidence spans, plus an optional learned layer.

``tag_items`` is the stage: :class:`~pipeline.schemas.Items` in, one evidence row per
(item, theme) out (columns in :data:`EVIDENCE_COLUMNS`).  Every evidence term is the exact text at
its span in the normalised comment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.codebook import And, Codebook, Expr, Group, Near, Not, Or, Rule, Seq, Word, parse_rule, words_in
from pipeline.errors import ConfigError
from pipeline.normalise import normalise_text
from pipeline.schemas import Items
from pipeline.tokenise import LEXICON_POS, Lexicon, Token, Tokeniser

log = logging.getLogger(__name__)

EVIDENCE_COLUMNS = ["item_id", "theme", "terms", "spans", "source", "score"]


@dataclass(frozen=True, order=True)
class Occ:
    """One occurrence: token range [tok0, tok1) and character span [start, end)."""

    start: int
    end: int
    tok0: int
    tok1: int


@dataclass(frozen=True)
class Doc:
    """An item prepared for rule matching: its text, tokens and per-token match keys."""

    text: str
    tokens: Sequence[Token]
    keys: Sequence[frozenset[str]]
    unit_end: Sequence[int]    # for each token: index after the last token of its compound
    unit_start: Sequence[int]  # for each token: index of the first token of its compound
    units: Mapping[str, Sequence[tuple[int, int]]]  # canonical compound text -> token ranges
    index: Mapping[str, Sequence[int]]  # match key -> token positions (rule words look up, not scan)
    present: frozenset[Word] | None = None  # codebook words that can occur here (None: not computed)


def _compound_bounds(tokeniser: Tokeniser, tokens: list[Token],
                     compounds: list[Token] | None = None) -> tuple[list[int], list[int]]:
    starts, ends = list(range(len(tokens))), list(range(1, len(tokens) + 1))
    by_start = {t.start: i for i, t in enumerate(tokens)}
    by_end = {t.end: i for i, t in enumerate(tokens)}
    for c in tokeniser.compounds(tokens) if compounds is None else compounds:
        i, j = by_start.get(c.start), by_end.get(c.end)
        if i is None or j is None:
            continue
        for k in range(i, j + 1):
            starts[k], ends[k] = i, j + 1
    return starts, ends


class RuleMatcher:
    """Evaluates codebook expressions on items (tokenising each rule word once)."""

    def __init__(self, codebook: Codebook, tokeniser: Tokeniser, *, prefilter: bool = True):
        self.codebook = codebook
        self.tokeniser = tokeniser
        self.prefilter = prefilter
        self._word_cache: dict[str, list[frozenset[str]]] = {}
        self._parts_cache: dict[str, frozenset[str]] = {}
        self._whole_cache: dict[str, str] = {}
        self._canon_cache: dict[str, str] = {}
        self._keys_cache: dict[tuple[str, str, bool], frozenset[str]] = {}
        self._group_cache: dict[str, list[Expr]] = {}
        self._triggers: dict[int, tuple[Expr, frozenset[Word] | None]] = {}
        self._rule_index: tuple[dict[Word, list[int]], list[int]] | None = None
        self._lookup: tuple[dict[str, list[Word]], dict[str, list[Word]], list[tuple[str, Word]]] | None = None

    def _canon(self, text: str) -> str:
        got = self._canon_cache.get(text)
        if got is None:
            got = self._canon_cache[text] = self.tokeniser.lexicon.canonical(text)
        return got

    def keys(self, tok: Token, *, parts: bool = True) -> frozenset[str]:
        """What a token answers to: lemma and surface, as written and canonical.

        A lexicon term (フレイル予防, 地域づくりコーディネーター) also answers to the nouns it is made of,
        so a rule word 'フレイル' or 'コーディネーター' still finds it.
        """
        whole_term = parts and tok.pos == LEXICON_POS
        ck = (tok.surface, tok.lemma, whole_term)
        got = self._keys_cache.get(ck)
        if got is None:
            canon = self._canon
            keys = {canon(tok.lemma), canon(tok.surface), tok.lemma, tok.surface}
            if whole_term:
                keys |= self._parts(tok.surface)
            got = frozenset(keys)
            if len(self._keys_cache) < 500_000:  # a vocabulary, bounded so odd inputs cannot grow it
                self._keys_cache[ck] = got
        return got

    def _parts(self, term: str) -> frozenset[str]:
        cached = self._parts_cache.get(term)
        if cached is None:
            canon = self.tokeniser.lexicon.canonical
            plain = Tokeniser(lexicon=Lexicon(synonyms=self.tokeniser.lexicon.synonyms))
            toks = plain.tokens(term)
            pieces = [t.surface for t in plain.compounds(toks)] + term.split("・")
            pieces += [k for t in toks if t.pos.startswith("名詞") for k in (t.lemma, t.surface)]
            cached = frozenset(k for p in pieces if p for k in (p, canon(p)))
            self._parts_cache[term] = cached
        return cached

    def doc(self, text: str, tokens: list[Token] | None = None, compounds: list[Token] | None = None) -> Doc:
        """``text`` prepared for matching (``tokens`` / ``compounds``: its tokens and their compounds,
        when the caller already has them)."""
        if tokens is None:
            tokens, compounds = self.tokeniser.tokens(text), None
        starts, ends = _compound_bounds(self.tokeniser, tokens, compounds)
        canon = self.tokeniser.lexicon.canonical
        units: dict[str, list[tuple[int, int]]] = {}
        for i in sorted(set(starts)):
            j = ends[i]
            if j - i > 1:
                units.setdefault(canon(text[tokens[i].start:tokens[j - 1].end]), []).append((i, j))
        keys = [self.keys(t) for t in tokens]
        index: dict[str, list[int]] = {}
        for i, ks in enumerate(keys):
            for k in ks:
                index.setdefault(k, []).append(i)
        present = self._present(text, index, units) if self.prefilter else None
        return Doc(text, tokens, keys, ends, starts, units, index, present)

    # -- which codebook words can occur in a document --------------------------------------------
    #
    # A word's occurrences come only from tokens whose keys include one of its first token's keys, from
    # a lexicon term or compound equal to the whole word, or (literal) from the text.  So before any
    # rule is evaluated, one pass over the document's keys finds the words that can occur; a rule none
    # of whose trigger words occurs is false without being evaluated.  This changes no result: it only
    # skips evaluations that would find nothing (tests/test_tagging.py compares with and without).

    def _word_lookup(self) -> tuple[dict[str, list[Word]], dict[str, list[Word]], list[tuple[str, Word]]]:
        if self._lookup is None:
            by_key: dict[str, list[Word]] = {}
            by_unit: dict[str, list[Word]] = {}
            literals: list[tuple[str, Word]] = []
            for w in self._all_words():
                if w.literal:
                    needle = normalise_text(w.text)
                    if needle:
                        literals.append((needle, w))
                    continue
                want = self._word_keys(w.text)
                if not want:
                    continue
                whole = self._whole(w.text)
                for k in want[0] | ({whole} if len(want) > 1 else set()):
                    by_key.setdefault(k, []).append(w)
                by_unit.setdefault(whole, []).append(w)
            self._lookup = (by_key, by_unit, literals)
        return self._lookup

    def _all_words(self) -> list[Word]:
        seen: dict[Word, None] = {}
        todo: list[Expr] = [r.expr for t in self.codebook.themes for r in (*t.rules, *t.exclude)]
        todo += [e for members in self.codebook.groups.values() for m in members for e in self._group_exprs(m)]
        for expr in todo:
            for w in words_in(expr):
                if isinstance(w, Word):
                    seen.setdefault(w, None)
        return list(seen)

    def _present(self, text: str, index: Mapping[str, Sequence[int]],
                 units: Mapping[str, Sequence[tuple[int, int]]]) -> frozenset[Word]:
        by_key, by_unit, literals = self._word_lookup()
        found: set[Word] = set()
        for k in index:
            found.update(by_key.get(k, ()))
        for u in units:
            found.update(by_unit.get(u, ()))
        found.update(w for needle, w in literals if needle in text)
        return frozenset(found)

    def triggers(self, expr: Expr) -> frozenset[Word] | None:
        """Words one of which must occur for ``expr`` to match; ``None`` when it can match without
        any (a NOT)."""
        got = self._triggers.get(id(expr))
        if got is None:
            got = self._triggers[id(expr)] = (expr, self._compute_triggers(expr, frozenset()))
        return got[1]

    def _compute_triggers(self, expr: Expr, visiting: frozenset[str]) -> frozenset[Word] | None:
        if isinstance(expr, Word):
            return frozenset({expr})
        if isinstance(expr, Not):
            return None
        if isinstance(expr, Group):
            if expr.name in visiting:
                return None
            parts = [self._compute_triggers(e, visiting | {expr.name})
                     for m in self.codebook.groups.get(expr.name, ()) for e in self._group_exprs(m)]
            return None if any(p is None for p in parts) else frozenset().union(*parts)
        sub = [self._compute_triggers(a, visiting) for a in expr.args]
        if isinstance(expr, Or):
            return None if any(p is None for p in sub) else frozenset().union(*sub)
        # And, Near, Seq: every argument must match, so the most selective one decides.
        known = [p for p in sub if p is not None]
        return min(known, key=len) if known else None

    def live_rules(self, doc: Doc) -> set[int] | None:
        """``id`` of every codebook rule (and exclusion) that may match ``doc``, found from its words
        instead of asking each rule; ``None`` when the document has no prefilter."""
        if doc.present is None:
            return None
        if self._rule_index is None:
            by_word: dict[Word, list[int]] = {}
            always: list[int] = []
            for theme in self.codebook.themes:
                for rule in (*theme.rules, *theme.exclude):
                    need = self.triggers(rule.expr)
                    if need is None:
                        always.append(id(rule))
                    for w in need or ():
                        by_word.setdefault(w, []).append(id(rule))
            self._rule_index = (by_word, always)
        by_word, always = self._rule_index
        live = set(always)
        for w in doc.present:
            live.update(by_word.get(w, ()))
        return live

    def may_match(self, expr: Expr, doc: Doc) -> bool:
        """False only when ``expr`` certainly does not match ``doc``."""
        if doc.present is None:
            return True
        need = self.triggers(expr)
        return need is None or not need.isdisjoint(doc.present)

    def _whole(self, text: str) -> str:
        """A rule word as one canonical string (how a lexicon term or compound equal to it is found)."""
        got = self._whole_cache.get(text)
        if got is None:
            got = self._whole_cache[text] = self._canon(normalise_text(text))
        return got

    def _word_keys(self, text: str) -> list[frozenset[str]]:
        cached = self._word_cache.get(text)
        if cached is None:
            toks = self.tokeniser.tokens(normalise_text(text))
            cached = [self.keys(t, parts=False) for t in toks]
            self._word_cache[text] = cached
        return cached

    def _word(self, w: Word, doc: Doc) -> list[Occ]:
        if doc.present is not None and w not in doc.present:
            return []
        if w.literal:
            needle = normalise_text(w.text)
            out, pos = [], doc.text.find(needle)
            while needle and pos >= 0:
                t0 = next((i for i, t in enumerate(doc.tokens) if t.end > pos), len(doc.tokens))
                t1 = next((i for i, t in enumerate(doc.tokens) if t.start >= pos + len(needle)), len(doc.tokens))
                out.append(Occ(pos, pos + len(needle), t0, max(t1, t0 + 1)))
                pos = doc.text.find(needle, pos + 1)
            return out
        want = self._word_keys(w.text)
        n = len(want)
        if n == 0:
            return []
        out = []
        whole = self._whole(w.text)
        if n > 1:  # a multi-token word may sit inside one lexicon term (民生委員 in 民生委員・児童委員)
            out += [Occ(doc.tokens[i].start, doc.tokens[i].end, i, i + 1) for i in doc.index.get(whole, ())
                    if doc.tokens[i].pos == LEXICON_POS]
        # a compound that is a spelling variant of the word (相談先 for 相談窓口, via the lexicon)
        out += [Occ(doc.tokens[i].start, doc.tokens[j - 1].end, i, j) for i, j in doc.units.get(whole, ())]
        starts = sorted({i for k in want[0] for i in doc.index.get(k, ()) if i + n <= len(doc.tokens)})
        for i in starts:
            if not all(doc.keys[i + j] & want[j] for j in range(1, n)):
                continue
            if w.pos and not doc.tokens[i].pos.startswith(w.pos):
                continue
            t0, t1 = i, i + n
            if w.prefix:
                if doc.unit_start[i] != i:
                    continue
                t1 = max(t1, doc.unit_end[i + n - 1])
            if w.suffix:
                if doc.unit_end[i + n - 1] != i + n:
                    continue
                t0 = min(t0, doc.unit_start[i])
            out.append(Occ(doc.tokens[t0].start, doc.tokens[t1 - 1].end, t0, t1))
        return sorted(set(out))

    def evaluate(self, expr: Expr, doc: Doc) -> tuple[bool, list[Occ]]:
        """(matched, occurrences that justify the match)."""
        if isinstance(expr, Word):
            occ = self._word(expr, doc)
            return bool(occ), occ
        if not isinstance(expr, Not) and not self.may_match(expr, doc):
            return False, []
        if isinstance(expr, Group):
            occ = sorted({o for word in self.codebook.groups.get(expr.name, ())
                          for o in self._group_word(word, doc)})
            return bool(occ), occ
        if isinstance(expr, Not):
            matched, _ = self.evaluate(expr.arg, doc)
            return not matched, []
        if isinstance(expr, Or):
            hits = [self.evaluate(a, doc) for a in expr.args]
            occ = sorted({o for m, os in hits if m for o in os})
            return any(m for m, _ in hits), occ
        if isinstance(expr, And):
            hits = [self.evaluate(a, doc) for a in expr.args]
            if not all(m for m, _ in hits):
                return False, []
            return True, sorted({o for _, os in hits for o in os})
        if isinstance(expr, Near):
            return self._near(expr, doc)
        if isinstance(expr, Seq):
            return self._seq(expr, doc)
        raise TypeError(expr)

    def _group_exprs(self, text: str) -> list[Expr]:
        exprs = self._group_cache.get(text)
        if exprs is None:
            exprs = self._group_cache[text] = [parse_rule(text)]
        return exprs

    def _group_word(self, text: str, doc: Doc) -> list[Occ]:
        expr = self._group_exprs(text)[0]
        if not self.may_match(expr, doc):
            return []
        matched, occ = self.evaluate(expr, doc)
        return occ if matched else []

    def _near(self, expr: Near, doc: Doc) -> tuple[bool, list[Occ]]:
        """Every occurrence of the first term with all other terms within ``window`` tokens;
        the evidence is that occurrence and every occurrence of the others inside the window."""
        lists = [self.evaluate(a, doc)[1] for a in expr.args]
        if not all(lists):
            return False, []
        found: set[Occ] = set()
        for anchor in lists[0]:
            near = [[o for o in others if _gap(anchor, o) <= expr.window] for others in lists[1:]]
            if all(near):
                found.add(anchor)
                found.update(o for group in near for o in group)
        return bool(found), sorted(found)

    def _seq(self, expr: Seq, doc: Doc) -> tuple[bool, list[Occ]]:
        lists = [self.evaluate(a, doc)[1] for a in expr.args]
        if not all(lists):
            return False, []
        found: set[Occ] = set()
        for first in lists[0]:
            chain, cur = [first], first
            for others in lists[1:]:
                nxt = next((o for o in others if o.tok0 == cur.tok1), None)
                if nxt is None:
                    break
                chain.append(nxt)
                cur = nxt
            else:
                found.update(chain)
        return bool(found), sorted(found)


def _gap(a: Occ, b: Occ) -> int:
    """Tokens between two occurrences (0 when adjacent or overlapping)."""
    if a.tok1 <= b.tok0:
        return b.tok0 - a.tok1
    if b.tok1 <= a.tok0:
        return a.tok0 - b.tok1
    return 0


def _outermost(occs: Iterable[Occ]) -> list[Occ]:
    """Drop occurrences lying inside another one (相談 inside 相談窓口), keep text order."""
    ordered = sorted(set(occs), key=lambda o: (o.start, -o.end))
    out: list[Occ] = []
    for o in ordered:
        if out and out[-1].start <= o.start and o.end <= out[-1].end:
            continue
        out.append(o)
    return out


def _overlaps(o: Occ, blocked: Iterable[Occ]) -> bool:
    return any(o.start < b.end and b.start < o.end for b in blocked)


@dataclass(frozen=True)
class RuleHit:
    theme: str
    occurrences: tuple[Occ, ...]
    rules: tuple[str, ...]


def rule_hits(matcher: RuleMatcher, doc: Doc) -> tuple[list[RuleHit], set[str]]:
    """Theme hits of one document, and the themes whose exclusion rules fired (blocking the model)."""
    hits: list[RuleHit] = []
    excluded: set[str] = set()
    live = matcher.live_rules(doc)

    def skip(rule: Rule) -> bool:
        return id(rule) not in live if live is not None else not matcher.may_match(rule.expr, doc)

    for theme in matcher.codebook.themes:
        if all(skip(r) for r in (*theme.rules, *theme.exclude)):
            continue
        blocked: list[Occ] = []
        block_all = False
        for ex in theme.exclude:
            if skip(ex):
                continue
            matched, occ = matcher.evaluate(ex.expr, doc)
            if matched:
                excluded.add(theme.theme_id)
                blocked += occ
                block_all = block_all or not occ
        if block_all:
            continue
        occs: set[Occ] = set()
        fired: list[str] = []
        for rule in theme.rules:
            if skip(rule):
                continue
            matched, occ = matcher.evaluate(rule.expr, doc)
            kept = [o for o in occ if not _overlaps(o, blocked)]
            if matched and kept:
                occs.update(kept)
                fired.append(rule.rule_id)
        if occs:
            hits.append(RuleHit(theme.theme_id, tuple(_outermost(occs)), tuple(fired)))
    return hits, excluded


def _evidence_row(item_id: str, theme: str, text: str, occs: Sequence[Occ], source: str, score: float) -> dict:
    return {
        "item_id": item_id,
        "theme": theme,
        "terms": "|".join(text[o.start:o.end] for o in occs),
        "spans": "|".join(f"{o.start}-{o.end}" for o in occs),
        "source": source,
        "score": round(score, 3),
    }


def rule_score(n_occurrences: int) -> float:
    """1 occurrence → 0.5, 2 → 0.75, 3 → 0.875 …: more independent evidence, more confidence."""
    return 1.0 - 0.5 ** n_occurrences


# ---------------------------------------------------------------------------------------------
# Learned layer
# ---------------------------------------------------------------------------------------------


class ThemeClassifier:
    """One-vs-rest theme classifier over character n-grams and compound terms (scikit-learn style).

    ``fit(texts, labels)`` with ``labels`` a frame of 0/1 columns (one per theme id) learns a
    calibrated logistic regression for every theme with at least ``min_positive`` positive and
    negative examples; with fewer than ``min_labels`` labelled texts the layer stays off
    (``themes_ == []``).  Learned state ends in ``_``.  Deterministic (liblinear, fixed seed).
    """

    def __init__(self, *, min_labels: int = 30, min_positive: int = 5, threshold: float = 0.6,
                 random_state: int = 0):
        self.min_labels = min_labels
        self.min_positive = min_positive
        self.threshold = threshold
        self.random_state = random_state

    def fit(self, texts: Sequence[str], labels: pd.DataFrame) -> ThemeClassifier:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.themes_: list[str] = []
        self.models_: dict[str, object] = {}
        self.coef_: dict[str, np.ndarray] = {}
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=1)
        if len(texts) < self.min_labels:
            log.info("learned layer off: %d labelled texts < %d", len(texts), self.min_labels)
            return self
        x = self.vectorizer_.fit_transform(list(texts))
        for theme in labels.columns:
            y = labels[theme].astype(int).to_numpy()
            pos, neg = int(y.sum()), int(len(y) - y.sum())
            if pos < self.min_positive or neg < self.min_positive:
                continue
            base = LogisticRegression(class_weight="balanced", solver="liblinear", random_state=self.random_state,
                                      C=4.0)
            model = CalibratedClassifierCV(base, method="sigmoid", cv=3).fit(x, y)
            self.models_[theme] = model
            self.coef_[theme] = np.mean([c.estimator.coef_[0] for c in model.calibrated_classifiers_], axis=0)
            self.themes_.append(theme)
        return self

    def predict_proba(self, texts: Sequence[str]) -> pd.DataFrame:
        """Probability of each learned theme for each text (columns = ``themes_``)."""
        if not self.themes_ or not texts:
            return pd.DataFrame(index=range(len(texts)), columns=self.themes_, dtype=float)
        x = self.vectorizer_.transform(list(texts))
        return pd.DataFrame({t: self.models_[t].predict_proba(x)[:, 1] for t in self.themes_})  # type: ignore[attr-defined]

    def evidence(self, text: str, theme: str, *, top: int = 3) -> list[Occ]:
        """The n-grams of ``text`` that push most towards ``theme``, as spans in ``text``."""
        x = self.vectorizer_.transform([text])
        contrib = x.multiply(self.coef_[theme]).tocsr()
        order = np.argsort(-contrib.data, kind="stable")
        vocab = self.vectorizer_.get_feature_names_out()
        occs: list[Occ] = []
        for k in order[:top]:
            if contrib.data[k] <= 0:
                break
            gram = vocab[contrib.indices[k]]
            pos = text.find(gram)
            if pos >= 0:
                occs.append(Occ(pos, pos + len(gram), -1, -1))
        return sorted(set(occs))


def labels_from_long(frame: pd.DataFrame, theme_ids: Sequence[str]) -> tuple[list[str], pd.DataFrame]:
    """Analyst labels (``text, theme, label`` rows) → texts and a 0/1 frame, one column per theme.

    A text labelled 1 for some themes counts as 0 for the themes it was not labelled with.
    """
    if frame.empty:
        return [], pd.DataFrame(columns=list(theme_ids))
    texts = list(dict.fromkeys(frame["text"]))
    index = {t: i for i, t in enumerate(texts)}
    grid = np.zeros((len(texts), len(theme_ids)), dtype=int)
    col = {t: j for j, t in enumerate(theme_ids)}
    for text, theme, label in zip(frame["text"], frame["theme"], frame["label"], strict=True):
        if theme in col:
            grid[index[text], col[theme]] = int(label)
    return texts, pd.DataFrame(grid, columns=list(theme_ids))


# ---------------------------------------------------------------------------------------------
# Stage
# ---------------------------------------------------------------------------------------------


def tag_items(items: pd.DataFrame, *, codebook: Codebook, tokeniser: Tokeniser,
              model: ThemeClassifier | None = None, tokens: Sequence[list[Token]] | None = None,
              compounds: Sequence[list[Token]] | None = None, matcher: RuleMatcher | None = None) -> pd.DataFrame:
    """:class:`Items` in → evidence rows (:data:`EVIDENCE_COLUMNS`), items in input order, themes in
    codebook order.  ``source`` is ``rule:<rule ids>`` or ``model``; the model adds only themes the
    rules missed and never a theme whose exclusion rule fired in the item.  ``tokens`` and
    ``compounds`` (one list per item) save computing them again; ``matcher`` reuses a
    :class:`RuleMatcher` across calls.
    """
    matcher = matcher or RuleMatcher(codebook, tokeniser)
    texts = list(items[Items.text])
    probs = model.predict_proba(texts) if model is not None and model.themes_ else None
    order = {t: i for i, t in enumerate(codebook.theme_ids)}
    rows: list[dict] = []
    toks: Sequence[list[Token] | None] = tokens if tokens is not None else [None] * len(texts)
    comps: Sequence[list[Token] | None] = compounds if compounds is not None else [None] * len(texts)
    for n, (item_id, text, tk, cp) in enumerate(zip(items[Items.item_id], texts, toks, comps, strict=True)):
        hits, excluded = rule_hits(matcher, matcher.doc(text, tk, cp))
        found = {h.theme for h in hits}
        item_rows = [_evidence_row(item_id, h.theme, text, h.occurrences, "rule:" + "+".join(h.rules),
                                   rule_score(len(h.occurrences))) for h in hits]
        if probs is not None and model is not None:
            for theme in model.themes_:
                p = float(probs.loc[n, theme])
                if theme in found or theme in excluded or p < model.threshold or theme not in order:
                    continue
                item_rows.append(_evidence_row(item_id, theme, text, model.evidence(text, theme), "model", p))
        rows += sorted(item_rows, key=lambda r: order.get(r["theme"], len(order)))
    return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)


def themes_by_item(evidence: pd.DataFrame, codebook: Codebook | None = None) -> dict[str, str]:
    """item id → theme ids joined by ``|``, highest score first (codebook order on ties)."""
    order = {t: i for i, t in enumerate(codebook.theme_ids)} if codebook else {}
    out: dict[str, str] = {}
    for item_id, grp in evidence.groupby("item_id", sort=False):
        ranked = sorted(zip(grp["theme"], grp["score"], strict=True),
                        key=lambda ts: (-ts[1], order.get(ts[0], 0), ts[0]))
        out[str(item_id)] = "|".join(t for t, _ in ranked)
    return out



THEME_LABEL_COLUMNS = ["meeting_id", "item_id", "text", "theme", "label"]
"""``models/theme_labels.csv``: analyst-confirmed theme labels (label 1 = has the theme, 0 = not)."""


def load_theme_labels(path: Path) -> pd.DataFrame:
    """Read the analyst label file; a missing file means no labels."""
    if not path.is_file():
        return pd.DataFrame(columns=THEME_LABEL_COLUMNS)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ("text", "theme", "label") if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: 列 {missing} がありません / missing columns {missing}")
    bad = frame[~frame["label"].isin(["0", "1"])]
    if len(bad):
        raise ConfigError(f"{path}: {int(bad.index[0]) + 2}行目: label は 0 か 1 / label must be 0 or 1")
    return frame.assign(label=frame["label"].astype(int))


@dataclass(frozen=True)
class Tagger:
    """Codebook + tokeniser + optional learned layer: everything ``tag_items`` needs."""

    codebook: Codebook
    tokeniser: Tokeniser
    model: ThemeClassifier | None = None

    @classmethod
    def build(cls, codebook: Codebook, tokeniser: Tokeniser, labels_path: Path | None = None,
              *, extra_labels: pd.DataFrame | None = None, classifier: ThemeClassifier | None = None) -> Tagger:
        """Train the learned layer from ``labels_path`` plus ``extra_labels`` (the analysts' review
        decisions) when they hold enough labels; else rules only."""
        frames = [load_theme_labels(labels_path)] if labels_path is not None else []
        if extra_labels is not None and len(extra_labels):
            frames.append(extra_labels)
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls(codebook, tokeniser, None)
        labels = pd.concat(frames, ignore_index=True)[["text", "theme", "label"]]
        return cls(codebook, tokeniser, train_model(labels, codebook, classifier=classifier))

    def tag(self, items: pd.DataFrame, tokens: Sequence[list[Token]] | None = None,
            compounds: Sequence[list[Token]] | None = None, matcher: RuleMatcher | None = None) -> pd.DataFrame:
        return tag_items(items, codebook=self.codebook, tokeniser=self.tokeniser, model=self.model, tokens=tokens,
                         compounds=compounds, matcher=matcher)

    def tag_texts(self, ids: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
        """Plain texts → item id → themes (``|``-joined); used by ``kyosei eval``."""
        return tag_texts(ids, texts, self)


def train_model(labels: pd.DataFrame, codebook: Codebook, *,
                classifier: ThemeClassifier | None = None) -> ThemeClassifier | None:
    """Fit the learned layer on normalised label texts; ``None`` when it would learn no theme."""
    texts, grid = labels_from_long(labels.assign(text=labels["text"].map(normalise_text)), codebook.theme_ids)
    model = (classifier or ThemeClassifier()).fit(texts, grid)
    return model if model.themes_ else None


def tag_texts(ids: Sequence[str], texts: Sequence[str], tagger: Tagger) -> dict[str, str]:
    """Plain texts → item id → themes (``|``-joined); used by ``kyosei eval``."""
    items = pd.DataFrame({
        Items.item_id: list(ids), Items.source: "feedback", Items.kind: "その他", Items.group: "",
        Items.card_id: "", Items.raw_text: list(texts), Items.text: [normalise_text(t) for t in texts],
    })
    return themes_by_item(tagger.tag(items), tagger.codebook)
