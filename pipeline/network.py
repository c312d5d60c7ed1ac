"""Keyword co-occurrence network (KH Coder style): Jaccard-weighted edges, top-N, community colours.

``cooccurrence`` is pure (item terms in → node and edge tables); ``draw_network`` renders a PNG with
the bundled IPAex Gothic font (matplotlib-fontja), so Japanese labels never turn into boxes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from itertools import combinations

import pandas as pd

from pipeline.schemas import NetworkEdge, NetworkNode, columns

NODE_COLUMNS = columns(NetworkNode)
EDGE_COLUMNS = columns(NetworkEdge)
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac"]


def cooccurrence(item_terms: pd.DataFrame, *, top_terms: int = 60, top_edges: int = 60, min_items: int = 2,
                 exclude: Iterable[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``item_terms`` rows (item_id, term, stopword) → (nodes, edges).

    Nodes: the ``top_terms`` terms found in the most items (≥ ``min_items``; ties by term).  Edges: the
    ``top_edges`` pairs with the highest Jaccard coefficient |A∩B| / |A∪B| over the items containing
    them (co-occurring in ≥ 2 items).  Communities: greedy modularity (deterministic), numbered by size.
    """
    import networkx as nx

    skip = set(exclude)
    use = item_terms[~item_terms["stopword"] & ~item_terms["term"].isin(skip)]
    docs: dict[str, set[str]] = {}
    for item_id, term in zip(use["item_id"], use["term"], strict=True):
        docs.setdefault(term, set()).add(item_id)
    ranked = sorted((t for t, d in docs.items() if len(d) >= min_items), key=lambda t: (-len(docs[t]), t))
    terms = ranked[:top_terms]
    pairs = []
    for a, b in combinations(sorted(terms), 2):
        inter = len(docs[a] & docs[b])
        if inter >= 2:
            pairs.append((a, b, round(inter / len(docs[a] | docs[b]), 4), inter))
    pairs.sort(key=lambda p: (-p[2], -p[3], p[0], p[1]))
    edges = pd.DataFrame(pairs[:top_edges], columns=EDGE_COLUMNS)
    graph = nx.Graph()
    graph.add_nodes_from(sorted(set(edges["term_1"]) | set(edges["term_2"])))
    graph.add_weighted_edges_from(edges[["term_1", "term_2", "jaccard"]].itertuples(index=False))
    community: dict[str, int] = {}
    if graph.number_of_edges():
        comms = nx.algorithms.community.greedy_modularity_communities(graph, weight="weight")
        for n, members in enumerate(sorted(comms, key=lambda c: (-len(c), sorted(c)))):
            for t in members:
                community[t] = n + 1
    nodes = pd.DataFrame([(t, len(docs[t]), community.get(t, 0)) for t in graph.nodes], columns=NODE_COLUMNS)
    return nodes.sort_values(["community", "items", "term"], ascending=[True, False, True]).reset_index(drop=True), edges


def draw_network(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str = "", seed: int = 0) -> bytes:
    """PNG bytes of the network (fixed layout seed, no timestamp in the file)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAex Gothic as the default font)
    import networkx as nx

    fig, ax = plt.subplots(figsize=(10, 8), dpi=100)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=14)
    if len(edges) == 0:
        ax.text(0.5, 0.5, "共起する語がありません（コメントが少ないため）", ha="center", va="center", fontsize=14)
    else:
        graph = nx.Graph()
        for rec in nodes.itertuples(index=False):
            graph.add_node(rec.term, items=rec.items, community=rec.community)
        for rec in edges.itertuples(index=False):
            graph.add_edge(rec.term_1, rec.term_2, weight=rec.jaccard)
        layout = nx.spring_layout(graph, seed=seed, k=2.5 / max(1, len(graph)) ** 0.5, weight="weight", iterations=200)
        widths = [1 + 6 * graph[a][b]["weight"] for a, b in graph.edges]
        nx.draw_networkx_edges(graph, layout, ax=ax, width=widths, edge_color="#999999", alpha=0.6)
        sizes = [300 + 120 * graph.nodes[n]["items"] for n in graph.nodes]
        colors = [PALETTE[(graph.nodes[n]["community"] - 1) % len(PALETTE)] if graph.nodes[n]["community"] else "#cccccc"
                  for n in graph.nodes]
        nx.draw_networkx_nodes(graph, layout, ax=ax, node_size=sizes, node_color=colors, alpha=0.85)
        nx.draw_networkx_labels(graph, layout, ax=ax, font_size=11, font_family=plt.rcParams["font.family"])
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
