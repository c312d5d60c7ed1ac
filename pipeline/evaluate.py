"""Evaluate the tagger against a labelled set: precision, recall and F1 per theme and macro-averaged.

Labels file: an id column, ``text``, and one 0/1 column per theme id (any subset of the codebook's
themes; columns that are not theme ids are ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pipeline.codebook import CORE_THEMES

SCORE_COLUMNS = ["theme", "support", "predicted", "tp", "fp", "fn", "precision", "recall", "f1"]


def label_columns(labels: pd.DataFrame, theme_ids: Sequence[str]) -> list[str]:
    """Theme columns present in a labels frame, in codebook order."""
    return [t for t in theme_ids if t in labels.columns]


def scores(truth: pd.DataFrame, predicted: Sequence[set[str]], themes: Sequence[str]) -> pd.DataFrame:
    """Per-theme counts and P/R/F1, then ``macro`` and (when all four are labelled) ``macro(core)`` rows.

    ``truth`` holds 0/1 columns named by theme; ``predicted`` holds one set of theme ids per row.
    A theme with no positives and no predictions gets P = R = F1 = 1 (nothing to find, nothing wrong).
    """
    rows = []
    for theme in themes:
        y = truth[theme].astype(int).tolist()
        p = [int(theme in s) for s in predicted]
        tp = sum(a and b for a, b in zip(y, p, strict=True))
        fp = sum((not a) and b for a, b in zip(y, p, strict=True))
        fn = sum(a and (not b) for a, b in zip(y, p, strict=True))
        prec = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
        rec = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append({"theme": theme, "support": sum(y), "predicted": sum(p), "tp": tp, "fp": fp, "fn": fn,
                     "precision": round(prec, 3), "recall": round(rec, 3), "f1": round(f1, 3)})
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    summaries = [("macro", out)]
    if all(c in themes for c in CORE_THEMES):
        summaries.append(("macro(core)", out[out["theme"].isin(CORE_THEMES)]))
    extra = []
    for name, part in summaries:
        extra.append({"theme": name, "support": int(part["support"].sum()), "predicted": int(part["predicted"].sum()),
                      "tp": int(part["tp"].sum()), "fp": int(part["fp"].sum()), "fn": int(part["fn"].sum()),
                      "precision": round(float(part["precision"].mean()), 3),
                      "recall": round(float(part["recall"].mean()), 3),
                      "f1": round(float(part["f1"].mean()), 3)})
    return pd.concat([out, pd.DataFrame(extra, columns=SCORE_COLUMNS)], ignore_index=True)


def errors(ids: Sequence[str], texts: Sequence[str], truth: pd.DataFrame, predicted: Sequence[set[str]],
           themes: Sequence[str]) -> pd.DataFrame:
    """Every disagreement: id, theme, ``FP`` or ``FN``, text (for the analyst to review the codebook)."""
    rows = []
    for n, (i, text) in enumerate(zip(ids, texts, strict=True)):
        for theme in themes:
            y, p = int(truth.iloc[n][theme]), theme in predicted[n]
            if y and not p:
                rows.append({"id": i, "theme": theme, "error": "FN", "text": text})
            elif p and not y:
                rows.append({"id": i, "theme": theme, "error": "FP", "text": text})
    return pd.DataFrame(rows, columns=["id", "theme", "error", "text"])


def predicted_sets(themes_by_item: Mapping[str, str], ids: Sequence[str]) -> list[set[str]]:
    return [set(filter(None, themes_by_item.get(i, "").split("|"))) for i in ids]
