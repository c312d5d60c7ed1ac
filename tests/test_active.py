"""The active-learning queue: the comments whose label would teach the tagger most, in the レビュー sheet and the report;
an analyst's 採用 on a queued theme adds it (and becomes a training label)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.review import ACCEPT, REJECT, TEACH_NOTE, apply_theme_decisions, review_rows
from pipeline.themes.active import PER_THEME, QUEUE_COLUMNS, learning_queue
from pipeline.themes.codebook import Codebook
from pipeline.themes.load import load_codebook
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def codebook() -> Codebook:
    return load_codebook(MODELS / "codebook.yaml")

COMMENTS = {
    "A1": ("民生委員のなり手がいない。", "担い手"),
    "A2": ("自治会の役員が高齢化して後継者がいない。", "担い手"),
    "A3": ("ボランティアの担い手が減っている。", "担い手"),
    "A4": ("地域活動をする若い人が少ない。", ""),               # reads like the carriers' comments, untagged
    "B1": ("バスの本数が少なく通院が大変だ。", ""),
    "B2": ("子ども食堂を増やしてほしい。", ""),
    "B3": ("公園のベンチが壊れている。", ""),
    "B4": ("夜道が暗くて怖い。", ""),
}


@pytest.fixture(scope="module")
def queue(codebook):
    ids = list(COMMENTS)
    return learning_queue(ids, [COMMENTS[i][0] for i in ids], {i: t for i, (_, t) in COMMENTS.items()}, codebook)


def test_the_queue_lists_the_least_certain_comments_of_each_theme(queue: pd.DataFrame) -> None:
    assert list(queue.columns) == QUEUE_COLUMNS
    assert set(queue["theme"]) == {"担い手"}                  # the only theme with 3 comments with it and without it
    assert len(queue) == PER_THEME == 3
    certainty = queue["certainty"].tolist()
    assert sorted(certainty, key=lambda p: abs(p - 0.5)) == certainty      # most uncertain first
    assert all(0.0 <= p <= 1.0 for p in certainty)
    # the untagged comment that reads like the tagged ones is among those to ask about
    assert "A4" in set(queue["item_id"])


def test_the_queue_is_deterministic(codebook, queue: pd.DataFrame) -> None:
    ids = list(COMMENTS)
    again = learning_queue(ids, [COMMENTS[i][0] for i in ids], {i: t for i, (_, t) in COMMENTS.items()}, codebook)
    pd.testing.assert_frame_equal(queue, again)


def test_no_queue_without_enough_comments_each_way(codebook) -> None:
    assert learning_queue([], [], {}, codebook).empty
    few = learning_queue(["A1", "B1"], ["民生委員のなり手がいない。", "バスが少ない。"], {"A1": "担い手"}, codebook)
    assert few.empty


def test_queued_comments_are_review_rows_and_accepting_one_adds_the_theme() -> None:
    items = pd.DataFrame({"item_id": ["A4", "B1"], "text": ["地域活動をする若い人が少ない。", "バスが少ない。"],
                          "source": ["feedback", "feedback"]})
    evidence = pd.DataFrame(columns=["item_id", "theme", "terms", "spans", "source", "score"])
    queue = pd.DataFrame([("A4", "担い手", False, 0.48)], columns=QUEUE_COLUMNS)
    rows = review_rows("m1", items, evidence, {}, pd.DataFrame(columns=["card_id"]), pd.DataFrame(), to_teach=queue)
    assert rows[["対象ID", "提案", "根拠", "キー"]].values.tolist() == [
        ["A4", "担い手", f"{TEACH_NOTE}（確からしさ 0.48）", "theme|A4|担い手"]]
    decisions = pd.DataFrame([("m1", "A4", "theme", "担い手", ACCEPT, "", "", "", ""),
                              ("m1", "B1", "theme", "担い手", REJECT, "", "", "", "")],
                             columns=["meeting_id", "item_id", "kind", "suggestion", "decision", "correction", "note",
                                      "text", "timestamp"])
    out, changes = apply_theme_decisions(evidence, decisions, ["担い手"])
    assert out[["item_id", "theme", "source"]].values.tolist() == [["A4", "担い手", "analyst"]]
    assert [c.change for c in changes] == ["テーマ「担い手」を付けました（採用）"]


def test_the_sample_meeting_shows_the_queue_in_the_review_sheet_and_the_report(meeting2_result) -> None:
    from pipeline.report.layout import teach_section

    queue = meeting2_result.to_teach
    assert len(queue) and set(queue["item_id"]) <= set(meeting2_result.items["item_id"])
    shown = meeting2_result.review[meeting2_result.review["根拠"].astype(str).str.startswith(TEACH_NOTE)]
    assert len(shown) == len(queue)                          # none of them carries its queued theme yet
    section = teach_section(meeting2_result)
    assert section.title == "判定すると学習に役立つコメント" and len(section.frame) == len(queue)
