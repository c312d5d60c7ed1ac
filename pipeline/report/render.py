"""Rendering the report: a :class:`ReportContext` (groups of sections) as Markdown and as self-contained
HTML (Japanese).  What the report says is declared in :mod:`pipeline.report.layout`.

Pure: frames in, strings out.  All text reaching HTML goes through Jinja2 autoescaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import jinja2
import pandas as pd

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
    "perspective_id": "ID", "label": "ラベル", "support": "支持(件数)", "item_ids": "根拠ID", "best_measure_id": "最も近い施策案",
    "best_measure_score": "一致度", "recurring_in": "以前の会議", "main_theme": "テーマ", "seed": "きっかけ",
    "groups": "グループ数", "votes": "票", "cluster": "クラスタ", "size": "件数", "top_terms": "特徴語",
    "representative_id": "代表ID", "representative_text": "代表的な原文", "term_1": "語1", "term_2": "語2",
    "jaccard": "共起の強さ",
    "cooccurrences": "共起件数", "change": "変更", "section": "該当箇所", "reply": "市の考え方", "question": "設問",
    "attribute": "属性", "theme_label": "抜けている視点（テーマ）", "cohesion": "まとまり(0〜1)", "group": "班",
    "label_source": "ラベルの取り方", "phrase_share": "語句を含む割合", "decision": "判定", "threshold": "しきい値",
    "suggested_card_ids": "紐づけ案のカード", "notice": "内容", "description": "説明", "keywords": "キーワード",
    "perspective": "視点", "meeting_id": "会議", "word": "見出し語", "left": "左の文脈", "right": "右の文脈",
}


VALUES: dict[str, dict[str, str]] = {
    "source": {"card": "カード", "feedback": "コメント"},
    "status": {"new": "新規", "recurring": "以前にも", "accepted": "採用"},
    "kind": {"measures": "施策一覧", "cards": "カード", "feedback": "コメント", "votes": "投票"},
}
"""Values the analysis stores in English, as the report shows them (CSV files keep the stored values)."""
LIST_COLUMNS: frozenset[str] = frozenset({
    "card_ids", "comment_ids", "item_ids", "themes", "measures", "measure_ids", "top_terms", "evidence",
    "recurring_in", "suggested_card_ids", "declared"})
"""Columns holding ``|``-separated lists, shown separated by 「、」 (so that lines break between the ids)."""


def label_for(column: str) -> str:
    """Japanese header for a column (``round_2`` → ``2回目``, ``share_1`` → ``1回目(%)``)."""
    if column.startswith("round_"):
        return f"{column[6:]}回目"
    if column.startswith("share_") and column != "share_shift":
        return f"{column[6:]}回目(%)"
    return LABELS.get(column, column)


@dataclass(frozen=True)
class Section:
    """A titled table, image or list of pairs (or the ``empty`` text when there is nothing to show)."""

    title: str
    frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    note: str = ""
    empty: str = "該当なし"
    image: bytes = b""
    image_file: str = ""
    image_alt: str = ""
    pairs: Sequence[tuple[str, str]] = ()
    filterable: bool | None = None
    """Show a filter box above the table (default: when it has more than 15 rows)."""
    picker: str = ""
    """A column whose values the HTML reader picks from a list (the table shows that value's rows); the printed
    reports (Markdown, Word) show the title and ``print_note`` instead of the table."""
    print_note: str = ""
    reverse_sort: Sequence[str] = ()
    """Columns sorted from their last character (a KWIC left context: the characters nearest the word first)."""

    @property
    def image_data_uri(self) -> str:
        import base64

        return "data:image/png;base64," + base64.b64encode(self.image).decode("ascii") if self.image else ""

    @property
    def table(self) -> pd.DataFrame:
        """The frame as the report shows it: stored English values (:data:`VALUES`) in Japanese."""
        named = [c for c in self.frame.columns if c in VALUES]
        lists = [c for c in self.frame.columns if c in LIST_COLUMNS]
        if not (named or lists) or not len(self.frame):
            return self.frame
        return self.frame.assign(
            **{c: self.frame[c].map(lambda v, c=c: VALUES[c].get(v, v)) for c in named},
            **{c: self.frame[c].map(lambda v: v.replace("|", "、") if isinstance(v, str) else v) for c in lists})

    @property
    def has_filter(self) -> bool:
        return self.filterable if self.filterable is not None else len(self.frame) > 15

    @property
    def choices(self) -> list[tuple[str, int]]:
        """The picker's values with their number of rows, in the table's order."""
        if not self.picker or not len(self.frame):
            return []
        counts = self.frame[self.picker].value_counts(sort=False)
        return [(str(v), int(counts[v])) for v in dict.fromkeys(self.frame[self.picker])]


@dataclass(frozen=True)
class Group:
    """A top-level part of the report (``## heading``): a note and its sections."""

    heading: str
    anchor: str
    sections: Sequence[Section]
    note: str = ""


@dataclass(frozen=True)
class ReportContext:
    """The report: a title line and a list of groups (built by :mod:`pipeline.report.layout`)."""

    meeting_id: str
    title: str
    date: str
    groups: Sequence[Group]


def cell_text(value: object) -> str:
    """Numbers as written in a report: at most 3 decimals, no trailing zeros beyond one (13.0, 0.077)."""
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    def esc(v: object) -> str:
        return cell_text(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(label_for(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(ctx: ReportContext) -> str:
    """The report as Markdown (for pasting into documents and for Prefect's artifact view)."""
    out = [f"# {ctx.title}", "", f"会議ID: {ctx.meeting_id}　開催日: {ctx.date}"]
    for group in ctx.groups:
        out += ["", f"## {group.heading}"]
        if group.note:
            out += ["", group.note]
        for s in group.sections:
            out.append("")
            if s.title:
                out += [f"### {s.title}", ""]
            if s.note:
                out += [s.note, ""]
            if s.image_file:
                out += [f"![{s.image_alt or s.title}]({s.image_file})", ""]
            if s.picker:
                out.append(s.print_note or s.empty)
            elif s.pairs:
                out += [f"- {k}: {v}" for k, v in s.pairs]
            elif len(s.frame) or not s.image_file:
                out.append(_md_table(s.table) if len(s.frame) else s.empty)
    return "\n".join(out).rstrip() + "\n"


def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: (resources.files("pipeline") / "templates" / name).read_text(encoding="utf-8"))
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["label"] = label_for
    env.filters["cell"] = cell_text
    env.filters["reversed_text"] = lambda v: str(v)[::-1]
    env.tests["numeric"] = lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    return env


def render_html(ctx: ReportContext, *, embed_font: bool = True) -> str:
    """The report as one self-contained HTML file (inline CSS/JS, images and a Japanese font subset as
    data: URIs, no external URL)."""
    template = _env().get_template("page.html.j2")
    page = template.render(ctx=ctx, font_face="")
    if not embed_font:
        return page
    from pipeline.charts.fonts import font_face_css

    return template.render(ctx=ctx, font_face=font_face_css(page))
