"""Words in context (KWIC, a concordance): every occurrence of a word with its left and right context.

Analysts decide what a word means in their city by reading it where it was written (KH Coder's most used
view).  :func:`kwic_index` finds, for each theme's evidence words and the meeting's top keywords, every place
the word occurs and the themes for which it counted as evidence; :func:`kwic_lines` cuts each place's line: item
id, source and kind, about :data:`CONTEXT` characters left and right.  Positions come from the analysis (token
offsets in the normalised text) and are mapped to the text **as written** (masked) through :func:`offset_map`.

Pure: frames in, a frame out.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.schemas import Items
from pipeline.text.normalise import offset_map, raw_span

CONTEXT = 20
"""Characters of context on each side."""
TOP_KEYWORDS = 30
"""Keywords (by the number of items holding them) listed besides the themes' evidence words."""
KWIC_COLUMNS = ["word", "themes", "item_id", "source", "kind", "left", "term", "right", "start"]
"""``word``: the word as counted (lemma or lexicon form); ``themes``: themes this occurrence is evidence for
(|-joined, empty when it is not evidence); ``left``/``term``/``right``: the text as written; ``start``: the
term's position in the text as written (0-based)."""
_BLANKS = str.maketrans({"\r": " ", "\n": " ", "\t": " "})
"""Line breaks and tabs shown as spaces in a line of context (one character each, so positions stay)."""


def _clean(text: str) -> str:
    return text.translate(_BLANKS)


def context(raw: str, norm: str, spans: Sequence[tuple[int, int]], *,
            width: int = CONTEXT) -> list[tuple[str, str, str, int]]:
    """``(left, term, right, raw start)`` for each span of the normalised text, cut from the raw text."""
    m = offset_map(raw, norm) if spans else []
    return [_cut(raw, m, start, end, width) for start, end in spans]


def _slices(text: str, a: int, b: int, width: int) -> tuple[str, str, str]:
    return text[max(0, a - width):a], text[a:b], text[b:b + width]


def _cut(raw: str, m: Sequence[int], start: int, end: int, width: int) -> tuple[str, str, str, int]:
    a, b = raw_span(m, start, end)
    return (*_slices(_clean(raw), a, b, width), a)


CHUNK_ROWS = 1_000_000
"""Keyword rows (:func:`kwic_index`'s ``terms``) handled at a time: the index is built by ranges of items, so a
million-comment meeting's 23 million rows are read in place, never copied whole or held as Python objects."""
INDEX_COLUMNS = ["word", "themes", "item", "raw_start", "raw_end"]
"""The compact form a run keeps (:attr:`MeetingResult.kwic`): ``word`` and ``themes`` categorical, ``item`` the row of
the item in the items table, ``raw_start``/``raw_end`` the occurrence in the text as written; lines are cut from it
when written (:func:`kwic_lines`), so a 100,000-comment meeting does not hold a million context strings."""


def _item_rows(column: pd.Series, ids: list[str]) -> np.ndarray:
    """Each value's row in the items table (``ids``), −1 when it is not there."""
    if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.tolist() == ids:
        return column.cat.codes.to_numpy()  # already coded by item (pipeline.run.items.kwic_inputs)
    values = column.astype(str).to_numpy(object)
    index = pd.Index(ids, dtype=object)
    if index.is_unique:
        return index.get_indexer(values).astype("int32")
    row = {i: n for n, i in enumerate(ids)}  # repeated ids: the last row, as a dict has it
    return np.array([row.get(v, -1) for v in values], dtype="int32")


def _word_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (−1 for a missing word) and the distinct words of the terms' ``term`` column."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), [str(w) for w in column.cat.categories]  # int8 to int32: as coded
    codes, uniques = pd.factorize(column.to_numpy(object))
    return codes.astype("int32"), [str(w) for w in uniques]


def _positions(column: pd.Series) -> np.ndarray:
    """Character positions as 32-bit integers (as they are when they fit: no copy when they already are)."""
    values = column.to_numpy()
    if values.dtype == np.int32:
        return values
    values = values.astype("int64")
    small = not len(values) or (int(values.min()) >= -2**31 and int(values.max()) < 2**31)
    return values.astype("int32") if small else values


@dataclass(frozen=True)
class _Spans:
    """The evidence's spans, one row each: ``item`` (row in the items table, −1 when not there), ``theme`` (code in
    ``themes``), ``word`` (the word as written in the evidence, code in the vocabulary), ``start``, ``end``."""

    item: np.ndarray
    theme: np.ndarray
    word: np.ndarray
    start: np.ndarray
    end: np.ndarray
    themes: list[str]

    def take(self, rows: np.ndarray | slice) -> _Spans:
        return _Spans(self.item[rows], self.theme[rows], self.word[rows], self.start[rows], self.end[rows],
                      self.themes)


def _evidence_spans(evidence: pd.DataFrame, ids: list[str], vocabulary: dict[str, int],
                    words: list[str]) -> _Spans:
    """:class:`_Spans` in the evidence's order; a word not among ``words`` is added (to both)."""
    themes: dict[str, int] = {}
    item, theme, word, start, end = array("i"), array("i"), array("i"), array("q"), array("q")
    rows = _item_rows(evidence["item_id"], ids) if len(evidence) else np.zeros(0, dtype="int32")
    for row, name, terms, spans in zip(rows.tolist(), evidence["theme"].tolist(), evidence["terms"].tolist(),
                                       evidence["spans"].tolist(), strict=True):
        if not isinstance(terms, str) or not isinstance(spans, str) or not terms:
            continue
        code = themes.setdefault(name, len(themes))
        for term, span in zip(terms.split("|"), spans.split("|"), strict=False):
            a, _, b = span.partition("-")
            if a.isdigit() and b.isdigit():
                w = vocabulary.get(term)
                if w is None:
                    w = vocabulary[term] = len(words)
                    words.append(term)
                item.append(row)
                theme.append(code)
                word.append(w)
                start.append(int(a))
                end.append(int(b))
    return _Spans(*(np.frombuffer(column, dtype=column.typecode) if len(column) else
                    np.zeros(0, dtype=column.typecode) for column in (item, theme, word, start, end)),
                  themes=list(themes))


def _place_order(item: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The rows in place order (item, start, end; equal places in row order), or None when they already are."""
    if len(item) < 2:
        return None
    i0, i1, s0, s1 = item[:-1], item[1:], start[:-1], start[1:]
    ascending = (i1 > i0) | ((i1 == i0) & ((s1 > s0) | ((s1 == s0) & (end[1:] >= end[:-1]))))
    return None if bool(ascending.all()) else np.lexsort((end, start, item))


def _new_place(item: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For rows in place order: True for the first row of each place."""
    new = np.ones(len(item), dtype=bool)
    new[1:] = (item[1:] != item[:-1]) | (start[1:] != start[:-1]) | (end[1:] != end[:-1])
    return new


def _lookup(keys: Sequence[np.ndarray], queries: Sequence[np.ndarray]) -> np.ndarray:
    """For each query row, its row among ``keys`` (columns of rows in lexicographic order, each row once); −1 when
    it is not there."""
    n, q = len(keys[0]), len(queries[0])
    out = np.full(q, -1, dtype="int64")
    if not n or not q:
        return out
    both = [np.concatenate([k, v]) for k, v in zip(keys, queries, strict=True)]
    order = np.lexsort((np.arange(n + q) >= n, *reversed(both)))  # a key just before the queries equal to it
    del both
    is_key = order < n
    before = np.maximum.accumulate(np.where(is_key, np.arange(n + q), -1))  # the last key at or before each place
    asked = np.flatnonzero(~is_key)
    key, query = np.where(before[asked] >= 0, order[np.maximum(before[asked], 0)], -1), order[asked] - n
    found = key >= 0
    for k, v in zip(keys, queries, strict=True):
        found &= k[np.maximum(key, 0)] == v[query]
    out[query] = np.where(found, key, -1)
    return out


def _item_ranges(item: np.ndarray, rows: int) -> list[tuple[int, int]]:
    """Consecutive row ranges of about ``rows`` rows of an ascending ``item`` array, cut where the item changes."""
    out, lo = [], 0
    while lo < len(item):
        hi = min(lo + rows, len(item))
        if hi < len(item):
            hi = int(np.searchsorted(item, item[hi - 1], side="right"))
        out.append((lo, hi))
        lo = hi
    return out or [(0, 0)]


def _labels(spans: _Spans, labels: dict[str, int]) -> tuple[list[np.ndarray], np.ndarray]:
    """The places of ``spans`` (in place order) and, for each, its themes as a code in ``labels``: those of its
    spans, in the evidence's order, each once, |-joined."""
    n = len(spans.item)
    places = [spans.item, spans.start, spans.end]
    if not n:
        return places, np.zeros(0, dtype="int32")
    order = np.lexsort((spans.theme, spans.end, spans.start, spans.item))  # stable: a theme's first span first
    again = np.zeros(n, dtype=bool)
    same = np.ones(n - 1, dtype=bool)
    for column in (*places, spans.theme):
        same &= column[order[1:]] == column[order[:-1]]
    again[order[1:]] = same
    kept = np.flatnonzero(~again)  # spans come in place order, then in the evidence's order
    k_item, k_start, k_end, k_theme = (c[kept] for c in (*places, spans.theme))
    firsts = np.flatnonzero(_new_place(k_item, k_start, k_end))
    sizes = np.diff(np.append(firsts, len(kept)))
    single = np.array([labels.setdefault(t, len(labels)) for t in spans.themes], dtype="int32")
    label = np.where(sizes == 1, single[k_theme[firsts]], -1).astype("int32")
    for g in np.flatnonzero(sizes > 1).tolist():
        lo = int(firsts[g])
        text = "|".join(spans.themes[t] for t in k_theme[lo:lo + int(sizes[g])].tolist())
        label[g] = labels.setdefault(text, len(labels))
    return [k_item[firsts], k_start[firsts], k_end[firsts]], label


def _raw_positions(item: np.ndarray, start: np.ndarray, end: np.ndarray, raws: list[object],
                   norms: list[object]) -> tuple[np.ndarray, np.ndarray]:
    """Spans of the normalised texts (rows grouped by item) as spans of the texts as written: one alignment per item
    whose text normalisation changed."""
    raw_start, raw_end = start.astype("int64"), np.where(end > start, end, start).astype("int64")
    cuts = (np.flatnonzero(item[1:] != item[:-1]) + 1).tolist()
    for lo, hi in zip([0, *cuts], [*cuts, len(item)], strict=True):
        if lo == hi:
            continue
        norm = str(norms[item[lo]])
        raw = raws[item[lo]] if isinstance(raws[item[lo]], str) and raws[item[lo]] else norm
        if raw == norm:
            continue  # written as normalised: the same positions
        m = np.asarray(offset_map(str(raw), norm), dtype="int64")
        s, e = start[lo:hi].astype("int64"), end[lo:hi].astype("int64")
        a = m[np.minimum(s, len(m) - 1)]
        raw_start[lo:hi] = a
        raw_end[lo:hi] = np.where(e > s, m[np.clip(e - 1, 0, len(m) - 1)] + 1, a)
    return raw_start, raw_end


class _Terms:
    """The keyword rows as :func:`kwic_index` reads them, in place order (:attr:`order`; None: as given): ``item``
    (row in the items table, −1 when not there; in place order), ``word`` (code in :attr:`words`, −1 when missing),
    ``start``, ``end``, ``content`` (not a stopword; None: all are) — the frame's own arrays when it can be."""

    def __init__(self, terms: pd.DataFrame, ids: list[str]):
        item = _item_rows(terms["item_id"], ids) if len(terms) else np.zeros(0, dtype="int32")
        self.word, self.words = _word_codes(terms["term"])
        self.start, self.end = _positions(terms["start"]), _positions(terms["end"])
        self.content = ~terms["stopword"].to_numpy(bool) if "stopword" in terms.columns else None
        self.order = _place_order(item, self.start, self.end)
        self.item = item if self.order is None else item[self.order]

    def part(self, column: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Rows ``lo:hi`` (in place order) of a column as given."""
        return column[lo:hi] if self.order is None else column[self.order[lo:hi]]

    def places(self, lo: int, hi: int) -> tuple[list[np.ndarray], np.ndarray]:
        """The places of rows ``lo:hi`` (in place order) and the word counted at each: its first term."""
        item, start, end = self.item[lo:hi], self.part(self.start, lo, hi), self.part(self.end, lo, hi)
        first = _new_place(item, start, end)
        return [item[first], start[first], end[first]], self.part(self.word, lo, hi)[first]


def kwic_index(items: pd.DataFrame, terms: pd.DataFrame, evidence: pd.DataFrame, *,
               top_keywords: int = TOP_KEYWORDS, rows: int = CHUNK_ROWS) -> pd.DataFrame:
    """Every occurrence of the themes' evidence words and of the top keywords (:data:`INDEX_COLUMNS`).

    ``terms`` is the analysis' keyword-candidate table (one row per occurrence: ``item_id, term, start, end,
    stopword``), ``evidence`` the theme evidence (``terms`` and ``spans`` per item × theme).  An evidence span
    is named by the word the analysis counted at that place (the first term there: its lemma, 働き → 働く), else as
    written in the evidence; a place's themes are those its spans are evidence for, in the evidence's order, each once.
    The top keywords are the content words (not ``stopword``) held by the most items, ties in the words' order.
    Order: words by their number of occurrences (most first, ties in the words' order), then as the items came, then
    position.

    Built ``rows`` keyword rows at a time, by ranges of items, in two passes (the first names the evidence spans and
    counts the keywords over all items): columns as 32-bit codes, every step a numpy one."""
    ids = items[Items.item_id].astype(str).tolist()
    t = _Terms(terms, ids)
    words = t.words
    counted = len(words)
    vocabulary = {w: n for n, w in enumerate(words)}
    spans = _evidence_spans(evidence, ids, vocabulary, words)
    del vocabulary
    spans = spans.take(np.lexsort((spans.end, spans.start, spans.item)))  # place order; equal places as given
    ranges = _item_ranges(t.item, rows)
    uppers = t.item[[hi - 1 for _, hi in ranges[:-1]]]
    cuts = [0, *np.searchsorted(spans.item, uppers, side="right").tolist(), len(spans.item)]
    blocks = [(lo, hi, slice(a, b)) for (lo, hi), a, b in zip(ranges, cuts[:-1], cuts[1:], strict=True)]
    held, named = _first_pass(t, spans, blocks, counted, len(ids))
    keywords = sorted(np.flatnonzero(held).tolist(), key=lambda w: (-int(held[w]), words[w]))[:top_keywords]
    wanted = np.zeros(len(words), dtype=bool)
    wanted[named] = True
    wanted[np.asarray(keywords, dtype="int64")] = True
    labels: dict[str, int] = {"": 0}
    found_rows = _second_pass(t, spans, named, wanted, blocks, items, labels)
    del t, spans, named
    return _listed(found_rows, words, labels)


def _first_pass(t: _Terms, spans: _Spans, blocks: list[tuple[int, int, slice]], counted: int,
                n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Each evidence span named by the word counted at its place, and each word's number of items (content words)."""
    # a range holds every row of its items
    held = np.zeros(counted, dtype="int64")
    named = spans.word.copy()
    for lo, hi, at in blocks:
        word = t.part(t.word, lo, hi)
        keep = word >= 0
        if t.content is not None:
            keep &= t.part(t.content, lo, hi)
        pairs = np.sort(word[keep].astype("int64") * (n_items + 1) + (t.item[lo:hi][keep] + 1))
        once = np.ones(len(pairs), dtype=bool)  # each (word, item) once
        once[1:] = pairs[1:] != pairs[:-1]
        held += np.bincount(pairs[once] // (n_items + 1), minlength=counted)
        del word, keep, pairs, once
        place, p_word = t.places(lo, hi)
        found = _lookup(place, [spans.item[at], spans.start[at], spans.end[at]])
        counted_there = np.where(found >= 0, p_word[np.maximum(found, 0)], -1)
        named[at] = np.where(counted_there >= 0, counted_there, named[at])
    return held, named


def _second_pass(t: _Terms, spans: _Spans, named: np.ndarray, wanted: np.ndarray,
                 blocks: list[tuple[int, int, slice]], items: pd.DataFrame,
                 labels: dict[str, int]) -> list[tuple[np.ndarray, ...]]:
    """Each range's occurrences (listed words at their places, and the spans), their themes (coded into
    ``labels``) and positions in the text as written."""
    raws, norms = items[Items.raw_text].tolist(), items[Items.text].tolist()
    found_rows: list[tuple[np.ndarray, ...]] = []
    for lo, hi, at in blocks:
        place, p_word = t.places(lo, hi)
        hit = (p_word >= 0) & wanted[np.maximum(p_word, 0)]
        ev = spans.take(at)
        occ = [np.concatenate([p[hit], e]) for p, e in zip([*place, p_word], [ev.item, ev.start, ev.end, named[at]],
                                                           strict=True)]
        del place, p_word, hit
        listed = np.flatnonzero(occ[0] >= 0)  # spans of items not in the table are not listed
        listed = listed[np.lexsort([c[listed] for c in occ[::-1]])]
        occ = [c[listed] for c in occ]
        del listed
        again = ~_new_place(*occ[:3])
        again[1:] &= occ[3][1:] == occ[3][:-1]
        item, start, end, word = (c[~again] for c in occ)
        del occ, again
        themed, label = _labels(ev, labels)
        there = _lookup(themed, [item, start, end])
        raw_start, raw_end = _raw_positions(item, start, end, raws, norms)
        found_rows.append((word, np.append(label, 0).astype("int32")[there],  # −1 (no themes there): the last, ""
                           item.astype("int32"), raw_start.astype("int32"), raw_end.astype("int32")))
    return found_rows


def _listed(found_rows: list[tuple[np.ndarray, ...]], words: list[str], labels: dict[str, int]) -> pd.DataFrame:
    """The occurrences as :data:`INDEX_COLUMNS`: words by their number of occurrences (most first, ties in the
    words' order), then as the items came, then position."""
    columns = [np.concatenate(c) for c in zip(*found_rows, strict=True)]
    del found_rows
    if not len(columns[0]):
        return pd.DataFrame({c: pd.Series(dtype="int32" if c.startswith(("item", "raw")) else "category")
                             for c in INDEX_COLUMNS})
    lines = np.bincount(columns[0], minlength=len(words))
    present = np.flatnonzero(lines).tolist()
    rank = np.zeros(len(words), dtype="int64")
    rank[sorted(present, key=lambda w: (-int(lines[w]), words[w]))] = np.arange(len(present))
    listing = np.argsort(rank[columns[0]], kind="stable")  # rows came by item, position and word: stable keeps that
    out: dict[str, object] = {}
    for name, names in zip(INDEX_COLUMNS, (words, list(labels), None, None, None), strict=True):
        column = columns.pop(0)[listing]  # one column at a time: each one's rows let go once listed
        out[name] = column if names is None else _categorical(column, names)
    return pd.DataFrame(out, columns=INDEX_COLUMNS)


def _categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """``names[codes]`` as a categorical whose categories are the names present, sorted."""
    present = np.flatnonzero(np.bincount(codes, minlength=len(names))).tolist()
    sorted_ = sorted(present, key=lambda c: names[c])
    recode = np.zeros(len(names), dtype="int32")
    recode[sorted_] = np.arange(len(sorted_))
    return pd.Categorical.from_codes(recode[codes], categories=pd.Index([names[c] for c in sorted_]))


def kwic_lines(index: pd.DataFrame, items: pd.DataFrame, *, width: int = CONTEXT,
               coded: bool = False) -> pd.DataFrame:
    """The lines (:data:`KWIC_COLUMNS`) of some rows of a :func:`kwic_index`, cut from the text as written.
    ``coded``: ``word``, ``themes``, ``item_id``, ``source`` and ``kind`` categorical (for the CSV file: the same text,
    each distinct value checked for formulas once)."""
    if not len(index):
        return pd.DataFrame(columns=KWIC_COLUMNS)
    raws, norms = items[Items.raw_text].tolist(), items[Items.text].tolist()
    rows = index["item"].to_numpy()

    def line_text(item: int) -> str:
        raw = raws[item] if isinstance(raws[item], str) and raws[item] else str(norms[item])
        return _clean(raw) if ("\n" in raw or "\r" in raw or "\t" in raw) else raw

    texts = {item: line_text(item) for item in np.unique(rows).tolist()}
    of_row = [texts[item] for item in rows.tolist()]
    starts, ends = index["raw_start"].to_numpy(np.int64), index["raw_end"].to_numpy(np.int64)
    # _slices, a column at a time
    lefts = [t[a:b] for t, a, b in zip(of_row, np.maximum(starts - width, 0).tolist(), starts.tolist(), strict=True)]
    cuts = [t[a:b] for t, a, b in zip(of_row, starts.tolist(), ends.tolist(), strict=True)]
    rights = [t[a:b] for t, a, b in zip(of_row, ends.tolist(), (ends + width).tolist(), strict=True)]
    del of_row
    if coded:
        def of_items(column: str) -> pd.Categorical:  # the values of these rows' items only (checked once each)
            codes, values = pd.factorize(items[column].astype(str).to_numpy(object)[rows])
            return pd.Categorical.from_codes(codes, categories=values)

        named: dict[str, object] = {"word": pd.Categorical(index["word"].astype(str)),
                                    "themes": pd.Categorical(index["themes"].astype(str)),
                                    "item_id": of_items(Items.item_id), "source": of_items(Items.source),
                                    "kind": of_items(Items.kind)}
    else:
        named = {"word": index["word"].astype(str).to_numpy(), "themes": index["themes"].astype(str).to_numpy(),
                 "item_id": items[Items.item_id].astype(str).to_numpy()[rows],
                 "source": items[Items.source].to_numpy()[rows], "kind": items[Items.kind].to_numpy()[rows]}
    return pd.DataFrame({
        **named, "left": lefts, "term": cuts, "right": rights, "start": index["raw_start"].astype("int64").to_numpy(),
    }, columns=KWIC_COLUMNS)


def kwic_chunks(index: pd.DataFrame, items: pd.DataFrame, *, size: int = 50_000) -> Iterator[pd.DataFrame]:
    """:func:`kwic_lines` of the whole index, ``size`` rows at a time (for writing the CSV file)."""
    for i in range(0, max(len(index), 1), size):
        yield kwic_lines(index.iloc[i:i + size], items, coded=True)


def per_word(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """At most ``n`` lines of each word (the first ones, in the table's order)."""
    if not len(frame):
        return frame
    return frame[frame.groupby("word", sort=False).cumcount() < n].reset_index(drop=True)


def left_key(left: str) -> str:
    """Sort key of a left context: read from the word outwards (KH Coder's 左文脈 order)."""
    return left[::-1]


def sort_lines(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """``by`` = ``order`` (as listed), ``left`` (the characters just before the word first) or ``right``."""
    if by == "order" or not len(frame):
        return frame
    if by == "left":
        key = frame["left"].map(left_key)
    elif by == "right":
        key = frame["right"]
    else:
        raise ValueError(f"unknown sort {by!r}; use order, left or right")
    return frame.assign(_k=key).sort_values(["word", "_k"], kind="stable").drop(columns="_k").reset_index(drop=True)


def find_word(frame: pd.DataFrame, word: str) -> pd.DataFrame:
    """The lines of ``word``: as the word counted (lemma) or as written, compared in NFKC without spaces."""
    def plain(s: object) -> str:
        return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(s))).lower()

    w = plain(word)
    hit = frame["word"].map(plain).eq(w) | frame["term"].map(plain).eq(w)
    return frame[hit].reset_index(drop=True)


def search_texts(texts: pd.DataFrame, word: str, *, width: int = CONTEXT) -> pd.DataFrame:
    """Occurrences of ``word`` as a plain string in ``texts`` (``item_id, source, kind, text``): for a word the
    analysis did not list (a stop word, a word outside the top keywords)."""
    needle = unicodedata.normalize("NFKC", word).strip()
    rows = []
    if needle:
        for item_id, source, kind, text in zip(texts["item_id"], texts["source"], texts["kind"], texts["text"],
                                               strict=True):
            text = str(text)
            for m in re.finditer(re.escape(needle), text):
                s, e = m.start(), m.end()
                rows.append((needle, "", str(item_id), source, kind, _clean(text[max(0, s - width):s]),
                             _clean(text[s:e]), _clean(text[e:e + width]), s))
    return pd.DataFrame(rows, columns=KWIC_COLUMNS)
