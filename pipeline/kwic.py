"""Words in context (KWIC, a concordance): every occurrence of a word with its left and right context.

Analysts decide what a word means in their city by reading it where it was written (KH Coder's most used
view).  :func:`kwic_table` lists, for each theme's evidence words and the meeting's top keywords, every place
the word occurs: item id, source and kind, about :data:`CONTEXT` characters left and right, and the themes for
which that occurrence counted as evidence.  Positions come from the analysis (token offsets in the normalised
text); the contexts are cut from the text **as written** (masked), through :func:`offset_map`.

Pure: frames in, a frame out.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

import pandas as pd

from pipeline.schemas import Items

CONTEXT = 20
"""Characters of context on each side."""
TOP_KEYWORDS = 30
"""Keywords (by the number of items holding them) listed besides the themes' evidence words."""
KWIC_COLUMNS = ["word", "themes", "item_id", "source", "kind", "left", "term", "right", "start"]
"""``word``: the word as counted (lemma or lexicon form); ``themes``: themes this occurrence is evidence for
(|-joined, empty when it is not evidence); ``left``/``term``/``right``: the text as written; ``start``: the
term's position in the text as written (0-based)."""
_SPACE = re.compile(r"[\r\n\t]+")


def offset_map(raw: str, norm: str) -> list[int]:
    """For each position ``0..len(norm)`` of the normalised text, the position in the raw text it came from.

    Each raw character is NFKC-normalised on its own (so ``㈱`` → ``(株)`` maps back to one character); when
    that equals ``norm`` the map is direct, otherwise the two are aligned (spaces removed, repeated marks
    folded, punctuation changed by normalisation) and positions between aligned blocks follow the last one."""
    expanded: list[str] = []
    back: list[int] = []
    for j, c in enumerate(raw):
        for ch in unicodedata.normalize("NFKC", c):
            expanded.append(ch)
            back.append(j)
    exp = "".join(expanded)
    if exp == norm:
        return [*back, len(raw)]
    out = [-1] * (len(norm) + 1)
    matcher = difflib.SequenceMatcher(None, exp, norm, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            out[b + k] = back[a + k]
    last = 0
    for i in range(len(norm)):
        if out[i] < 0:
            out[i] = min(last, len(raw))
        else:
            last = out[i] + 1
    out[len(norm)] = len(raw)
    return out


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text)


def context(raw: str, norm: str, spans: Sequence[tuple[int, int]], *,
            width: int = CONTEXT) -> list[tuple[str, str, str, int]]:
    """``(left, term, right, raw start)`` for each span of the normalised text, cut from the raw text."""
    m = offset_map(raw, norm) if spans else []
    return [_cut(raw, m, start, end, width) for start, end in spans]


def _cut(raw: str, m: Sequence[int], start: int, end: int, width: int) -> tuple[str, str, str, int]:
    rs = m[min(start, len(m) - 1)]
    re_ = m[end - 1] + 1 if end > start else rs
    return _clean(raw[max(0, rs - width):rs]), _clean(raw[rs:re_]), _clean(raw[re_:re_ + width]), rs


def _evidence_rows(evidence: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for item_id, theme, terms, spans in zip(evidence["item_id"], evidence["theme"], evidence["terms"],
                                            evidence["spans"], strict=True):
        if not isinstance(terms, str) or not isinstance(spans, str) or not terms:
            continue
        for term, span in zip(terms.split("|"), spans.split("|"), strict=False):
            start, _, end = span.partition("-")
            if start.isdigit() and end.isdigit():
                rows.append((str(item_id), str(theme), term, int(start), int(end)))
    return pd.DataFrame(rows, columns=["item_id", "theme", "ev_term", "start", "end"])


def kwic_table(items: pd.DataFrame, terms: pd.DataFrame, evidence: pd.DataFrame, *,
               top_keywords: int = TOP_KEYWORDS, width: int = CONTEXT) -> pd.DataFrame:
    """Every occurrence of the themes' evidence words and of the top keywords, with its context.

    ``terms`` is the analysis' keyword-candidate table (one row per occurrence: ``item_id, term, start, end,
    stopword``), ``evidence`` the theme evidence (``terms`` and ``spans`` per item × theme).  An evidence span
    is named by the word the analysis counted at that place (its lemma: 働き → 働く), else as written in the
    evidence.  Order: words by their number of occurrences (most first), then as the items came, then position.
    """
    ev = _evidence_rows(evidence)
    t = terms[["item_id", "term", "start", "end"]].drop_duplicates(["item_id", "start", "end"])
    t = t.astype({"item_id": str})
    if len(ev):
        ev = ev.merge(t, on=["item_id", "start", "end"], how="left")
        ev["word"] = ev["term"].where(ev["term"].notna(), ev["ev_term"]).astype(str)
    else:
        ev = ev.assign(word=pd.Series(dtype=str))
    content = terms[~terms["stopword"].astype(bool).to_numpy()] if "stopword" in terms.columns else terms
    counts = content.drop_duplicates(["item_id", "term"])["term"].value_counts()
    keywords = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_keywords]
    words = set(ev["word"]) | {w for w, _ in keywords}
    occ = pd.concat([t.loc[t["term"].isin(words), ["item_id", "start", "end", "term"]].rename(columns={"term": "word"}),
                     ev[["item_id", "start", "end", "word"]]], ignore_index=True)
    occ = occ.drop_duplicates(["item_id", "start", "end", "word"])
    themes = (ev.groupby(["item_id", "start", "end"], sort=False)["theme"]
              .agg(lambda s: "|".join(dict.fromkeys(s))).rename("themes").reset_index()) if len(ev) else \
        pd.DataFrame(columns=["item_id", "start", "end", "themes"])
    occ = occ.merge(themes, on=["item_id", "start", "end"], how="left")
    occ["themes"] = occ["themes"].fillna("")
    if not len(occ):
        return pd.DataFrame(columns=KWIC_COLUMNS)

    ids = items[Items.item_id].astype(str).tolist()
    order = {i: n for n, i in enumerate(ids)}
    occ = occ[occ["item_id"].isin(order)].reset_index(drop=True)
    raws = dict(zip(ids, items[Items.raw_text].tolist(), strict=True))
    norms = dict(zip(ids, items[Items.text].tolist(), strict=True))
    sources = dict(zip(ids, items[Items.source].tolist(), strict=True))
    kinds = dict(zip(ids, items[Items.kind].tolist(), strict=True))

    lefts, cuts, rights, starts = [], [], [], []
    maps: dict[str, list[int]] = {}
    for item_id, start, end in zip(occ["item_id"], occ["start"], occ["end"], strict=True):
        norm = str(norms[item_id])
        raw = raws[item_id] if isinstance(raws[item_id], str) and raws[item_id] else norm
        m = maps.get(item_id)
        if m is None:
            if len(maps) > 1000:  # items come in any order; keep the cache small
                maps.clear()
            m = maps[item_id] = offset_map(raw, norm)
        left, cut, right, rs = _cut(raw, m, int(start), int(end), width)
        lefts.append(left)
        cuts.append(cut)
        rights.append(right)
        starts.append(rs)
    n_lines = occ["word"].value_counts()
    out = pd.DataFrame({
        "word": occ["word"], "themes": occ["themes"], "item_id": occ["item_id"],
        "source": occ["item_id"].map(sources), "kind": occ["item_id"].map(kinds),
        "left": lefts, "term": cuts, "right": rights, "start": pd.Series(starts, dtype="int64"),
        "_n": occ["word"].map(n_lines), "_order": occ["item_id"].map(order), "_end": occ["end"],
        "_pos": occ["start"],
    })
    out = out.sort_values(["_n", "word", "_order", "_pos", "_end"], ascending=[False, True, True, True, True],
                          kind="stable")
    return out.reset_index(drop=True)[KWIC_COLUMNS]


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
