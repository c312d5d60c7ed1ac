"""Every output of a meeting, declared once: file name, workbook sheet, how to get it from the result.

Every reader of earlier outputs (the history, ``revise``, ``review``, ``kwic``, ``run-pending``) reads them back through
the same objects (``load``), as Kedro datasets pair a load with each save.

The writers (:mod:`pipeline.run.writers`: CSV, workbook, images, Markdown/HTML, manifest) and the flow's
Prefect artifacts all work from these lists; the report layout (:mod:`pipeline.report.layout`) refers to
outputs by these objects.  A file name appears nowhere else in the code.  A table whose getter returns
``None`` (its input is absent, e.g. no votes) is neither written nor given a sheet.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline._pandera import pa
from pipeline.run.result import MeetingResult
from pipeline.schemas import (
    Cluster,
    Coverage,
    Evidence,
    NetworkEdge,
    NetworkNode,
    Perspective,
    PerspectiveDecision,
    Rejects,
    SuggestedLink,
    Tagged,
)

Frame = pd.DataFrame | None


@dataclass(frozen=True)
class TableOutput:
    """A table written as ``file`` (CSV, UTF-8 with BOM) and as the workbook sheet ``sheet``."""

    key: str
    file: str
    sheet: str
    get: Callable[[MeetingResult], Frame]
    about: str
    schema: type[pa.DataFrameModel] | None = None
    """The table's pandera schema (:mod:`pipeline.schemas`); the writer checks the table against it."""
    artifact: str = ""
    """Published as the Prefect table artifact ``kyosei-<meeting>-<artifact>`` when set and not empty."""
    artifact_view: Callable[[pd.DataFrame], pd.DataFrame] = lambda f: f
    full: Callable[[MeetingResult], Callable[[], Iterator[pd.DataFrame]]] | None = None
    """When set, ``get`` is what the workbook shows and the CSV file is written from the chunks (every row) that the
    returned callable yields, so a long table is never held whole; the cut is noted in the 概要 sheet.  The callable
    is picklable (a module function with its arguments), so the writer may run it in another process."""
    full_rows: Callable[[MeetingResult], int] = lambda r: 0

    def load(self, folder: Path) -> pd.DataFrame:
        """The table as a run wrote it into ``folder``: every cell a string, nothing read as missing."""
        return pd.read_csv(folder / self.file, dtype=str, keep_default_na=False, encoding="utf-8-sig")


@dataclass(frozen=True)
class ImageOutput:
    """A chart: a PNG file, also shown (embedded) in the report."""

    key: str
    file: str
    render: Callable[[MeetingResult], bytes | None]
    about: str
    title: str
    """Japanese title (the workbook's 図 sheet)."""


@dataclass(frozen=True)
class DocumentOutput:
    """A file written by its own writer (the report, the workbook, the manifest)."""

    key: str
    file: str
    about: str

    def load(self, folder: Path) -> Any:
        """The document as written into ``folder``: a JSON file parsed, any other file its bytes."""
        path = folder / self.file
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        return path.read_bytes()


def _if_columns(frame: pd.DataFrame) -> Frame:
    return frame if len(frame.columns) else None


def _clusters(r: MeetingResult) -> pd.DataFrame:
    return pd.concat([r.clusters.table, r.clusters.unexplained], ignore_index=True)


def _votes_chart(r: MeetingResult) -> bytes | None:
    from pipeline.charts import vote_rounds_chart

    return vote_rounds_chart(r.tallies.card_votes) if len(r.tallies.card_votes) else None


def _heatmap(r: MeetingResult) -> bytes:
    from pipeline.charts import heatmap_chart
    from pipeline.tally.shown import without_zeros

    shown, _, _ = without_zeros(r.theme_by_pillar, "theme")          # the themes no card or comment is about: blank
    return heatmap_chart(shown if len(shown) else r.theme_by_pillar, index="theme", title="テーマ × 基本方針（件数）")


MIN_NETWORK_WORDS = 8
"""Linked words a co-occurrence network needs to say something; with fewer, the most frequent words as bars."""


def word_counts(r: MeetingResult) -> pd.DataFrame:
    """term, items: the words (stop words left out) in the most cards and comments, most first (ties by word)."""
    terms = r.terms[~r.terms["stopword"]] if "stopword" in r.terms.columns else r.terms
    counts = terms.drop_duplicates(["item_id", "term"]).groupby("term").size().rename("items").reset_index()
    return counts.sort_values(["items", "term"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def network_shown(r: MeetingResult) -> bool:
    """Whether the network has enough linked words to be drawn (else :func:`word_counts` as bars)."""
    return len(r.network_nodes) >= MIN_NETWORK_WORDS


def _network(r: MeetingResult) -> bytes:
    from pipeline.charts import top_words_chart
    from pipeline.charts.network import draw_network

    if not network_shown(r):
        return top_words_chart(word_counts(r), title=f"出現件数の多い語 {r.title}")
    return draw_network(r.network_nodes, r.network_edges, title=f"共起ネットワーク {r.title}")


# --- documents ---------------------------------------------------------------------------------

REPORT_HTML = DocumentOutput(
    "report_html", "report.html",
    "self-contained report in Japanese: CSS, JS, charts and a subset of the IPAex Gothic font inline (no external "
    "URL, readable on a machine without Japanese fonts, printable); sortable and filterable tables; the sections "
    "of `pipeline/report/layout.py`")
REPORT_MD = DocumentOutput("report_md", "report.md", "the same report as Markdown")
REPORT_DOCX = DocumentOutput(
    "report_docx", "report.docx",
    "the same report as a Word document for the city's 報告書: A4, Japanese fonts, real headings (navigation pane, "
    "table of contents), charts, tables with repeated header rows (wide ones on landscape pages), page numbers")
WORKBOOK = DocumentOutput(
    "workbook", "report.xlsx",
    "every table below as a sheet, up to 10,000 rows each (the CSV file has every row; the 概要 sheet says what was "
    "cut) (sheet names in `pipeline/run/outputs.py`; Japanese headers, frozen header row, "
    "fitted widths, number formats), a 概要 sheet, a 図 sheet with the charts and the **レビュー** sheet; text cells "
    "are always text")
MANIFEST = DocumentOutput("manifest", "manifest.json",
                          "versions, input SHA-256 hashes, parameters, seed, rows in/ok/rejected per file, "
                          "header rows and column mappings, timings, the files written")

# --- tables (in workbook sheet order) -----------------------------------------------------------

VOTES_BY_CARD = TableOutput("votes_by_card", "votes_by_card.csv", "投票_カード",
                            lambda r: _if_columns(r.tallies.card_votes),
                            "blocks per card and round, shares (%) and the shift from the first to the last round",
                            artifact="votes")
VOTES_BY_MEASURE = TableOutput("votes_by_measure", "votes_by_measure.csv", "投票_施策案",
                               lambda r: _if_columns(r.tallies.measure_votes), "the same per measure")
VOTES_BY_PILLAR = TableOutput("votes_by_pillar", "votes_by_pillar.csv", "投票_柱",
                              lambda r: _if_columns(r.tallies.pillar_votes), "the same per pillar (a card counts once)")
VOTES_BY_DEPARTMENT = TableOutput("votes_by_department", "votes_by_department.csv", "投票_部署",
                                  lambda r: _if_columns(r.tallies.department_votes), "the same per department")
CARDS_BY_MEASURE = TableOutput("cards_by_measure", "cards_by_measure.csv", "施策別カード",
                               lambda r: _if_columns(r.tallies.cards_per_measure),
                               "cards under each measure (staff links)")
CARDS_UNLINKED = TableOutput("cards_unlinked", "cards_unlinked.csv", "紐づかないカード",
                             lambda r: _if_columns(r.tallies.unlinked_cards), "cards with no measure")
COVERAGE = TableOutput("coverage", "coverage.csv", "施策カバレッジ", lambda r: r.matches.coverage,
                       "per measure: linked cards, matching comments, votes in both rounds, top themes, `status` "
                       "(カード・コメントあり / カードのみ / コメントのみ / 裏付けなし)", schema=Coverage,
                       artifact="coverage")
SUGGESTED_LINKS = TableOutput("suggested_links", "suggested_links.csv", "紐づけ候補", lambda r: r.matches.suggestions,
                              "cards whose content fits another measure much better than the declared one (or that "
                              "have none): declared, suggested, both scores, shared terms", schema=SuggestedLink)
UNMATCHED = TableOutput("unmatched", "unmatched.csv", "施策に合わない", lambda r: r.matches.unmatched,
                        "cards and comments that match no measure, with the nearest measure and its score")
THEMES_BY_KIND = TableOutput("themes_by_kind", "themes_by_kind.csv", "テーマ×種別", lambda r: r.theme_by_kind,
                             "items per theme × comment kind")
THEMES_BY_PILLAR = TableOutput("themes_by_pillar", "themes_by_pillar.csv", "テーマ×柱", lambda r: r.theme_by_pillar,
                               "items per theme × pillar (through the item's measures)")
THEMES_BY_ATTRIBUTE = TableOutput("themes_by_attribute", "themes_by_attribute.csv", "テーマ×属性",
                                  lambda r: r.theme_by_attribute if len(r.theme_by_attribute) else None,
                                  "comments per attribute value (年代, 地区, 所属, a survey's question …) and theme; "
                                  "only when the comments have attributes")
REPLIES = TableOutput("replies", "replies.csv", "意見と市の考え方", lambda r: r.replies if len(r.replies) else None,
                      "each comment as written beside the city's reply (市の考え方) and its section; only when "
                      "the input has replies (they are shown, never analysed)")
POLICY_TABLE = TableOutput(
    "policy_table", "policy_table.csv", "体系表",
    lambda r: r.inputs.policy.table() if r.inputs.policy is not None and not r.inputs.policy.own_ids else None,
    "the city's own policy table as read: one row per entry (基本目標, 施策の方向, 主な取組 …) with the id made from "
    "its numbering, its level, numbering as written, name, parent and whether comments are matched against it; only "
    "when the table had no ids")
PERSPECTIVES = TableOutput(
    "perspectives", "perspectives.csv", "新たな視点", lambda r: r.perspectives.suggestions,
    "suggested new perspectives (新たな視点(案)), ranked: `label` (a phrase from the comments), `theme_label` (the "
    "theme's name as a missing perspective), pillar, support and the supporting item ids, the nearest measure and "
    "its score, status (new / recurring / accepted), main theme, seed, how the label was chosen and the share of "
    "comments holding it, cohesion, the representative comment, counts, verbatim quotes",
    schema=Perspective, artifact="perspectives", artifact_view=lambda f: f.drop(columns=["quotes"]))
PLAN_COMMENTS = TableOutput("plan_comments", "plan_comments.csv", "計画書の記述への意見",
                            lambda r: r.perspectives.plan_comments,
                            "comments about the plan document itself (wording, pages, figures, data, structure, the "
                            "purpose statement) with their section and the words that show it; never proposed as "
                            "perspectives")
PERSPECTIVE_DECISIONS = TableOutput(
    "perspective_decisions", "perspective_decisions.csv", "視点の判定", lambda r: r.perspectives.decisions,
    "one row per card and comment: how it counts for the perspectives (計画書の記述, 空の回答, 担当課が紐づけ, "
    "施策案にない分野, 追加すべき視点, テーマでカバー, 文言でカバー, 説明なし), the theme it rests on, its suggestion, "
    "the nearest measure, its score and the table's threshold", schema=PerspectiveDecision)
THEME_LINKS = TableOutput("theme_links", "theme_links.csv", "テーマと施策案", lambda r: r.links.table,
                          "which measures cover each theme and how the link was made (`codebook`: the codebook's "
                          "measure ids; `table`: read from the measure's own text)")
PERSPECTIVES_COVERED = TableOutput("perspectives_covered", "perspectives_covered.csv", "カバー済みの視点",
                                   lambda r: r.perspectives.covered,
                                   "追加すべき視点 comments not proposed because a measure already covers them")
THEMES_TREND = TableOutput("themes_trend", "themes_trend.csv", "テーマ推移", lambda r: r.trend,
                           "items per theme in each meeting found under the out-root (earlier meetings by date)")
CLUSTERS = TableOutput("clusters", "clusters.csv", "クラスタ", _clusters,
                       "clusters of all items (`K…`) and of the items no theme or measure explains (`U…`): size, "
                       "c-TF-IDF label, representative item, members", schema=Cluster)
KEYWORDS = TableOutput("keywords", "keywords.csv", "キーワード", lambda r: r.keywords,
                       "top-10 keywords per kind (number of items containing the word)")
NETWORK_NODES = TableOutput("network_nodes", "network_nodes.csv", "共起_語", lambda r: r.network_nodes,
                            "words of the co-occurrence network with their community", schema=NetworkNode)
NETWORK_EDGES = TableOutput("network_edges", "network_edges.csv", "共起_組", lambda r: r.network_edges,
                            "word pairs of the co-occurrence network (Jaccard, top 60)", schema=NetworkEdge)
COMMENTS_BY_KIND = TableOutput("comments_by_kind", "comments_by_kind.csv", "種別件数",
                               lambda r: _if_columns(r.tallies.comments_per_kind), "comments per kind")
TAGGED = TableOutput("tagged", "tagged.csv", "カード・コメント", lambda r: r.tagged,
                     "one row per card and comment: `item_id, source, kind, text, themes, measures, cluster, "
                     "new_perspective` (text normalised and masked; `themes` best first; `measures`: a card's "
                     "staff-declared links, a comment's matching measures best first)", schema=Tagged)
EVIDENCE = TableOutput("evidence", "evidence.csv", "根拠", lambda r: r.evidence,
                       "one row per item × theme: `terms` and `spans` (`start-end` in the normalised text), "
                       "`source` (`rule:<rule ids>`, `model` or `analyst`), `score`", schema=Evidence)
KWIC_SHEET_LINES = 50
"""Lines per word on the workbook's KWIC sheet (kwic.csv has them all)."""


def _kwic_sheet(r: MeetingResult) -> pd.DataFrame | None:
    from pipeline.themes.kwic import kwic_lines, per_word

    return kwic_lines(per_word(r.kwic, KWIC_SHEET_LINES), r.items) if len(r.kwic.columns) else None


def _kwic_all(r: MeetingResult) -> Callable[[], Iterator[pd.DataFrame]]:
    from pipeline.schemas import Items
    from pipeline.themes.kwic import kwic_chunks

    items = r.items[[Items.item_id, Items.source, Items.kind, Items.raw_text, Items.text]]
    # a line is cut from the text as written; the normalised text only stands in for an empty one, and is sent
    # to the writer's second process only then (half the bytes it is sent)
    written = (items[Items.raw_text].astype(str).str.len() > 0).to_numpy(bool)
    return functools.partial(kwic_chunks, r.kwic, items.assign(**{Items.text: items[Items.text].where(~written, "")}))


KWIC = TableOutput("kwic", "kwic.csv", "KWIC", _kwic_sheet,
                   "words in context: every occurrence of each theme's evidence words and of the top 30 keywords — "
                   "`word` (as counted: lemma or lexicon form), `themes` (themes this occurrence is evidence for), "
                   "`item_id, source, kind`, `left`, `term`, `right` (about 20 characters each side, from the text as "
                   "written, masked), `start` (position in that text); the workbook's KWIC sheet shows the first "
                   f"{KWIC_SHEET_LINES} lines of each word", full=_kwic_all, full_rows=lambda r: len(r.kwic))
REJECTS = TableOutput("rejects", "rejects.csv", "除外行", lambda r: r.inputs.rejects,
                      "every refused input row: `file, row, column, reason, value`", schema=Rejects)
REVIEW = TableOutput("review", "review.csv", "レビュー", lambda r: r.review,
                     "the レビュー sheet's rows (one per suggested theme tag, measure link and perspective); the "
                     "workbook's last sheet, with a drop-down for 判定 (beyond 20,000 rows the sheet keeps every perspective and "
                     "measure link and the first theme tags; this file has them all)")

TABLES: tuple[TableOutput, ...] = (
    VOTES_BY_CARD, VOTES_BY_MEASURE, VOTES_BY_PILLAR, VOTES_BY_DEPARTMENT, CARDS_BY_MEASURE, CARDS_UNLINKED,
    COVERAGE, SUGGESTED_LINKS, UNMATCHED, THEMES_BY_KIND, THEMES_BY_PILLAR, THEMES_BY_ATTRIBUTE, REPLIES, POLICY_TABLE,
    PERSPECTIVES, PLAN_COMMENTS, PERSPECTIVE_DECISIONS, THEME_LINKS, PERSPECTIVES_COVERED,
    THEMES_TREND, CLUSTERS, KEYWORDS, NETWORK_NODES, NETWORK_EDGES, COMMENTS_BY_KIND, TAGGED, EVIDENCE, KWIC, REJECTS,
    REVIEW,
)
"""Every table, in workbook sheet order (the レビュー sheet, last, is written with its drop-down)."""

# --- images --------------------------------------------------------------------------------------

VOTES_PNG = ImageOutput("votes_png", "votes.png", _votes_chart, "round 1 vs round 2 share of blocks, top cards",
                        "カード別の票（各回の総票数に占める割合）")
THEMES_BY_PILLAR_PNG = ImageOutput("themes_by_pillar_png", "themes_by_pillar.png", _heatmap,
                                   "heatmap of themes × pillars", "テーマ × 基本方針（件数）")
NETWORK_PNG = ImageOutput("network_png", "network.png", _network,
                          "keyword co-occurrence network (Jaccard, top 60 edges or their spanning forest; labels "
                          "never overlap; community colours with a legend); with fewer than 8 linked words, a bar "
                          "chart of the most frequent words instead", "語の共起ネットワーク")

IMAGES: tuple[ImageOutput, ...] = (VOTES_PNG, THEMES_BY_PILLAR_PNG, NETWORK_PNG)

MEASURES_DRAFT = DocumentOutput(
    "measures_draft", "measures_draft.csv",
    "written by `kyosei revise`, not by a run: the policy table with the accepted perspectives as new or extended "
    "measures, in the table's own columns (give it to `--measures` as it is) plus `change` (新設 / 拡充 / 紐づけ追加 / "
    "要検討) and `evidence` (the supporting item ids)")
MEASURES_DRAFT_XLSX = DocumentOutput("measures_draft_xlsx", "measures_draft.xlsx",
                                     "the same draft as a workbook (one sheet, text cells always text)")
POLICY_DRAFT = DocumentOutput(
    "policy_draft", "policy_draft.csv",
    "written by `kyosei revise` when the city's policy table had no ids: the same draft in the city's own shape — "
    "its level columns (基本目標, 施策の方向, 主な取組 …) with the numbering as written, a new measure numbered after its "
    "siblings in their style — plus 説明, キーワード, `change` and `evidence` (give it to `--measures` as it is)")
POLICY_DRAFT_XLSX = DocumentOutput("policy_draft_xlsx", "policy_draft.xlsx",
                                   "the city-shaped draft as a workbook")
REVISION_FILES: tuple[DocumentOutput, ...] = (MEASURES_DRAFT, MEASURES_DRAFT_XLSX, POLICY_DRAFT, POLICY_DRAFT_XLSX)
"""Files of ``kyosei revise`` (after a run; not part of :data:`ALL_FILES`)."""

DOCUMENTS: tuple[DocumentOutput, ...] = (REPORT_HTML, REPORT_MD, REPORT_DOCX, WORKBOOK, MANIFEST)

ALL_FILES: tuple[str, ...] = tuple(o.file for o in (*DOCUMENTS, *TABLES, *IMAGES))
"""Every file name a run may write (a run writes the ones whose input is present)."""


def tables(result: MeetingResult) -> list[tuple[TableOutput, pd.DataFrame]]:
    """The tables this result has (in sheet order)."""
    out = []
    for spec in TABLES:
        frame = spec.get(result)
        if frame is not None:
            out.append((spec, frame))
    return out


def images(result: MeetingResult) -> dict[str, bytes]:
    """Output key → PNG bytes, each chart drawn once (the files and the report use the same bytes)."""
    out = {}
    for spec in IMAGES:
        png = spec.render(result)
        if png is not None:
            out[spec.key] = png
    return out
