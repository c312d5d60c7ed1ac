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
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from pipeline.normalise import offset_map, raw_span
from pipeline.schemas import Items

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


def _evidence_rows(evidence: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """One row per evidence span: ``item`` (position in the items table; −1 when not there), ``theme``,
    ``ev_term`` (as written in the evidence), ``start``, ``end`` — in the evidence's order."""
    items, themes, words, starts, ends = [], [], [], [], []
    for item_id, theme, terms, spans in zip(evidence["item_id"].tolist(), evidence["theme"].tolist(),
                                            evidence["terms"].tolist(), evidence["spans"].tolist(), strict=True):
        if not isinstance(terms, str) or not isinstance(spans, str) or not terms:
            continue
        item = order.get(str(item_id), -1)
        for term, span in zip(terms.split("|"), spans.split("|"), strict=False):
            start, _, end = span.partition("-")
            if start.isdigit() and end.isdigit():
                items.append(item)
                themes.append(theme)
                words.append(term)
                starts.append(int(start))
                ends.append(int(end))
    return pd.DataFrame({"item": np.array(items, dtype="int64"), "theme": themes, "ev_term": words,
                         "start": np.array(starts, dtype="int64"), "end": np.array(ends, dtype="int64")})


def _first_at_place(item: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """True for the first row (in row order) of each place (item, start, end)."""
    if not len(item):
        return np.zeros(0, dtype=bool)
    order = np.lexsort((end, start, item))  # stable: equal places keep their row order
    si, ss, se = item[order], start[order], end[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (si[1:] != si[:-1]) | (ss[1:] != ss[:-1]) | (se[1:] != se[:-1])
    first = np.zeros(len(order), dtype=bool)
    first[order] = new
    return first


INDEX_COLUMNS = ["word", "themes", "item", "raw_start", "raw_end"]
"""The compact form a run keeps (:attr:`MeetingResult.kwic`): ``word`` and ``themes`` categorical, ``item`` the row of
the item in the items table, ``raw_start``/``raw_end`` the occurrence in the text as written; lines are cut from it
when written (:func:`kwic_lines`), so a 100,000-comment meeting does not hold a million context strings."""


def kwic_index(items: pd.DataFrame, terms: pd.DataFrame, evidence: pd.DataFrame, *,
               top_keywords: int = TOP_KEYWORDS) -> pd.DataFrame:
    """Every occurrence of the themes' evidence words and of the top keywords (:data:`INDEX_COLUMNS`).

    ``terms`` is the analysis' keyword-candidate table (one row per occurrence: ``item_id, term, start, end,
    stopword``), ``evidence`` the theme evidence (``terms`` and ``spans`` per item × theme).  An evidence span
    is named by the word the analysis counted at that place (its lemma: 働き → 働く), else as written in the
    evidence.  Order: words by their number of occurrences (most first), then as the items came, then position.
    """
    ids = items[Items.item_id].astype(str).tolist()
    order = {i: n for n, i in enumerate(ids)}
    ev = _evidence_rows(evidence, order)
    if isinstance(terms["item_id"].dtype, pd.CategoricalDtype) and terms["item_id"].cat.categories.tolist() == ids:
        t_item = terms["item_id"].cat.codes.to_numpy("int64")  # already coded by item (pipeline.analysis.kwic_inputs)
    elif len(ids):
        t_item = pd.Categorical(terms["item_id"].astype(str), categories=ids).codes.astype("int64")
    else:
        t_item = np.full(len(terms), -1, dtype="int64")
    t_start, t_end = terms["start"].to_numpy("int64"), terms["end"].to_numpy("int64")
    t_term = terms["term"].to_numpy(object)
    first = _first_at_place(t_item, t_start, t_end)  # the word counted at a place: its first term
    place = pd.DataFrame({"item": t_item[first], "start": t_start[first], "end": t_end[first],
                          "term": t_term[first]})
    if len(ev):
        ev = ev.merge(place, on=["item", "start", "end"], how="left")
        ev["word"] = ev["term"].where(ev["term"].notna(), ev["ev_term"]).astype(str)
    else:
        ev = ev.assign(word=pd.Series(dtype=str))
    # the top keywords: content words by the number of items holding them
    keep = ~terms["stopword"].to_numpy(bool) if "stopword" in terms.columns else np.ones(len(terms), dtype=bool)
    codes, uniques = pd.factorize(t_term[keep])
    known = codes >= 0
    held = np.unique(codes[known].astype("int64") * (len(ids) + 1) + (t_item[keep][known] + 1))  # (word, item) once
    counts = np.bincount(held // (len(ids) + 1), minlength=len(uniques))
    keywords = sorted(zip(uniques.tolist(), counts.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    keywords = keywords[:top_keywords]
    words = set(ev["word"]) | {w for w, _ in keywords}
    hits = place[place["term"].isin(words).to_numpy()].rename(columns={"term": "word"})
    del place
    occ = pd.concat([hits, ev[["item", "start", "end", "word"]]], ignore_index=True)
    del hits
    occ = occ.drop_duplicates(["item", "start", "end", "word"])
    # the themes an occurrence is evidence for: those of its place, in the evidence's order, each once
    at = ev[["item", "start", "end", "theme"]].drop_duplicates().sort_values(["item", "start", "end"], kind="stable")
    places: tuple[list[int], list[int], list[int], list[str]] = ([], [], [], [])
    for item, start, end, theme in zip(at["item"].tolist(), at["start"].tolist(), at["end"].tolist(),
                                       at["theme"].tolist(), strict=True):
        if places[0] and (places[0][-1], places[1][-1], places[2][-1]) == (item, start, end):
            places[3][-1] += "|" + theme
        else:
            for column, value in zip(places, (item, start, end, theme), strict=True):
                column.append(value)  # type: ignore[arg-type]
    at = pd.DataFrame({"item": np.array(places[0], dtype="int64"), "start": np.array(places[1], dtype="int64"),
                       "end": np.array(places[2], dtype="int64"), "themes": places[3]})
    occ = occ.merge(at, on=["item", "start", "end"], how="left")
    occ["themes"] = occ["themes"].fillna("")
    del at
    occ = occ[(occ["item"] >= 0).to_numpy()]
    if not len(occ):
        return pd.DataFrame({c: pd.Series(dtype="int32" if c.startswith(("item", "raw")) else "category")
                             for c in INDEX_COLUMNS})
    occ = occ.astype({"item": "int32"}).sort_values(["item", "start", "end"], kind="stable")
    # positions in the text as written: one alignment per item whose text normalisation changed, in item order
    item, start, end = occ["item"].to_numpy(), occ["start"].to_numpy("int64"), occ["end"].to_numpy("int64")
    raw_start, raw_end = start.copy(), np.where(end > start, end, start)
    raws, norms = items[Items.raw_text].tolist(), items[Items.text].tolist()
    cuts = np.flatnonzero(np.diff(item)) + 1
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(item)], strict=True):
        norm = str(norms[item[lo]])
        raw = raws[item[lo]] if isinstance(raws[item[lo]], str) and raws[item[lo]] else norm
        if raw == norm:
            continue  # written as normalised: the same positions
        m = np.asarray(offset_map(raw, norm), dtype="int64")
        s, e = start[lo:hi], end[lo:hi]
        a = m[np.minimum(s, len(m) - 1)]
        raw_start[lo:hi] = a
        raw_end[lo:hi] = np.where(e > s, m[np.clip(e - 1, 0, len(m) - 1)] + 1, a)
    occ = occ.assign(raw_start=raw_start.astype("int32"), raw_end=raw_end.astype("int32"))
    words = pd.Categorical(occ["word"])                       # categories sorted: codes sort as the words do
    codes = words.codes.astype("int64")
    lines = np.bincount(codes, minlength=len(words.categories))[codes]
    occ = occ.assign(_n=-lines, _w=codes).sort_values(["_n", "_w", "item", "start", "end"], kind="stable")
    out = occ[INDEX_COLUMNS].reset_index(drop=True)
    return out.astype({"word": "category", "themes": "category"})


def kwic_lines(index: pd.DataFrame, items: pd.DataFrame, *, width: int = CONTEXT,
               coded: bool = False) -> pd.DataFrame:
    """The lines (:data:`KWIC_COLUMNS`) of some rows of a :func:`kwic_index`, cut from the text as written.
    ``coded``: ``word``, ``themes``, ``item_id``, ``source`` and ``kind`` categorical (for the CSV file: the same text,
    each distinct value checked for formulas once)."""
    if not len(index):
        return pd.DataFrame(columns=KWIC_COLUMNS)
    raws, norms = items[Items.raw_text].tolist(), items[Items.text].tolist()
    rows = index["item"].to_numpy()
    texts: dict[int, str] = {}
    lefts, cuts, rights = [], [], []
    for item, a, b in zip(rows.tolist(), index["raw_start"].tolist(), index["raw_end"].tolist(), strict=True):
        text = texts.get(item)
        if text is None:
            raw = raws[item] if isinstance(raws[item], str) and raws[item] else str(norms[item])
            text = texts[item] = _clean(raw) if ("\n" in raw or "\r" in raw or "\t" in raw) else raw
        left, cut, right = _slices(text, a, b, width)
        lefts.append(left)
        cuts.append(cut)
        rights.append(right)
    if coded:
        def of_items(column: str) -> pd.Categorical:
            codes, values = pd.factorize(items[column].astype(str).to_numpy(object))
            return pd.Categorical.from_codes(codes[rows], categories=values)

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


def kwic_table(items: pd.DataFrame, terms: pd.DataFrame, evidence: pd.DataFrame, *,
               top_keywords: int = TOP_KEYWORDS, width: int = CONTEXT) -> pd.DataFrame:
    """Every line at once (:func:`kwic_index` then :func:`kwic_lines`): for small meetings and tests."""
    return kwic_lines(kwic_index(items, terms, evidence, top_keywords=top_keywords), items, width=width)


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
