"""Evaluate the tagger against a labelled set: precision, recall and F1 per theme and macro-averaged.

Labels file: an id column, ``text``, and one 0/1 column per theme id (any subset of the codebook's
themes; columns that are not theme ids are ignored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pipeline.themes.codebook import CORE_THEMES

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


# ---------------------------------------------------------------------------------------------
# Suggested perspectives against a labelled set
# ---------------------------------------------------------------------------------------------

COVERED, DOCUMENT = "none", "document"
"""Gap labels that are not gaps: a comment about an area the policy table covers; a comment about the plan
document itself (wording, pages, structure, data)."""

GAP_COLUMNS = ["gap", "comments", "best_suggestion", "in_best", "recall", "purity", "proposed", "met"]
MET_RECALL, MET_PURITY = 0.6, 0.7
"""A gap is *met* when one suggestion holds at least this share of its comments and is at least this pure (most of
its comments are about that gap): a perspective an analyst can take as it is."""
SUGGESTION_SCORE_COLUMNS = ["perspective_id", "label", "support", "majority", "purity", "covered", "document"]


def perspective_scores(gaps: Mapping[str, str], suggestions: pd.DataFrame, *,
                       proposed_at: float = 0.8) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Compare suggestions with each comment's expected gap (``gaps``: comment id → a gap name, ``none`` or
    ``document``).

    Returns (per gap: the suggestion holding most of its comments and the share it holds — the gap counts as
    *proposed* when that share is ≥ ``proposed_at``, *met* when it is ≥ :data:`MET_RECALL` and the suggestion's
    purity (below) is ≥ :data:`MET_PURITY`; per suggestion: its majority label and purity, the share of
    its comments carrying that label; totals: gap recall (mean), mean purity, the share of cited comments about
    covered areas, document comments cited)."""
    members = {str(p): [i for i in str(ids).split("|") if i in gaps]
               for p, ids in zip(suggestions["perspective_id"], suggestions["item_ids"], strict=True)}
    labels = dict(zip(suggestions["perspective_id"].astype(str), suggestions["label"], strict=True))
    gap_names = sorted({g for g in gaps.values() if g not in (COVERED, DOCUMENT)})
    srows = []
    for p, ids in members.items():
        counts: dict[str, int] = {}
        for i in ids:
            counts[gaps[i]] = counts.get(gaps[i], 0) + 1
        majority = max(sorted(counts), key=lambda k: counts[k]) if counts else ""
        srows.append({"perspective_id": p, "label": labels[p], "support": len(ids), "majority": majority,
                      "purity": round(counts.get(majority, 0) / len(ids), 3) if ids else 0.0,
                      "covered": counts.get(COVERED, 0), "document": counts.get(DOCUMENT, 0)})
    per_suggestion = pd.DataFrame(srows, columns=SUGGESTION_SCORE_COLUMNS)
    rows = []
    for g in gap_names:
        mine = {i for i, lab in gaps.items() if lab == g}
        best, held = "", 0
        for p, ids in members.items():
            n = len(mine & set(ids))
            if n > held:
                best, held = p, n
        recall = held / len(mine) if mine else 0.0
        pure = round(len(mine & set(members[best])) / len(members[best]), 3) if best and members[best] else 0.0
        rows.append({"gap": g, "comments": len(mine), "best_suggestion": best, "in_best": held,
                     "recall": round(recall, 3), "purity": pure, "proposed": recall >= proposed_at,
                     "met": recall >= MET_RECALL and pure >= MET_PURITY})
    per_gap = pd.DataFrame(rows, columns=GAP_COLUMNS)
    cited = [i for ids in members.values() for i in ids]
    totals = {
        "gaps": len(gap_names),
        "gaps_proposed": int(per_gap["proposed"].sum()) if len(per_gap) else 0,
        "gaps_met": int(per_gap["met"].sum()) if len(per_gap) else 0,
        "gap_recall_mean": round(float(per_gap["recall"].mean()), 3) if len(per_gap) else 0.0,
        "suggestions": len(per_suggestion),
        "purity_mean": round(float(per_suggestion["purity"].mean()), 3) if len(per_suggestion) else 1.0,
        "purity_min": round(float(per_suggestion["purity"].min()), 3) if len(per_suggestion) else 1.0,
        "cited": len(cited),
        "cited_covered_share": round(sum(gaps[i] == COVERED for i in cited) / len(cited), 3) if cited else 0.0,
        "cited_document": sum(gaps[i] == DOCUMENT for i in cited),
    }
    return per_gap, per_suggestion, totals
