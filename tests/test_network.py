"""Co-occurrence network: Jaccard edges by hand, communities, a PNG whose Japanese glyphs exist."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from pipeline.charts.network import EDGE_COLUMNS, cooccurrence, draw_network


def terms(rows: dict[str, list[str]]) -> pd.DataFrame:
    data = [(i, t, t == "こと") for i, ts in rows.items() for t in ts]
    return pd.DataFrame(data, columns=["item_id", "term", "stopword"])


ROWS = {"1": ["相談窓口", "場所", "こと"], "2": ["相談窓口", "場所"], "3": ["相談窓口", "避難"],
        "4": ["避難", "災害時"], "5": ["避難", "災害時"], "6": ["就労"]}


def test_jaccard_edges_by_hand() -> None:
    nodes, edges = cooccurrence(terms(ROWS), top_terms=10, top_edges=10)
    assert list(edges.columns) == EDGE_COLUMNS
    # 場所 {1,2} vs 相談窓口 {1,2,3}: 2/3; 災害時 {4,5} vs 避難 {3,4,5}: 2/3; 相談窓口–避難 share only item 3
    assert edges.values.tolist() == [["場所", "相談窓口", 0.6667, 2], ["災害時", "避難", 0.6667, 2]]
    assert set(nodes["term"]) == {"場所", "相談窓口", "災害時", "避難"}       # 就労 (1 item), こと (stop word) out
    comm = dict(zip(nodes["term"], nodes["community"], strict=True))
    assert comm["場所"] == comm["相談窓口"] != comm["避難"] == comm["災害時"]


def test_png_is_deterministic_and_its_labels_have_glyphs() -> None:
    nodes, edges = cooccurrence(terms(ROWS), top_terms=10, top_edges=10)
    png = draw_network(nodes, edges, title="共起ネットワーク")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert png == draw_network(nodes, edges, title="共起ネットワーク")
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont(matplotlib.rcParams["font.family"][0], fallback_to_default=False))
    for ch in "".join(nodes["term"]) + "共起ネットワーク":
        assert font.get_char_index(ord(ch)) != 0, ch                       # no tofu


def test_empty_network_still_draws() -> None:
    nodes, edges = cooccurrence(terms({"1": ["相談"]}))
    assert edges.empty
    assert draw_network(nodes, edges).startswith(b"\x89PNG")


# --- readability: no two labels overlap, every label inside the figure ---------------------------------

def label_boxes(fig) -> list:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for ax in fig.axes for t in ax.texts]


def assert_readable(nodes: pd.DataFrame, edges: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    from pipeline.charts.network import network_figure

    fig = network_figure(nodes, edges, title="共起ネットワーク テスト")
    try:
        boxes = label_boxes(fig)
        frame = fig.bbox
        drawn = {text for text, _ in boxes}
        assert set(nodes["term"]) <= drawn                               # every word has its label
        for text, b in boxes:
            assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1, text
        for n, (ta, a) in enumerate(boxes):
            for tb, b in boxes[n + 1:]:
                overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
                overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
                assert overlap_x <= 0 or overlap_y <= 0, (ta, tb)
    finally:
        plt.close(fig)


@pytest.fixture(scope="module")
def meeting_terms() -> dict[str, pd.DataFrame]:
    """Item terms of the two sample meetings and of a generated 300-item meeting."""
    import tempfile
    from pathlib import Path

    from bench.corpus import generate
    from pipeline.ingest import load_meeting
    from pipeline.text.normalise import raw_items
    from pipeline.text.tokenise import item_terms
    from tests.conftest import MEASURES, MEETING_1, MEETING_2
    from tests.factories import normalise_items, shipped_models

    models = shipped_models()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, folder in (("first", MEETING_1), ("second", MEETING_2),
                             ("300", generate(300, Path(tmp) / "m300"))):
            inputs = load_meeting(folder, MEASURES)
            items = normalise_items(raw_items(inputs.cards, inputs.feedback))
            out[name] = item_terms(items, tokeniser=models.tokeniser, stopwords=models.stopwords)
    return out


@pytest.mark.parametrize("meeting", ["first", "second", "300"])
@pytest.mark.parametrize("mst", [False, True])
def test_labels_never_overlap_and_stay_inside(meeting_terms: dict[str, pd.DataFrame], meeting: str,
                                              mst: bool) -> None:
    nodes, edges = cooccurrence(meeting_terms[meeting], mst=mst)
    assert len(nodes) >= 15
    assert_readable(nodes, edges)


def test_spanning_forest_keeps_the_strongest_link_of_every_word() -> None:
    rows = {"1": ["相談", "窓口", "場所"], "2": ["相談", "窓口", "場所"], "3": ["相談", "窓口"], "4": ["相談", "場所"],
            "5": ["避難", "災害時"], "6": ["避難", "災害時"]}
    _, top = cooccurrence(terms(rows), top_edges=10)
    _, forest = cooccurrence(terms(rows), top_edges=10, mst=True)
    # 相談–窓口 3/4, 相談–場所 3/4, 場所–窓口 2/4: the triangle loses its weakest side
    assert top[["term_1", "term_2", "jaccard"]].values.tolist() == [
        ["災害時", "避難", 1.0], ["場所", "相談", 0.75], ["相談", "窓口", 0.75], ["場所", "窓口", 0.5]]
    assert forest[["term_1", "term_2"]].values.tolist() == [["災害時", "避難"], ["場所", "相談"], ["相談", "窓口"]]


def test_legend_names_every_community_with_its_words() -> None:
    from pipeline.charts.network import _legend_entries

    nodes, _ = cooccurrence(terms(ROWS), top_terms=10, top_edges=10)
    assert _legend_entries(nodes) == [(1, "まとまり1: 相談窓口・場所"), (2, "まとまり2: 避難・災害時")]


@pytest.mark.slow
def test_same_picture_in_every_process() -> None:
    """String hashing changes between Python processes; the layout must not depend on it."""
    import hashlib
    import os
    import subprocess
    import sys

    script = ("import hashlib, pandas as pd; from pipeline.charts.network import cooccurrence, draw_network; "
              f"n, e = cooccurrence(pd.DataFrame({[(i, t, t == 'こと') for i, ts in ROWS.items() for t in ts]!r}, "
              "columns=['item_id', 'term', 'stopword']), top_terms=10, top_edges=10); "
              "print(hashlib.sha256(draw_network(n, e, title='図')).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    nodes, edges = cooccurrence(terms(ROWS), top_terms=10, top_edges=10)
    assert digests == {hashlib.sha256(draw_network(nodes, edges, title="図")).hexdigest() + "\n"}


@pytest.mark.parametrize("meeting", ["first", "second", "300"])
def test_the_coded_keyword_rows_give_the_same_network(meeting_terms: dict[str, pd.DataFrame], meeting: str) -> None:
    """The analysis keeps its keyword rows as codes (pipeline.run.analysis.coded_terms); the network from them is the
    one from the rows as text, for the top words, the spanning forest and a small minimum."""
    from pipeline.run.items import coded_terms

    plain = meeting_terms[meeting]
    ids = pd.Series(list(dict.fromkeys(plain["item_id"])))
    coded = coded_terms([plain.iloc[: len(plain) // 2], plain.iloc[len(plain) // 2:]], ids)
    assert isinstance(coded["term"].dtype, pd.CategoricalDtype)
    for kwargs in ({}, {"mst": True}, {"top_terms": 15, "top_edges": 10, "min_items": 0}):
        for got, expected in zip(cooccurrence(coded, **kwargs), cooccurrence(plain, **kwargs), strict=True):
            pd.testing.assert_frame_equal(got, expected)
