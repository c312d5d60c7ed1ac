"""Suggested new perspectives: citations, the coverage threshold, the sample meeting, new vs recurring."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.ingest import load_meeting
from pipeline.measures.matching import MeasureMatcher
from pipeline.perspectives import (
    PERSPECTIVE_COLUMNS,
    EarlierMeeting,
    citations,
    is_empty_answer,
    suggest_perspectives,
    theme_links,
    theme_trend,
    without_citations,
)
from pipeline.perspectives.coverage import text_threshold
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Tokeniser
from pipeline.themes.codebook import Codebook
from pipeline.themes.load import load_codebook
from pipeline.themes.tagging import Tagger, themes_by_item
from tests.conftest import LOCAL_CODEBOOK, MEASURES, MEETING_2, MODELS
from tests.factories import items as factory_items
from tests.factories import normalised_items


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    """The field's codebook with the sample city's layer (its pillars and measure ids)."""
    return load_codebook(MODELS / "codebook.yaml", layers=[LOCAL_CODEBOOK])


@pytest.fixture(scope="module")
def measures() -> pd.DataFrame:
    return load_meeting(MEETING_2, MEASURES).measures


def test_quotes_of_measure_or_pillar_names_are_citations(measures: pd.DataFrame) -> None:
    text = normalise_text("柱1の施策案について、(2)では「地域福祉活動団体同士の～」としているが、企業にも")
    got = citations(text, measures)
    assert [(c.pillar_id, c.measure_id) for c in got] == [("P1", "P1-2"), ("P1", "")]
    assert without_citations(text, got) == "柱1の施策案について、(2)ではとしているが、企業にも"


def test_emphasis_quotes_are_not_citations(measures: pd.DataFrame) -> None:
    text = normalise_text("「安全・安心して暮らせる環境づくり」という目で見ると「就労支援」という視点も必要")
    got = citations(text, measures)
    assert [(c.pillar_id, c.measure_id) for c in got] == [("P3", "")]          # the pillar name only
    assert "就労支援" in without_citations(text, got)


def items_of(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return factory_items(rows)


def suggest(items: pd.DataFrame, codebook: Codebook, measures: pd.DataFrame, tokeniser: Tokeniser,
            stopwords: frozenset[str], **kw):
    tagger = Tagger(codebook, tokeniser)
    evidence = tagger.tag(items)
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords).fit(measures)
    links = theme_links(measures, codebook, tagger.tag_texts)
    return suggest_perspectives(items, themes_by_item(evidence, codebook), evidence=evidence, measures=measures,
                                cards=kw.pop("cards", None), card_votes={}, matcher=matcher, codebook=codebook,
                                links=links, tokeniser=tokeniser, stopwords=stopwords, **kw)


COVERED = "地域福祉を担う人材の掘り起こしと育成について、民生委員の話も含め担い手を確保するということは大事"
NEW = "障害のある人が地元の企業で働ける就労支援の視点も必要ではないか。"


def test_a_request_the_measures_word_is_covered_and_a_new_one_is_proposed(
        codebook: Codebook, measures: pd.DataFrame, tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    items = items_of([("A", "追加すべき視点", COVERED), ("B", "追加すべき視点", NEW)])
    res = suggest(items, codebook, measures, tokeniser, stopwords)
    assert res.coverage["A"] >= res.threshold > res.coverage["B"]
    assert res.suggestions["item_ids"].tolist() == ["B"]
    assert res.suggestions.loc[0, "main_theme"] == "就労"
    assert res.covered["item_id"].tolist() == ["A"] and res.covered.loc[0, "best_measure_id"] == "P4-1"
    assert list(res.suggestions.columns) == PERSPECTIVE_COLUMNS
    assert res.decisions.set_index("item_id")["decision"].to_dict() == {"A": "文言でカバー", "B": "追加すべき視点"}


def test_a_new_request_after_a_named_measure_is_not_covered(codebook: Codebook, measures: pd.DataFrame,
                                                            tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    text = ("分野にとらわれない・サポート体制も、福祉分野以外の部分もある。"
            "「福祉」に関わりがないと思っている方への参加・知る機会の充実が必要ではないか。")
    res = suggest(items_of([("A", "追加すべき視点", text)]), codebook, measures, tokeniser, stopwords)
    assert res.coverage["A"] < res.threshold
    assert res.suggestions.loc[0, "main_theme"] == "参加・周知"
    assert res.suggestions.loc[0, "label"] == "「福祉」に関わりがないと思っている方への参加・知る機会の充実"


@pytest.mark.parametrize(("scores", "expected"), [
    ([0.6, 0.7, 0.5], 0.3), ([0.2, 0.1], 0.12), ([0.95, 0.9, 0.99], 0.4), ([], 0.4)])
def test_the_text_threshold_is_half_the_tables_own_name_similarity(scores: list[float], expected: float) -> None:
    assert text_threshold(scores) == expected


@pytest.mark.parametrize(("text", "empty"), [
    ("特になし", True), ("特にありません。", True), ("なし", True), ("同上", True), ("無回答", True), ("ー", True),
    ("特に無し。", True), ("なし（今のままでよい）", False), ("特にないが、バスを増やしてほしい", False)])
def test_empty_answers(text: str, empty: bool) -> None:
    assert is_empty_answer(text) is empty


OTHER_TABLE = pd.DataFrame({
    "pillar_id": ["1", "1", "2"], "pillar_name": ["支え合い", "支え合い", "相談"],
    "measure_id": ["1-1", "1-2", "2-1"],
    "measure_name": ["日常の見守りと支え合い活動の推進", "身近な居場所と交流の場づくり", "身近な相談窓口の充実"],
    "description": ["近所の住民による声かけと見守りを広げる。", "サロンや子ども食堂など気軽に集える場を広げる。",
                    "分野を問わず困りごとを受け止める総合相談窓口を整える。"],
    "keywords": ["見守り;声かけ", "サロン;居場所", "総合相談;相談窓口"]})


def test_links_come_from_another_citys_table_when_its_ids_are_not_the_codebooks(
        codebook: Codebook, tokeniser: Tokeniser) -> None:
    links = theme_links(OTHER_TABLE, codebook, Tagger(codebook, tokeniser).tag_texts)
    assert links.derived
    assert links.coverage["支え合い"] == ("1-1",) and links.coverage["居場所"] == ("1-2",)
    assert links.coverage["相談窓口"] == ("2-1",) and links.coverage["移動"] == ()
    covered = links.covered(codebook)
    assert {"支え合い", "居場所", "相談窓口", "孤立"} <= covered           # 孤立 through its related themes
    assert "移動" not in covered and "就労" not in covered


def test_a_measure_for_one_group_covers_an_area_only_for_that_group(codebook: Codebook, tokeniser: Tokeniser) -> None:
    """「障害のある人の地域生活支援」 whose description mentions 住まい does not cover 住まい for everyone; a measure
    whose name says it does."""
    table = pd.DataFrame({
        "pillar_id": ["4", "4", "5"], "pillar_name": ["自分らしく", "自分らしく", "住まい"],
        "measure_id": ["4-1", "4-2", "5-1"],
        "measure_name": ["障害のある人の地域生活支援", "高齢者の介護予防", "住まいに困っている人の居住支援"],
        "description": ["障害のある人が地域で暮らし続けられるよう、サービスと住まいを整える。",
                        "体操教室や通いの場で介護予防を進める。", "保証人のいない人の賃貸住宅への入居を支える。"],
        "keywords": ["障害;グループホーム", "介護予防", "住まい;入居"]})
    tag = Tagger(codebook, tokeniser).tag_texts
    links = theme_links(table, codebook, tag)
    assert links.coverage["住まい"] == ("5-1",)                   # not 4-1: its name is a group's, 住まい only said
    assert links.coverage["障害"] == ("4-1",)                     # the group itself is linked
    assert theme_links(table.iloc[:2], codebook, tag).coverage["住まい"] == ()


def test_sample_table_links_come_from_the_codebook(codebook: Codebook, measures: pd.DataFrame,
                                                   tokeniser: Tokeniser) -> None:
    links = theme_links(measures, codebook, Tagger(codebook, tokeniser).tag_texts)
    assert not links.derived
    assert links.matching["防災"] == ("P3-1",) and links.matching["就労"] == ()


OTHER_COMMENTS = [
    ("a", "アンケート", "バスの本数が少なく、病院へ通院するのが大変だ。"),
    ("b", "アンケート", "免許を返納したあとの買い物の足が心配だ。乗り合いタクシーを走らせてほしい。"),
    ("c", "パブリックコメント", "移動手段の確保について、通院や買い物のための送迎の仕組みを考えてほしい。"),
    ("d", "パブリックコメント", "P.12の図の文字が小さく、表記も統一されていない。"),
    ("e", "アンケート", "近所で声をかけ合い、見守りを続けていきたい。"),
    ("f", "アンケート", "特になし"),
    ("g", "その他", "外国人住民への情報は、やさしい日本語でも届けてほしい。"),
]


@pytest.fixture(scope="module")
def other(codebook: Codebook, tokeniser: Tokeniser, stopwords: frozenset[str]):
    return suggest(items_of(OTHER_COMMENTS), codebook, OTHER_TABLE, tokeniser, stopwords)


def test_one_suggestion_per_missing_area_and_each_comment_in_at_most_one(other) -> None:
    s = other.suggestions
    assert s["main_theme"].tolist() == ["移動"]                  # 多文化共生 has one comment: below MIN_SUPPORT
    assert s.loc[0, "item_ids"] == "a|b|c" and s.loc[0, "theme_label"] == "移動手段の確保と外出の支援"
    cited = [i for ids in s["item_ids"] for i in ids.split("|")]
    assert len(cited) == len(set(cited))
    assert 0 < s.loc[0, "cohesion"] <= 1
    assert len(s.loc[0, "label"]) <= 32 and s.loc[0, "label"] in "".join(t for _, _, t in OTHER_COMMENTS)


def test_plan_document_comments_and_empty_answers_are_apart(other) -> None:
    assert other.plan_comments["item_id"].tolist() == ["d"]
    assert "表記" in other.plan_comments.loc[0, "evidence"]
    decided = other.decisions.set_index("item_id")["decision"].to_dict()
    assert decided == {"a": "施策案にない分野", "b": "施策案にない分野", "c": "施策案にない分野", "d": "計画書の記述",
                       "e": "テーマでカバー", "f": "空の回答", "g": "施策案にない分野"}
    assert other.empty_answers == 1


@pytest.fixture(scope="module")
def sample(codebook: Codebook, tokeniser: Tokeniser, stopwords: frozenset[str]) -> pd.DataFrame:
    m = load_meeting(MEETING_2, MEASURES)
    items = normalised_items(m.cards, m.feedback)
    return suggest(items, codebook, m.measures, tokeniser, stopwords, cards=m.cards).suggestions


@pytest.mark.parametrize(("what", "item", "theme"), [
    ("employment support (就労支援)", "F16", "就労"),
    ("businesses, social-welfare corporations and NPOs as players", "F18", "多様な主体"),
    ("high-teens who left school or stopped attending", "F20", "ひきこもり"),
    ("participation and awareness of people who think welfare is not their business", "F19", "参加・周知"),
    ("recruiting 担い手 beyond the neighbourhood", "F15", "担い手"),
])
def test_sample_meeting_suggests_what_the_report_says_is_missing(sample: pd.DataFrame, what: str, item: str,
                                                                 theme: str) -> None:
    rows = sample[sample["item_ids"].str.split("|").map(lambda ids: item in ids)]
    assert len(rows) == 1, what
    assert rows.iloc[0]["main_theme"] == theme


def test_sample_meeting_labels_are_phrases_of_the_comments(sample: pd.DataFrame) -> None:
    labels = dict(zip(sample["main_theme"], sample["label"], strict=True))
    assert labels["就労"] == "「就労支援」という視点"
    assert labels["多様な主体"] == "企業や社会福祉法人、NPO等にアプローチしていくこと"
    assert labels["ひきこもり"] == "ハイティーン(16~18歳)の高校中退したかたへの支援が薄い"
    # each is the comment's own words (read here from feedback.csv; the label's 「」 around 就労支援 are the comment's)
    written = pd.read_csv(MEETING_2 / "feedback.csv", dtype=str, keep_default_na=False).set_index("comment_id")["text"]
    for theme, comment in (("就労", "F16"), ("多様な主体", "F18"), ("ひきこもり", "F20")):
        assert labels[theme].removesuffix("という視点") in normalise_text(written[comment]), theme


def test_sample_meeting_does_not_propose_what_is_covered(sample: pd.DataFrame) -> None:
    supporting = {i for ids in sample["item_ids"] for i in ids.split("|")}
    # 人材の掘り起こしと育成 (P4-1), 災害時の要配慮者 (P3-1), 相談窓口 (P2-1) are in the draft
    assert not supporting & {"F17", "F13", "F14", "F07", "F09"}
    assert sample["perspective_id"].tolist() == [f"V{n:02d}" for n in range(1, len(sample) + 1)]
    assert sample["support"].tolist() == sorted(sample["support"], reverse=True)
    employment = sample[sample["main_theme"] == "就労"].iloc[0]
    assert employment["pillar_id"] == "P3"                # the comment quotes 柱3's name
    assert set(employment["item_ids"].split("|")) == {"F16", "C33", "C34", "C36"}
    assert (employment["comments"], employment["cards"]) == (1, 3)


def tagged(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [r[0] for r in rows], "source": "feedback", "kind": "感想",
                         "text": [r[1] for r in rows], "themes": [r[2] for r in rows], "measures": "",
                         "cluster": "", "new_perspective": "0"})


def test_new_versus_recurring(codebook: Codebook, measures: pd.DataFrame, tokeniser: Tokeniser,
                              stopwords: frozenset[str]) -> None:
    items = items_of([("B", "追加すべき視点", NEW)])
    fresh = suggest(items, codebook, measures, tokeniser, stopwords)
    assert fresh.suggestions["status"].tolist() == ["new"]
    similar = EarlierMeeting("2024-05-08", "2024-05-08",
                             tagged([("F9", "障害者が企業で働ける場を増やしたい", "就労|障害")]))
    unrelated = EarlierMeeting("2024-04-10", "2024-04-10", tagged([("F1", "防災訓練を増やしたい", "防災")]))
    got = suggest(items, codebook, measures, tokeniser, stopwords, earlier=[unrelated, similar]).suggestions
    assert got["status"].tolist() == ["recurring"] and got["recurring_in"].tolist() == ["2024-05-08"]
    proposed_before = EarlierMeeting("2024-04-10", "2024-04-10", tagged([("F1", "防災訓練を増やしたい", "防災")]),
                                     pd.DataFrame({"main_theme": ["就労"]}))
    got = suggest(items, codebook, measures, tokeniser, stopwords, earlier=[proposed_before]).suggestions
    assert got["recurring_in"].tolist() == ["2024-04-10"]


def test_theme_trend() -> None:
    earlier = [EarlierMeeting("m2", "2024-05-22", tagged([("a", "", "防災|就労"), ("b", "", "防災")])),
               EarlierMeeting("m1", "2024-05-08", tagged([("a", "", "就労")]))]
    got = theme_trend("m3", {"x": "防災", "y": ""}, earlier, ["防災", "就労", "担い手"])
    assert got.values.tolist() == [["防災", 0, 2, 1], ["就労", 1, 1, 0], ["担い手", 0, 0, 0]]
    assert list(got.columns) == ["theme", "m1", "m2", "m3"]


def test_the_evidence_index_gives_scores_and_spans_by_item() -> None:
    from pipeline.perspectives import EvidenceIndex

    evidence = pd.DataFrame({
        "item_id": ["F01", "F01", "F02", "F01", "F03"],
        "theme": ["見守り", "移動支援", "見守り", "見守り", "居場所"],
        "terms": ["見守り|声かけ", "バス", "見守り", "安否", ""],
        "spans": ["0-3|8-11", "4-6", "2-5", "12-14|x-1", ""],
        "source": ["rule"] * 5,
        "score": [0.5, 0.25, 1.0, 0.75, 0.1]})
    index = EvidenceIndex(evidence)
    assert index[("F01", "見守り")] == 0.75  # a repeated (item, theme): the last row, as a dict would keep
    assert index.get(("F01", "移動支援")) == 0.25 and index.get(("F02", "移動支援"), 0.0) == 0.0
    assert index.get(("F09", "見守り"), 0.0) == 0.0
    with pytest.raises(KeyError):
        index[("F02", "居場所")]
    assert list(index) == [("F01", "見守り"), ("F01", "移動支援"), ("F02", "見守り"), ("F03", "居場所")]
    assert len(index) == 4
    assert index.spans("F01", "見守り") == [(0, 3), (8, 11), (12, 14)]  # "x-1" is not a span
    assert index.item_spans("F01") == [(0, 3), (8, 11), (12, 14), (4, 6)]
    assert index.spans("F03", "居場所") == [] and index.item_spans("F09") == []


def test_a_long_comment_ending_in_a_comma_gives_no_empty_label(tokeniser) -> None:
    """A comment of one clause of 44 characters (over MAX_LABEL = 32) ending in 「、」, without evidence: the empty
    piece after the last 「、」 is no label; the representative comment's longest phrase is taken instead."""
    from pipeline.perspectives.records import MAX_LABEL, central_clause, choose_label

    text = "駅前の商店街に高齢者も子育て世帯も気軽に立ち寄れる休憩所があれば地域の見守りにもつながる、"
    assert len(text) == 45 and MAX_LABEL == 32
    assert central_clause(text) is None
    assert central_clause("、、") is None
    assert central_clause("見守りが大事だ、") == "見守りが大事だ"          # a short one is the label, without its comma
    label, how, share = choose_label({"F1": text}, ["F1"], "F1", tokeniser, {})
    # not a request: the label is a noun phrase of the comment (no evidence: the longest-scoring one)
    assert label == "駅前の商店街" and how == "代表的な意見の語句" and share == 1.0


@pytest.mark.parametrize(("text", "evidence", "label", "how"), [
    # a person's words about themselves, an exclamation, a remark: the label names the topic, the words stay quoted
    ("私はもう生きていてもしょうがないと思うことがある。誰にも相談できない。", "相談", "相談", "代表的な意見の語句"),
    ("すごい、こんなにたくさんの子ども食堂があるなんて知らなかった！", "子ども食堂", "子ども食堂", "代表的な意見の語句"),
    # a request names the perspective it asks for (its object, the request ending trimmed)
    ("一人暮らしの高齢者の見守り体制の強化が必要ではないか。", "見守り", "一人暮らしの高齢者の見守り体制の強化",
     "代表的な要望の一節"),
    ("夜間でも使える相談窓口を増やしてほしいと思います。", "相談窓口", "夜間でも使える相談窓口", "代表的な要望の一節"),
    # a request whose object is a verb phrase (trimmed, it would end inside a verb): the noun phrase instead
    ("公営住宅では保証人を求めることをやめてください。", "保証人", "保証人", "代表的な意見の語句"),
])
def test_a_label_names_the_topic_never_a_persons_sentence(tokeniser, text: str, evidence: str, label: str,
                                                          how: str) -> None:
    from pipeline.perspectives.records import choose_label, label_problem

    at = text.index(evidence)
    got = choose_label({"F1": text}, ["F1"], "F1", tokeniser, {"F1": [(at, at + len(evidence))]})
    assert got[:2] == (label, how)
    assert label_problem(got[0], tokeniser) is None


@pytest.mark.parametrize(("label", "problem"), [
    # labels an analyst can paste: noun phrases, a quotation, short statements that end whole
    ("移動手段の確保", None), ("「就労支援」という視点", None), ("成年後見制度の利用促進", None),
    ("企業や社会福祉法人、NPO等にアプローチしていくこと", None), ("高校中退したかたへの支援が薄い", None),
    ("担い手が足りない", None), ("見守りが大事だ", None), ("相談窓口の充実が必要である", None),
    ("外国人住民への情報提供(やさしい日本語)", None),
    # what must never be a label
    ("", "空"), ("「」", "空"),
    ("私はもう生きていたくない", "一人称の発言"), ("自分の親の介護のこと", "一人称の発言"),
    ("相談できる場所はどこですか", "疑問"), ("誰に相談すればいいのか", "疑問"), ("本当に足りるのかな", "疑問"),
    ("すごい！", "感嘆"), ("こんなにあるなんて", "感嘆"),
    ("保護司の懸念事案が", "文の途中で切れている"), ("保証人を求めることをやめ", "文の途中で切れている"),
    ("びっくりしました、県内だけでも", "文の途中で切れている"), ("住みやすい街が、", "文の途中で切れている"),
    ("連携が必要で", "文の途中で切れている"), ("就労支援を進めて", "文の途中で切れている"),
    ("懸念していたことが起きてしまった", "体験の語り"), ("本当に助かりました", "体験の語り"),
])
def test_label_problems_by_hand(tokeniser, label: str, problem: str | None) -> None:
    from pipeline.perspectives.records import label_problem

    assert label_problem(label, tokeniser) == problem


def test_every_label_of_the_samples_and_fixtures_can_be_pasted(sample: pd.DataFrame, other, tokeniser) -> None:
    from pipeline.perspectives.records import label_problem

    labels = list(sample["label"]) + list(other.suggestions["label"])
    assert len(labels) == 6
    assert {label: label_problem(label, tokeniser) for label in labels} == dict.fromkeys(labels)


def test_every_label_of_the_samples_and_fixtures_starts_and_ends_on_word_boundaries(
        sample: pd.DataFrame, other, tokeniser) -> None:
    from pipeline.perspectives.records import on_token_boundaries

    m = load_meeting(MEETING_2, MEASURES)
    texts = dict(zip(*(normalised_items(m.cards, m.feedback)[c] for c in ("item_id", "text")), strict=True))
    texts |= {i: normalise_text(t) for i, _, t in OTHER_COMMENTS}
    for frame in (sample, other.suggestions):
        for label, ids in zip(frame["label"], frame["item_ids"], strict=True):
            homes = [texts[i] for i in ids.split("|") if label in texts[i]]
            assert homes and all(on_token_boundaries(label, t, tokeniser) for t in homes), label


def test_a_label_is_never_cut_inside_a_word(tokeniser) -> None:
    from pipeline.perspectives.records import choose_label, on_token_boundaries

    assert on_token_boundaries("相談窓口", "夜間でも使える相談窓口を増やしてほしい", tokeniser)
    assert not on_token_boundaries("こど", "こどもの居場所", tokeniser)          # a word cut at its end
    assert not on_token_boundaries("談窓口", "相談窓口がほしい", tokeniser)        # and at its start
    assert not on_token_boundaries("窓口", "相談先がわからない", tokeniser)        # not in the text at all
    # a comment with no noun phrase and over 32 characters: its first words, cut where a word ends
    text = "いろいろとありがとうございましたとてもよかったしまたぜひやってみたいなあとおもいました"
    label, _, _ = choose_label({"F1": text}, ["F1"], "F1", tokeniser, {})
    assert len(label) <= 32 and text.startswith(label) and on_token_boundaries(label, text, tokeniser)
