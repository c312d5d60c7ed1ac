"""Co-occurrence network: Jaccard edges by hand, communities, a PNG whose Japanese glyphs exist."""

from __future__ import annotations

import matplotlib
import pandas as pd

from pipeline.network import EDGE_COLUMNS, cooccurrence, draw_network


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
