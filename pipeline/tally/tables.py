"""Small tables derived from the items: the tagged items and the top keywords per kind (pure)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pipeline.schemas import TAGGED_COLUMNS, Items, Tagged


def top_keywords(items: pd.DataFrame, terms: pd.DataFrame, *, n: int = 10) -> pd.DataFrame:
    """:class:`Items` + ``item_terms`` rows in → the ``n`` most widespread keywords per kind.

    A keyword's count is the number of items (cards/comments) containing it, so one long comment
    repeating a word does not dominate.  Ties are broken by the term, so the order is stable.
    Columns: kind, rank, term, items.
    """
    kinds = list(dict.fromkeys(items[Items.kind]))
    if _coded_by_item(items, terms):
        return _top_keywords_coded(items, terms, kinds, n)
    words = terms.loc[~terms["stopword"].to_numpy(bool), [Items.item_id, "term"]].astype(str)  # coded or not
    use = words.merge(items[[Items.item_id, Items.kind]], on=Items.item_id)
    use = use.drop_duplicates([Items.item_id, "term"])
    rows = []
    for kind in kinds:
        counts = use[use[Items.kind] == kind].groupby("term").size().reset_index(name="items")
        counts = counts.sort_values(["items", "term"], ascending=[False, True], kind="mergesort").head(n)
        rows += [(kind, rank, t, int(c)) for rank, (t, c) in enumerate(zip(counts["term"], counts["items"],
                                                                         strict=True), start=1)]
    return pd.DataFrame(rows, columns=["kind", "rank", "term", "items"])


def _coded_by_item(items: pd.DataFrame, terms: pd.DataFrame) -> bool:
    """True when ``terms`` is the analysis' coded table (pipeline.run.items.coded_terms): items by their row."""
    if not {Items.item_id, "term", "stopword"} <= set(terms.columns):
        return False
    item, term = terms[Items.item_id].dtype, terms["term"].dtype
    return (isinstance(item, pd.CategoricalDtype) and isinstance(term, pd.CategoricalDtype)
            and items[Items.item_id].is_unique
            and terms[Items.item_id].cat.categories.equals(pd.Index(items[Items.item_id].astype(str))))


def _top_keywords_coded(items: pd.DataFrame, terms: pd.DataFrame, kinds: list[str], n: int) -> pd.DataFrame:
    """:func:`top_keywords` counted on the codes (a 100,000-comment meeting has two million keyword rows: no text
    column is built for them)."""
    keep = ~terms["stopword"].to_numpy(bool)
    item = terms[Items.item_id].cat.codes.to_numpy()[keep].astype(np.int64)
    term = terms["term"].cat.codes.to_numpy()[keep].astype(np.int64)
    known = (item >= 0) & (term >= 0)
    size = max(len(items), 1)
    pairs = np.unique(term[known] * size + item[known])  # each (word, item) once
    kind_of = pd.Index(kinds).get_indexer(items[Items.kind])
    words = terms["term"].cat.categories
    counts = np.bincount(kind_of[pairs % size] * len(words) + pairs // size,
                         minlength=len(kinds) * len(words)).reshape(len(kinds), len(words))
    rows = []
    for k, kind in enumerate(kinds):
        held = np.flatnonzero(counts[k])
        top = sorted(zip((-counts[k, held]).tolist(), words[held].astype(str).tolist(), strict=True))[:n]
        rows += [(kind, rank, t, -c) for rank, (c, t) in enumerate(top, start=1)]
    return pd.DataFrame(rows, columns=["kind", "rank", "term", "items"])


def extra_columns(items: pd.DataFrame) -> list[str]:
    """The columns after the contract ones in the tagged items: ``section``, ``question`` and the attributes,
    each only when some item has a value.  The city's ``reply`` is never among them (it is not a comment)."""
    known = set(Items.to_schema().columns)
    candidates = [Items.section, Items.question, *(c for c in items.columns if c not in known)]
    return [c for c in candidates if c in items.columns and (items[c].astype(str).str.strip() != "").any()]


def tagged_table(items: pd.DataFrame, *, themes: Mapping[str, str] | None = None,
                 measures: Mapping[str, str] | None = None, clusters: Mapping[str, str] | None = None,
                 new_perspective: Mapping[str, int] | None = None) -> pd.DataFrame:
    """:class:`Items` in → the tagged items (:class:`Tagged`), one row per card and comment: the contract
    columns, then :func:`extra_columns`.  The analysis columns are filled from the given mappings (item id →
    value), empty otherwise."""
    ids = items[Items.item_id]
    out = pd.DataFrame({
        Tagged.item_id: ids,
        Tagged.source: items[Items.source],
        Tagged.kind: items[Items.kind],
        Tagged.text: items[Items.text],
        Tagged.themes: [(themes or {}).get(i, "") for i in ids],
        Tagged.measures: [(measures or {}).get(i, "") for i in ids],
        Tagged.cluster: [(clusters or {}).get(i, "") for i in ids],
        Tagged.new_perspective: pd.Series([int((new_perspective or {}).get(i, 0)) for i in ids],
                                          index=ids.index, dtype="int64"),
    })
    out = out.astype({c: str for c in TAGGED_COLUMNS if c != Tagged.new_perspective})
    extra = extra_columns(items)
    for c in extra:
        out[c] = items[c].astype(str).to_numpy()
    return Tagged.validate(out[[*TAGGED_COLUMNS, *extra]].reset_index(drop=True))
