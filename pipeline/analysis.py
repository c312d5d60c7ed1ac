"""The meeting analysis as plain functions over stage outputs (used by the flow's coarse tasks).

``prepare_text`` (normalise + tokenise), ``tally_meeting`` and ``build_report`` are pure: they
take validated frames and return new frames/strings.  The flow decides where files live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import report, tally
from pipeline.codebook import Codebook
from pipeline.ingest import MeetingInputs
from pipeline.matching import MatchResult, MeasureMatcher, TermCache, content_terms, match_items
from pipeline.normalise import normalised_items
from pipeline.perspectives import MAX_QUOTES, EarlierMeeting, PerspectiveResult, suggest_perspectives
from pipeline.report import ReportContext, Section
from pipeline.review import Changes, LinkOverrides, apply_theme_decisions, link_overrides
from pipeline.schemas import FEEDBACK_KINDS, Cards, Items, Measures
from pipeline.tagging import RuleMatcher, Tagger, themes_by_item
from pipeline.tokenise import Tokeniser, item_terms


@dataclass(frozen=True)
class TextStage:
    """Items (cards + comments, normalised) and their keyword-candidate occurrences; from the same single
    tokenisation, optionally each text's content terms (for matching) and the theme evidence."""

    items: pd.DataFrame
    terms: pd.DataFrame
    content: Mapping[str, list[str]] = field(default_factory=dict)
    evidence: pd.DataFrame | None = None


@dataclass(frozen=True)
class Tallies:
    """Every count the report shows, each a frame (empty when the input is absent)."""

    card_votes: pd.DataFrame
    measure_votes: pd.DataFrame
    pillar_votes: pd.DataFrame
    department_votes: pd.DataFrame
    cards_per_measure: pd.DataFrame
    unlinked_cards: pd.DataFrame
    comments_per_kind: pd.DataFrame
    round_totals: Mapping[int, int]
    voters: Mapping[int, int]

    def tables(self) -> dict[str, pd.DataFrame]:
        """Output file stem → frame, for the tables that have rows."""
        named = {
            "votes_by_card": self.card_votes, "votes_by_measure": self.measure_votes,
            "votes_by_pillar": self.pillar_votes, "votes_by_department": self.department_votes,
            "cards_by_measure": self.cards_per_measure, "cards_unlinked": self.unlinked_cards,
            "comments_by_kind": self.comments_per_kind,
        }
        return {k: v for k, v in named.items() if len(v.columns)}


TEXT_BATCH = 2000
"""Items tokenised together in :func:`prepare_text` (their tokens are dropped after each batch)."""


def prepare_text(inputs: MeetingInputs, *, tokeniser: Tokeniser, stopwords: Iterable[str],
                 tagger: Tagger | None = None) -> TextStage:
    """Validated inputs → :class:`TextStage`: normalise, then tokenise every item once and derive from
    those tokens the keyword candidates, the content terms and (with ``tagger``) the theme evidence.

    Items go through in batches of :data:`TEXT_BATCH`, so tokens are held for one batch only."""
    items = normalised_items(inputs.cards, inputs.feedback)
    return items_pass(items, tokeniser=tokeniser, stopwords=stopwords, tagger=tagger)


def items_pass(items: pd.DataFrame, *, tokeniser: Tokeniser, stopwords: Iterable[str],
               tagger: Tagger | None = None) -> TextStage:
    """Normalised :class:`Items` → :class:`TextStage` (one tokenisation per item; see :func:`prepare_text`)."""
    stop = frozenset(stopwords)
    terms, evidence, content = [], [], {}
    matcher = RuleMatcher(tagger.codebook, tagger.tokeniser) if tagger is not None else None
    shared = tagger is not None and tagger.tokeniser.lexicon == tokeniser.lexicon  # same tokens for the rules
    for i in range(0, max(len(items), 1), TEXT_BATCH):
        batch = items.iloc[i:i + TEXT_BATCH]
        texts = list(batch[Items.text])
        tokens = [tokeniser.tokens(t) for t in texts]
        comps = [tokeniser.compounds(tk) for tk in tokens]
        terms.append(item_terms(batch, tokeniser=tokeniser, stopwords=stop, tokens=tokens, compounds=comps))
        for text, tk, cp in zip(texts, tokens, comps, strict=True):
            content[text] = content_terms(tokeniser, text, stop, tokens=tk, compounds=cp)
        if tagger is not None:
            evidence.append(tagger.tag(batch, tokens=tokens if shared else None,
                                       compounds=comps if shared else None, matcher=matcher))
    return TextStage(items=items, terms=pd.concat(terms, ignore_index=True), content=content,
                     evidence=pd.concat(evidence, ignore_index=True) if tagger is not None else None)


MAX_LISTED = 3000
"""Rows of a long list shown in the report (the CSV files hold them all)."""

MATCH_THRESHOLD = 0.3
"""Minimum measure score for a comment to count as supporting a measure (see pipeline.matching)."""


@dataclass(frozen=True)
class ThemeStage:
    """Evidence rows (one per item × theme) and the ``|``-joined themes of each item."""

    evidence: pd.DataFrame
    themes: dict[str, str]


def tag_meeting(text: TextStage, *, tagger: Tagger, decisions: pd.DataFrame | None = None,
                changes: Changes | None = None) -> ThemeStage:
    """Items → evidence and themes per item (rules, then the learned layer when it is on), with the
    analysts' decisions for this meeting applied (rejected tags removed, corrected ones replaced)."""
    evidence = text.evidence if text.evidence is not None else tagger.tag(text.items)
    if decisions is not None and len(decisions):
        evidence = apply_theme_decisions(evidence, decisions, changes if changes is not None else Changes(),
                                         tagger.codebook.theme_ids)
    return ThemeStage(evidence=evidence, themes=themes_by_item(evidence, tagger.codebook))


def match_meeting(inputs: MeetingInputs, text: TextStage, themes: ThemeStage, tallies: Tallies, *,
                  tokeniser: Tokeniser, stopwords: Iterable[str], codebook: Codebook,
                  decisions: pd.DataFrame | None = None, changes: Changes | None = None,
                  scores: np.ndarray | None = None, terms: TermCache | None = None) -> MatchResult:
    """Items + themes → measure scores, matches, suggested card links and coverage (with the analysts'
    accepted / rejected links applied)."""
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords, threshold=MATCH_THRESHOLD,
                             terms=terms).fit(inputs.measures)
    overrides = link_overrides(decisions) if decisions is not None and len(decisions) else LinkOverrides()
    if changes is not None:
        for item_id, mids in overrides.add.items():
            for m in mids:
                changes.add("measure", item_id, f"施策案 {m} への紐づけを反映しました（採用/修正）")
        for item_id, m in sorted(overrides.remove):
            changes.add("measure", item_id, f"施策案 {m} への紐づけを外しました（不採用/修正）")
    return match_items(text.items, themes.themes, inputs.measures, inputs.cards, matcher=matcher,
                       codebook=codebook, measure_votes=tallies.measure_votes if len(tallies.measure_votes) else None,
                       overrides=overrides, scores=scores)


def theme_by_kind(items: pd.DataFrame, themes: Mapping[str, str], codebook: Codebook) -> pd.DataFrame:
    """Items per theme (rows, codebook order) and kind (columns: カード, then the comment kinds)."""
    kinds = [k for k in ["カード", *FEEDBACK_KINDS] if k in set(items[Items.kind])]
    counts = {t: dict.fromkeys(kinds, 0) for t in codebook.theme_ids}
    for item_id, kind in zip(items[Items.item_id], items[Items.kind], strict=True):
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t in counts:
                counts[t][kind] += 1
    out = pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *kinds])
    out["total"] = out[kinds].sum(axis=1).astype("int64")
    return out


def theme_by_pillar(items: pd.DataFrame, themes: Mapping[str, str], measures_by_item: Mapping[str, str],
                    measures: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Items per theme and pillar (through the item's measures; ``(なし)`` when it matches none)."""
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    pillars = [*dict.fromkeys(measures[Measures.pillar_id]), tally.NO_PILLAR]
    counts = {t: dict.fromkeys(pillars, 0) for t in codebook.theme_ids}
    for item_id in items[Items.item_id]:
        ps = {pillar_of[m] for m in filter(None, measures_by_item.get(item_id, "").split("|")) if m in pillar_of}
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t not in counts:
                continue
            for p in ps or {tally.NO_PILLAR}:
                counts[t][p] += 1
    return pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *pillars])


def tally_meeting(inputs: MeetingInputs) -> Tallies:
    """Validated inputs → :class:`Tallies`."""
    empty = pd.DataFrame()
    votes, cards, measures = inputs.votes, inputs.cards, inputs.measures
    has_votes = votes is not None and len(votes) > 0
    cards_frame = cards if cards is not None else pd.DataFrame(columns=list(Cards.to_schema().columns))
    return Tallies(
        card_votes=tally.card_votes(votes, cards) if has_votes else empty,
        measure_votes=tally.measure_votes(votes, cards_frame, measures) if has_votes and cards is not None
        else empty,
        pillar_votes=tally.pillar_votes(votes, cards_frame, measures) if has_votes and cards is not None
        else empty,
        department_votes=tally.department_votes(votes, cards_frame) if has_votes and cards is not None else empty,
        cards_per_measure=tally.cards_per_measure(cards, measures) if cards is not None else empty,
        unlinked_cards=tally.unlinked_cards(cards) if cards is not None else empty,
        comments_per_kind=tally.comments_per_kind(inputs.feedback) if inputs.feedback is not None else empty,
        round_totals=tally.round_totals(votes) if has_votes else {},
        voters=tally.voters_per_round(votes) if has_votes else {},
    )


def _top(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return frame.head(n).reset_index(drop=True)


def build_report(
    inputs: MeetingInputs,
    text: TextStage,
    tallies: Tallies,
    keywords: pd.DataFrame,
    *,
    themes: ThemeStage | None = None,
    matches: MatchResult | None = None,
    codebook: Codebook | None = None,
    perspective_sections: Sequence[Section] = (),
    cluster_sections: Sequence[Section] = (),
    keyword_sections: Sequence[Section] = (),
    decision_sections: Sequence[Section] = (),
    manifest_summary: Sequence[tuple[str, str]] = (),
) -> ReportContext:
    """Stage outputs → :class:`ReportContext` with the sections of the issue-2 report."""
    meta = inputs.meta
    items = text.items
    n_cards = int((items[Items.source] == "card").sum())
    n_comments = int((items[Items.source] == "feedback").sum())
    rows_in = sum(int(c["rows_in"]) for c in inputs.counts)  # type: ignore[call-overload]
    rows_ok = sum(int(c["rows_ok"]) for c in inputs.counts)  # type: ignore[call-overload]
    rows_rej = sum(int(c["rows_rejected"]) for c in inputs.counts)  # type: ignore[call-overload]
    summary = [
        ("会議", meta.get("title", inputs.meeting_id)),
        ("カード", f"{n_cards}枚"),
        ("コメント", f"{n_comments}件"),
        ("入力行 / 取込 / 除外", f"{rows_in} / {rows_ok} / {rows_rej}"),
    ]
    if tallies.round_totals:
        summary.append(("投票", "、".join(
            f"{r}回目 {b}票" + (f"（{tallies.voters[r]}人）" if r in tallies.voters else "")
            for r, b in tallies.round_totals.items())))

    vote_sections: list[Section] = []
    if len(tallies.card_votes):
        rounds = sorted(tallies.round_totals)
        from pipeline.charts import vote_rounds_chart

        vote_sections.append(Section(
            "カード別の票数（上位20）", _top(tallies.card_votes, 20),
            image=vote_rounds_chart(tallies.card_votes), image_file="votes.png",
            image_alt="カード別の票（各回の総票数に占める割合）",
            note=("最後の回の票数の多い順。増減(ポイント)は各回の総票数に占める割合の差です"
                  "（回ごとに配るブロック数が違うため、票数の差より比較に向きます）。")))
        if len(rounds) >= 2:
            moved = tallies.card_votes.sort_values(
                ["share_shift", "card_id"], ascending=[False, True], kind="mergesort")
            gains = moved[moved["share_shift"] > 0].head(5)
            losses = moved[moved["share_shift"] < 0].sort_values(
                ["share_shift", "card_id"], kind="mergesort").head(5)
            vote_sections.append(Section(
                f"{rounds[0]}回目→{rounds[-1]}回目で支持を集めたカード", gains.reset_index(drop=True)))
            vote_sections.append(Section(
                f"{rounds[0]}回目→{rounds[-1]}回目で支持を減らしたカード", losses.reset_index(drop=True)))
        if len(tallies.pillar_votes):
            vote_sections.append(Section(
                "基本方針（柱）別の票数", tallies.pillar_votes,
                note="複数の施策に紐づくカードの票は、それぞれの施策に数えます（柱では1回だけ）。"))
            vote_sections.append(Section("施策案別の票数", tallies.measure_votes))
            vote_sections.append(Section("部署別の票数", tallies.department_votes))

    measure_sections: list[Section] = []
    if matches is not None:
        cov = matches.coverage
        measure_sections.append(Section(
            "施策案ごとの裏付け（カバレッジ）", cov,
            note=("カード = 担当課が紐づけたカード、コメント = 内容が施策案に合うコメント（スコアがしきい値以上）、"
                  "票 = 紐づいたカードへの投票。テーマは紐づいたカード・コメントに多いもの。")))
        measure_sections.append(Section(
            "裏付けのない施策案（カードもコメントもない）",
            cov[cov["status"] == "裏付けなし"][[Measures.pillar_id, Measures.measure_id, Measures.measure_name]]
            .reset_index(drop=True), empty="なし（すべての施策案にカードかコメントがあります）"))
        measure_sections.append(Section(
            "紐づけの見直し候補（suggested_links.csv）", matches.suggestions,
            note=("担当課の紐づけと内容の一致度が大きく違うカードです。score は提案先、declared_score は"
                  "現在の紐づけ先の一致度。evidence は共通する語。採否は分析者が判断してください。"),
            empty="なし"))
        measure_sections.append(Section(
            "どの施策案にも当てはまらないカード・コメント", matches.unmatched,
            note="best_measure / best_score は最も近い施策案とその一致度（しきい値未満）です。", empty="なし"))
    elif len(tallies.cards_per_measure):
        cpm = tallies.cards_per_measure
        measure_sections.append(Section("施策案ごとのカード", cpm))
        measure_sections.append(Section(
            "カードが1枚も紐づかない施策案", cpm[cpm["cards"] == 0][
                [Measures.pillar_id, Measures.measure_id, Measures.measure_name]].reset_index(drop=True),
            empty="なし（すべての施策案にカードがあります）"))
        measure_sections.append(Section("どの施策案にも紐づかないカード", tallies.unlinked_cards,
                                        empty="なし"))

    theme_sections: list[Section] = []
    if themes is not None and codebook is not None:
        theme_sections.append(Section(
            "テーマ × 種別（件数）", theme_by_kind(items, themes.themes, codebook),
            note="1件のカード・コメントが複数のテーマを持つことがあります。テーマの定義は models/codebook.yaml。"))
        if matches is not None:
            from pipeline.charts import heatmap_chart

            by_pillar = theme_by_pillar(items, themes.themes, matches.measures_by_item, inputs.measures, codebook)
            theme_sections.append(Section(
                "テーマ × 基本方針（件数）", by_pillar,
                image=heatmap_chart(by_pillar, index="theme", title="テーマ × 基本方針（件数）"),
                image_file="themes_by_pillar.png", image_alt="テーマ × 基本方針のヒートマップ",
                note="カードは担当課の紐づけ、コメントは内容が合う施策案の柱で数えます。(なし) はどの施策案にも合わないもの。"))
        definitions = pd.DataFrame([(t.theme_id, t.definition) for t in codebook.themes],
                                   columns=["theme", "definition"])
        theme_sections.append(Section("テーマの定義", definitions))

    comment_sections: list[Section] = []
    if len(tallies.comments_per_kind):
        comment_sections.append(Section("種別ごとの件数", tallies.comments_per_kind))
    if len(keywords):
        comment_sections.append(Section(
            "種別ごとの上位キーワード", keywords,
            note="出現件数は、その語を含むカード・コメントの数です（ストップワードを除く）。"))

    comments = items[items[Items.source] == "feedback"][[Items.item_id, Items.kind, Items.text]].reset_index(
        drop=True)
    if themes is not None:
        comments = comments.assign(themes=[themes.themes.get(i, "") for i in comments[Items.item_id]])
    if matches is not None:
        comments = comments.assign(measures=[matches.measures_by_item.get(i, "") for i in comments[Items.item_id]])
    comments_note = ""
    if len(comments) > MAX_LISTED:
        comments_note = f"最初の {MAX_LISTED} 件です（全 {len(comments)} 件は tagged.csv）。"
        comments = comments.head(MAX_LISTED)
    return ReportContext(
        meeting_id=inputs.meeting_id,
        title=str(meta.get("title") or f"会議 {inputs.meeting_id}"),
        date=str(meta.get("date") or ""),
        counts=inputs.counts,
        summary=summary,
        decision_sections=decision_sections,
        vote_sections=vote_sections,
        theme_sections=theme_sections,
        perspective_sections=perspective_sections,
        cluster_sections=cluster_sections,
        keyword_sections=keyword_sections,
        measure_sections=measure_sections,
        comment_sections=comment_sections,
        comments=comments,
        comments_note=comments_note,
        rejects=inputs.rejects.head(MAX_LISTED),
        manifest_summary=manifest_summary,
    )


def keyword_table(text: TextStage, *, n: int = 10) -> pd.DataFrame:
    """Top ``n`` keywords per kind (see :func:`pipeline.report.top_keywords`)."""
    return report.top_keywords(text.items, text.terms, n=n)


# ---------------------------------------------------------------------------------------------
# Clusters, perspectives, network (issue 4)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterStage:
    """Clusters of all items and of the unexplained ones (no theme and no measure)."""

    table: pd.DataFrame
    cluster_of: dict[str, str]
    unexplained: pd.DataFrame
    method: str
    k: int
    silhouette: Mapping[int, float]


def cluster_meeting(text: TextStage, themes: ThemeStage, matches: MatchResult, *, tokeniser: Tokeniser,
                    stopwords: Iterable[str], random_state: int = 0, terms: TermCache | None = None) -> ClusterStage:
    """Items → clusters (all items as ``K…``, unexplained items as ``U…``)."""
    from pipeline.clustering import ItemClusterer, cluster_ids, cluster_table

    analyzer = terms or TermCache(tokeniser, stopwords)

    ids, texts = list(text.items[Items.item_id]), list(text.items[Items.text])
    model = ItemClusterer(analyzer=analyzer, random_state=random_state).fit(texts)
    table = cluster_table("all", ids, texts, model, prefix="K")
    loose = [n for n, i in enumerate(ids) if not themes.themes.get(i) and not matches.measures_by_item.get(i)]
    u_ids, u_texts = [ids[n] for n in loose], [texts[n] for n in loose]
    unexplained = pd.DataFrame(columns=table.columns)
    if len(u_ids) >= 3:
        umodel = ItemClusterer(analyzer=analyzer, random_state=random_state).fit(u_texts)
        unexplained = cluster_table("unexplained", u_ids, u_texts, umodel, prefix="U")
    return ClusterStage(table=table, cluster_of=cluster_ids(ids, model, prefix="K"), unexplained=unexplained,
                        method=model.method_, k=model.k_, silhouette=model.silhouette_)


def perspectives_meeting(inputs: MeetingInputs, text: TextStage, themes: ThemeStage, tallies: Tallies,
                         clusters: ClusterStage, *, tokeniser: Tokeniser, stopwords: Iterable[str],
                         codebook: Codebook, earlier: Sequence[EarlierMeeting] = (),
                         terms: TermCache | None = None) -> PerspectiveResult:
    """Suggested new perspectives for the meeting (see :mod:`pipeline.perspectives`)."""
    stop = frozenset(stopwords)
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stop, threshold=MATCH_THRESHOLD,
                             terms=terms).fit(inputs.measures)
    votes = {}
    if len(tallies.card_votes):
        votes = dict(zip(tallies.card_votes[Cards.card_id], tallies.card_votes["total"], strict=True))
    return suggest_perspectives(text.items, themes.themes, measures=inputs.measures, cards=inputs.cards,
                                card_votes=votes, matcher=matcher, codebook=codebook, tokeniser=tokeniser,
                                stopwords=stop, unexplained_clusters=clusters.unexplained, earlier=earlier,
                                terms=terms)


def network_meeting(text: TextStage, *, title: str) -> tuple[pd.DataFrame, pd.DataFrame, bytes]:
    """Co-occurrence network of the meeting's keywords: nodes, edges and the PNG."""
    from pipeline.network import cooccurrence, draw_network

    nodes, edges = cooccurrence(text.terms)
    return nodes, edges, draw_network(nodes, edges, title=title)


def perspective_sections(result: PerspectiveResult, items: pd.DataFrame, trend: pd.DataFrame) -> list[Section]:
    """Report sections for 新たな視点(案): the ranked table, every supporting quote, covered requests, trend."""
    shown = result.suggestions.drop(columns=["quotes"])
    raw = dict(zip(items[Items.item_id], items[Items.raw_text], strict=True))
    kinds = dict(zip(items[Items.item_id], items[Items.kind], strict=True))
    quotes = pd.DataFrame(
        [(p, i, kinds.get(i, ""), raw.get(i, "")) for p, ids in zip(result.suggestions["perspective_id"],
                                                                       result.suggestions["item_ids"], strict=True)
         for i in ids.split("|")[:MAX_QUOTES]],
        columns=["perspective_id", "item_id", "kind", "text"])
    sections = [
        Section("提案（支持の多い順）", shown,
                note=("どの施策案にも十分に当てはまらない（最も近い施策案との一致度 best_measure_score が 0.3 未満）"
                      "カード・コメントから作った、施策案に加える視点の候補です。support = 裏付けとなるカード・コメント数、"
                      "votes = 裏付けのカードへの票。status: new = 今回初めて、recurring = 以前の会議にも出ていた"
                      "（recurring_in に会議ID）。採否は分析者が判断してください。"),
                empty="提案はありません"),
        Section("提案の根拠（原文）", quotes,
                note=f"入力されたままの文です（提案ごとに最初の {MAX_QUOTES} 件。全件は perspectives.csv の item_ids）。",
                empty="なし"),
    ]
    if len(result.covered):
        sections.append(Section(
            "既存の施策案でカバーされている「追加すべき視点」", result.covered,
            note="施策案と十分に一致するため提案にしなかったコメントです（一致度 0.3 以上）。"))
    if len(trend.columns) > 2:
        sections.append(Section("テーマの推移（会議ごとの件数）", trend))
    return sections
