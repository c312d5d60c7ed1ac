"""Cross tables of themes: by kind, by pillar, by attribute (年代, 地区, a survey's question …), and the comments
beside the city's replies.  Pure functions of the items and their themes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pipeline.schemas import FEEDBACK_KINDS, Items, Measures
from pipeline.tally import NO_PILLAR


def theme_by_kind(items: pd.DataFrame, themes: Mapping[str, str], theme_ids: Sequence[str]) -> pd.DataFrame:
    """Items per theme (rows, codebook order) and kind (columns: カード, then the comment kinds)."""
    present = list(dict.fromkeys(items[Items.kind]))
    kinds = [k for k in ["カード", *FEEDBACK_KINDS] if k in present] + [k for k in present
                                                                     if k not in ("カード", *FEEDBACK_KINDS)]
    counts = {t: dict.fromkeys(kinds, 0) for t in theme_ids}
    for item_id, kind in zip(items[Items.item_id].tolist(), items[Items.kind].tolist(), strict=True):
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t in counts:
                counts[t][kind] += 1
    out = pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *kinds])
    out["total"] = out[kinds].sum(axis=1).astype("int64")
    return out


def theme_by_pillar(items: pd.DataFrame, themes: Mapping[str, str], measures_by_item: Mapping[str, str],
                    measures: pd.DataFrame, theme_ids: Sequence[str]) -> pd.DataFrame:
    """Items per theme and pillar (through the item's measures; ``(なし)`` when it matches none)."""
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    pillars = [*dict.fromkeys(measures[Measures.pillar_id]), NO_PILLAR]
    counts = {t: dict.fromkeys(pillars, 0) for t in theme_ids}
    for item_id in items[Items.item_id].tolist():
        ps = {pillar_of[m] for m in filter(None, measures_by_item.get(item_id, "").split("|")) if m in pillar_of}
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t not in counts:
                continue
            for p in ps or {NO_PILLAR}:
                counts[t][p] += 1
    return pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *pillars])


MAX_ATTRIBUTE_VALUES = 30
"""An attribute with more distinct values (free answers, names) is not cross-tabulated."""


def attribute_columns(items: pd.DataFrame) -> list[str]:
    """The items' attribute columns with a value somewhere, and ``question`` when there are several."""
    known = set(Items.to_schema().columns)
    attrs = [c for c in items.columns if c not in known and (items[c].astype(str).str.strip() != "").any()]
    if items[Items.question].nunique() > 1:
        attrs = [Items.question, *attrs]
    return attrs


def theme_by_attribute(items: pd.DataFrame, themes: Mapping[str, str], theme_ids: Sequence[str]) -> pd.DataFrame:
    """Comments per attribute value (年代, 地区, 記入者の所属, a survey's question …) and theme: one row per
    attribute, value and theme with at least one comment (values with no theme are counted under ``(なし)``).
    Attributes of more than :data:`MAX_ATTRIBUTE_VALUES` values are left out."""
    rows = []
    order = {t: i for i, t in enumerate(theme_ids)}
    for attr in attribute_columns(items):
        values = items[attr].astype(str).str.strip()
        if values.nunique() > MAX_ATTRIBUTE_VALUES:
            continue
        counts: dict[tuple[str, str], int] = {}
        for item_id, value in zip(items[Items.item_id].tolist(), values.tolist(), strict=True):
            for t in [t for t in themes.get(item_id, "").split("|") if t] or ["(なし)"]:
                counts[(value or "(空欄)", t)] = counts.get((value or "(空欄)", t), 0) + 1
        value_order = {v: n for n, v in enumerate(dict.fromkeys(v or "(空欄)" for v in values))}
        for (value, t), n in sorted(counts.items(), key=lambda kv: (value_order[kv[0][0]],
                                                                    order.get(kv[0][1], len(order)))):
            rows.append({"attribute": attr, "value": value, "theme": t, "items": n})
    return pd.DataFrame(rows, columns=["attribute", "value", "theme", "items"])


def replies_table(items: pd.DataFrame, themes: Mapping[str, str]) -> pd.DataFrame:
    """Each comment (as written) beside the city's reply, with its section and themes; empty when no comment
    has a reply.  The reply is shown, never analysed."""
    fb = items[items[Items.source] == "feedback"]
    columns = ["item_id", "section", "text", "reply", "themes"]
    if not (fb[Items.reply].str.strip() != "").any():
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({"item_id": fb[Items.item_id], "section": fb[Items.section], "text": fb[Items.raw_text],
                         "reply": fb[Items.reply], "themes": [themes.get(i, "") for i in fb[Items.item_id]]},
                        columns=columns).reset_index(drop=True)

