"""Rule keys: what a token answers to (lemma and surface, written and canonical, a lexicon term's parts),
what a rule word must find, and a document prepared for matching (:class:`Doc`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import LEXICON_POS, Lexicon, Token, Tokeniser
from pipeline.themes.codebook import Word

MAX_CACHED_KEYS = 500_000
"""Token forms whose keys are remembered (a vocabulary; bounded so odd inputs cannot grow it)."""


class Occ(NamedTuple):
    """One occurrence: token range [tok0, tok1) and character span [start, end) (a tuple: made, hashed and
    sorted millions of times in a large meeting, in C)."""

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
    found: dict[Word, list[Occ]] = field(default_factory=dict, compare=False, repr=False)
    """Occurrences of the words evaluated so far (:meth:`RuleMatcher.occurrences`)."""


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


class RuleKeys:
    """Match keys of tokens and rule words, each computed once per form (caches are per process: they are
    dropped when the object is pickled for another worker)."""

    def __init__(self, tokeniser: Tokeniser):
        self.tokeniser = tokeniser
        self._clear()

    def _clear(self) -> None:
        self._canon_cache: dict[str, str] = {}
        self._keys_cache: dict[tuple[str, str, bool], frozenset[str]] = {}
        self._parts_cache: dict[str, frozenset[str]] = {}
        self._whole_cache: dict[str, str] = {}
        self._word_cache: dict[str, list[frozenset[str]]] = {}
        self._wanted_for: frozenset[str] | None = None
        self._wanted_keys: dict[frozenset[str], tuple[str, ...]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"tokeniser": self.tokeniser}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clear()

    def canon(self, text: str) -> str:
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
            canon = self.canon
            keys = {canon(tok.lemma), canon(tok.surface), tok.lemma, tok.surface}
            if whole_term:
                keys |= self.parts(tok.surface)
            got = frozenset(keys)
            if len(self._keys_cache) < MAX_CACHED_KEYS:
                self._keys_cache[ck] = got
        return got

    def parts(self, term: str) -> frozenset[str]:
        cached = self._parts_cache.get(term)
        if cached is None:
            canon = self.tokeniser.lexicon.canonical
            plain = Tokeniser(lexicon=Lexicon(synonyms=self.tokeniser.lexicon.synonyms))
            toks = plain.tokens(term)
            pieces = [t.surface for t in plain.compounds(toks)] + term.split("・")
            pieces += [k for t in toks if t.pos.startswith("名詞") for k in (t.lemma, t.surface)]
            # every run of consecutive tokens, so a rule word of several tokens is found inside the term
            # (成年後見 in 成年後見制度, 後見人 in 市民後見人)
            pieces += [term[toks[a].start:toks[b].end] for a in range(len(toks)) for b in range(a + 1, len(toks))]
            cached = frozenset(k for p in pieces if p for k in (p, canon(p)))
            self._parts_cache[term] = cached
        return cached

    def whole(self, text: str) -> str:
        """A rule word as one canonical string (how a lexicon term or compound equal to it is found)."""
        got = self._whole_cache.get(text)
        if got is None:
            got = self._whole_cache[text] = self.canon(normalise_text(text))
        return got

    def word_keys(self, text: str) -> list[frozenset[str]]:
        cached = self._word_cache.get(text)
        if cached is None:
            toks = self.tokeniser.tokens(normalise_text(text))
            cached = [self.keys(t, parts=False) for t in toks]
            self._word_cache[text] = cached
        return cached

    def doc(self, text: str, tokens: list[Token] | None = None, compounds: list[Token] | None = None, *,
            wanted: frozenset[str] | None = None) -> Doc:
        """``text`` prepared for matching (without its prefilter words) (``tokens`` / ``compounds``: its tokens and their compounds,
        when the caller already has them).  ``wanted``: the only keys any rule word looks up (the others are left
        out of the index; ``None`` indexes every key)."""
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
        if wanted is None:
            for i, ks in enumerate(keys):
                for k in ks:
                    index.setdefault(k, []).append(i)
        else:
            if wanted is not self._wanted_for:
                self._wanted_for, self._wanted_keys = wanted, {}
            kept = self._wanted_keys
            for i, ks in enumerate(keys):
                hit = kept.get(ks)
                if hit is None:
                    hit = tuple(k for k in ks if k in wanted)
                    if len(kept) < MAX_CACHED_KEYS:
                        kept[ks] = hit
                for k in hit:
                    index.setdefault(k, []).append(i)
        return Doc(text, tokens, keys, ends, starts, units, index)

    # -- which codebook words can occur in a document --------------------------------------------
    #
    # A word's occurrences come only from tokens whose keys include one of its first token's keys, from
    # a lexicon term or compound equal to the whole word, or (literal) from the text.  So before any
    # rule is evaluated, one pass over the document's keys finds the words that can occur; a rule none
    # of whose trigger words occurs is false without being evaluated.  This changes no result: it only
    # skips evaluations that would find nothing (tests/test_tagging.py compares with and without).

