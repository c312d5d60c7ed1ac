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

from pipeline.schemas import VALUES, label_for

LIST_COLUMNS: frozenset[str] = frozenset({
    "card_ids", "comment_ids", "item_ids", "themes", "measures", "measure_ids", "top_terms", "evidence",
    "recurring_in", "suggested_card_ids", "declared"})
"""Columns holding ``|``-separated lists, shown separated by 「、」 (so that lines break between the ids)."""


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
    points: Sequence[tuple[str, str, str]] = ()
    """Sentences of a summary, each with the anchor and heading of the report part that holds its details."""
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
    def shown_note(self) -> str:
        """The note, when there is something it explains (an empty table says only its ``empty`` line)."""
        return self.note if (len(self.frame) or self.image or self.pairs or self.points) else ""

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
            if s.shown_note:
                out += [s.shown_note, ""]
            if s.image_file:
                out += [f"![{s.image_alt or s.title}]({s.image_file})", ""]
            if s.points:
                out += [f"- {text}（→ {heading}）" for text, _, heading in s.points]
            elif s.picker:
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
