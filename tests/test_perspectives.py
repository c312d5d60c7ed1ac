"""Suggested new perspectives: citations, the coverage threshold, the sample meeting, new vs recurring."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.codebook import Codebook, load_codebook
from pipeline.ingest import load_meeting
from pipeline.matching import MeasureMatcher
from pipeline.normalise import normalise_text, normalised_items
from pipeline.perspectives import (
    PERSPECTIVE_COLUMNS,
    EarlierMeeting,
    citations,
    suggest_perspectives,
    theme_trend,
    without_citations,
)
from pipeline.tagging import Tagger, themes_by_item
from pipeline.tokenise import Tokeniser
from tests.conftest import MEASURES, MEETING_2, MODELS


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return load_codebook(MODELS / "codebook.yaml")


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
    return pd.DataFrame({
        "item_id": [r[0] for r in rows], "source": "feedback", "kind": [r[1] for r in rows], "group": "",
        "card_id": "", "raw_text": [r[2] for r in rows], "text": [normalise_text(r[2]) for r in rows]})


def suggest(items: pd.DataFrame, codebook: Codebook, measures: pd.DataFrame, tokeniser: Tokeniser,
            stopwords: frozenset[str], **kw):
    themes = themes_by_item(Tagger(codebook, tokeniser).tag(items), codebook)
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords).fit(measures)
    return suggest_perspectives(items, themes, measures=measures, cards=None, card_votes={}, matcher=matcher,
                                codebook=codebook, tokeniser=tokeniser, stopwords=stopwords, **kw)


COVERED = "地域福祉を担う人材の掘り起こしと育成について、民生委員の話も含め担い手を確保するということは大事"
NEW = "障害のある人が地元の企業で働ける就労支援の視点も必要ではないか。"


def test_coverage_threshold(codebook: Codebook, measures: pd.DataFrame, tokeniser: Tokeniser,
                            stopwords: frozenset[str]) -> None:
    items = items_of([("A", "追加すべき視点", COVERED), ("B", "追加すべき視点", NEW)])
    res = suggest(items, codebook, measures, tokeniser, stopwords)
    assert res.coverage["A"] >= 0.3 > res.coverage["B"]
    assert res.suggestions["item_ids"].tolist() == ["B"]
    assert res.covered["item_id"].tolist() == ["A"] and res.covered.loc[0, "best_measure_id"] == "P4-1"
    assert list(res.suggestions.columns) == PERSPECTIVE_COLUMNS
    # the threshold decides: at 0 everything is covered, above 1 nothing is
    assert suggest(items, codebook, measures, tokeniser, stopwords, cover_threshold=0.0).suggestions.empty
    both = suggest(items, codebook, measures, tokeniser, stopwords, cover_threshold=1.01).suggestions
    assert sorted(i for ids in both["item_ids"] for i in ids.split("|")) == ["A", "B"]


def test_a_new_request_after_a_named_measure_is_not_covered(codebook: Codebook, measures: pd.DataFrame,
                                                            tokeniser: Tokeniser, stopwords: frozenset[str]) -> None:
    text = ("分野にとらわれない・サポート体制も、福祉分野以外の部分もある。"
            "「福祉」に関わりがないと思っている方への参加・知る機会の充実が必要ではないか。")
    res = suggest(items_of([("A", "追加すべき視点", text)]), codebook, measures, tokeniser, stopwords)
    assert res.coverage["A"] < 0.3
    assert res.suggestions.loc[0, "main_theme"] == "参加・周知"


@pytest.fixture(scope="module")
def sample(codebook: Codebook, tokeniser: Tokeniser, stopwords: frozenset[str]) -> pd.DataFrame:
    m = load_meeting(MEETING_2, MEASURES)
    items = normalised_items(m.cards, m.feedback)
    themes = themes_by_item(Tagger(codebook, tokeniser).tag(items), codebook)
    matcher = MeasureMatcher(tokeniser=tokeniser, stopwords=stopwords).fit(m.measures)
    return suggest_perspectives(items, themes, measures=m.measures, cards=m.cards, card_votes={}, matcher=matcher,
                                codebook=codebook, tokeniser=tokeniser, stopwords=stopwords).suggestions


@pytest.mark.parametrize(("what", "item", "theme"), [
    ("employment support (就労支援)", "F16", "就労"),
    ("businesses, social-welfare corporations and NPOs as players", "F18", "多様な主体"),
    ("high-teens who left school or stopped attending", "F20", "子ども・若者"),
    ("participation and awareness of people who think welfare is not their business", "F19", "参加・周知"),
    ("recruiting 担い手 beyond the neighbourhood", "F15", "担い手"),
])
def test_sample_meeting_suggests_what_the_report_says_is_missing(sample: pd.DataFrame, what: str, item: str,
                                                                 theme: str) -> None:
    rows = sample[sample["item_ids"].str.split("|").map(lambda ids: item in ids)]
    assert len(rows) == 1, what
    assert rows.iloc[0]["main_theme"] == theme
    assert rows.iloc[0]["best_measure_score"] < 0.3


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
