"""Charts for the report (PNG bytes), drawn with matplotlib and the bundled IPAex Gothic font.

Every function is pure: a frame in, PNG bytes out (fixed size, no timestamp), so the report stays
byte-identical for the same inputs.
"""

from __future__ import annotations

import io

import pandas as pd


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib_fontja  # noqa: F401  (registers IPAex Gothic as the default font)

    return plt


def _png(fig: object) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", metadata={"Software": None})  # type: ignore[attr-defined]
    plt.close(fig)
    return buf.getvalue()


def vote_rounds_chart(card_votes: pd.DataFrame, *, top: int = 15) -> bytes:
    """Horizontal bars: share of each round's blocks for the top cards (by the last round)."""
    plt = _pyplot()
    rounds = sorted(int(c.split("_")[1]) for c in card_votes.columns if c.startswith("round_"))
    data = card_votes.head(top).iloc[::-1]
    labels = [f"{c} {t[:18]}" for c, t in zip(data["card_id"], data["title"], strict=True)]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(data) + 1.5), dpi=100)
    height = 0.8 / max(1, len(rounds))
    colors = ["#9ecae1", "#2171b5", "#08306b", "#6baed6"]
    for n, r in enumerate(rounds):
        ys = [y + (n - (len(rounds) - 1) / 2) * height for y in range(len(data))]
        ax.barh(ys, data[f"share_{r}"], height=height, label=f"{r}回目", color=colors[n % len(colors)])
    ax.set_yticks(range(len(data)), labels, fontsize=9)
    ax.set_xlabel("その回の総票数に占める割合（%）")
    ax.set_title("カード別の票（1回目と2回目の比較）" if len(rounds) == 2 else "カード別の票")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def heatmap_chart(table: pd.DataFrame, *, index: str, title: str) -> bytes:
    """A count table (one label column, numeric columns) as an annotated heatmap."""
    plt = _pyplot()
    values = table.drop(columns=[index]).astype(float)
    fig, ax = plt.subplots(figsize=(1.1 * len(values.columns) + 3, 0.42 * len(values) + 1.5), dpi=100)
    ax.imshow(values.to_numpy(), cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(values.columns)), list(values.columns), fontsize=9)
    ax.set_yticks(range(len(values)), list(table[index]), fontsize=9)
    peak = values.to_numpy().max() if values.size else 0
    for i in range(len(values)):
        for j in range(len(values.columns)):
            v = values.iat[i, j]
            if v:
                ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=8,
                        color="white" if v > peak / 2 else "black")
    ax.set_title(title)
    return _png(fig)



def top_words_chart(counts: pd.DataFrame, *, title: str, top: int = 20) -> bytes:
    """Horizontal bars: the words found in the most cards and comments (``counts``: term, items; most first)."""
    plt = _pyplot()
    data = counts.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(data) + 1.5), dpi=100)
    ax.barh(range(len(data)), data["items"], color="#2171b5")
    ax.set_yticks(range(len(data)), list(data["term"]), fontsize=9)
    ax.set_xlabel("出現件数（その語を含むカード・コメントの数）")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
