"""Tokenise: fugashi + unidic-lite morphemes, user-lexicon terms, compound nouns and keywords.

Measured facts this module relies on (DESIGN.md):
- ``GenericTagger.parse`` with our own output format, split on tabs, is ~2× faster than iterating
  fugashi nodes, and gives no stale-node hazard.
- UniDic glosses loanword lemmas (``フレイル`` → ``フレール-flail``): loanwords (goshu 外) and unknown
  words use orthBase/surface instead.
- Compound nouns come split (相談 / 窓口): runs of nouns, prefixes and noun suffixes are joined.
- Local names (あいネット, いきいきセンター, K-Net) are cut wrongly by the dictionary: the user lexicon
  lists them and the text is split around them before parsing.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from sys import intern
from typing import NamedTuple

import pandas as pd
import yaml

from pipeline.errors import ConfigError
from pipeline.schemas import Items

log = logging.getLogger(__name__)

LEXICON_POS = "名詞-固有名詞-一般"
COMPOUND_POS = "名詞-複合"
PLACEHOLDER = "甲"
"""A one-character common noun standing in for a lexicon term while MeCab parses."""


class Token(NamedTuple):
    """One morpheme: surface, POS (pos1..pos4 joined by '-'), lemma, character span in the text."""

    surface: str
    pos: str
    lemma: str
    start: int
    end: int


class Term(NamedTuple):
    """A keyword candidate: ``text`` is canonical (synonyms applied), ``surface`` is as written."""

    text: str
    surface: str
    pos: str
    start: int
    end: int


@dataclass(frozen=True)
class Lexicon:
    """User lexicon: ``terms`` kept whole, ``synonyms`` mapping a variant to its canonical form."""

    terms: tuple[str, ...] = ()
    synonyms: Mapping[str, str] = field(default_factory=dict)

    def canonical(self, text: str) -> str:
        """Replace every variant inside ``text`` by its canonical form (longest variant first)."""
        if not self.synonyms:
            return text
        table, pattern, seen = self._variants
        got = seen.get(text)
        if got is None:
            got = pattern.sub(lambda m: table[m.group(0)], text)
            if len(seen) < 200_000:  # words and lemmas repeat; bounded so odd inputs cannot grow it
                seen[text] = got
        return got

    @functools.cached_property
    def _variants(self) -> tuple[dict[str, str], re.Pattern[str], dict[str, str]]:
        table = dict(self.synonyms) | {c: c for c in self.synonyms.values()}
        return table, _variant_pattern(tuple(sorted(table.items()))), {}


_PATTERNS: dict[tuple[tuple[str, str], ...], re.Pattern[str]] = {}


_WORD_CHAR = r"[\u4e00-\u9fff\u30a0-\u30ffー々]"


def _whole(variant: str) -> str:
    """A variant as a pattern; one character (心 → こころ) only where it stands alone, never inside a compound word
    (心配, 安心, 関心 keep their 心)."""
    escaped = re.escape(variant)
    return f"(?<!{_WORD_CHAR}){escaped}(?!{_WORD_CHAR})" if len(variant) == 1 else escaped


def _variant_pattern(items: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    pat = _PATTERNS.get(items)
    if pat is None:
        variants = sorted((v for v, _ in items), key=lambda s: (-len(s), s))
        pat = re.compile("|".join(_whole(v) for v in variants))
        _PATTERNS[items] = pat
    return pat


def parse_lexicon(data: object, *, file: str = "lexicon.yaml") -> Lexicon:
    """Build a :class:`Lexicon` from parsed YAML; :class:`ConfigError` names what is wrong."""
    from pipeline.text.normalise import normalise_text

    if data is None:
        return Lexicon()
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: 「terms:」と「synonyms:」を持つ形式にしてください / expected keys terms and synonyms")
    terms_raw = data.get("terms") or []
    syn_raw = data.get("synonyms") or {}
    if not isinstance(terms_raw, list) or not all(isinstance(t, str) for t in terms_raw):
        raise ConfigError(f"{file}: terms は語のリストにしてください / terms must be a list of words")
    if not isinstance(syn_raw, dict):
        raise ConfigError(f"{file}: synonyms は「代表表記: [別表記, ...]」にしてください / synonyms must be a mapping")
    synonyms: dict[str, str] = {}
    for canon, variants in syn_raw.items():
        if isinstance(variants, str):
            variants = [variants]
        if not isinstance(canon, str) or not isinstance(variants, list):
            raise ConfigError(f"{file}: synonyms の「{canon}」が不正です / bad synonyms entry {canon!r}")
        for v in variants:
            v_norm = normalise_text(str(v))
            if v_norm in synonyms and synonyms[v_norm] != canon:
                raise ConfigError(
                    f"{file}: 「{v}」が「{synonyms[v_norm]}」と「{canon}」の両方の別表記です / "
                    f"{v!r} is a variant of two canonical forms"
                )
            if v_norm != canon:
                synonyms[v_norm] = normalise_text(canon)
    terms = tuple(sorted({normalise_text(t) for t in terms_raw if t.strip()}, key=lambda s: (-len(s), s)))
    return Lexicon(terms=terms, synonyms=synonyms)


def extend_lexicon(lexicon: Lexicon, terms: Sequence[str], synonyms: Mapping[str, Sequence[str]], *,
                   file: str = "codebook") -> Lexicon:
    """``lexicon`` plus the terms and synonyms a codebook carries (its ``lexicon:`` part); a variant given two
    different representative forms is a :class:`ConfigError`."""
    if not terms and not synonyms:
        return lexicon
    extra = parse_lexicon({"terms": list(terms), "synonyms": {k: list(v) for k, v in synonyms.items()}}, file=file)
    merged = dict(lexicon.synonyms)
    for variant, canon in extra.synonyms.items():
        if merged.get(variant, canon) != canon:
            raise ConfigError(f"{file}: 「{variant}」がユーザー辞書では「{merged[variant]}」、コードブックでは「{canon}」の"
                              f"別表記です / {variant!r} has two representative forms")
        merged[variant] = canon
    all_terms = tuple(sorted({*lexicon.terms, *extra.terms}, key=lambda s: (-len(s), s)))
    return Lexicon(terms=all_terms, synonyms=merged)


def load_lexicon(path: Path) -> Lexicon:
    """Read ``models/lexicon.yaml`` (safe loader)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: 読めません / cannot read ({err})") from None
    return parse_lexicon(data, file=str(path))


def load_stopwords(path: Path) -> frozenset[str]:
    """One word per line; '#' starts a comment."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(f"{path}: 読めません / cannot read ({err})") from None
    return frozenset(w for w in (line.split("#", 1)[0].strip() for line in lines) if w)


_BASE_GOSHU = frozenset({"外", "unk"})
_GLOSS = re.compile(r"-[A-Za-z]")
"""kyosei's lemma is UniDic's, except for loanwords, unknown words and glossed lemmas (フレール-flail),
which keep their written base form (see ``Tokeniser._raw_tokens``)."""


def _is_compound_head(tok: Token) -> bool:
    """Can ``tok`` start (or be any part of) a compound noun?"""
    if tok.surface in _NON_JOINING_SUFFIXES:
        return False
    return tok.pos == COMPOUND_POS or tok.pos.startswith((
        "名詞-普通名詞-一般", "名詞-普通名詞-サ変可能", "名詞-普通名詞-形状詞可能", "名詞-固有名詞", "接頭辞"))


def _continues_compound(tok: Token) -> bool:
    """Can ``tok`` extend a compound already started (災害+時, 福祉政策+課, 高齢+者)?"""
    if tok.surface in _NON_JOINING_SUFFIXES:
        return False
    return tok.pos.startswith(("名詞-普通名詞-助数詞可能", "名詞-普通名詞-副詞可能", "接尾辞-名詞的"))


_NON_JOINING_SUFFIXES = frozenset({"等", "など", "達", "たち", "ら", "方", "さん", "様", "氏", "君", "ごと"})


class Tokeniser:
    """fugashi/unidic-lite tokeniser with a user lexicon.

    ``Tokeniser(lexicon=...)`` stores parameters only; the MeCab tagger is created on first use and
    is not pickled (one per worker process).
    """

    def __init__(self, *, lexicon: Lexicon | None = None):
        self.lexicon = lexicon or Lexicon()
        self._tagger: object | None = None
        self._term_re = (
            re.compile("|".join(map(re.escape, self.lexicon.terms))) if self.lexicon.terms else None
        )

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_tagger"] = None
        return state

    def _parse(self, text: str) -> str:
        if self._tagger is None:
            import fugashi
            import unidic_lite

            rc = resources.files("pipeline") / "resources" / "kyosei.mecabrc"
            self._tagger = fugashi.GenericTagger(f'-d "{unidic_lite.DICDIR}" -r "{rc}" -Okyosei')
        return self._tagger.parse(text)  # type: ignore[attr-defined]

    def _raw_tokens(self, text: str) -> list[Token]:
        # The hot loop of the whole pipeline: plain tuple construction, the lemma rule of _GLOSS inline.
        out: list[Token] = []
        append, find, new = out.append, text.find, tuple.__new__
        cursor = 0
        for line in self._parse(text).split("\n"):
            parts = line.split("\t")
            if len(parts) < 5:  # EOS and empty lines
                continue
            surface, pos, lemma, orth_base, goshu = parts[:5]
            start = find(surface, cursor)
            if start < 0:  # MeCab never rewrites a surface, but never lose a token over it
                start = cursor
            cursor = start + len(surface)
            if goshu in _BASE_GOSHU or not lemma or ("-" in lemma and _GLOSS.search(lemma)):
                lemma = orth_base or surface
            append(new(Token, (surface, pos, lemma, start, cursor)))
        return out

    def has_lexicon_term(self, text: str) -> bool:
        """Whether ``text`` holds a lexicon term (:meth:`tokens` then parses it with placeholders)."""
        return self._term_re is not None and self._term_re.search(text) is not None

    def parse_string(self, text: str) -> str:
        """MeCab's output for ``text`` as one string (surface, POS, lemma … per line), no tokens built: a cheap
        check of whether any token could be of some part of speech.  Equals what :meth:`tokens` parses when
        :meth:`has_lexicon_term` is false."""
        return self._parse(text)

    def tokens(self, text: str) -> list[Token]:
        """Morphemes of ``text`` (already normalised), lexicon terms as single proper nouns.

        Each lexicon term is replaced by the one-character noun PLACEHOLDER before parsing, so the
        words around it are analysed in a natural noun context ('いきいきセンターやあいネット' is
        parsed as '甲や甲'), then mapped back to the term and its span in ``text``.
        """
        if self._term_re is None or not text:
            return self._raw_tokens(text)
        pieces: list[str] = []
        spans: dict[int, tuple[int, int]] = {}  # placeholder offset in parsed text -> term span
        last = shift = 0
        for m in self._term_re.finditer(text):
            pieces.append(text[last : m.start()])
            spans[m.start() - shift] = (m.start(), m.end())
            pieces.append(PLACEHOLDER)
            shift += len(m.group(0)) - 1
            last = m.end()
        pieces.append(text[last:])
        if not spans:
            return self._raw_tokens(text)
        marks = sorted(spans)
        out: list[Token] = []
        new = tuple.__new__
        k, off = 0, 0  # marks[:k] lie before the current token; ``off`` is the length they add back
        for tok in self._raw_tokens("".join(pieces)):
            surface, pos, _, s0, e0 = tok
            while k < len(marks) and marks[k] < s0:
                t0, t1 = spans[marks[k]]
                off += t1 - t0 - 1
                k += 1
            if k == len(marks) or marks[k] >= e0:
                out.append(new(Token, (surface, pos, tok.lemma, s0 + off, e0 + off)))
                continue
            # The token holds one or more placeholders (normally it *is* the placeholder).
            cur = s0
            while k < len(marks) and marks[k] < e0:
                p = marks[k]
                if p > cur:
                    frag = surface[cur - s0 : p - s0]
                    out.append(Token(frag, pos, frag, cur + off, cur + off + len(frag)))
                t0, t1 = spans[p]
                out.append(Token(text[t0:t1], LEXICON_POS, text[t0:t1], t0, t1))
                off += t1 - t0 - 1
                cur = p + 1
                k += 1
            if cur < e0:
                frag = surface[cur - s0 :]
                out.append(Token(frag, pos, frag, cur + off, cur + off + len(frag)))
        return out

    def compounds(self, tokens: list[Token]) -> list[Token]:
        """Join runs of nouns / prefixes / noun suffixes into one token with POS ``名詞-複合``."""
        out: list[Token] = []
        run: list[Token] = []

        def flush() -> None:
            if len(run) == 1:
                out.append(run[0])
            elif run:
                surface = "".join(t.surface for t in run)
                out.append(Token(surface, COMPOUND_POS, surface, run[0].start, run[-1].end))
            run.clear()

        for tok in tokens:
            adjacent = bool(run) and run[-1].end == tok.start
            if _is_compound_head(tok):
                if run and (not adjacent or (tok.pos.startswith("接頭辞") and not run[-1].pos.startswith("接頭辞"))):
                    flush()  # a gap, or a prefix starting a new word: 福祉 / 各課
                run.append(tok)
            elif run and adjacent and _continues_compound(tok) and not run[-1].pos.startswith("接頭辞"):
                run.append(tok)
            else:
                flush()
                out.append(tok)
        flush()
        # A prefix left alone is not a word.
        return [t for t in out if not t.pos.startswith("接頭辞")]

    def terms(self, text: str, tokens: list[Token] | None = None, compounds: list[Token] | None = None) -> list[Term]:
        """Keyword candidates: compound/simple nouns, verbs, adjectives and adjectival nouns
        (``tokens`` / ``compounds``: this text's :meth:`tokens` / :meth:`compounds`, when the caller has them)."""
        result: list[Term] = []
        if compounds is None:
            compounds = self.compounds(self.tokens(text) if tokens is None else tokens)
        for tok in compounds:
            if tok.pos == COMPOUND_POS or tok.pos.startswith(("名詞-普通名詞", "名詞-固有名詞")):
                if tok.pos.startswith("名詞-普通名詞-副詞可能"):
                    continue
                base = tok.lemma if tok.pos != COMPOUND_POS and tok.pos != LEXICON_POS else tok.surface
            elif tok.pos.startswith(("動詞-一般", "形容詞-一般", "形状詞-一般")):
                base = tok.lemma
            else:
                continue
            if len(base) == 1 and not re.match(r"[\u4e00-\u9fff]", base):
                continue  # single kana/latin letters carry no meaning as keywords
            if tok.pos.startswith("名詞") and len(tok.surface) <= 2 and re.fullmatch(r"[ぁ-ゖ]+", tok.surface):
                continue  # formal nouns written in kana (こと, もの, かた, とき) whatever their lemma
            result.append(Term(self.lexicon.canonical(base), tok.surface, tok.pos, tok.start, tok.end))
        return result


def item_terms(items: pd.DataFrame, *, tokeniser: Tokeniser, stopwords: Iterable[str] = (),
               tokens: Sequence[list[Token]] | None = None,
               compounds: Sequence[list[Token]] | None = None) -> pd.DataFrame:
    """:class:`Items` in → one row per keyword candidate occurrence.

    Columns: ``item_id``, ``term`` (canonical), ``surface``, ``pos``, ``start``, ``end``,
    ``stopword`` (bool).  Order: items in input order, terms in text order.  ``tokens`` and ``compounds``
    (one list per item) save computing them again when the caller already has them.
    """
    stop = frozenset(stopwords)
    rows = []
    texts = list(items[Items.text])
    toks: Sequence[list[Token] | None] = tokens if tokens is not None else [None] * len(texts)
    comps: Sequence[list[Token] | None] = compounds if compounds is not None else [None] * len(texts)
    for item_id, text, tk, cp in zip(items[Items.item_id], texts, toks, comps, strict=True):
        for t in tokeniser.terms(text, tk, cp):
            # interned: a meeting repeats the same words millions of times (1M items → ~30M rows)
            rows.append((item_id, intern(t.text), intern(t.surface), intern(t.pos), t.start, t.end, t.text in stop))
    return pd.DataFrame(rows, columns=["item_id", "term", "surface", "pos", "start", "end", "stopword"]).astype(
        {"item_id": str, "term": str, "surface": str, "pos": str, "start": "int64", "end": "int64",
         "stopword": bool}
    )
