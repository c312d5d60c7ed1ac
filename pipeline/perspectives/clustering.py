"""Cluster cards and comments into readable groups (labels by class-based TF-IDF).

Method, chosen by size:
- up to ``large_n`` items: TF-IDF over content lemmas and compounds → LSA (TruncatedSVD) → L2 rows →
  Ward agglomerative clustering.  The number of clusters k is the one with the best mean cosine
  silhouette among 2 … min(``max_k``, n // 3); clusters smaller than ``min_size`` are merged into the
  nearest cluster (no singleton soup, nobody left as an "outlier").  k is capped at √(n/2) (a classic
  rule of thumb): on short texts the silhouette keeps rising with k and would otherwise split a meeting
  into pairs.
- above ``large_n``: the same vectors → MiniBatchKMeans; k by silhouette on a fixed sample of
  ``sample_size`` items over a small grid.  Never builds an n × n matrix.  Above ``fit_size`` items each k is
  fitted on a fixed random ``fit_size`` of them and every item goes to the nearest centre; the LSA basis too is
  fitted on such a sample and every item projected on it, in blocks, into single-precision vectors (half the
  memory: ≈ 0.4 GiB at 1,000,000 items; a meeting of ``fit_size`` items or fewer keeps double precision).

Deterministic: fixed ``random_state``; clusters are numbered K1, K2 … by size (desc), then by their
first item.  Labels: top terms by c-TF-IDF (BERTopic's formula) and the item nearest the centroid.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.schemas import Cluster, Items, columns

if TYPE_CHECKING:
    from scipy import sparse

    from pipeline.measures.matching import MatchResult

CLUSTER_COLUMNS = columns(Cluster)


class ItemClusterer:
    """scikit-learn style clusterer over short Japanese texts.

    ``fit(texts)`` sets ``labels_`` (cluster index per text, −1 for texts without content terms),
    ``k_``, ``method_`` (``"ward"`` or ``"minibatch-kmeans"``), ``silhouette_`` (per tried k),
    ``vectors_`` (LSA rows) and ``terms_`` (content terms per text).
    """

    def __init__(self, *, analyzer: Callable[[str], list[str]], max_k: int = 12, min_size: int = 2,
                 large_n: int = 3000, sample_size: int = 2000, fit_size: int = 20_000, n_components: int = 100,
                 random_state: int = 0):
        self.analyzer = analyzer
        self.max_k = max_k
        self.min_size = min_size
        self.large_n = large_n
        self.sample_size = sample_size
        self.fit_size = fit_size
        self.n_components = n_components
        self.random_state = random_state

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        self.terms_ = [self.analyzer(t) for t in texts]
        vec = TfidfVectorizer(analyzer=lambda terms: terms, sublinear_tf=True)
        x = vec.fit_transform(self.terms_)
        dims = min(self.n_components, x.shape[0] - 1, x.shape[1] - 1)
        if dims >= 2 and x.shape[0] > self.fit_size:
            # the LSA basis from a fixed random fit_size of the items, every item projected on it: the randomized
            # SVD's dense n × (dims + 10) temporaries were the run's peak (≈ 0.3 GiB over 100,000 items)
            rows = np.sort(np.random.default_rng(self.random_state).choice(x.shape[0], size=self.fit_size,
                                                                            replace=False))
            svd = TruncatedSVD(n_components=dims, random_state=self.random_state).fit(x[rows])
            return project(x, svd.components_.T)
        elif dims >= 2:
            x = TruncatedSVD(n_components=dims, random_state=self.random_state).fit_transform(x)
        else:
            x = x.toarray()
        return normalize(np.asarray(x, dtype=float), copy=False)

    def fit(self, texts: Sequence[str]) -> ItemClusterer:
        n = len(texts)
        self.silhouette_: dict[int, float] = {}
        if n == 0:
            self.labels_, self.k_, self.method_ = np.zeros(0, dtype=int), 0, "none"
            self.vectors_ = np.zeros((0, 0))
            self.terms_ = []
            return self
        x = self._vectors(texts)
        self.vectors_ = x
        has_terms = np.array([bool(t) for t in self.terms_])
        labels = np.full(n, -1, dtype=int)
        idx = np.flatnonzero(has_terms)
        m = len(idx)
        if m < 2 * self.min_size or m < 4:
            labels[idx] = 0
            self.k_, self.method_ = (1 if m else 0), "single"
        elif m <= self.large_n:
            labels[idx] = self._ward(x[idx])
            self.method_ = "ward"
        else:
            labels[idx] = self._kmeans(x if m == n else x[idx])  # every item with terms: no copy of the vectors
            self.method_ = "minibatch-kmeans"
        self.labels_ = _renumber(labels)
        self.k_ = int(self.labels_.max() + 1) if m else 0
        return self

    def _ward(self, x: np.ndarray) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.metrics import silhouette_score

        n = len(x)
        best: tuple[float, int, np.ndarray] | None = None
        cap = min(self.max_k, n // 3, max(2, round(math.sqrt(n / 2))))
        for k in range(2, max(2, cap) + 1):
            labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)
            labels = _merge_small(x, labels, self.min_size)
            if len(set(labels)) < 2:
                continue
            score = float(silhouette_score(x, labels, metric="cosine"))
            self.silhouette_[k] = round(score, 4)
            if best is None or score > best[0] + 1e-9:
                best = (score, k, labels)
        if best is None:
            return np.zeros(n, dtype=int)
        return best[2]

    def _kmeans(self, x: np.ndarray) -> np.ndarray:
        from sklearn.cluster import MiniBatchKMeans
        from sklearn.metrics import silhouette_score

        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(len(x), size=min(self.sample_size, len(x)), replace=False))
        # above fit_size items, each k is fitted on a random fit_size of them (mini-batch k-means samples anyway)
        # and every item is assigned to the nearest centre of that fit
        fit = x if len(x) <= self.fit_size else x[np.sort(rng.choice(len(x), size=self.fit_size, replace=False))]
        best: tuple[float, int, np.ndarray] | None = None
        for k in (4, 6, 8, 10, 12, 16, 20, 30):
            if k >= len(sample):
                break
            model = MiniBatchKMeans(n_clusters=k, random_state=self.random_state, n_init=3, batch_size=2048)
            labels = model.fit_predict(x) if fit is x else model.fit(fit).predict(x)
            score = float(silhouette_score(x[sample], labels[sample], metric="cosine"))
            self.silhouette_[k] = round(score, 4)
            if best is None or score > best[0] + 1e-9:
                best = (score, k, labels)
        assert best is not None
        return _merge_small(x, best[2], self.min_size)


PROJECT_ROWS = 50_000
"""Rows projected at a time by :func:`project` (its double-precision temporary: 50,000 × 100 × 8 bytes)."""


def project(x: sparse.csr_matrix, basis: np.ndarray) -> np.ndarray:
    """``normalize(x @ basis)`` as single-precision rows, computed :data:`PROJECT_ROWS` rows at a time: the same
    values as ``TruncatedSVD.transform`` then ``normalize``, rounded to float32, without the n × dims
    double-precision matrix."""
    from sklearn.preprocessing import normalize

    out = np.empty((x.shape[0], basis.shape[1]), dtype=np.float32)
    for start in range(0, x.shape[0], PROJECT_ROWS):
        block = x[start:start + PROJECT_ROWS]
        out[start:start + block.shape[0]] = normalize(np.asarray(block @ basis), copy=False)
    return out


def _merge_small(x: np.ndarray, labels: np.ndarray, min_size: int) -> np.ndarray:
    """Move members of clusters smaller than ``min_size`` to the nearest larger cluster (by centroid)."""
    labels = labels.copy()
    while True:
        sizes = Counter(labels.tolist())
        small = sorted(c for c, s in sizes.items() if s < min_size)
        big = sorted(c for c, s in sizes.items() if s >= min_size)
        if not small or not big:
            return labels
        cents = np.stack([x[labels == c].mean(axis=0) for c in big])
        c = small[0]
        for i in np.flatnonzero(labels == c):
            labels[i] = big[_first_best(cents @ x[i])]


TIE = 9
"""Decimals of a cosine compared when choosing the nearest: equal ones are a tie, won by the first (two members are
equally near their centroid; the last bits of a sum depend on how native code splits it)."""


def _first_best(scores: np.ndarray) -> int:
    """The position of the highest score, the first of those equal to :data:`TIE` decimals."""
    return int(np.argmax(np.round(scores, TIE)))


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Cluster numbers by size (desc), then first member; −1 stays −1."""
    valid = [c for c in set(labels.tolist()) if c >= 0]
    first = {c: int(np.flatnonzero(labels == c)[0]) for c in valid}
    order = sorted(valid, key=lambda c: (-int((labels == c).sum()), first[c]))
    mapping = {c: i for i, c in enumerate(order)} | {-1: -1}
    return np.array([mapping[c] for c in labels.tolist()], dtype=int)


def ctfidf_terms(terms: Sequence[Sequence[str]], labels: Sequence[int], *, top: int = 5) -> dict[int, list[str]]:
    """Top terms per cluster by class-based TF-IDF: tf(t, c) · log(1 + A / f(t))."""
    per: dict[int, Counter[str]] = {}
    for ts, c in zip(terms, labels, strict=True):
        if c >= 0:
            per.setdefault(c, Counter()).update(ts)
    total = Counter[str]()
    for cnt in per.values():
        total.update(cnt)
    avg = (sum(total.values()) / len(per)) if per else 0.0
    out = {}
    for c, cnt in per.items():
        size = sum(cnt.values()) or 1
        scored = sorted(((cnt[t] / size) * math.log(1 + avg / total[t]), t) for t in cnt)
        scored.sort(key=lambda st: (-st[0], st[1]))
        out[c] = [t for _, t in scored[:top]]
    return out


def cluster_table(scope: str, ids: Sequence[str], texts: Sequence[str], model: ItemClusterer,
                  *, prefix: str = "K", originals: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per cluster: label (top terms), representative item (nearest the centroid), members.

    ``originals``: the texts as written (masked), quoted as the representative (default ``texts``)."""
    quoted = texts if originals is None else originals
    labels = model.labels_
    tops = ctfidf_terms(model.terms_, labels.tolist())
    rows = []
    for c in range(model.k_):
        members = np.flatnonzero(labels == c)
        if not len(members):
            continue
        cent = model.vectors_[members].mean(axis=0)
        rep = int(members[_first_best(model.vectors_[members] @ cent)])
        terms = tops.get(c, [])
        rows.append({
            "scope": scope, "cluster": f"{prefix}{c + 1}", "size": len(members),
            "label": "・".join(terms[:3]), "top_terms": "|".join(terms),
            "representative_id": ids[rep], "representative_text": quoted[rep],
            "item_ids": "|".join(ids[i] for i in members),
        })
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def cluster_ids(ids: Sequence[str], model: ItemClusterer, *, prefix: str = "K") -> dict[str, str]:
    """item id → cluster id (``""`` for items without content terms)."""
    return {i: (f"{prefix}{c + 1}" if c >= 0 else "") for i, c in zip(ids, model.labels_.tolist(), strict=True)}


@dataclass(frozen=True)
class Clusters:
    """Clusters of all items (``K…``) and of the items no theme or measure explains (``U…``)."""

    table: pd.DataFrame
    cluster_of: dict[str, str]
    unexplained: pd.DataFrame
    method: str
    k: int
    silhouette: Mapping[int, float]


def cluster_meeting(items: pd.DataFrame, themes: Mapping[str, str], matches: MatchResult, *,
                    terms: Callable[[str], list[str]], random_state: int = 0) -> Clusters:
    """Items → clusters (all items as ``K…``, unexplained items as ``U…``)."""
    ids, texts, raw = items[Items.item_id].tolist(), items[Items.text].tolist(), items[Items.raw_text].tolist()
    model = ItemClusterer(analyzer=terms, random_state=random_state).fit(texts)
    table = cluster_table("all", ids, texts, model, prefix="K", originals=raw)
    loose = [n for n, i in enumerate(ids) if not themes.get(i) and not matches.measures_by_item.get(i)]
    u_ids, u_texts = [ids[n] for n in loose], [texts[n] for n in loose]
    unexplained = pd.DataFrame(columns=table.columns)
    if len(u_ids) >= 3:
        umodel = ItemClusterer(analyzer=terms, random_state=random_state).fit(u_texts)
        unexplained = cluster_table("unexplained", u_ids, u_texts, umodel, prefix="U",
                                    originals=[raw[n] for n in loose])
    return Clusters(table=table, cluster_of=cluster_ids(ids, model, prefix="K"), unexplained=unexplained,
                    method=model.method_, k=model.k_, silhouette=model.silhouette_)
