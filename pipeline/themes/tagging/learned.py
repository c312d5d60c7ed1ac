"""The learned layer: a calibrated logistic regression per theme over character n-grams, trained at run time
from the analysts' labels (nothing pickled); it adds themes the rules missed, never removes one.

Given what the rules already tag on the labelled texts, each theme's threshold is chosen on out-of-fold
probabilities (the texts are split in :data:`FOLDS`; each part is scored by a model that never saw it) as the one
that makes rules + layer agree best with the labels (F1), among those whose added comments are right more often than
chance (:data:`SIGNIFICANCE`); a theme whose best is no better than the rules alone is
not learned at all — a city's hundred labels must not make the tagger worse than its rules."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError
from pipeline.text.normalise import normalise_text
from pipeline.themes.codebook import Codebook
from pipeline.themes.tagging.keys import Occ

log = logging.getLogger(__name__)

FOLDS = 3
THRESHOLDS = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
"""Thresholds tried per theme (0.50 … 0.95)."""
SIGNIFICANCE = 0.05
"""A threshold counts only when the comments it adds to the rules' are right more often than a coin would be
(one-sided sign test, out of fold): a lucky comment or two among a hundred labels is not learning."""


class ThemeClassifier:
    """One-vs-rest theme classifier over character n-grams and compound terms (scikit-learn style).

    ``fit(texts, labels)`` with ``labels`` a frame of 0/1 columns (one per theme id) learns a
    calibrated logistic regression for every theme with at least ``min_positive`` positive and
    negative examples; with fewer than ``min_labels`` labelled texts the layer stays off
    (``themes_ == []``).  With ``baseline`` (the rules' 0/1 tags of the same texts, same columns) each theme's
    threshold is calibrated against the rules (module docstring) and a theme that does not beat them is dropped;
    ``thresholds_`` holds each learned theme's threshold (``threshold`` without a baseline).  Learned state ends in
    ``_``.  Deterministic (liblinear, fixed seed, fixed folds).
    """

    def __init__(self, *, min_labels: int = 30, min_positive: int = 5, threshold: float = 0.6,
                 random_state: int = 0):
        self.min_labels = min_labels
        self.min_positive = min_positive
        self.threshold = threshold
        self.random_state = random_state

    def _model(self, x, y: np.ndarray) -> object:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression

        base = LogisticRegression(class_weight="balanced", solver="liblinear", random_state=self.random_state, C=4.0)
        return CalibratedClassifierCV(base, method="sigmoid", cv=3).fit(x, y)

    def fit(self, texts: Sequence[str], labels: pd.DataFrame,
            baseline: pd.DataFrame | None = None) -> ThemeClassifier:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.themes_: list[str] = []
        self.thresholds_: dict[str, float] = {}
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
            threshold = self.threshold
            if baseline is not None and theme in baseline.columns:
                found = self._threshold(x, y, baseline[theme].astype(int).to_numpy())
                if found is None:
                    log.info("learned layer: %s not learned (no threshold beats the rules on out-of-fold texts)",
                             theme)
                    continue
                threshold = found
            model = self._model(x, y)
            self.models_[theme] = model
            self.thresholds_[theme] = threshold
            self.coef_[theme] = np.mean([c.estimator.coef_[0] for c in model.calibrated_classifiers_], axis=0)
            self.themes_.append(theme)
        return self

    def _threshold(self, x, y: np.ndarray, rules: np.ndarray) -> float | None:
        """The threshold at which rules + layer best match ``y`` on out-of-fold probabilities, or ``None`` when no
        threshold does better than the rules alone (F1)."""
        from scipy.stats import binomtest
        from sklearn.metrics import f1_score
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=self.random_state)
        oof = np.zeros(len(y))
        for train, test in folds.split(np.zeros(len(y)), y):
            if min(int(y[train].sum()), int(len(train) - y[train].sum())) < FOLDS:  # the calibration's own folds
                return None
            oof[test] = self._model(x[train], y[train]).predict_proba(x[test])[:, 1]  # type: ignore[attr-defined]
        best, chosen = float(f1_score(y, rules, zero_division=0)), None
        for t in THRESHOLDS:
            added = (oof >= t) & (rules == 0)
            right, wrong = int((added & (y == 1)).sum()), int((added & (y == 0)).sum())
            score = float(f1_score(y, rules | added, zero_division=0))
            if right and binomtest(right, right + wrong, alternative="greater").pvalue < SIGNIFICANCE \
                    and score > best + 1e-9:
                best, chosen = score, t
        return chosen

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


def train_model(labels: pd.DataFrame, codebook: Codebook, *, classifier: ThemeClassifier | None = None,
                rules: Callable[[list[str]], list[set[str]]] | None = None) -> ThemeClassifier | None:
    """Fit the learned layer on normalised label texts; ``None`` when it would learn no theme.  ``rules`` (normalised
    texts → the themes the rules tag in each) calibrates each theme's threshold against the rules."""
    texts, grid = labels_from_long(labels.assign(text=labels["text"].map(normalise_text)), codebook.theme_ids)
    baseline = None
    if rules is not None and texts:
        tagged = rules(texts)
        baseline = pd.DataFrame({t: [int(t in found) for found in tagged] for t in grid.columns})
    model = (classifier or ThemeClassifier()).fit(texts, grid, baseline)
    return model if model.themes_ else None


