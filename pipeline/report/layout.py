"""The report, declared: every group and section, with its Japanese title, note and empty-table text.

:func:`build_report` turns a :class:`~pipeline.run.result.MeetingResult` into a
:class:`~pipeline.report.render.ReportContext` (a list of groups).  To change what the report says, change
this module; the renderers only draw what it lists.  Tables come from the result (computed once there);
images are the ones :func:`pipeline.run.outputs.images` drew for the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pipeline.perspectives import MAX_QUOTES
from pipeline.report.findings import key_findings
from pipeline.report.render import Group, ReportContext, Section
from pipeline.run import outputs as out
from pipeline.run.result import MeetingResult
from pipeline.schemas import Items, Measures
from pipeline.tally import Tallies
from pipeline.tally.shown import left_out_note, natural_order, without_empty_columns, without_zeros

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
    # the meeting's own rows (cards, comments, votes): the policy table is what they are compared with, not input
    own = [c for c in r.inputs.counts if c.get("kind") != "measures"]
    totals = {k: sum(int(c[k]) for c in own) for k in ("rows_in", "rows_ok", "rows_rejected")}  # type: ignore[call-overload]
    pairs = [
        ("会議", r.inputs.meta.get("title", r.meeting_id)),
        ("シリーズ", r.inputs.series + (f"（以前の会議: {'、'.join(r.earlier_ids)}）" if r.earlier_ids
                                        else "（以前の会議はありません）")),
        ("カード", f"{int((items[Items.source] == 'card').sum())}枚"),
        ("コメント", f"{int((items[Items.source] == 'feedback').sum())}件"),
        ("会議の行（カード・コメント・投票）", f"{totals['rows_in']}行（取り込み {totals['rows_ok']}、除外 "
                                           f"{totals['rows_rejected']}）"),
    ]
    t = r.tallies
    if t.round_totals:
        pairs.append(("投票", "、".join(f"{n}回目 {b}票" + (f"（{t.voters[n]}人）" if n in t.voters else "")
                                         for n, b in t.round_totals.items())))
    found = [(f.text, f.anchor, f.heading) for f in key_findings(r)]
    sections = [Section("この会議で分かったこと", points=found), Section("会議と読んだもの", pairs=pairs)]
    if r.notices:
        sections.append(Section("注意（この結果を読む前に確かめてください）", pd.DataFrame({"notice": list(r.notices)})))
    return Group("概要", "summary", sections)


def read_files_section(r: MeetingResult) -> Section:
    """The files read, with their encoding and row counts, and the codebook used (for whoever checks the run)."""
    counts = pd.DataFrame(list(r.inputs.counts))
    counts = counts[[c for c in COUNT_COLUMNS if c in counts.columns]]
    book = ("＋".join(Path(f).name for f in r.codebook_files)
            + ("（分野のテーマに、地域の追加分を重ねています）" if len(r.codebook_files) > 1 else "")) if r.codebook_files else ""
    return Section("読み込んだファイル", counts, note=f"テーマのコードブック: {book}。" if book else "")


def decision_group(r: MeetingResult) -> Group:
    sections = []
    if len(r.changes):
        sections.append(Section(
            "前回までの判定で変わったこと", r.changes,
            note=("分析者がレビューシートで判定した内容を反映しました。不採用の提案は再び提案しません。"
                  "テーマの判定は、テーマ付けの学習にも使われます。")))
    if r.learned_themes:
        sections.append(Section(
            "学習層", pd.DataFrame({"theme": list(r.learned_themes)}),
            note="分析者が確認したテーマから学習し、ルールが見落としたテーマを補っています。"))
    return Group("判定の反映", "decisions", sections)


def _round_note(t: Tallies, rounds: Sequence[int]) -> str:
    blocks = "、".join(f"{n}回目 {t.round_totals[n]}票" for n in rounds)
    return (f"回ごとに配るブロックの数が違うため（{blocks}）、票数の差ではなく、その回の総票数に占める割合"
            "（%）の差（増減(ポイント)）で比べています。票数が減っても割合が上がったカードは、ここでは"
            "「支持を集めた」に入ります。")


def vote_group(r: MeetingResult, images: Mapping[str, bytes]) -> Group:
    t = r.tallies
    sections: list[Section] = []
    if not len(t.card_votes):
        return Group("投票結果", "votes", sections)
    rounds = sorted(t.round_totals)
    sections.append(Section(
        "カード別の票数（上位20）", _top(t.card_votes, 20),
        **_image(images, out.VOTES_PNG, "カード別の票（各回の総票数に占める割合）"),  # type: ignore[arg-type]
        note=("最後の回の票数の多い順。「1回目(%)」などはその回の総票数に占める割合、増減(ポイント)は割合の差です。"
              + (_round_note(t, rounds) if len(rounds) >= 2 else ""))))
    if len(rounds) >= 2:
        moved = t.card_votes.drop(columns=["shift"]).sort_values(["share_shift", "card_id"], ascending=[False, True],
                                                                 kind="mergesort")
        gains = moved[moved["share_shift"] > 0].head(5)
        losses = moved[moved["share_shift"] < 0].sort_values(["share_shift", "card_id"], kind="mergesort").head(5)
        span = f"{rounds[0]}回目→{rounds[-1]}回目"
        sections.append(Section(f"{span}で票の割合が上がったカード（支持を集めたカード）", gains.reset_index(drop=True),
                                note=_round_note(t, rounds), empty="なし"))
        sections.append(Section(f"{span}で票の割合が下がったカード（支持を減らしたカード）",
                                losses.reset_index(drop=True), empty="なし"))
    if len(t.pillar_votes):
        sections.append(Section("基本方針（柱）別の票数", t.pillar_votes,
                                note=("柱の票 = その柱の施策案に紐づくカードへの票です。1枚のカードが複数の柱に紐づくときは"
                                      "それぞれの柱に数える（1つの柱では1回だけ）ため、割合（%）を足すと100%を超える"
                                      "ことがあります。")))
        sections.append(Section("施策案別の票数", t.measure_votes,
                                note=("複数の施策案に紐づくカードの票は、それぞれの施策案に数えます（割合の合計は"
                                      "100%を超えることがあります）。")))
        sections.append(Section("部署別の票数", t.department_votes))
    return Group("投票結果", "votes", sections)


GLOSSARY: tuple[tuple[str, str], ...] = (
    ("裏付け", "施策案に担当課が紐づけたカードと、内容が施策案に合うコメントです。"),
    ("支持", "その提案を裏付けるカード・コメントの件数です。多いほど、多くの参加者が同じ視点を挙げています。"),
    ("一致度", "カード・コメントと施策案の文章の近さ（0〜1）です。共通する語が多いほど高く、しきい値以上なら"
               "その施策案の文言でカバーされているとみなします。"),
    ("しきい値", "一致度がこの値以上なら施策案に合うとみなす境目です。施策案名とその施策案の一致度の中央値の半分で、"
                 "施策一覧ごとに決まります。"),
    ("まとまり", "提案を裏付ける意見どうしの文章の似かより（0〜1）です。0.5以上は高く（同じことを言う意見が多い）、"
                 "0.2未満は低い（言い方の違う意見の集まり）と読みます。"),
    ("ポイント", "その回の総票数に占める割合（%）の、回と回の差です。回ごとに配るブロックの数が違っても比べられます。"),
    ("確からしさ", "そのテーマが付くことの確かさの見積もり（0〜1）です。境目に近いものほど、判定すると学習に役立ちます。"),
    ("共起の強さ", "2つの語の両方を含む件数 ÷ どちらかを含む件数（ジャッカード係数、0〜1）です。いつも一緒に使われる"
                   "語ほど1に近くなります。"),
    ("特徴語", "そのクラスタに多く、他のクラスタに少ない語です。"),
    ("シルエット係数", "クラスタの分かれ方のよさ（−1〜1）です。高いほど、同じクラスタの意見どうしが似て、"
                       "別のクラスタとは離れています。"),
    ("ウォード法", "似た意見を順にまとめていく方法の一つで、まとめたときのばらつきの増え方が最も小さい組から合わせます。"),
    ("k平均法", "意見を決めた数のクラスタに分け、各クラスタの中心に近い意見を集め直すことを繰り返す方法です。"),
)
"""用語の説明: every measure or method word the report uses, in one plain sentence (only those the report uses are
listed)."""

JACCARD_NOTE = ("共起の強さ（ジャッカード係数、0〜1）は、2つの語の両方を含む件数 ÷ どちらかを含む件数です。"
                "いつも一緒に使われる語ほど1に近くなります。")
FEATURE_NOTE = ("特徴語は、そのクラスタに多く他のクラスタに少ない語です（クラスタ内の語の頻度に、全クラスタで"
                "珍しい語ほど重みをかけたもの）。")


def measure_group(r: MeetingResult) -> Group:
    m = r.matches
    cov = m.coverage
    unsupported = cov[cov["status"] == "裏付けなし"][[Measures.pillar_id, Measures.measure_id, Measures.measure_name]]
    policy = r.inputs.policy
    tree = [] if policy is None or policy.own_ids else [Section(
        "体系表（市の表から読んだ階層と ID）", policy.table(),
        note=(f"{' > '.join(policy.levels)} の各項目に、番号から作った ID を付けています（施策案 = "
              f"{len(policy.measures)} 件）。以下の表の ID はこの ID です。"))]
    return Group("施策別", "measures", [
        *tree,
        Section("施策案ごとの裏付け（カバレッジ）",
                without_empty_columns(cov.drop(columns=["card_ids", "comment_ids", "suggested_card_ids"],
                                               errors="ignore"),
                                      keep=(Measures.pillar_id, Measures.measure_id, Measures.measure_name, "status")),
                note=("カード = 担当課が紐づけたカード、コメント = 内容が施策案に合うコメント（一致度がしきい値以上）、"
                      "票 = 紐づいたカードへの投票。テーマは紐づいたカード・コメントに多いもの。カードとコメントの ID は"
                      " Excel のブックにあります。")),
        Section("裏付けのない施策案（カードもコメントもない）", unsupported.reset_index(drop=True),
                empty="なし（すべての施策案にカードかコメントがあります）"),
        Section("どの施策案にも当てはまらないカード・コメント", m.unmatched.drop(columns=["best_score"], errors="ignore"),
                note=("どの施策案とも内容が十分には合わない（一致度がしきい値未満の）ものです。「最も近い施策案」も並べます"
                      "（一致度の値は Excel のブック）。本文は書かれたままです。"),
                empty="なし"),
    ])


def link_section(r: MeetingResult) -> Section:
    return Section(f"紐づけの見直し候補（{out.SUGGESTED_LINKS.file}）", r.matches.suggestions,
                   note=("担当課の紐づけと内容の一致度が大きく違うカードです。「一致度」は提案先、「現在の一致度」は"
                         "現在の紐づけ先との一致度、「根拠」は共通する語です。採否は分析者が判断してください。"),
                   empty="なし")


def attribute_sections(r: MeetingResult) -> list[Section]:
    """One table per attribute: themes (rows) × the attribute's values (columns), comments counted."""
    sections: list[Section] = []
    table = r.theme_by_attribute
    for attr in dict.fromkeys(table["attribute"]):
        part = table[table["attribute"] == attr]
        wide = part.pivot_table(index="theme", columns="value", values="items", aggfunc="sum", fill_value=0,
                                sort=False).reset_index()
        wide.columns.name = None
        wide = wide[["theme", *natural_order([str(c) for c in wide.columns if c != "theme"])]]
        wide, rows, cols = without_zeros(wide, "theme")
        title = "設問" if attr == "question" else attr
        sections.append(Section(f"テーマ × {title}（コメント数）", wide,
                                note=f"「{title}」の値ごとに、各テーマのコメント数です。" + left_out_note(rows, cols)))
    return sections


def counted(title: str, frame: pd.DataFrame, note: str, **image: object) -> Section:
    """A theme × category count table without its all-zero rows and columns (one line says which)."""
    shown, rows, cols = without_zeros(frame, "theme", keep=("total",))
    return Section(title, shown, note=note + left_out_note(rows, cols), **image)  # type: ignore[arg-type]


def _network_note(r: MeetingResult) -> str:
    o = r.settings
    edges = ("そのうち語どうしをつなぐ最も強い組だけ（最小スパニング・ツリー）" if o.network_mst
             else f"共起の強い上位 {o.network_edges} 組")
    return (f"2件以上に出てくる語のうち出現件数の多い {o.network_words} 語について、{edges}を線で結んでいます。"
            "円の大きさは出現件数、色は互いに結びつきの強い語のまとまり（凡例）、線の太さは共起の強さです。")


def network_section(r: MeetingResult, images: Mapping[str, bytes]) -> Section:
    """The co-occurrence network, or — when too few words are linked to say anything — the most frequent words."""
    if not out.network_shown(r):
        return Section("出現件数の多い語", **_image(images, out.NETWORK_PNG, f"出現件数の多い語 {r.title}"),  # type: ignore[arg-type]
                       note=(f"2件以上の意見で一緒に使われた語が {len(r.network_nodes)} 語と少ないため、語の共起"
                             "ネットワークの代わりに、出現件数の多い語を示します。"),
                       empty="語がありません")
    return Section("語の共起ネットワーク",
                   **_image(images, out.NETWORK_PNG, f"共起ネットワーク {r.title}"),  # type: ignore[arg-type]
                   note=_network_note(r) + "（語の組と共起の強さの表は付録）",
                   empty="共起する語がありません")


def theme_group(r: MeetingResult, images: Mapping[str, bytes]) -> Group:
    return Group("テーマ別", "themes", [
        *attribute_sections(r),
        counted("テーマ × 種別（件数）", r.theme_by_kind,
                "1件のカード・コメントが複数のテーマを持つことがあります。テーマの定義は付録にあります。"),
        counted("テーマ × 基本方針（件数）", r.theme_by_pillar,
                "カードは担当課の紐づけ、コメントは内容が合う施策案の柱で数えます。(なし) はどの施策案にも合わないもの。",
                **_image(images, out.THEMES_BY_PILLAR_PNG, "テーマ × 基本方針のヒートマップ")),
        network_section(r, images),
        *([Section("テーマの推移（会議ごとの件数）", r.trend)] if len(r.trend.columns) > 2 else []),
        kwic_section(r),
        teach_section(r),
    ])


def teach_section(r: MeetingResult) -> Section:
    """The active-learning queue: the comments whose label would teach the tagger most, per theme."""
    queue = r.to_teach
    if not len(queue):
        return Section("判定すると学習に役立つコメント", pd.DataFrame(), empty="なし（テーマごとの件数が少ないため）")
    text = dict(zip(r.items[Items.item_id].tolist(), r.items[Items.raw_text].tolist(), strict=True))
    table = pd.DataFrame({"テーマ": queue["theme"], "ID": queue["item_id"],
                          "本文": [text.get(i, "") for i in queue["item_id"]]})
    return Section("判定すると学習に役立つコメント", table, note=(
        "テーマごとに、付けるかどうかを自動では決めきれないコメントです（確からしさが境目に近いもの。値は Excel の"
        "レビューシート）。Excel の"
        "レビューシートで 採用（このテーマを付ける）か 不採用 を選ぶと、次の実行からテーマ付けの学習に使われます。"
        "30分ほどの判定で、もっとも多くを教えられる順に並べています。"))


KWIC_WORDS = 150
KWIC_LINES = 40
"""Words the HTML report's KWIC list offers and lines shown per word (the KWIC table file has every line)."""


def kwic_section(r: MeetingResult) -> Section:
    from pipeline.themes.kwic import kwic_lines, per_word

    k = r.kwic
    if not len(k):
        return Section("語の前後（KWIC）", pd.DataFrame(), empty="該当なし", picker="word")
    words = list(dict.fromkeys(k["word"]))
    shown = kwic_lines(per_word(k[k["word"].isin(set(words[:KWIC_WORDS]))], KWIC_LINES), r.items)
    cut = len(shown) < len(k)
    return Section(
        "語の前後（KWIC）", shown[["word", "themes", "item_id", "kind", "left", "term", "right"]],
        picker="word", reverse_sort=("left",),
        note=("テーマの根拠になった語と上位のキーワードが、どのカード・コメントでどう使われたかを、書かれたままの前後"
              "約20文字とともに示します。一覧で語を選ぶと、その語の行だけを表示します。「左の文脈」の見出しで並べ替えると"
              "語の直前の文字から、「右の文脈」では直後の文字から並びます。テーマ列は、その箇所が根拠になったテーマです。"
              + (f"語は出現の多い {KWIC_WORDS} 語まで、1語 {KWIC_LINES} 行までです（全 {len(k):,} 行は Excel のブックにも"
                 "あります）。" if cut else f"全 {len(k):,} 行は Excel のブックにもあります。")),
        print_note=(f"語の前後（KWIC）は画面で見るレポートで語を選んで見られます。Excel のブックの「{out.KWIC.sheet}」"
                    f"シートにもあります（1語 {out.KWIC_SHEET_LINES} 行まで）。"),
    )


def perspective_group(r: MeetingResult) -> Group:
    p = r.perspectives
    shown = p.suggestions[["perspective_id", "label", "theme_label", "pillar_id", "support",
                           *(["votes"] if r.tallies.round_totals else []), "representative_text", "status"]]
    raw = dict(zip(r.items[Items.item_id], r.items[Items.raw_text], strict=True))
    kinds = dict(zip(r.items[Items.item_id], r.items[Items.kind], strict=True))
    quotes = pd.DataFrame(
        [(pid, i, kinds.get(i, ""), raw.get(i, "")) for pid, ids in zip(p.suggestions["perspective_id"],
                                                                       p.suggestions["item_ids"], strict=True)
         for i in ids.split("|")[:MAX_QUOTES]],
        columns=["perspective_id", "item_id", "kind", "text"])
    sections = [
        Section("提案（支持の多い順）", shown,
                note=("どの施策案もカバーしていない分野のカード・コメント、施策案の文言にない「追加すべき視点」、"
                      "どのテーマにも施策案にも当てはまらない意見のうちまとまりのあるものから作った、施策案に加える"
                      "視点の候補です。1件のコメントは1つの提案にだけ入ります。ラベル = 裏付けの意見に共通する語句"
                      "（なければ代表的な意見が求めていること、またはその意見の主な語句）、抜けている視点 = その分野の名前、"
                      "支持 = 裏付けのカード・コメントの数。状態: 新規 = 今回初めて、以前にも = 以前の会議にも出ていた、"
                      "採用 = 分析者が採用済み。採否は分析者が判断してください（まとまり・最も近い施策案などは付録）。"),
                empty="提案はありません"),
        *([] if not len(p.suggestions) else [Section("提案の根拠（原文）", quotes,
                note=(f"書かれたままの文です（個人情報は伏せています。提案ごとに最初の {MAX_QUOTES} 件。全件と各意見の"
                      "判定は Excel のブックにあります）。"),
                empty="なし")]),
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
    if len(r.revision):
        sections.append(Section("見直し案（採用された視点から）", _with_votes(r), note=(
            "分析者が採用・修正した新たな視点を、施策一覧への変更案にしたものです。新設 = 視点のラベルを名前、抜けている"
            "視点と代表的な意見を説明にした新しい施策案（番号は柱の続き）、拡充 = 修正後に施策IDを書いた視点の語を"
            "その施策案に加える、紐づけ追加 = 採用したカードの紐づけ、要検討 = カードも意見もない施策案（削除は"
            "しません）。根拠 = 裏付けのカード・意見、票 = 根拠のカードへの票。この表は施策一覧の形に書き出して、"
            "次の会議の施策一覧に使えます（付録の「分析の方法」）。")))
    if len(r.gaps):
        sections.append(Section("以前に採用した視点のその後", r.gaps, note=(
            "以前の会議で採用した視点ごとに、この会議の意見を見ています。解消 = そのテーマの意見が施策案でカバー"
            "されている、未解消 = まだ新たな視点として挙がる（またはカバーする施策案がない）、言及なし = この会議に"
            "そのテーマの意見がない。")))
    return Group("新たな視点(案)", "perspectives", sections)


def _with_votes(r: MeetingResult) -> pd.DataFrame:
    """The 見直し案 rows with the blocks given to the cards among their evidence."""
    t = r.tallies.card_votes
    votes = dict(zip(t["card_id"], t["total"], strict=True)) if len(t) else {}
    shown = r.revision[[Measures.pillar_id, Measures.measure_id, Measures.measure_name, "change", Measures.description,
                        Measures.keywords, "evidence"]]
    return shown.assign(votes=[sum(int(votes.get(i, 0)) for i in str(e).split("|")) for e in shown["evidence"]])


def cluster_sections(r: MeetingResult) -> list[Section]:
    c = r.clusters
    method = {"ward": "ウォード法による階層クラスタリング", "minibatch-kmeans": "k平均法"}.get(c.method, c.method)
    return [
        Section("カードとコメントのクラスタ", c.table.drop(columns=["scope"]),
                note=(f"{method}、クラスタ数 {c.k}（シルエット係数が最大の数。最大 √(件数/2)）。" + FEATURE_NOTE +
                      "代表的な原文はクラスタの中心に最も近い意見です。")),
        Section("テーマにも施策案にも当てはまらないもののクラスタ", c.unexplained.drop(columns=["scope"]),
                empty="なし（3件未満）"),
    ]


REPORT_KINDS: tuple[str, ...] = ("重要な理由", "追加すべき視点", "感想")
"""The workshop's comment kinds in the order of a 報告書; other kinds follow in the order they are counted."""


def opinion_group(r: MeetingResult) -> Group:
    """意見一覧: counts, then every comment of each kind as written (masked)."""
    sections = []
    if len(r.tallies.comments_per_kind):
        per_kind, none, _ = without_zeros(r.tallies.comments_per_kind, Items.kind)
        sections.append(Section("種別ごとの件数", per_kind, note=left_out_note(none, [], "種別")))
    items = r.items[r.items[Items.source] == "feedback"]
    counted = list(r.tallies.comments_per_kind[Items.kind]) if len(r.tallies.comments_per_kind) else []
    kinds = [*(k for k in REPORT_KINDS if k in counted), *(k for k in counted if k not in REPORT_KINDS)]
    kinds += [k for k in dict.fromkeys(items[Items.kind]) if k not in kinds]
    budget = MAX_LISTED
    for kind in kinds:
        part = items[items[Items.kind] == kind]
        if not len(part):
            continue
        cols = [Items.item_id, *(c for c in (Items.group, Items.section, Items.question)
                                 if (part[c].str.strip() != "").any()), Items.raw_text]
        table = part[cols].rename(columns={Items.raw_text: "text"}).reset_index(drop=True)
        ids = table[Items.item_id]
        table = table.assign(themes=[r.themes.get(i, "") for i in ids],
                             measures=[r.matches.measures_by_item.get(i, "") for i in ids])
        if len(r.replies):
            table = table.assign(reply=list(part[Items.reply]))
        note = "書かれたままの文です（個人情報は伏せています）。"
        if len(r.replies):
            note += "「市の考え方」は入力された回答をそのまま並べたもので、分析には使っていません。"
        if len(table) > budget:
            note += f"最初の {budget} 件です（全 {len(table)} 件は Excel のブックにあります）。"
            table = table.head(budget)
        budget -= len(table)
        sections.append(Section(f"{kind}（{len(part)}件）", table, note=note, filterable=True,
                                empty="件数が多いため省略しました（全件は Excel のブックにあります）。"))
    return Group("意見一覧", "opinions", sections)


def appendix_group(r: MeetingResult, manifest_summary: Sequence[tuple[str, str]]) -> Group:
    """Tables an official would not paste into a 報告書: how the comments group, the words, the link scores, the
    codebook's definitions, refused rows and how the run was made."""
    keywords = [Section("種別ごとの上位キーワード", r.keywords,
                        note="出現件数は、その語を含むカード・コメントの数です（ストップワードを除く）。")] \
        if len(r.keywords) else []
    network = [Section("語の共起ネットワークの語の組", r.network_edges, note=JACCARD_NOTE)] if len(r.network_edges) else []
    p = r.perspectives
    details = [Section("新たな視点(案)の詳細", p.suggestions[[
        "perspective_id", "label", "cohesion", "seed", "label_source", "best_measure_id", "best_measure_score",
        "recurring_in", "comments", "cards", "groups", "item_ids"]],
        note=(f"まとまり、きっかけ、ラベルの取り方、最も近い施策案とその一致度です。文言でカバーとみなす一致度は "
              f"{p.threshold}（このしきい値以上の意見は提案にしません）。"))] if len(p.suggestions) else []
    return Group("付録", "appendix", [
        *details,
        *cluster_sections(r),
        *keywords,
        *network,
        link_section(r),
        Section("テーマの定義", r.theme_definitions),
        read_files_section(r),
        Section(f"取り込めなかった行（{out.REJECTS.file}）", r.inputs.rejects.head(MAX_LISTED), filterable=True,
                empty="なし（すべての行を取り込みました）"),
        Section("実行情報", pairs=manifest_summary),
    ])


def method_section(r: MeetingResult) -> Section:
    """分析の方法: how the run was made — the files, commands and options the body of the report does not name."""
    o = r.settings
    book = "＋".join(Path(f).name for f in r.codebook_files) or "kyosei に同梱のもの"
    links = ("施策案の文章をコードブックで読んで作りました（コードブックの施策IDと施策一覧のIDが合わないため）"
             if r.links.derived else "コードブックの施策IDによります")
    return Section("分析の方法", pairs=[
        ("テーマ付け", f"コードブック（{book}）のルールで、カード・コメントごとにテーマとその根拠の語を決めています。"
                       f"根拠は {out.EVIDENCE.file}、テーマの一覧は {out.TAGGED.file}。"),
        ("施策案との対応", f"テーマと施策案の対応は{links}（{out.THEME_LINKS.file}）。施策案ごとの裏付けは "
                           f"{out.COVERAGE.file}、紐づけの見直し候補は {out.SUGGESTED_LINKS.file}。"),
        ("新たな視点(案)", f"提案は {out.PERSPECTIVES.file}、各意見の判定（どの提案に入ったか、なぜ入らなかったか）は "
                           f"{out.PERSPECTIVE_DECISIONS.file}。"),
        ("語の共起ネットワーク", f"上位 {o.network_words} 語、線 {o.network_edges} 本"
                                 + ("（最小スパニング・ツリー）" if o.network_mst else "")
                                 + "。kyosei run の --network-words / --network-edges / --network-mst で変えられます。"),
        ("語の前後（KWIC）", f"全行は {out.KWIC.file}。端末では kyosei kwic 出力フォルダ 語 で表示できます。"),
        ("分析者の判定", "Excel のブックのレビューシートで判定し、kyosei review apply で models/review_decisions.csv に"
                         "記録すると、次の実行から反映されます。"),
        ("見直し案の書き出し", f"kyosei revise で {out.MEASURES_DRAFT.file}・{out.MEASURES_DRAFT_XLSX.file} に書き出し、"
                               "次の会議の --measures に使えます。"),
    ])


def glossary_section(groups: Sequence[Group]) -> Section:
    """用語の説明: the :data:`GLOSSARY` terms the other parts of the report use."""
    from pipeline.schemas import label_for

    said = []
    for g in groups:
        for sec in g.sections:
            said += [sec.title, sec.note, sec.empty, *(k for k, _ in sec.pairs), *(v for _, v in sec.pairs),
                     *(t for t, _, _ in sec.points), *(label_for(c) for c in sec.frame.columns)]
    text = "\n".join(said)
    used = [(term, meaning) for term, meaning in GLOSSARY if term in text]
    return Section("用語の説明", pd.DataFrame(used, columns=["用語", "説明"]))


def build_report(r: MeetingResult, images: Mapping[str, bytes],
                 manifest_summary: Sequence[tuple[str, str]]) -> ReportContext:
    """Result → the report's groups in the order of a 報告書 (groups with nothing to show are left out)."""
    groups = [
        summary_group(r), decision_group(r), perspective_group(r), vote_group(r, images), measure_group(r),
        theme_group(r, images), opinion_group(r), appendix_group(r, manifest_summary),
    ]
    appendix = groups[-1]
    groups[-1] = Group(appendix.heading, appendix.anchor,
                       [method_section(r), glossary_section(groups), *appendix.sections], appendix.note)
    return ReportContext(meeting_id=r.meeting_id, title=str(r.inputs.meta.get("title") or f"会議 {r.meeting_id}"),
                         date=r.date, groups=[g for g in groups if g.sections])
