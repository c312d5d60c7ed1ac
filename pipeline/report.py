"""Report: the tables an analyst reads, rendered as Markdown and self-contained HTML (Japanese).

Pure: frames in, strings out.  All text reaching HTML goes through Jinja2 autoescaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources

import jinja2
import pandas as pd

from pipeline.schemas import TAGGED_COLUMNS, Items, Tagged

LABELS: dict[str, str] = {
    "card_id": "カードID", "title": "事業名", "department": "部署", "measure_ids": "施策ID",
    "total": "合計", "shift": "増減(票)", "share_shift": "増減(ポイント)",
    "pillar_id": "柱", "pillar_name": "基本方針", "measure_id": "施策ID", "measure_name": "施策案",
    "cards": "カード数", "card_ids": "カード", "kind": "種別", "comments": "コメント数",
    "rank": "順位", "term": "語", "items": "出現件数", "file": "ファイル", "row": "行", "column": "列",
    "reason": "理由", "value": "値", "item_id": "ID", "text": "本文", "source": "出典",
    "rows_in": "入力行", "rows_ok": "取込行", "rows_rejected": "除外行", "encoding": "文字コード",
    "blank_rows_skipped": "空行", "theme": "テーマ", "themes": "テーマ", "measures": "施策案",
    "definition": "定義", "comment_ids": "コメント", "votes_round_1": "票(1回目)", "votes_round_2": "票(2回目)",
    "status": "状態", "declared": "現在の紐づけ", "declared_score": "現在の一致度", "suggested": "提案",
    "suggested_name": "提案先の施策案", "score": "一致度", "evidence": "根拠", "best_measure": "最も近い施策案",
    "best_score": "一致度", "カード": "カード",
    "perspective_id": "ID", "label": "ラベル", "support": "支持", "item_ids": "根拠ID", "best_measure_id": "最も近い施策案",
    "best_measure_score": "一致度", "recurring_in": "以前の会議", "main_theme": "テーマ", "seed": "きっかけ",
    "groups": "グループ数", "votes": "票", "cluster": "クラスタ", "size": "件数", "top_terms": "特徴語",
    "representative_id": "代表ID", "representative_text": "代表的な原文", "term_1": "語1", "term_2": "語2", "jaccard": "Jaccard",
    "cooccurrences": "共起件数", "change": "変更",
}


def label_for(column: str) -> str:
    """Japanese header for a column (``round_2`` → ``2回目``, ``share_1`` → ``1回目(%)``)."""
    if column.startswith("round_"):
        return f"{column[6:]}回目"
    if column.startswith("share_") and column != "share_shift":
        return f"{column[6:]}回目(%)"
    return LABELS.get(column, column)


def top_keywords(items: pd.DataFrame, terms: pd.DataFrame, *, n: int = 10) -> pd.DataFrame:
    """:class:`Items` + ``item_terms`` rows in → the ``n`` most widespread keywords per kind.

    A keyword's count is the number of items (cards/comments) containing it, so one long comment
    repeating a word does not dominate.  Ties are broken by the term, so the order is stable.
    Columns: kind, rank, term, items.
    """
    kinds = list(dict.fromkeys(items[Items.kind]))
    use = terms[~terms["stopword"]].merge(items[[Items.item_id, Items.kind]], on=Items.item_id)
    use = use.drop_duplicates([Items.item_id, "term"])
    rows = []
    for kind in kinds:
        counts = use[use[Items.kind] == kind].groupby("term").size().reset_index(name="items")
        counts = counts.sort_values(["items", "term"], ascending=[False, True], kind="mergesort").head(n)
        rows += [(kind, rank, t, int(c)) for rank, (t, c) in enumerate(zip(counts["term"], counts["items"],
                                                                         strict=True), start=1)]
    return pd.DataFrame(rows, columns=["kind", "rank", "term", "items"])


def tagged_table(items: pd.DataFrame, *, themes: Mapping[str, str] | None = None,
                 measures: Mapping[str, str] | None = None, clusters: Mapping[str, str] | None = None,
                 new_perspective: Mapping[str, int] | None = None) -> pd.DataFrame:
    """:class:`Items` in → ``tagged.csv`` (:class:`Tagged`), one row per card and comment.

    The analysis columns are filled from the given mappings (item id → value), empty otherwise.
    """
    ids = items[Items.item_id]
    out = pd.DataFrame({
        Tagged.item_id: ids,
        Tagged.source: items[Items.source],
        Tagged.kind: items[Items.kind],
        Tagged.text: items[Items.text],
        Tagged.themes: [(themes or {}).get(i, "") for i in ids],
        Tagged.measures: [(measures or {}).get(i, "") for i in ids],
        Tagged.cluster: [(clusters or {}).get(i, "") for i in ids],
        Tagged.new_perspective: pd.Series([int((new_perspective or {}).get(i, 0)) for i in ids],
                                          index=ids.index, dtype="int64"),
    })
    out = out.astype({c: str for c in TAGGED_COLUMNS if c != Tagged.new_perspective})
    return Tagged.validate(out[TAGGED_COLUMNS].reset_index(drop=True))


@dataclass(frozen=True)
class Section:
    """A titled table (or a note when the table is empty)."""

    title: str
    frame: pd.DataFrame
    note: str = ""
    empty: str = "該当なし"
    image: bytes = b""
    image_file: str = ""
    image_alt: str = ""

    @property
    def image_data_uri(self) -> str:
        import base64

        return "data:image/png;base64," + base64.b64encode(self.image).decode("ascii") if self.image else ""


@dataclass(frozen=True)
class ReportContext:
    """Everything the report shows; built by the flow from the stage outputs."""

    meeting_id: str
    title: str
    date: str
    counts: Sequence[Mapping[str, object]]
    summary: Sequence[tuple[str, str]]
    decision_sections: Sequence[Section] = ()
    vote_sections: Sequence[Section] = ()
    theme_sections: Sequence[Section] = ()
    perspective_sections: Sequence[Section] = ()
    cluster_sections: Sequence[Section] = ()
    keyword_sections: Sequence[Section] = ()
    measure_sections: Sequence[Section] = ()
    comment_sections: Sequence[Section] = ()
    comments: pd.DataFrame = field(default_factory=pd.DataFrame)
    comments_note: str = ""
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame)
    manifest_summary: Sequence[tuple[str, str]] = ()


def _cell(value: object) -> str:
    """Numbers as written in a report: at most 3 decimals, no trailing zeros beyond one (13.0, 0.077)."""
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    def esc(v: object) -> str:
        return _cell(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(label_for(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(ctx: ReportContext) -> str:
    """The report as Markdown (for pasting into documents and for Prefect's artifact view)."""
    out = [f"# {ctx.title}", "", f"会議ID: {ctx.meeting_id}　開催日: {ctx.date}", "", "## 概要", ""]
    out += [f"- {k}: {v}" for k, v in ctx.summary]
    out += ["", _md_table(pd.DataFrame(list(ctx.counts))) if ctx.counts else ""]
    for heading, _, sections in _groups(ctx):
        if not sections:
            continue
        out += ["", f"## {heading}"]
        for s in sections:
            out += ["", f"### {s.title}", ""]
            if s.note:
                out += [s.note, ""]
            if s.image_file:
                out += [f"![{s.image_alt or s.title}]({s.image_file})", ""]
            if len(s.frame) or not s.image_file:
                out.append(_md_table(s.frame) if len(s.frame) else s.empty)
    if len(ctx.comments):
        out += ["", "## コメント一覧", "", _md_table(ctx.comments)]
    out += ["", "## 付録", "", "### 取り込めなかった行（rejects.csv）", ""]
    out.append(_md_table(ctx.rejects) if len(ctx.rejects) else "なし（すべての行を取り込みました）")
    out += ["", "### 実行情報", ""] + [f"- {k}: {v}" for k, v in ctx.manifest_summary]
    return "\n".join(out).rstrip() + "\n"


def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: (resources.files("pipeline") / "templates" / name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["label"] = label_for
    env.filters["cell"] = _cell
    env.tests["numeric"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    return env


def _groups(ctx: ReportContext) -> list[tuple[str, str, Sequence[Section]]]:
    return [
        ("判定の反映", "decisions", ctx.decision_sections),
        ("投票結果", "votes", ctx.vote_sections),
        ("施策別", "measures", ctx.measure_sections),
        ("テーマ別", "themes", ctx.theme_sections),
        ("新たな視点(案)", "perspectives", ctx.perspective_sections),
        ("クラスタ", "clusters", ctx.cluster_sections),
        ("キーワード", "keywords", ctx.keyword_sections),
        ("コメント", "comments", ctx.comment_sections),
    ]


def render_html(ctx: ReportContext, *, embed_font: bool = True) -> str:
    """The report as one self-contained HTML file (inline CSS/JS, images and a Japanese font subset as
    data: URIs, no external URL)."""
    template = _env().get_template("report.html.j2")
    page = template.render(ctx=ctx, groups=_groups(ctx), font_face="")
    if not embed_font:
        return page
    from pipeline.fonts import font_face_css

    return template.render(ctx=ctx, groups=_groups(ctx), font_face=font_face_css(page))
