"""Which comments an analyst should label first (active learning): for each theme, the comments the tagger is least
sure about, so that half an hour of review teaches the learned layer the most.

How sure the tagger is: with a learned layer (the analysts' labels), its probability — the comments nearest its
threshold; without one, a logistic regression fitted on the meeting's own rule tags (what the rules found stands in
for the labels) — the comments nearest 0.5: untagged comments that read like the tagged ones (a rule may have
missed them) and tagged ones that read unlike the rest (a rule may have misfired).  Deterministic (liblinear, a
fixed seed, stable order); at most :data:`MAX_FIT` comments are fitted (every k-th beyond).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from pipeline.themes.codebook import Codebook

QUEUE_COLUMNS = ["item_id", "theme", "tagged", "certainty"]
PER_THEME = 3
MIN_EACH = 3
"""A theme is queued when the meeting has at least this many comments with it and without it."""
MAX_FIT = 2000


def learning_queue(ids: Sequence[str], texts: Sequence[str], themes: Mapping[str, str], codebook: Codebook, *,
                   model: object | None = None, per_theme: int = PER_THEME, random_state: int = 0) -> pd.DataFrame:
    """The comments whose label would teach the most, ``per_theme`` per theme (:data:`QUEUE_COLUMNS`: the item, the
    theme, whether it is tagged now, the tagger's certainty 0–1 that the theme applies), themes in codebook order,
    most uncertain first."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if not ids:
        return pd.DataFrame(columns=QUEUE_COLUMNS)
    step = max(1, -(-len(ids) // MAX_FIT))
    rows = list(range(0, len(ids), step))
    sub_ids, sub_texts = [ids[r] for r in rows], [texts[r] for r in rows]
    tags = [set(filter(None, themes.get(i, "").split("|"))) for i in sub_ids]
    learned = list(getattr(model, "themes_", []) or [])
    probs = model.predict_proba(sub_texts) if learned else None  # type: ignore[attr-defined]
    x = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True).fit_transform(sub_texts)
    out = []
    for theme in (t.theme_id for t in codebook.themes if t.kind != "document"):
        y = np.array([theme in t for t in tags], dtype=int)
        if theme in learned and probs is not None:
            p = probs[theme].to_numpy(dtype=float)
            centre = float(getattr(model, "thresholds_", {}).get(theme, getattr(model, "threshold", 0.5)))
        elif MIN_EACH <= int(y.sum()) <= len(y) - MIN_EACH:
            fitted = LogisticRegression(class_weight="balanced", solver="liblinear", random_state=random_state,
                                        C=1.0).fit(x, y)
            p, centre = fitted.predict_proba(x)[:, 1], 0.5
        else:
            continue
        order = sorted(range(len(p)), key=lambda k: (abs(float(p[k]) - centre), k))[:per_theme]
        out += [(sub_ids[k], theme, bool(y[k]), round(float(p[k]), 3)) for k in order]
    return pd.DataFrame(out, columns=QUEUE_COLUMNS)
