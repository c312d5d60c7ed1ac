"""Clustering: small meetings (no singleton soup), the large-N path, labels, determinism."""

from __future__ import annotations

import random

import numpy as np
import pytest

from pipeline.measures.matching import content_terms
from pipeline.perspectives.clustering import ItemClusterer, cluster_ids, cluster_table, ctfidf_terms
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Tokeniser

DISASTER = ["災害時に避難が難しい人の個別避難計画が必要", "避難所の場所を知らせる防災訓練をしたい",
            "地震や台風の避難に支援が要る高齢者", "災害時の安否確認と避難の支援を地域で",
            "防災訓練に障害のある人も参加できるように"]
CONSULT = ["気軽に相談できる窓口がほしい", "どこに相談すればよいかわからない家族がいる",
           "夜間でも電話で相談できる窓口があると安心", "相談窓口をたらい回しにされない仕組み",
           "相談先がわからず一人で悩む人がいる"]


@pytest.fixture(scope="module")
def analyzer(tokeniser: Tokeniser, stopwords: frozenset[str]):
    return lambda s: content_terms(tokeniser, s, stopwords)


def fit(analyzer, texts: list[str], **kw) -> ItemClusterer:
    return ItemClusterer(analyzer=analyzer, **kw).fit([normalise_text(t) for t in texts])


def test_two_topics_are_separated_without_singletons(analyzer) -> None:
    model = fit(analyzer, DISASTER + CONSULT)
    assert model.method_ == "ward"
    assert model.k_ == 2
    labels = model.labels_.tolist()
    assert len(set(labels[:5])) == 1 and len(set(labels[5:])) == 1 and labels[0] != labels[5]
    assert min(np.bincount(model.labels_)) >= 2


def test_small_meeting_never_leaves_singletons(analyzer) -> None:
    texts = DISASTER + CONSULT + ["モチベーションが上がった", "今日は楽しかった", "子ども食堂を手伝いたい"]
    model = fit(analyzer, texts)
    counts = np.bincount(model.labels_[model.labels_ >= 0])
    assert counts.min() >= 2
    assert (model.labels_ >= 0).sum() == len(texts)          # nobody is an outlier


def test_tiny_input_is_one_cluster_and_empty_text_has_none(analyzer) -> None:
    model = fit(analyzer, ["相談窓口がほしい", "避難が心配", "。。"])
    assert model.labels_.tolist() == [0, 0, -1]
    assert cluster_ids(["a", "b", "c"], model) == {"a": "K1", "b": "K1", "c": ""}


def test_clusters_are_numbered_by_size_and_deterministic(analyzer) -> None:
    texts = DISASTER + CONSULT[:3]
    a, b = fit(analyzer, texts), fit(analyzer, texts)
    assert a.labels_.tolist() == b.labels_.tolist()
    table = cluster_table("all", [f"F{i}" for i in range(len(texts))], texts, a)
    assert table["cluster"].tolist()[0] == "K1" and table["size"].tolist() == sorted(table["size"], reverse=True)
    assert table.equals(cluster_table("all", [f"F{i}" for i in range(len(texts))], texts, b))
    k1 = table.iloc[0]
    assert k1["representative_id"] in k1["item_ids"].split("|")
    assert "避難" in k1["top_terms"]


def test_ctfidf_by_hand() -> None:
    terms = [["避難", "防災"], ["避難"], ["相談"], ["相談", "窓口"]]
    got = ctfidf_terms(terms, [0, 0, 1, 1], top=2)
    # cluster 0: tf 避難 2/3, 防災 1/3; A = 6/2 = 3; f(避難)=2, f(防災)=1
    # 避難: 2/3 · log(1 + 3/2) = 0.611 ; 防災: 1/3 · log(1 + 3) = 0.462
    assert got[0] == ["避難", "防災"]
    assert got[1] == ["相談", "窓口"]


@pytest.mark.slow                                                   # a large generated corpus
def test_large_n_uses_minibatch_kmeans_on_a_generated_corpus(analyzer) -> None:
    rng = random.Random(0)
    pool = DISASTER + CONSULT
    texts = [f"{rng.choice(pool)}。{rng.choice(['本当に', 'ぜひ', 'もっと'])}" for _ in range(1200)]
    model = fit(analyzer, texts, large_n=500, sample_size=400)
    assert model.method_ == "minibatch-kmeans"
    assert model.k_ >= 2 and set(model.silhouette_) <= {4, 6, 8, 10, 12, 16, 20, 30}
    assert (model.labels_ >= 0).all()
    # disaster and consultation texts do not share a cluster
    first = {t.split("。")[0] for t in texts}
    by_text = {t: model.labels_[i] for i, t in enumerate(texts)}
    d = {by_text[t] for t in texts if t.split("。")[0] in DISASTER}
    c = {by_text[t] for t in texts if t.split("。")[0] in CONSULT}
    assert first and not (d & c)


@pytest.mark.slow                                                   # a large generated corpus
def test_above_fit_size_k_means_is_fitted_on_a_sample_and_assigns_every_item(analyzer) -> None:
    """A very large meeting fits each k on a fixed random part of the items: every item still gets a cluster, the
    two topics stay apart, and the result is the same on every run; at or below fit_size nothing changes."""
    rng = random.Random(1)
    pool = DISASTER + CONSULT
    texts = [f"{rng.choice(pool)}。{rng.choice(['本当に', 'ぜひ', 'もっと'])}" for _ in range(1200)]
    sampled = fit(analyzer, texts, large_n=500, sample_size=400, fit_size=300)
    again = fit(analyzer, texts, large_n=500, sample_size=400, fit_size=300)
    assert sampled.method_ == "minibatch-kmeans" and (sampled.labels_ >= 0).all()
    assert np.array_equal(sampled.labels_, again.labels_) and sampled.silhouette_ == again.silhouette_
    label = {t: sampled.labels_[i] for i, t in enumerate(texts)}
    assert not ({label[t] for t in texts if t.split("。")[0] in DISASTER}
                & {label[t] for t in texts if t.split("。")[0] in CONSULT})
    whole = fit(analyzer, texts, large_n=500, sample_size=400, fit_size=1200)
    default = fit(analyzer, texts, large_n=500, sample_size=400)
    assert np.array_equal(whole.labels_, default.labels_) and whole.silhouette_ == default.silhouette_


def test_a_tie_for_nearest_goes_to_the_first_whatever_the_last_bits() -> None:
    """Two members are equally near their centroid; how native code splits a sum moves the last bits, never the
    choice."""
    from pipeline.perspectives.clustering import _first_best

    assert _first_best(np.array([0.5, 0.5 + 1e-15, 0.2])) == 0
    assert _first_best(np.array([0.5 - 1e-15, 0.5, 0.2])) == 0
    assert _first_best(np.array([0.1, 0.3, 0.2999999])) == 1


def test_the_representative_of_two_members_is_the_first(analyzer) -> None:
    texts = ["障害者団体の活動を支援する", "障害者団体の活動について連携したい",
             "子育て世帯の居場所づくり", "子育て中の親子の居場所がほしい"]
    model = fit(analyzer, texts)
    table = cluster_table("all", ["C1", "F1", "C2", "F2"], [normalise_text(t) for t in texts], model)
    assert sorted(table["item_ids"]) == ["C1|F1", "C2|F2"]
    assert table["representative_id"].tolist() == [ids.split("|")[0] for ids in table["item_ids"]]


@pytest.mark.slow                                                   # a large generated corpus
def test_above_fit_size_the_lsa_basis_comes_from_the_same_sample_and_every_item_is_projected(analyzer) -> None:
    """The TruncatedSVD is fitted on a fixed random fit_size of the items (sorted rows of ``default_rng(seed)``) and
    every item is projected on that basis: the vectors are those of doing it by hand, rounded to float32."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    rng = random.Random(2)
    texts = [normalise_text(f"{rng.choice(DISASTER + CONSULT)}。{rng.choice(['本当に', 'ぜひ', 'もっと', '早く'])}")
             for _ in range(400)]
    model = ItemClusterer(analyzer=analyzer, large_n=100, sample_size=200, fit_size=150, n_components=10).fit(texts)
    x = TfidfVectorizer(analyzer=lambda terms: terms, sublinear_tf=True).fit_transform([analyzer(t) for t in texts])
    rows = np.sort(np.random.default_rng(0).choice(400, size=150, replace=False))
    by_hand = normalize(TruncatedSVD(n_components=10, random_state=0).fit(x[rows]).transform(x))
    assert model.vectors_.shape == (400, 10) and model.vectors_.dtype == np.float32
    np.testing.assert_array_equal(model.vectors_, by_hand.astype(np.float32))
    assert np.allclose(np.linalg.norm(model.vectors_, axis=1), 1.0, atol=1e-6)
    # at fit_size or below, the basis is fitted on all items, in double precision (as before)
    whole = ItemClusterer(analyzer=analyzer, large_n=100, sample_size=200, fit_size=400, n_components=10).fit(texts)
    all_rows = normalize(TruncatedSVD(n_components=10, random_state=0).fit_transform(x))
    assert whole.vectors_.dtype == np.float64
    np.testing.assert_allclose(whole.vectors_, all_rows, rtol=0, atol=1e-12)


def test_project_in_blocks_equals_the_whole_product_normalised(monkeypatch) -> None:
    """project() cuts the rows into blocks of PROJECT_ROWS: the same float32 rows as the whole product, normalised
    (a block boundary inside the matrix, a last short block, a row without terms left at zero)."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    import pipeline.perspectives.clustering as clustering

    monkeypatch.setattr(clustering, "PROJECT_ROWS", 2)
    x = sparse.csr_matrix(np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0], [0.0, 4.0, 1.0],
                                    [2.0, 2.0, 2.0]]))
    basis = np.array([[0.6, 0.0], [0.0, 1.0], [0.8, 0.0]])
    got = clustering.project(x, basis)
    assert got.dtype == np.float32 and got.shape == (5, 2)
    np.testing.assert_array_equal(got, normalize(x @ basis).astype(np.float32))
    # by hand: row 0 → (0.6 + 1.6, 0) = (2.2, 0) → (1, 0); row 1 stays zero; row 3 → (0.8, 4) / √16.64
    np.testing.assert_array_equal(got[0], [1.0, 0.0])
    np.testing.assert_array_equal(got[1], [0.0, 0.0])
    np.testing.assert_allclose(got[3], np.array([0.8, 4.0]) / np.sqrt(16.64), rtol=1e-6)
