"""The result types of a run, at the bottom of :mod:`pipeline.run`: what the analysis returns and what the history,
the output catalogue, the writers and the report read.  Types only, no computation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from pipeline.ingest import MeetingInputs
from pipeline.measures.matching import MatchResult
from pipeline.perspectives import EarlierMeeting, PerspectiveResult, ThemeLinks
from pipeline.perspectives.clustering import Clusters
from pipeline.review import LOG_COLUMNS
from pipeline.run.settings import Settings
from pipeline.tally import Tallies


@dataclass(frozen=True)
class History:
    """What earlier runs left: the analysts' decision log and earlier meetings' outputs."""

    decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    earlier: tuple[EarlierMeeting, ...] = ()
    notes: tuple[str, ...] = ()
    """Folders of the out-root that could not be read as earlier meetings (skipped)."""


@dataclass(frozen=True)
class MeetingResult:
    """Everything one meeting's analysis produced; :mod:`pipeline.run.outputs` declares what is written."""

    inputs: MeetingInputs               # validated, personal data masked
    masks: dict[str, int] | None        # masks by type, None when masking is off
    items: pd.DataFrame                 # Items: cards and comments, normalised
    terms: pd.DataFrame                 # keyword candidates, one row per occurrence
    evidence: pd.DataFrame              # one row per item × theme (decisions applied)
    themes: dict[str, str]              # item id → themes, best first, |-joined
    tallies: Tallies
    matches: MatchResult
    clusters: Clusters
    perspectives: PerspectiveResult
    keywords: pd.DataFrame
    tagged: pd.DataFrame
    theme_by_kind: pd.DataFrame
    theme_by_pillar: pd.DataFrame
    theme_by_attribute: pd.DataFrame    # attribute, value, theme, items (empty without attributes)
    replies: pd.DataFrame               # comments beside the city's replies (empty without replies)
    trend: pd.DataFrame
    network_nodes: pd.DataFrame
    network_edges: pd.DataFrame
    links: ThemeLinks                   # which measures cover which themes (codebook or the table's own text)
    changes: pd.DataFrame               # what the analysts' earlier decisions changed in this run
    review: pd.DataFrame                # the レビュー sheet's rows
    decisions_in_log: int
    earlier_ids: tuple[str, ...]
    theme_ids: tuple[str, ...]
    theme_definitions: pd.DataFrame
    learned_themes: tuple[str, ...]
    seed: int
    settings: Settings = field(default_factory=Settings)
    revision: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The measures the accepted perspectives would add or change (:func:`pipeline.measures.revision.revise_measures`,
    changed rows only; empty without accepted perspectives)."""
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Perspectives accepted at earlier meetings of the series, and whether this meeting shows them closed."""
    kwic: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Words in context, compact (:func:`pipeline.themes.kwic.kwic_index`): every occurrence of the evidence words and top
    keywords; :func:`pipeline.themes.kwic.kwic_lines` cuts the lines."""
    codebook_files: tuple[str, ...] = ()
    """The codebook file and the layers merged on top of it, as given."""
    to_teach: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The comments whose label would teach the tagger most, per theme (:func:`pipeline.themes.active.learning_queue`):
    listed in the レビュー sheet and the report's 付録."""
    document_themes: tuple[str, ...] = ()
    """The codebook's themes about the plan document itself (not a topic of the comments)."""
    notices: tuple[str, ...] = ()
    """Warnings for the reader (:mod:`pipeline.report.notices`): rows refused, columns and sheets not read, the default
    policy table, codebook links to unknown measures, earlier output folders skipped."""

    @property
    def meeting_id(self) -> str:
        return self.inputs.meeting_id

    @property
    def title(self) -> str:
        return str(self.inputs.meta.get("title") or self.inputs.meeting_id)

    @property
    def date(self) -> str:
        return str(self.inputs.meta.get("date") or "")

    @property
    def row_totals(self) -> dict[str, int]:
        counts = self.inputs.counts
        return {k: sum(int(c[k]) for c in counts) for k in ("rows_in", "rows_ok", "rows_rejected")}  # type: ignore[call-overload]

