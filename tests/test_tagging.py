"""Tagging: each rule operator, synonyms, exclusions, evidence spans and the learned layer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Tokeniser
from pipeline.themes.codebook import Codebook, parse_codebook
from pipeline.themes.load import load_codebook
from pipeline.themes.tagging import (
    EVIDENCE_COLUMNS,
    Tagger,
    ThemeClassifier,
    labels_from_long,
    load_theme_labels,
    rule_score,
    themes_by_item,
    train_model,
)
from tests.conftest import MODELS, ROOT


def book(rules: str, *, exclude: str = "", groups: str = "") -> Codebook:
    text = f"groups:\n{groups or '  dummy: [x]'}\nthemes:\n  - id: T\n    label: T\n    definition: test\n" \
           f"    rules:\n" + "".join(f"      - '{r}'\n" for r in rules.split("\n"))
    if exclude:
        text += "    exclude:\n" + "".join(f"      - '{r}'\n" for r in exclude.split("\n"))
    cb, problems = parse_codebook(text)
    assert cb is not None, problems
    return cb


def hit(cb: Codebook, tokeniser: Tokeniser, text: str) -> str:
    """The evidence terms of theme T in ``text`` ('' when not tagged)."""
    ev = tag_texts_evidence(cb, tokeniser, text)
    return ev.iloc[0]["terms"] if len(ev) else ""


def tag_texts_evidence(cb: Codebook, tokeniser: Tokeniser, text: str) -> pd.DataFrame:
    items = pd.DataFrame({"item_id": ["x"], "source": ["feedback"], "kind": ["感想"], "group": [""],
                          "card_id": [""], "raw_text": [text], "text": [normalise_text(text)]})
    return Tagger(cb, tokeniser).tag(items)


@pytest.mark.parametrize(("rules", "text", "terms"), [
    # OR
    ("相談窓口 | 相談先", "困ったときの相談先がわからない", "相談先"),
    ("相談窓口 | 相談先", "窓口が遠い", ""),
    # AND
    ("相談 & 場所", "気軽に相談できる場所が必要", "相談|場所"),
    ("相談 & 場所", "相談が増えている", ""),
    # NOT
    ("就労 & !職員", "障害者の就労を支える", "就労"),
    ("就労 & !職員", "職員の就労環境", ""),
    # near: within / beyond the window
    ("near(相談, 場所, 3)", "相談できる場所", "相談|場所"),
    ("near(相談, 場所, 1)", "相談がいつでもできる身近な場所", ""),
    # seq: in order and adjacent
    ("seq(障害, と, なる)", "手続きの複雑さが利用の障害となる", "障害|と|なる"),
    ("seq(障害, と, なる)", "なると障害", ""),
    # POS constraint: verb 働く, not the noun 働き
    ("働く/動詞", "地元で働きたい", "働き"),
    ("働く/動詞", "行政の働きかけ", ""),
    # multi-token word matches inside a longer compound, inflections by lemma
    ("就労支援", "就労支援事業の拡充", "就労支援"),
    ("稼ぐ", "自分で稼いで暮らす", "稼い"),
    # wildcards
    ("相談*", "相談支援機関の連携", "相談支援機関"),
    ("*窓口", "総合窓口を置く", "総合窓口"),
    # literal text
    ('"安心安全"', "誰もが安心安全に暮らせる街", "安心安全"),
])
def test_rule_operators(tokeniser: Tokeniser, rules: str, text: str, terms: str) -> None:
    assert hit(book(rules), tokeniser, text) == terms


def test_group_reference(tokeniser: Tokeniser) -> None:
    cb = book("near(@相談語, @場所語, 5)", groups="  相談語: [相談, 悩み]\n  場所語: [場所, 窓口]")
    assert hit(cb, tokeniser, "悩みを打ち明けられる場所が必要") == "悩み|場所"


@pytest.mark.parametrize(("text", "terms"), [
    ("子供の居場所", "子供"), ("こどもの居場所", "こども"), ("子どもの居場所", "子ども"),
    ("障がいのある人", "障がい"), ("障碍者", "障碍"),
    ("ひきこもりの若者", "ひきこもり"), ("引きこもりの若者", "引きこもり"),
])
def test_spelling_variants_match_one_rule_word(tokeniser: Tokeniser, text: str, terms: str) -> None:
    cb = book("子ども | 障害 | 引きこもり")
    assert hit(cb, tokeniser, text) == terms


def test_synonym_group_from_the_lexicon(tokeniser: Tokeniser) -> None:
    assert hit(book("相談窓口"), tokeniser, "困ったときの相談先を増やす") == "相談先"


def test_lexicon_term_answers_to_its_parts(tokeniser: Tokeniser) -> None:
    assert hit(book("フレイル"), tokeniser, "(フレイル予防について)市民の主体的な活動が必要。") == "フレイル予防"
    assert hit(book("民生委員"), tokeniser, "民生委員・児童委員の活動支援") == "民生委員・児童委員"


# ---- exclusions, with the shipped codebook ----------------------------------------------------

@pytest.fixture(scope="module")
def shipped() -> Codebook:
    return load_codebook(MODELS / "codebook.yaml")


def themes_of(cb: Codebook, tokeniser: Tokeniser, text: str) -> set[str]:
    return set(filter(None, themes_by_item(tag_texts_evidence(cb, tokeniser, text), cb).get("x", "").split("|")))


@pytest.mark.parametrize(("text", "present", "absent"), [
    ("福祉の事業は難しい。市民が幸せになるためにまず職員自身が楽しく働くことが大切。", set(), {"就労"}),
    ("職員自身が楽しく働くことも大事だが、障害者の就労支援も充実させたい。", {"就労"}, set()),
    ("基本施策に掲げている「誰もが安心安全に暮らせる街」につながる計画になるといい。", set(), {"防災"}),
    ("安心安全のため、防災訓練に障害のある人も参加できるようにしたい。", {"防災", "障害"}, set()),
    ("労働災害の防止は事業所の責任だ。", set(), {"防災"}),
    ("DVから避難してきた母子を支える。", set(), {"防災"}),
    ("手続きの複雑さが利用の障害となっている。", set(), {"障害"}),
    ("町会の運営相談に応じる。", set(), {"相談窓口"}),
    ("働く世代が地域活動に関われるよう、夜の活動を増やしてほしい。", {"担い手"}, {"就労"}),
    ("民生委員・児童委員の推薦、研修を行う。", {"担い手"}, {"子ども・若者", "職員の力"}),
])
def test_exclusions_keep_senses_apart(shipped: Codebook, tokeniser: Tokeniser, text: str, present: set[str],
                                      absent: set[str]) -> None:
    got = themes_of(shipped, tokeniser, text)
    assert present <= got
    assert not (absent & got)


def test_exclusion_removes_only_the_overlapping_evidence(shipped: Codebook, tokeniser: Tokeniser) -> None:
    ev = tag_texts_evidence(shipped, tokeniser, "職員自身が楽しく働くことも大事だが、障害者の就労支援も充実させたい。")
    row = ev[ev["theme"] == "就労"].iloc[0]
    assert row["terms"] == "就労"            # 働く was excluded, 就労 (inside 就労支援) is the evidence


def test_evidence_spans_equal_their_terms_on_the_sample(shipped: Codebook, tokeniser: Tokeniser) -> None:
    from pipeline.ingest import load_meeting
    from tests.conftest import MEASURES, MEETING_2
    from tests.factories import normalised_items

    m = load_meeting(MEETING_2, MEASURES)
    items = normalised_items(m.cards, m.feedback)
    ev = Tagger(shipped, tokeniser).tag(items)
    assert list(ev.columns) == EVIDENCE_COLUMNS
    texts = dict(zip(items["item_id"], items["text"], strict=True))
    assert len(ev) > 100
    for row in ev.itertuples():
        for term, span in zip(row.terms.split("|"), row.spans.split("|"), strict=True):
            start, end = map(int, span.split("-"))
            assert texts[row.item_id][start:end] == term
        assert row.source.startswith("rule:")
        assert 0 < row.score <= 1


def test_evidence_for_a_report_comment(shipped: Codebook, tokeniser: Tokeniser) -> None:
    ev = tag_texts_evidence(shipped, tokeniser, "窓口での相談が難しい方に対して，誰でも相談できる場所が重要。")
    assert ev[["theme", "terms", "spans", "score"]].values.tolist() == [
        ["相談窓口", "窓口|相談|相談", "0-2|4-6|19-21", 0.875]]


@pytest.mark.parametrize(("n", "score"), [(1, 0.5), (2, 0.75), (3, 0.875)])
def test_rule_score(n: int, score: float) -> None:
    assert rule_score(n) == score


# ---- learned layer ------------------------------------------------------------------------------

def label_rows(theme: str, positives: list[str], negatives: list[str]) -> pd.DataFrame:
    rows = [("m", f"p{i}", t, theme, 1) for i, t in enumerate(positives)]
    rows += [("m", f"n{i}", t, theme, 0) for i, t in enumerate(negatives)]
    return pd.DataFrame(rows, columns=["meeting_id", "item_id", "text", "theme", "label"])


POS = [f"{w}の見通しが立たず家計が苦しい" for w in ("収入", "給料", "賃金", "月給", "手取り", "年収", "日給", "時給")] + \
      [f"{w}が減って家賃が払えない" for w in ("収入", "給料", "賃金", "手取り", "年金", "仕送り", "貯金", "所得")]
NEG = [f"{w}で交流できる場がほしい" for w in ("公園", "集会所", "図書館", "公民館", "学校", "神社", "広場", "駅前")] + \
      [f"{w}の見守りを続けたい" for w in ("近所", "町会", "自治会", "地区", "班", "団地", "商店街", "マンション")]


def test_learned_layer_is_off_with_too_few_labels(shipped: Codebook) -> None:
    labels = label_rows("生活困窮", POS[:3], NEG[:3])
    assert train_model(labels, shipped) is None
    assert Tagger.build(shipped, Tokeniser(), None).model is None


def test_learned_layer_adds_a_theme_the_rules_miss(shipped: Codebook, tokeniser: Tokeniser) -> None:
    model = train_model(label_rows("生活困窮", POS, NEG), shipped)
    assert model is not None and model.themes_ == ["生活困窮"]
    tagger = Tagger(shipped, tokeniser, model)
    text = "給料の見通しが立たず家賃が苦しい"          # no rule word of 生活困窮
    assert "生活困窮" not in themes_of(shipped, tokeniser, text)
    items = pd.DataFrame({"item_id": ["x"], "source": ["feedback"], "kind": ["感想"], "group": [""],
                          "card_id": [""], "raw_text": [text], "text": [text]})
    ev = tagger.tag(items)
    row = ev[ev["theme"] == "生活困窮"].iloc[0]
    assert row["source"] == "model" and row["score"] >= model.thresholds_["生活困窮"]
    for term, span in zip(row["terms"].split("|"), row["spans"].split("|"), strict=True):
        s, e = map(int, span.split("-"))
        assert text[s:e] == term


def test_learned_layer_never_overrides_an_exclusion(shipped: Codebook, tokeniser: Tokeniser) -> None:
    places = ("地元", "近所", "駅前", "商店街", "団地", "市内", "農園", "工場")
    pos = [f"{w}で働く場を増やしてほしい" for w in places] + [f"{w}で働ける仕組みがほしい" for w in places]
    neg = NEG
    model = train_model(label_rows("就労", pos, neg), shipped)
    assert model is not None
    text = "職員が駅前で働く場を増やしてほしい"   # exclusion: staff working, not employment support
    assert float(model.predict_proba([text]).loc[0, "就労"]) >= model.threshold
    got = Tagger(shipped, tokeniser, model).tag_texts(["x"], [text])
    assert "就労" not in got.get("x", "")


def test_a_theme_the_rules_already_find_is_not_learned(shipped: Codebook, tokeniser: Tokeniser) -> None:
    # every positive carries a rule word of 生活困窮 (生活保護, 家計, 借金 …): the rules leave nothing to learn
    pos = [f"{w}のことで{v}" for w in ("生活保護", "家計", "借金", "生活保護の申請") for v in
           ("窓口に行った", "悩んでいる", "誰にも言えない", "不安がある")]
    tagger = Tagger.build(shipped, tokeniser, None, extra_labels=label_rows("生活困窮", pos, NEG))
    assert all("生活困窮" in found for found in tagger.rule_themes(pos))
    assert tagger.model is None


def test_labels_the_text_cannot_tell_apart_teach_nothing(shipped: Codebook, tokeniser: Tokeniser) -> None:
    # the same kinds of sentence on both sides (every other one labelled 生活困窮): out of fold the layer is right
    # no more often than chance, so it does not add the theme to the rules'
    texts = [f"{w}で交流できる場がほしい" for w in ("公園", "集会所", "図書館", "公民館", "学校", "神社", "広場", "駅前",
                                                  "河川敷", "体育館", "市役所", "郵便局")]
    texts += [f"{w}の見守りを続けたい" for w in ("近所", "町会", "自治会", "地区", "班", "団地", "商店街", "マンション",
                                               "小学校区", "老人クラブ", "民生委員", "隣組")]
    labels = label_rows("生活困窮", texts[0::2], texts[1::2])
    assert Tagger.build(shipped, tokeniser, None, extra_labels=labels).model is None


def test_each_theme_keeps_the_threshold_chosen_out_of_fold(shipped: Codebook, tokeniser: Tokeniser) -> None:
    from pipeline.themes.tagging.learned import THRESHOLDS

    model = Tagger.build(shipped, tokeniser, None, extra_labels=label_rows("生活困窮", POS, NEG)).model
    assert model is not None and set(model.thresholds_) == {"生活困窮"}
    assert model.thresholds_["生活困窮"] in THRESHOLDS
    # without the rules' tags (a classifier fitted on its own) the fixed threshold stands
    alone = ThemeClassifier().fit(POS + NEG, pd.DataFrame({"生活困窮": [1] * len(POS) + [0] * len(NEG)}))
    assert alone.thresholds_ == {"生活困窮": alone.threshold}


def test_classifier_is_deterministic() -> None:
    texts = POS + NEG
    grid = pd.DataFrame({"生活困窮": [1] * len(POS) + [0] * len(NEG)})
    a = ThemeClassifier().fit(texts, grid).predict_proba(texts)
    b = ThemeClassifier().fit(texts, grid).predict_proba(texts)
    pd.testing.assert_frame_equal(a, b)


def test_labels_from_long_treats_other_themes_as_negative() -> None:
    frame = pd.DataFrame({"text": ["a", "a", "b"], "theme": ["防災", "就労", "防災"], "label": [1, 1, 0]})
    texts, grid = labels_from_long(frame, ["防災", "就労", "担い手"])
    assert texts == ["a", "b"]
    assert grid.values.tolist() == [[1, 1, 0], [0, 0, 0]]


def test_theme_label_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("meeting_id,item_id,text,theme,label\nm,F1,相談したい,相談窓口,yes\n", encoding="utf-8")
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="0 か 1"):
        load_theme_labels(path)
    assert load_theme_labels(tmp_path / "none.csv").empty


def test_review_decisions_switch_the_learned_layer_on(shipped: Codebook, tokeniser: Tokeniser) -> None:
    decisions = label_rows("生活困窮", POS, NEG)
    assert Tagger.build(shipped, tokeniser, None, extra_labels=decisions.iloc[:10]).model is None
    tagger = Tagger.build(shipped, tokeniser, None, extra_labels=decisions)
    assert tagger.model is not None and tagger.model.themes_ == ["生活困窮"]


def test_prefilter_changes_no_hit(shipped: Codebook, tokeniser: Tokeniser) -> None:
    """The word prefilter only skips rules that would find nothing: on every sample and evaluation text,
    with the shipped codebook and with each operator, hits and exclusions equal full evaluation."""
    from pipeline.ingest import load_meeting
    from pipeline.themes.tagging.evaluator import RuleMatcher, rule_hits
    from tests.conftest import MEASURES, MEETING_1, MEETING_2
    from tests.factories import normalised_items

    texts = []
    for meeting in (MEETING_1, MEETING_2):
        m = load_meeting(meeting, MEASURES)
        texts += list(normalised_items(m.cards, m.feedback)["text"])
    for name in ("dev_labels.csv", "holdout_core.csv"):
        texts += [normalise_text(t) for t in pd.read_csv(ROOT / "data" / "eval" / name, dtype=str)["text"]]
    texts = sorted(set(texts))
    assert len(texts) > 100
    books = [shipped, book("near(相談, !職員, 3) | seq(@g, 窓口)\n!障害 & 就労\n\"安心安全\" | 相談*",
                          exclude="職員 | *窓口", groups="  g: [総合, 相談]")]
    fired = 0
    for cb in books:
        fast, full = RuleMatcher(cb, tokeniser), RuleMatcher(cb, tokeniser, prefilter=False)
        for text in texts:
            got = rule_hits(fast, fast.doc(text))
            assert got == rule_hits(full, full.doc(text)), text
            fired += len(got[0])
    assert fired > len(texts)  # the comparison is not vacuous: most texts get a theme


def test_a_one_character_variant_is_never_replaced_inside_a_word() -> None:
    from pipeline.text.tokenise import load_lexicon

    lexicon = load_lexicon(MODELS / "lexicon.yaml")
    assert lexicon.synonyms["心"] == "こころ"
    # 心 alone, or before の, is こころ; inside 心配, 安心, 関心, 心身 it stays (not 「こころ配」)
    assert [lexicon.canonical(w) for w in ("心", "心のケア", "心配", "安心", "関心", "心身", "こころ")] == \
        ["こころ", "こころのケア", "心配", "安心", "関心", "心身", "こころ"]
    # longer variants still replace inside compounds: 障がい者 → 障害者, 子供会 → 子ども会
    assert (lexicon.canonical("障がい者"), lexicon.canonical("子供会")) == ("障害者", "子ども会")
