"""The learned layer: a calibrated logistic regression per theme over character n-grams, trained at run time
from the analysts' labels (nothing pickled); it adds themes the rules missed, never removes one."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.text.normalise import normalise_text
from pipeline.themes.codebook import Codebook
from pipeline.themes.tagging.keys import Occ

log = logging.getLogger(__name__)


class ThemeClassifier:
    """One-vs-rest theme classifier over character n-grams and compound terms (scikit-learn style).

    ``fit(texts, labels)`` with ``labels`` a frame of 0/1 columns (one per theme id) learns a
    calibrated logistic regression for every theme with at least ``min_positive`` positive and
    negative examples; with fewer than ``min_labels`` labelled texts the layer stays off
    (``themes_ == []``).  Learned state ends in ``_``.  Deterministic (liblinear, fixed seed).
    """

    def __init__(self, *, min_labels: int = 30, min_positive: int = 5, threshold: float = 0.6,
                 random_state: int = 0):
        self.min_labels = min_labels
        self.min_positive = min_positive
        self.threshold = threshold
        self.random_state = random_state

    def fit(self, texts: Sequence[str], labels: pd.DataFrame) -> ThemeClassifier:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.themes_: list[str] = []
        self.models_: dict[str, object] = {}
        self.coef_: dict[str, np.ndarray] = {}
        self.vectorizer_ = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=1)
        if len(texts) < self.min_labels:
            log.info("learned layer off: %d labelled texts < %d", len(texts), self.min_labels)
            return self
        x = self.vectorizer_.fit_transform(list(texts))
        for theme in labels.columns:
            y = labels[theme].astype(int).to_numpy()
            pos, neg = int(y.sum()), int(len(y) - y.sum())
            if pos < self.min_positive or neg < self.min_positive:
                continue
            base = LogisticRegression(class_weight="balanced", solver="liblinear", random_state=self.random_state,
                                      C=4.0)
            model = CalibratedClassifierCV(base, method="sigmoid", cv=3).fit(x, y)
            self.models_[theme] = model
            self.coef_[theme] = np.mean([c.estimator.coef_[0] for c in model.calibrated_classifiers_], axis=0)
            self.themes_.append(theme)
        return self

    def predict_proba(self, texts: Sequence[str]) -> pd.DataFrame:
        """Probability of each learned theme for each text (columns = ``themes_``)."""
        if not self.themes_ or not texts:
            return pd.DataFrame(index=range(len(texts)), columns=self.themes_, dtype=float)
        x = self.vectorizer_.transform(list(texts))
        return pd.DataFrame({t: self.models_[t].predict_proba(x)[:, 1] for t in self.themes_})  # type: ignore[attr-defined]

    def evidence(self, text: str, theme: str, *, top: int = 3) -> list[Occ]:
        """The n-grams of ``text`` that push most towards ``theme``, as spans in ``text``."""
        x = self.vectorizer_.transform([text])
        contrib = x.multiply(self.coef_[theme]).tocsr()
        order = np.argsort(-contrib.data, kind="stable")
        vocab = self.vectorizer_.get_feature_names_out()
        occs: list[Occ] = []
        for k in order[:top]:
            if contrib.data[k] <= 0:
                break
            gram = vocab[contrib.indices[k]]
            pos = text.find(gram)
            if pos >= 0:
                occs.append(Occ(pos, pos + len(gram), -1, -1))
        return sorted(set(occs))


def labels_from_long(frame: pd.DataFrame, theme_ids: Sequence[str]) -> tuple[list[str], pd.DataFrame]:
    """Analyst labels (``text, theme, label`` rows) → texts and a 0/1 frame, one column per theme.

    A text labelled 1 for some themes counts as 0 for the themes it was not labelled with.
    """
    if frame.empty:
        return [], pd.DataFrame(columns=list(theme_ids))
    texts = list(dict.fromkeys(frame["text"]))
    index = {t: i for i, t in enumerate(texts)}
    grid = np.zeros((len(texts), len(theme_ids)), dtype=int)
    col = {t: j for j, t in enumerate(theme_ids)}
    for text, theme, label in zip(frame["text"], frame["theme"], frame["label"], strict=True):
        if theme in col:
            grid[index[text], col[theme]] = int(label)
    return texts, pd.DataFrame(grid, columns=list(theme_ids))


THEME_LABEL_COLUMNS = ["meeting_id", "item_id", "text", "theme", "label"]
"""``models/theme_labels.csv``: analyst-confirmed theme labels (label 1 = has the theme, 0 = not)."""


def load_theme_labels(path: Path) -> pd.DataFrame:
    """Read the analyst label file; a missing file means no labels."""
    if not path.is_file():
        return pd.DataFrame(columns=THEME_LABEL_COLUMNS)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in ("text", "theme", "label") if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: 列 {missing} がありません / missing columns {missing}")
    bad = frame[~frame["label"].isin(["0", "1"])]
    if len(bad):
        raise ConfigError(f"{path}: {int(bad.index[0]) + 2}行目: label は 0 か 1 / label must be 0 or 1")
    return frame.assign(label=frame["label"].astype(int))


def train_model(labels: pd.DataFrame, codebook: Codebook, *,
                classifier: ThemeClassifier | None = None) -> ThemeClassifier | None:
    """Fit the learned layer on normalised label texts; ``None`` when it would learn no theme."""
    texts, grid = labels_from_long(labels.assign(text=labels["text"].map(normalise_text)), codebook.theme_ids)
    model = (classifier or ThemeClassifier()).fit(texts, grid)
    return model if model.themes_ else None


