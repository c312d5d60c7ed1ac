"""The report, declared: every group and section, with its Japanese title, note and empty-table text.

:func:`build_report` turns a :class:`~pipeline.analysis.MeetingResult` into a
:class:`~pipeline.report.render.ReportContext` (a list of groups).  To change what the report says, change
this module; the renderers only draw what it lists.  Tables come from the result (computed once there);
images are the ones :func:`pipeline.outputs.images` drew for the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from pipeline import outputs as out
from pipeline.analysis import MeetingResult
from pipeline.perspectives import MAX_QUOTES
from pipeline.report.render import Group, ReportContext, Section
from pipeline.schemas import Items, Measures

MAX_LISTED = 3000
"""Rows of a long list shown in the report (the CSV files hold them all)."""

COUNT_COLUMNS = ["file", "kind", "encoding", "rows_in", "rows_ok", "rows_rejected", "blank_rows_skipped"]


def _top(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    return frame.head(n).reset_index(drop=True)


def _image(images: Mapping[str, bytes], spec: out.ImageOutput, alt: str) -> dict[str, object]:
    png = images.get(spec.key, b"")
    return {"image": png, "image_file": spec.file if png else "", "image_alt": alt}


def summary_group(r: MeetingResult) -> Group:
    items = r.items
    totals = r.row_totals
    pairs = [
        ("会議", r.inputs.meta.get("title", r.meeting_id)),
        ("カード", f"{int((items[Items.source] == 'card').sum())}枚"),
        ("コメント", f"{int((items[Items.source] == 'feedback').sum())}件"),
        ("入力行 / 取込 / 除外", f"{totals['rows_in']} / {totals['rows_ok']} / {totals['rows_rejected']}"),
    ]
    t = r.tallies
    if t.round_totals:
        pairs.append(("投票", "、".join(f"{n}回目 {b}票" + (f"（{t.voters[n]}人）" if n in t.voters else "")
                                         for n, b in t.round_totals.items())))
    counts = pd.DataFrame(list(r.inputs.counts))
    counts = counts[[c for c in COUNT_COLUMNS if c in counts.columns]]
    return Group("概要", "summary", [Section("", pairs=pairs), Section("入力ファイル", counts)])


def decision_group(r: MeetingResult) -> Group:
    sections = []
    if len(r.changes):
        sections.append(Section(
            "前回までの判定で変わったこと", r.changes,
            note=("models/review_decisions.csv に記録された分析者の判定（kyosei review apply）を反映しました。"
                  "不採用の提案は再び提案しません。テーマの判定は学習層の教師データにもなります。")))
    if r.learned_themes:
        sections.append(Section(
            "学習層", pd.DataFrame({"theme": list(r.learned_themes)}),
            note=(f"分析者が確認したテーマから学習し、ルールが見落としたテーマを補っています（根拠は {out.EVIDENCE.file} の"
                  " source=model）。")))
    return Group("判定の反映", "decisions", sections)


def vote_group(r: MeetingResult, images: Mapping[str, bytes]) -> Group:
    t = r.tallies
    sections: list[Section] = []
    if not len(t.card_votes):
        return Group("投票結果", "votes", sections)
    rounds = sorted(t.round_totals)
    sections.append(Section(
        "カード別の票数（上位20）", _top(t.card_votes, 20),
        **_image(images, out.VOTES_PNG, "カード別の票（各回の総票数に占める割合）"),  # type: ignore[arg-type]
        note=("最後の回の票数の多い順。増減(ポイント)は各回の総票数に占める割合の差です"
              "（回ごとに配るブロック数が違うため、票数の差より比較に向きます）。")))
    if len(rounds) >= 2:
        moved = t.card_votes.sort_values(["share_shift", "card_id"], ascending=[False, True], kind="mergesort")
        gains = moved[moved["share_shift"] > 0].head(5)
        losses = moved[moved["share_shift"] < 0].sort_values(["share_shift", "card_id"], kind="mergesort").head(5)
        sections.append(Section(f"{rounds[0]}回目→{rounds[-1]}回目で支持を集めたカード", gains.reset_index(drop=True)))
        sections.append(Section(f"{rounds[0]}回目→{rounds[-1]}回目で支持を減らしたカード", losses.reset_index(drop=True)))
    if len(t.pillar_votes):
        sections.append(Section("基本方針（柱）別の票数", t.pillar_votes,
                                note="複数の施策に紐づくカードの票は、それぞれの施策に数えます（柱では1回だけ）。"))
        sections.append(Section("施策案別の票数", t.measure_votes))
        sections.append(Section("部署別の票数", t.department_votes))
    return Group("投票結果", "votes", sections)


def measure_group(r: MeetingResult) -> Group:
    m = r.matches
    cov = m.coverage
    unsupported = cov[cov["status"] == "裏付けなし"][[Measures.pillar_id, Measures.measure_id, Measures.measure_name]]
    return Group("施策別", "measures", [
        Section("施策案ごとの裏付け（カバレッジ）", cov,
                note=("カード = 担当課が紐づけたカード、コメント = 内容が施策案に合うコメント（スコアがしきい値以上）、"
                      "票 = 紐づいたカードへの投票。テーマは紐づいたカード・コメントに多いもの。")),
        Section("裏付けのない施策案（カードもコメントもない）", unsupported.reset_index(drop=True),
                empty="なし（すべての施策案にカードかコメントがあります）"),
        Section(f"紐づけの見直し候補（{out.SUGGESTED_LINKS.file}）", m.suggestions,
                note=("担当課の紐づけと内容の一致度が大きく違うカードです。score は提案先、declared_score は"
                      "現在の紐づけ先の一致度。evidence は共通する語。採否は分析者が判断してください。"),
                empty="なし"),
        Section("どの施策案にも当てはまらないカード・コメント", m.unmatched,
                note="best_measure / best_score は最も近い施策案とその一致度（しきい値未満）です。", empty="なし"),
    ])


def attribute_sections(r: MeetingResult) -> list[Section]:
    """One table per attribute: themes (rows) × the attribute's values (columns), comments counted."""
    sections: list[Section] = []
    file = out.THEMES_BY_ATTRIBUTE.file
    table = r.theme_by_attribute
    for attr in dict.fromkeys(table["attribute"]):
        part = table[table["attribute"] == attr]
        wide = part.pivot_table(index="theme", columns="value", values="items", aggfunc="sum", fill_value=0,
                                sort=False).reset_index()
        wide.columns.name = None
        title = "設問" if attr == "question" else attr
        sections.append(Section(f"テーマ × {title}（コメント数）", wide,
                           note=f"属性「{title}」の値ごとに、各テーマのコメント数です（全件は {file}）。"))
    return sections


def theme_group(r: MeetingResult, images: Mapping[str, bytes]) -> Group:
    return Group("テーマ別", "themes", [
        *attribute_sections(r),
        Section("テーマ × 種別（件数）", r.theme_by_kind,
                note="1件のカード・コメントが複数のテーマを持つことがあります。テーマの定義は models/codebook.yaml。"),
        Section("テーマ × 基本方針（件数）", r.theme_by_pillar,
                **_image(images, out.THEMES_BY_PILLAR_PNG, "テーマ × 基本方針のヒートマップ"),  # type: ignore[arg-type]
                note="カードは担当課の紐づけ、コメントは内容が合う施策案の柱で数えます。(なし) はどの施策案にも合わないもの。"),
        Section("テーマの定義", r.theme_definitions),
    ])


def perspective_group(r: MeetingResult) -> Group:
    p = r.perspectives
    shown = p.suggestions[["perspective_id", "label", "theme_label", "pillar_id", "support", "cohesion", "seed",
                           "label_source", "representative_text", "best_measure_id", "best_measure_score", "status",
                           "recurring_in", "comments", "cards", "groups", "votes", "item_ids"]]
    raw = dict(zip(r.items[Items.item_id], r.items[Items.raw_text], strict=True))
    kinds = dict(zip(r.items[Items.item_id], r.items[Items.kind], strict=True))
    quotes = pd.DataFrame(
        [(pid, i, kinds.get(i, ""), raw.get(i, "")) for pid, ids in zip(p.suggestions["perspective_id"],
                                                                       p.suggestions["item_ids"], strict=True)
         for i in ids.split("|")[:MAX_QUOTES]],
        columns=["perspective_id", "item_id", "kind", "text"])
    how = ("施策案の文章をコードブックで読んで作りました（このコードブックの施策IDと施策一覧のIDが合わないため）"
           if r.links.derived else "コードブックの施策IDによります")
    sections = [
        Section("提案（支持の多い順）", shown,
                note=("どの施策案もカバーしていない分野のカード・コメント、施策案の文言にない「追加すべき視点」、"
                      "どのテーマにも施策案にも当てはまらない意見のうちまとまりのあるものから作った、施策案に加える"
                      "視点の候補です。1件のコメントは1つの提案にだけ入ります。ラベル = 裏付けの意見に共通する語句"
                      "（なければ代表的な意見の一節）、テーマ = 抜けている視点としてのテーマ名、support = 裏付けの件数、"
                      "cohesion = 裏付けの意見どうしの文章のまとまり（0〜1）、best_measure = 最も近い施策案と一致度。"
                      f"テーマと施策案の対応は{how}（{out.THEME_LINKS.file}）。文言でカバーとみなす一致度は "
                      f"{p.threshold}（施策案名とその施策案の一致度の中央値の半分。施策一覧ごとに決まります）。"
                      "status: new = 今回初めて、recurring = 以前の会議にも出ていた。採否は分析者が判断してください。"),
                empty="提案はありません"),
        Section("提案の根拠（原文）", quotes,
                note=(f"入力されたままの文です（提案ごとに最初の {MAX_QUOTES} 件。全件は {out.PERSPECTIVES.file} の"
                      " item_ids、各意見の判定は " + out.PERSPECTIVE_DECISIONS.file + "）。"),
                empty="なし"),
        Section("計画書の記述への意見", p.plan_comments,
                note="文章・表記・ページ・図表・データ・構成など、計画書そのものへの意見です。新たな視点(案)には含めていません。",
                empty="なし"),
    ]
    if len(p.covered):
        sections.append(Section("既存の施策案でカバーされている「追加すべき視点」", p.covered,
                                note=f"施策案の文言と十分に一致する（一致度 {p.threshold} 以上）ため提案にしなかったコメントです。"))
    if p.empty_answers:
        sections.append(Section("空の回答", pd.DataFrame(), empty=(
            f"「特になし」「なし」「同上」などの回答が {p.empty_answers} 件ありました（件数のみ数え、分析には使っていません）。")))
    if len(r.trend.columns) > 2:
        sections.append(Section("テーマの推移（会議ごとの件数）", r.trend))
    return Group("新たな視点(案)", "perspectives", sections)


def cluster_group(r: MeetingResult) -> Group:
    c = r.clusters
    return Group("クラスタ", "clusters", [
        Section("カードとコメントのクラスタ", c.table.drop(columns=["scope"]),
                note=(f"{c.method} 法、クラスタ数 {c.k}（シルエット係数が最大の数。最大 √(件数/2)）。"
                      "label は各クラスタに特徴的な語（c-TF-IDF）、representative はクラスタの中心に最も近い原文。")),
        Section("テーマにも施策案にも当てはまらないもののクラスタ", c.unexplained.drop(columns=["scope"]),
                empty="なし（3件未満）"),
    ])


def keyword_group(r: MeetingResult, images: Mapping[str, bytes]) -> Group:
    return Group("キーワード", "keywords", [
        Section("共起ネットワーク", r.network_edges,
                **_image(images, out.NETWORK_PNG, f"共起ネットワーク {r.title}"),  # type: ignore[arg-type]
                note=("出現件数の多い語（2件以上）どうしの Jaccard 係数が高い上位の組を線で結んでいます。"
                      "円の大きさは出現件数、色はまとまり（コミュニティ）。"),
                empty="共起する語がありません"),
    ])


def comment_group(r: MeetingResult) -> Group:
    sections = []
    if len(r.tallies.comments_per_kind):
        sections.append(Section("種別ごとの件数", r.tallies.comments_per_kind))
    if len(r.keywords):
        sections.append(Section("種別ごとの上位キーワード", r.keywords,
                                note="出現件数は、その語を含むカード・コメントの数です（ストップワードを除く）。"))
    return Group("コメント", "comments", sections)


def comment_list_group(r: MeetingResult) -> Group:
    items = r.items[r.items[Items.source] == "feedback"]
    shown = [Items.item_id, Items.kind, *(c for c in (Items.section, Items.question)
                                          if (items[c].str.strip() != "").any()), Items.text]
    comments = items[shown].reset_index(drop=True)
    ids = comments[Items.item_id]
    comments = comments.assign(themes=[r.themes.get(i, "") for i in ids],
                               measures=[r.matches.measures_by_item.get(i, "") for i in ids])
    note = "正規化後の本文です（全角英数字の半角化、表記の統一など）。"
    if len(r.replies):
        comments = comments.assign(reply=list(items[Items.reply]))
        note += "「市の考え方」は入力された回答をそのまま並べたもので、分析には使っていません。"
    if len(comments) > MAX_LISTED:
        note += f"最初の {MAX_LISTED} 件です（全 {len(comments)} 件は {out.TAGGED.file}）。"
        comments = comments.head(MAX_LISTED)
    return Group("コメント一覧", "list", [Section("", comments, filterable=True)] if len(comments) else [], note=note)


def appendix_group(r: MeetingResult, manifest_summary: Sequence[tuple[str, str]]) -> Group:
    return Group("付録", "appendix", [
        Section(f"取り込めなかった行（{out.REJECTS.file}）", r.inputs.rejects.head(MAX_LISTED), filterable=True,
                empty="なし（すべての行を取り込みました）"),
        Section("実行情報", pairs=manifest_summary),
    ])


def build_report(r: MeetingResult, images: Mapping[str, bytes],
                 manifest_summary: Sequence[tuple[str, str]]) -> ReportContext:
    """Result → the report's groups, in reading order (groups with nothing to show are left out)."""
    groups = [
        summary_group(r), decision_group(r), vote_group(r, images), measure_group(r), theme_group(r, images),
        perspective_group(r), cluster_group(r), keyword_group(r, images), comment_group(r), comment_list_group(r),
        appendix_group(r, manifest_summary),
    ]
    return ReportContext(meeting_id=r.meeting_id, title=str(r.inputs.meta.get("title") or f"会議 {r.meeting_id}"),
                         date=r.date, groups=[g for g in groups if g.sections])
