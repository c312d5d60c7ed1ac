"""Matching items to measures: scores, threshold, codebook links, suggested links, coverage."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.ingest import load_meeting
from pipeline.measures.matching import (
    COVERAGE_COLUMNS,
    SUGGESTION_COLUMNS,
    MeasureMatcher,
    content_terms,
    match_items,
)
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Tokeniser
from pipeline.themes.codebook import parse_codebook
from pipeline.themes.load import load_codebook
from pipeline.themes.tagging import Tagger, themes_by_item
from tests.conftest import LOCAL_CODEBOOK, MEASURES, MEETING_2, MODELS
from tests.factories import normalised_items

MEASURES_SMALL = pd.DataFrame({
    "pillar_id": ["P2", "P2", "P3"],
    "pillar_name": ["相談", "相談", "安全"],
    "measure_id": ["P2-1", "P2-3", "P3-1"],
    "measure_name": ["相談窓口の充実", "権利擁護の推進", "災害時の要配慮者支援の推進"],
    "description": ["身近な場所で気軽に相談できるようにする。", "成年後見制度と金銭管理の支援を進める。",
                    "個別避難計画の作成を進め、災害時に支援が必要な人を支える。"],
    "keywords": ["相談窓口;相談", "成年後見;権利擁護", "防災;避難"],
})


def items_of(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "item_id": [r[0] for r in rows], "source": [r[1] for r in rows],
        "kind": ["カード" if r[1] == "card" else "感想" for r in rows], "group": "", "card_id": "",
        "raw_text": [r[2] for r in rows], "text": [normalise_text(r[2]) for r in rows],
    })


@pytest.fixture(scope="module")
def matcher(tokeniser: Tokeniser, stopwords: frozenset[str]) -> MeasureMatcher:
    return MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords, threshold=0.3).fit(MEASURES_SMALL)


def test_content_terms_keep_compounds_and_their_parts(tokeniser: Tokeniser) -> None:
    terms = content_terms(tokeniser, "個別避難計画の作成を進める")
    assert "個別避難計画" in terms and "作成" in terms and "進める" in terms


def test_similarity_ranks_the_right_measure_first(matcher: MeasureMatcher) -> None:
    sim = matcher.similarity([normalise_text("災害時に避難が難しい人の個別避難計画が必要")])
    assert int(sim[0].argmax()) == 2
    assert sim.shape == (1, 3)


def test_threshold_decides_which_measures_an_item_matches(tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    items = items_of([("F1", "feedback", "気軽に相談できる窓口がほしい"), ("F2", "feedback", "今日は楽しかった")])
    low = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords, threshold=0.3).fit(MEASURES_SMALL)
    res = match_items(items, {}, MEASURES_SMALL, None, matcher=low, codebook=None)
    assert res.measures_by_item == {"F1": "P2-1", "F2": ""}
    assert list(res.unmatched["item_id"]) == ["F2"]
    high = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords, threshold=0.99).fit(MEASURES_SMALL)
    res = match_items(items, {}, MEASURES_SMALL, None, matcher=high, codebook=None)
    assert res.measures_by_item == {"F1": "", "F2": ""}


def test_codebook_link_adds_link_weight(matcher: MeasureMatcher) -> None:
    cb, _ = parse_codebook("themes:\n  - id: 防災\n    label: x\n    definition: x\n    measures: [P3-1]\n"
                           "    rules: [防災]\n")
    text = [normalise_text("今日は楽しかった")]
    without = matcher.score(text, [["防災"]], None)
    with_link = matcher.score(text, [["防災"]], cb)
    assert with_link[0, 2] == pytest.approx(without[0, 2] + 0.25 * 1.0, abs=1e-4)
    assert with_link[0, 0] == without[0, 0]


def test_mis_declared_card_gets_a_suggested_link(matcher: MeasureMatcher) -> None:
    cards = pd.DataFrame({"card_id": ["C1", "C2"], "department": ["社協", "防災安全課"],
                          "title": ["日常生活自立支援", "個別避難計画"], "body": ["", ""],
                          "measure_ids": ["P2-1", "P3-1"], "group": ["", ""], "row": [2, 3]})
    items = items_of([("C1", "card", "成年後見制度の利用と金銭管理の支援"),
                      ("C2", "card", "個別避難計画の作成を進める")])
    res = match_items(items, {}, MEASURES_SMALL, cards, matcher=matcher, codebook=None)
    assert res.measures_by_item == {"C1": "P2-1", "C2": "P3-1"}      # declared links are kept
    assert list(res.suggestions.columns) == SUGGESTION_COLUMNS
    assert res.suggestions[["card_id", "declared", "suggested"]].values.tolist() == [["C1", "P2-1", "P2-3"]]
    assert "金銭管理" in res.suggestions.loc[0, "evidence"]


def test_coverage_statuses(matcher: MeasureMatcher) -> None:
    cards = pd.DataFrame({"card_id": ["C1"], "department": ["防災安全課"], "title": ["個別避難計画"], "body": [""],
                          "measure_ids": ["P3-1"], "group": [""], "row": [2]})
    items = items_of([("C1", "card", "個別避難計画の作成"), ("F1", "feedback", "気軽に相談できる窓口がほしい"),
                      ("F2", "feedback", "災害時に避難が難しい人の個別避難計画が必要")])
    res = match_items(items, {"F1": "相談窓口"}, MEASURES_SMALL, cards, matcher=matcher, codebook=None)
    cov = res.coverage.set_index("measure_id")
    assert list(res.coverage.columns) == COVERAGE_COLUMNS
    assert cov["status"].to_dict() == {"P2-1": "コメントのみ", "P2-3": "裏付けなし", "P3-1": "カード・コメントあり"}
    assert cov.loc["P3-1", "card_ids"] == "C1" and cov.loc["P3-1", "comment_ids"] == "F2"
    assert cov.loc["P2-1", "themes"] == "相談窓口(1)"


def test_sample_meeting_matching(tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    m = load_meeting(MEETING_2, MEASURES)
    cb = load_codebook(MODELS / "codebook.yaml", layers=[LOCAL_CODEBOOK])  # the sample city's measure ids
    items = normalised_items(m.cards, m.feedback)
    themes = themes_by_item(Tagger(cb, tokeniser).tag(items), cb)
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords, threshold=0.3).fit(m.measures)
    res = match_items(items, themes, m.measures, m.cards, matcher=matcher, codebook=cb)
    # C09 (日常生活自立支援事業) is declared under 相談窓口 but is about 権利擁護
    sug = res.suggestions.set_index("card_id")
    assert sug.loc["C09", "suggested"] == "P2-3"
    # comments about what the draft lacks match no measure
    for fid in ("F16", "F20"):        # 就労支援; high-teens who left school
        assert res.measures_by_item[fid] == ""
    assert res.measures_by_item["F13"] == "P3-1"                    # 災害時の要配慮者
    assert res.measures_by_item["F17"].split("|")[0] == "P4-1"      # 人材の掘り起こしと育成
    cov = res.coverage.set_index("measure_id")
    assert cov.loc["P3-4", "status"] == "裏付けなし"


def test_a_card_without_a_measure_counts_as_a_suggested_link(matcher: MeasureMatcher) -> None:
    cards = pd.DataFrame({"card_id": ["C7"], "department": ["地域包括ケア推進課"], "title": ["成年後見制度の利用支援"],
                          "body": ["判断能力が不十分な人の成年後見の申立てと金銭管理を支える。"], "measure_ids": [""],
                          "group": [""], "row": [2]})
    items = items_of([("C7", "card", "成年後見制度の利用支援。判断能力が不十分な人の成年後見の申立てと金銭管理を支える。")])
    res = match_items(items, {}, MEASURES_SMALL, cards, matcher=matcher, codebook=None)
    assert res.suggestions[["card_id", "declared", "suggested"]].values.tolist() == [["C7", "", "P2-3"]]
    cov = res.coverage.set_index("measure_id")
    assert cov.loc["P2-3", "status"] == "紐づけ案のカードのみ" and cov.loc["P2-3", "suggested_card_ids"] == "C7"
    assert cov.loc["P2-3", "cards"] == 0                       # a suggestion, not a staff link


def test_seeded_terms_keep_the_items_texts_as_keys_and_one_copy_of_each_word() -> None:
    """A batch from another process brings its own copies of its texts and words: the cache keeps the items'
    texts and one interned copy of each word, with the same terms."""
    import pickle
    import sys

    from pipeline.measures.matching import TermCache

    texts = ["相談窓口を夜間も開けてほしい", "見守り活動の担い手が足りない"]
    known = pickle.loads(pickle.dumps({t: [w for w in ("相談窓口", "夜間", "見守り", "担い手") if w in t] for t in texts}))
    known["担い手"] = ["担い手"]  # a request sentence's terms: no item text of its own
    cache = TermCache(Tokeniser()).seed(known, texts)
    assert {k: v for k, v in cache._memo.items()} == known
    for text in texts:
        key = next(k for k in cache._memo if k == text)
        assert key is text
        assert all(w is sys.intern(w) for w in cache(text))
    assert cache("担い手") == ["担い手"]
