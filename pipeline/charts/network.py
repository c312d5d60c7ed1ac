"""Keyword co-occurrence network (KH Coder style): Jaccard-weighted edges, top-N, community colours.

``cooccurrence`` is pure (item terms in → node and edge tables); ``draw_network`` renders a PNG with
the bundled IPAex Gothic font (matplotlib-fontja), so Japanese labels never turn into boxes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.schemas import NetworkEdge, NetworkNode, columns

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NODE_COLUMNS = columns(NetworkNode)
EDGE_COLUMNS = columns(NetworkEdge)
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1f77b4", "#ffbb78", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]
"""Community colours (Tableau 10, then Tableau 20's stronger shades): 20 communities before one repeats."""


TOP_TERMS = 60
"""Default number of words considered (KH Coder's default draws the top 60 edges among the frequent words;
60 words keeps a 30-item meeting's network full and a 300-item meeting's readable)."""
TOP_EDGES = 60


def _codes(column: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """The chosen rows of a column as integer codes and the values they stand for: a categorical column's own codes
    (the analysis keeps its two million keyword rows of a 100,000-comment meeting so), else factorized.  Only which
    rows share a value matters here, never the codes' order."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()[rows].astype("int64"), column.cat.categories
    codes, uniques = pd.factorize(column.to_numpy(object)[rows])
    return codes.astype("int64"), pd.Index(uniques)


def cooccurrence(item_terms: pd.DataFrame, *, top_terms: int = TOP_TERMS, top_edges: int = TOP_EDGES,
                 min_items: int = 2, mst: bool = False,
                 exclude: Iterable[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``item_terms`` rows (item_id, term, stopword) → (nodes, edges).

    Nodes: the ``top_terms`` terms found in the most items (≥ ``min_items``; ties by term).  Edges: the
    ``top_edges`` pairs with the highest Jaccard coefficient |A∩B| / |A∪B| over the items containing
    them (co-occurring in ≥ 2 items); with ``mst`` only the edges of their maximum spanning forest (the
    strongest links that keep every word connected to its neighbours, like KH Coder's 最小スパニング・ツリー).
    Communities: greedy modularity (deterministic), numbered by size.
    """
    import networkx as nx
    from scipy.sparse import csr_matrix

    skip = set(exclude)
    use = (~item_terms["stopword"].to_numpy(bool)) & ~item_terms["term"].isin(skip).to_numpy()
    words, vocabulary = _codes(item_terms["term"], use)
    docs_of, docs = _codes(item_terms["item_id"], use)
    n_docs = max(len(docs), 1)
    held = np.unique(words.astype("int64") * n_docs + docs_of)          # each (word, item) once
    word_of, doc_of = held // n_docs, held % n_docs
    items_with = np.bincount(word_of, minlength=len(vocabulary))
    vocab = vocabulary.tolist()
    ranked = sorted((w for w in range(len(vocab)) if items_with[w] >= max(min_items, 1)),
                    key=lambda w: (-int(items_with[w]), vocab[w]))
    chosen = ranked[:top_terms]
    row = {w: r for r, w in enumerate(chosen)}
    mine = np.isin(word_of, chosen)
    incidence = csr_matrix((np.ones(int(mine.sum()), dtype="int64"),
                            ([row[w] for w in word_of[mine].tolist()], doc_of[mine])), shape=(len(chosen), n_docs))
    shared = (incidence @ incidence.T).toarray()                         # items holding both words
    pairs = []
    for a, b in combinations(sorted(chosen, key=lambda w: vocab[w]), 2):
        inter = int(shared[row[a], row[b]])
        if inter >= 2:
            union = int(items_with[a]) + int(items_with[b]) - inter
            pairs.append((vocab[a], vocab[b], round(inter / union, 4), inter))
    items_of = {vocab[w]: int(items_with[w]) for w in chosen}
    pairs.sort(key=lambda p: (-p[2], -p[3], p[0], p[1]))
    pairs = pairs[:top_edges]
    if mst:
        forest = nx.Graph()
        forest.add_weighted_edges_from((a, b, j) for a, b, j, _ in pairs)
        kept = {tuple(sorted(e[:2])) for e in nx.maximum_spanning_edges(forest, algorithm="kruskal", data=False)}
        pairs = [p for p in pairs if (p[0], p[1]) in kept]
    edges = pd.DataFrame(pairs, columns=EDGE_COLUMNS)
    graph = nx.Graph()
    graph.add_nodes_from(sorted(set(edges["term_1"]) | set(edges["term_2"])))
    graph.add_weighted_edges_from(edges[["term_1", "term_2", "jaccard"]].itertuples(index=False))
    community: dict[str, int] = {}
    if graph.number_of_edges():
        comms = nx.algorithms.community.greedy_modularity_communities(graph, weight="weight")
        for n, members in enumerate(sorted(comms, key=lambda c: (-len(c), sorted(c)))):
            for t in members:
                community[t] = n + 1
    nodes = pd.DataFrame([(t, items_of[t], community.get(t, 0)) for t in graph.nodes], columns=NODE_COLUMNS)
    return nodes.sort_values(["community", "items", "term"], ascending=[True, False, True]).reset_index(drop=True), edges


@dataclass(frozen=True)
class Placed:
    """A node placed on the canvas (pixels, origin bottom-left): centre, circle radius, label box size."""

    term: str
    x: float
    y: float
    radius: float
    width: float
    height: float
    community: int

    def box(self, pad: float = 0.0) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the circle and the label centred on it."""
        hw = max(self.radius, self.width / 2) + pad
        hh = max(self.radius, self.height / 2) + pad
        return self.x - hw, self.y - hh, self.x + hw, self.y + hh


FONT_PT = 11.0
DPI = 100
PAD = 3.0
"""Pixels kept free around each node's box."""
COMPONENT_GAP = 36.0
"""Pixels between two packed components."""


def _component_layouts(graph: object, seed: int) -> list[dict[str, tuple[float, float]]]:
    """Spring layout of each connected component (largest first), each scaled to about √n × √n units."""
    import networkx as nx

    comps = sorted((sorted(c) for c in nx.connected_components(graph)), key=lambda c: (-len(c), c))
    out = []
    for comp in comps:
        # a new graph in a fixed order (a subgraph view iterates its nodes in set order, which changes from one
        # Python process to the next and with it the layout)
        sub = nx.Graph()
        sub.add_nodes_from(comp)
        sub.add_weighted_edges_from(sorted((min(a, b), max(a, b), d["weight"])
                                           for a, b, d in graph.edges(comp, data=True)))
        if len(comp) == 1:
            out.append({comp[0]: (0.0, 0.0)})
            continue
        pos = nx.spring_layout(sub, seed=seed, weight="weight", iterations=200)
        scale = len(comp) ** 0.5
        out.append({t: (float(pos[t][0]) * scale, float(pos[t][1]) * scale) for t in comp})
    return out


def _spread(placed: list[Placed], *, rounds: int = 2000) -> list[Placed]:
    """Push overlapping boxes apart until no two boxes overlap: each overlapping pair moves apart along the
    axis of least overlap, half each (all pairs at once per round; deterministic)."""
    import numpy as np

    if len(placed) < 2:
        return placed
    xy = np.array([[p.x, p.y] for p in placed], dtype=float)
    half = np.array([[max(p.radius, p.width / 2) + PAD, max(p.radius, p.height / 2) + PAD] for p in placed])
    order = np.arange(len(placed))
    tie = np.sign(order[None, :] - order[:, None]).astype(float)       # j after i → +1 (breaks exact ties)
    for _ in range(rounds):
        gap = xy[None, :, :] - xy[:, None, :]                            # [i, j] = j − i
        reach = half[None, :, :] + half[:, None, :]
        overlap = reach - np.abs(gap)                                    # > 0 on both axes = boxes overlap
        hit = (overlap[:, :, 0] > 0) & (overlap[:, :, 1] > 0)
        np.fill_diagonal(hit, False)
        if not hit.any():
            break
        along_x = overlap[:, :, 0] < overlap[:, :, 1]
        push = np.zeros_like(xy)
        for axis, mask in ((0, hit & along_x), (1, hit & ~along_x)):
            direction = np.where(gap[:, :, axis] != 0, np.sign(gap[:, :, axis]), tie)
            step = np.where(mask, (overlap[:, :, axis] / 2 + 0.5) * direction, 0.0)
            push[:, axis] -= step.sum(axis=1)                            # i moves away from every j it hits
        xy += push / np.maximum(1, hit.sum(axis=1))[:, None] * 1.0
    return [replace(p, x=float(x), y=float(y)) for p, (x, y) in zip(placed, xy, strict=True)]


def _bounds(placed: list[Placed]) -> tuple[float, float, float, float]:
    boxes = [p.box(PAD) for p in placed]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _pack(groups: list[list[Placed]], max_width: float) -> list[Placed]:
    """Components side by side in rows (largest first, shelf packing), each keeping its own shape."""
    out: list[Placed] = []
    x = y = shelf = 0.0
    for group in groups:
        x0, y0, x1, y1 = _bounds(group)
        w, h = x1 - x0, y1 - y0
        if x > 0 and x + w > max_width:
            x, y, shelf = 0.0, y - shelf, 0.0
        out += [replace(p, x=p.x - x0 + x, y=p.y - y1 + y) for p in group]
        x += w + COMPONENT_GAP
        shelf = max(shelf, h + COMPONENT_GAP)
    return out


def place_nodes(nodes: pd.DataFrame, edges: pd.DataFrame, measure: Callable[[str], tuple[float, float]], *,
                seed: int = 0) -> list[Placed]:
    """Positions (pixels) for the network's nodes: each component laid out by a spring model and spread
    until no two node boxes (circle + label) overlap; small components packed in rows below the large ones."""
    import networkx as nx

    graph = nx.Graph()
    for rec in nodes.itertuples(index=False):
        graph.add_node(rec.term)
    for rec in edges.itertuples(index=False):
        graph.add_edge(rec.term_1, rec.term_2, weight=rec.jaccard)
    freq = dict(zip(nodes["term"], nodes["items"], strict=True))
    comm = dict(zip(nodes["term"], nodes["community"], strict=True))
    lo, hi = min(freq.values()), max(freq.values())
    radius = {t: 10.0 + 20.0 * (((f - lo) / (hi - lo)) ** 0.5 if hi > lo else 0.5) for t, f in freq.items()}
    groups = []
    for layout in _component_layouts(graph, seed):
        unit = 40.0 if len(layout) > 3 else 16.0         # pairs and triangles kept compact
        placed = []
        for t, (x, y) in layout.items():
            w, h = measure(t)
            placed.append(Placed(t, x * unit, y * unit, radius[t], w, h, int(comm[t])))
        groups.append(_spread(placed))
    widest = max(_bounds(g)[2] - _bounds(g)[0] for g in groups)
    return _spread(_pack(groups, max(widest, 900.0)))


def _legend_entries(nodes: pd.DataFrame, top: int = 4) -> list[tuple[int, str]]:
    out = []
    for comm in sorted(c for c in set(nodes["community"]) if c):
        words = nodes[nodes["community"] == comm].sort_values(["items", "term"], ascending=[False, True])["term"]
        out.append((int(comm), f"まとまり{comm}: " + "・".join(list(words)[:top])))
    return out


def network_figure(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str = "", seed: int = 0) -> Figure:
    """The matplotlib figure of the network: every label inside the figure and no two labels overlapping
    (node boxes are measured with the renderer and spread before drawing); a legend of the communities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAex Gothic as the default font)
    from matplotlib.patches import Circle
    from matplotlib.patheffects import withStroke

    probe = plt.figure(dpi=DPI)
    renderer = probe.canvas.get_renderer()  # type: ignore[attr-defined]
    font = matplotlib.font_manager.FontProperties(size=FONT_PT)

    def measure(text: str, size: float = FONT_PT) -> tuple[float, float]:
        w, h, _ = renderer.get_text_width_height_descent(text, font.copy() if size == FONT_PT else
                                                         matplotlib.font_manager.FontProperties(size=size), ismath=False)
        return float(w), float(h)

    plt.close(probe)
    margin, title_h, line_h = 20.0, (34.0 if title else 0.0), 22.0
    if len(edges) == 0:
        placed: list[Placed] = []
        width, height = 800.0, 200.0
        legend: list[tuple[int, str]] = []
    else:
        placed = place_nodes(nodes, edges, measure, seed=seed)
        x0, y0, x1, y1 = _bounds(placed)
        placed = [replace(p, x=p.x - x0 + margin, y=p.y - y0 + margin) for p in placed]
        width = max(x1 - x0 + 2 * margin, 600.0)
        legend = _legend_entries(nodes)
        height = y1 - y0 + 2 * margin
    legend_h = line_h * len(legend) + (margin if legend else 0.0)
    total_h = height + title_h + legend_h
    fig = plt.figure(figsize=(width / DPI, total_h / DPI), dpi=DPI)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(-legend_h, height + title_h)
    ax.set_axis_off()
    if title:
        ax.text(width / 2, height + title_h / 2, title, ha="center", va="center", fontsize=13)
    if not placed:
        ax.text(width / 2, height / 2, "共起する語がありません（コメントが少ないため）", ha="center", va="center",
                fontsize=FONT_PT)
    where = {p.term: p for p in placed}
    for rec in edges.itertuples(index=False):
        a, b = where[rec.term_1], where[rec.term_2]
        ax.plot([a.x, b.x], [a.y, b.y], color="#9a9a9a", alpha=0.7, linewidth=0.8 + 5 * float(rec.jaccard), zorder=1)
    halo = [withStroke(linewidth=3, foreground="white")]
    for p in placed:
        color = PALETTE[(p.community - 1) % len(PALETTE)] if p.community else "#cccccc"
        ax.add_patch(Circle((p.x, p.y), p.radius, facecolor=color, edgecolor="white", alpha=0.85, zorder=2))
        ax.text(p.x, p.y, p.term, ha="center", va="center", fontsize=FONT_PT, zorder=3, path_effects=halo)
    for n, (comm, text) in enumerate(legend):
        y = -margin / 2 - line_h * n - line_h / 2
        color = PALETTE[(comm - 1) % len(PALETTE)]
        ax.add_patch(Circle((margin + 6, y), 6, facecolor=color, edgecolor="none", zorder=2))
        shown = text
        while measure(shown, 10)[0] > width - 3 * margin - 12 and len(shown) > 8:
            shown = shown[:-2] + "…"
        ax.text(margin + 18, y, shown, ha="left", va="center", fontsize=10)
    return fig


def draw_network(nodes: pd.DataFrame, edges: pd.DataFrame, *, title: str = "", seed: int = 0) -> bytes:
    """PNG bytes of :func:`network_figure` (fixed layout seed, no timestamp in the file)."""
    import matplotlib.pyplot as plt

    fig = network_figure(nodes, edges, title=title, seed=seed)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
