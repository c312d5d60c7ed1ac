"""The meeting analysis: one function, :func:`analyse`, from validated inputs to one frozen result.

    inputs ──mask cards, replies, attributes──▶ raw items ──map(item_batch)──▶ items (comments masked), keyword
                  rows, content terms, rule evidence, measure similarity         (one tokenisation per item)
           ──────────▶ tallies
    evidence + decisions ──▶ themes ──▶ measure scores, matches, coverage ──▶ clusters ──▶ perspectives
    everything ──▶ MeetingResult (every table computed once; pipeline.run.outputs says where each one goes)

Only the item pass (:mod:`pipeline.run.items`) touches one text at a time; ``analyse`` hands batches of items to
``map`` and the KWIC index to ``side`` (:mod:`pipeline.run.parallel`), so the serial and distributed runs are one
code path with byte-identical results.  Nothing here reads files, logs to the terminal or knows about Prefect: the
flow reads the inputs and models, calls ``analyse`` and writes the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import pandas as pd

from pipeline.charts.network import cooccurrence
from pipeline.ingest import MeetingInputs
from pipeline.measures.matching import MatchResult, MeasureMatcher, TermCache, match_items
from pipeline.measures.revision import (
    accepted,
    accepted_card_links,
    gap_closure,
    revise_measures,
    shared_keywords,
)
from pipeline.perspectives import (
    PerspectiveResult,
    ThemeLinks,
    is_empty_answer,
    suggest_perspectives,
    theme_links,
    theme_trend,
)
from pipeline.perspectives.clustering import Clusters, cluster_meeting
from pipeline.report.notices import input_notices
from pipeline.review import (
    Change,
    apply_perspective_decisions,
    apply_theme_decisions,
    changes_frame,
    latest,
    link_changes,
    link_overrides,
    review_rows,
)
from pipeline.run.items import ItemPass, item_pass, kwic_inputs
from pipeline.run.models import Models
from pipeline.run.parallel import Map, Side, inline
from pipeline.run.result import History, MeetingResult
from pipeline.run.settings import Settings
from pipeline.schemas import Cards, Items
from pipeline.tally import Tallies, tally_meeting
from pipeline.tally.crosstab import replies_table, theme_by_attribute, theme_by_kind, theme_by_pillar
from pipeline.tally.tables import tagged_table, top_keywords
from pipeline.text.pii import mask_inputs
from pipeline.themes.active import learning_queue
from pipeline.themes.kwic import kwic_index
from pipeline.themes.tagging import themes_by_item

TEXT_BATCH = 2000
"""Items per batch of the item pass (their tokens are dropped after each batch)."""

MATCH_THRESHOLD = 0.3
"""Minimum measure score for a comment to count as supporting a measure (see pipeline.measures.matching)."""

STAGES: dict[str, str] = {
    "items": "個人情報のマスク・正規化・形態素解析・ルール照合", "tally": "投票の集計",
    "themes": "テーマの確定（判定の反映）", "match": "施策案との照合", "perspectives": "クラスタと新たな視点",
}
"""The analysis stages in order, with the label the progress bar shows (reported through ``on_stage``)."""

OnStage = Callable[[str, str], None]
NO_HISTORY = History()
DEFAULTS = Settings()


def analyse(inputs: MeetingInputs, models: Models, *, history: History = NO_HISTORY,
            settings: Settings = DEFAULTS, batch_size: int = TEXT_BATCH, map: Map = map, side: Side = inline,
            on_stage: OnStage = lambda stage, detail: None) -> MeetingResult:
    """Validated :class:`MeetingInputs` + loaded :class:`Models` → :class:`MeetingResult`.

    ``map(fn, batches)`` runs the item pass over batches of ``batch_size`` items (results in order); ``side(fn,
    *args)`` computes the KWIC index once the themes are final, beside the matching, the clustering and the keyword
    tables (taken before the perspectives); ``on_stage`` is called with each name of :data:`STAGES` as it completes
    and a short Japanese line of what it found (for the terminal: 「152 件」「新たな視点 6 件」).

    Native code (BLAS, OpenMP: the clustering's) runs on one thread: with several, the order of a sum depends on the
    machine's cores and a tie may fall the other way (a cluster's representative)."""
    import scipy.linalg  # noqa: F401  (the native libraries loaded before they are limited: a limit binds those loaded)
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _analyse(inputs, models, history=history, settings=settings, batch_size=batch_size, map=map,
                        side=side, on_stage=on_stage)


def _analyse(inputs: MeetingInputs, models: Models, *, history: History, settings: Settings, batch_size: int,
             map: Map, side: Side, on_stage: OnStage) -> MeetingResult:
    masks: dict[str, int] | None = None
    if settings.mask_pii:  # all but the comments' text, which the item pass masks with its own parse
        inputs, masks = mask_inputs(inputs, models.tokeniser, comment_text=False)
    cache = TermCache(models.tokeniser, models.stopwords)
    matcher = MeasureMatcher(tokeniser=models.tokeniser, stopwords=models.stopwords, threshold=MATCH_THRESHOLD,
                             terms=cache).fit(inputs.measures)
    read = item_pass(inputs, models, matcher, cache, masks=masks, batch_size=batch_size, map=map)
    inputs, items = read.inputs, read.items
    on_stage("items", _items_line(read))

    tallies = tally_meeting(inputs)
    on_stage("tally", "、".join(f"{n}回目 {b} 票" for n, b in tallies.round_totals.items()) or "投票なし")

    mine = latest(history.decisions, inputs.meeting_id)
    changes: list[Change] = []
    evidence = read.evidence
    if len(mine):
        evidence, theme_changes = apply_theme_decisions(evidence, mine, models.codebook.theme_ids)
        changes += theme_changes
    themes = themes_by_item(evidence, models.codebook)
    kwic_job = side(kwic_index, *kwic_inputs(items, read.terms, evidence))
    on_stage("themes", f"テーマのある件数 {sum(1 for i in items[Items.item_id] if themes.get(i))} / {len(items)}")

    links = theme_links(inputs.measures, models.codebook, models.tagger.tag_texts)
    matches = match_meeting(inputs, read, themes, models, matcher, links, tallies, mine, changes)
    on_stage("match", f"施策案に合う {sum(1 for v in matches.measures_by_item.values() if v)} 件、"
                      f"裏付けのない施策案 {int((matches.coverage['status'] == '裏付けなし').sum())}")

    answered = items[[not (s == "feedback" and is_empty_answer(t))
                      for s, t in zip(items[Items.source].tolist(), items[Items.text].tolist(), strict=True)]]
    clusters = cluster_meeting(answered, themes, matches, terms=cache, random_state=settings.seed)
    # the keyword tables while the KWIC index is finished beside them; the index is taken before the perspectives
    network = cooccurrence(read.terms, top_terms=settings.network_words, top_edges=settings.network_edges,
                           mst=settings.network_mst)
    keywords = top_keywords(items, read.terms, n=10)
    kwic = kwic_job.result()
    perspectives = perspectives_of(inputs, items, themes, evidence, tallies, matcher, models, links, history,
                                   cache, clusters, settings, mine, changes)
    on_stage("perspectives", f"クラスタ {clusters.k}、新たな視点 {len(perspectives.suggestions)} 件")
    revision, gaps = loop_tables(inputs, items, themes, perspectives.suggestions, links, history, cache)
    return assemble(inputs, read, evidence, themes, tallies, matches, clusters, perspectives, links,
                    history, models, settings, changes, keywords=keywords, network=network, kwic=kwic,
                    revision=revision, gaps=gaps)


def _items_line(read: ItemPass) -> str:
    items, masks = read.items, read.masks
    return (f"{len(items)} 件（カード {int((items[Items.source] == 'card').sum())}、"
            f"コメント {int((items[Items.source] == 'feedback').sum())}）、"
            + (f"個人情報 {sum(masks.values())} 箇所を伏せました" if masks is not None
               else "個人情報は伏せていません（--no-mask）"))


def match_meeting(inputs: MeetingInputs, read: ItemPass, themes: Mapping[str, str], models: Models,
                  matcher: MeasureMatcher, links: ThemeLinks, tallies: Tallies, mine: pd.DataFrame,
                  changes: list[Change]) -> MatchResult:
    """Items → measures: the similarity of the item pass combined with the themes' links, the analysts' link
    decisions applied (their changes appended to ``changes``)."""
    overrides = link_overrides(mine) if len(mine) else None
    if overrides is not None:
        changes += link_changes(overrides)
    ids = read.items[Items.item_id].tolist()
    scores = matcher.combine(read.similarity, [[t for t in themes.get(i, "").split("|") if t] for i in ids],
                             links.matching)
    return match_items(read.items, themes, inputs.measures, inputs.cards, matcher=matcher, codebook=models.codebook,
                       measure_votes=tallies.measure_votes if len(tallies.measure_votes) else None,
                       overrides=overrides, scores=scores)


def perspectives_of(inputs: MeetingInputs, items: pd.DataFrame, themes: Mapping[str, str], evidence: pd.DataFrame,
                    tallies: Tallies, matcher: MeasureMatcher, models: Models, links: ThemeLinks, history: History,
                    cache: TermCache, clusters: Clusters, settings: Settings, mine: pd.DataFrame,
                    changes: list[Change]) -> PerspectiveResult:
    """The suggested new perspectives, the analysts' earlier decisions on them applied (appended to ``changes``)."""
    votes: dict[str, int] = {}
    if len(tallies.card_votes):
        votes = dict(zip(tallies.card_votes[Cards.card_id], tallies.card_votes["total"], strict=True))
    perspectives = suggest_perspectives(items, themes, evidence=evidence, measures=inputs.measures,
                                        cards=inputs.cards, card_votes=votes, matcher=matcher,
                                        codebook=models.codebook, links=links, tokeniser=models.tokeniser,
                                        stopwords=models.stopwords, earlier=history.earlier, terms=cache,
                                        random_state=settings.seed,
                                        unexplained_clusters=[str(m).split("|") for m in
                                                              clusters.unexplained["item_ids"]])
    if len(mine):
        table, perspective_changes = apply_perspective_decisions(perspectives.suggestions, mine)
        perspectives = replace(perspectives, suggestions=table)
        changes += perspective_changes
    return perspectives


def loop_tables(inputs: MeetingInputs, items: pd.DataFrame, themes: Mapping[str, str], suggestions: pd.DataFrame,
                links: ThemeLinks, history: History, terms: Callable[[str], list[str]]) -> tuple[pd.DataFrame,
                                                                                              pd.DataFrame]:
    """The 見直し案 (changed measures only) and the earlier accepted perspectives' closure (see
    :mod:`pipeline.measures.revision`)."""
    texts = dict(zip(items[Items.item_id].tolist(), items[Items.text].tolist(), strict=True))
    cards = items.loc[items[Items.source] == "card", Items.item_id]
    draft = revise_measures(inputs.measures, suggestions, history.decisions, inputs.meeting_id, texts=texts,
                            keywords_for=lambda ts: shared_keywords(terms, ts),
                            card_links=accepted_card_links(history.decisions, inputs.meeting_id, cards))
    earlier = [(e.meeting_id, str(rec["label"]), str(rec["main_theme"]), str(rec["item_ids"]))
               for e in history.earlier if len(e.perspectives)
               for rec, _, _ in accepted(e.perspectives, history.decisions, e.meeting_id)]
    gaps = gap_closure(earlier, themes, links.coverage, set(suggestions["main_theme"]))
    return draft[draft["change"] != ""].reset_index(drop=True), gaps


def assemble(inputs: MeetingInputs, read: ItemPass, evidence: pd.DataFrame,
             themes: dict[str, str], tallies: Tallies, matches: MatchResult, clusters: Clusters,
             perspectives: PerspectiveResult, links: ThemeLinks, history: History, models: Models,
             settings: Settings, changes: list[Change], *, keywords: pd.DataFrame,
             network: tuple[pd.DataFrame, pd.DataFrame], kwic: pd.DataFrame, revision: pd.DataFrame,
             gaps: pd.DataFrame) -> MeetingResult:
    """The stages' results and the tables computed from them, as one :class:`MeetingResult`."""
    items, codebook, tagger = read.items, models.codebook, models.tagger
    supporting = {i for ids_ in perspectives.suggestions["item_ids"] for i in ids_.split("|")}
    comments = items[items[Items.source] == "feedback"]
    to_teach = learning_queue(comments[Items.item_id].tolist(), comments[Items.text].tolist(), themes, codebook,
                              model=tagger.model, random_state=settings.seed)
    return MeetingResult(
        inputs=inputs, masks=read.masks, items=items, terms=read.terms, evidence=evidence, themes=themes,
        tallies=tallies, matches=matches, clusters=clusters, perspectives=perspectives, keywords=keywords,
        tagged=tagged_table(items, themes=themes, measures=matches.measures_by_item, clusters=clusters.cluster_of,
                            new_perspective={i: 1 for i in supporting}),
        theme_by_kind=theme_by_kind(items, themes, codebook.theme_ids),
        theme_by_pillar=theme_by_pillar(items, themes, matches.measures_by_item, inputs.measures,
                                        codebook.theme_ids),
        theme_by_attribute=theme_by_attribute(items[items[Items.source] == "feedback"], themes, codebook.theme_ids),
        replies=replies_table(items, themes),
        trend=theme_trend(inputs.meeting_id, themes, history.earlier, codebook.theme_ids),
        network_nodes=network[0], network_edges=network[1], links=links,
        changes=changes_frame(changes),
        review=review_rows(inputs.meeting_id, items, evidence, matches.measures_by_item, matches.suggestions,
                           perspectives.suggestions, previous=history.decisions, coded=True, to_teach=to_teach),
        to_teach=to_teach,
        decisions_in_log=len(history.decisions),
        earlier_ids=tuple(e.meeting_id for e in history.earlier),
        theme_ids=tuple(codebook.theme_ids),
        document_themes=tuple(codebook.document_themes),
        theme_definitions=pd.DataFrame([(t.theme_id, t.definition) for t in codebook.themes],
                                       columns=["theme", "definition"]),
        learned_themes=tuple(tagger.model.themes_) if tagger.model is not None else (),
        seed=settings.seed, settings=settings,
        notices=(*input_notices(inputs, codebook), *history.notes),
        revision=revision, gaps=gaps, kwic=kwic,
        codebook_files=(codebook.source, *codebook.layers),
    )
