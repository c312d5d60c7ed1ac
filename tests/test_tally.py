"""Tally on a small hand-made meeting; every expected number is worked out in the comments."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline import tally

MEASURES = pd.DataFrame({
    "pillar_id": ["P2", "P2", "P3"],
    "pillar_name": ["相談・サポート体制", "相談・サポート体制", "安全・安心"],
    "measure_id": ["P2-1", "P2-2", "P3-1"],
    "measure_name": ["相談窓口の充実", "分野にとらわれない相談体制", "災害時の要配慮者支援"],
    "description": ["", "", ""],
    "keywords": ["", "", ""],
})
CARDS = pd.DataFrame({
    "card_id": ["C1", "C2", "C3", "C4"],
    "department": ["福祉政策課", "社会福祉協議会", "防災安全課", "商工振興課"],
    "title": ["あいネット", "心配ごと相談", "個別避難計画", "地域職業相談室"],
    "body": ["", "", "", ""],
    "measure_ids": ["P2-1|P2-2", "P2-1", "P3-1", ""],
    "group": ["A", "A", "B", "B"],
    "row": [2, 3, 4, 5],
})
# Round 1: 4 voters × 2 blocks = 8 blocks.  Round 2: 4 voters × 1 block = 4 blocks.
VOTES = pd.DataFrame(
    [("C1", 1, 1, "v1", "A"), ("C2", 1, 1, "v1", "A"),
     ("C1", 1, 1, "v2", "A"), ("C3", 1, 1, "v2", "A"),
     ("C3", 1, 1, "v3", "B"), ("C4", 1, 1, "v3", "B"),
     ("C3", 1, 1, "v4", "B"), ("C2", 1, 1, "v4", "B"),
     ("C1", 2, 1, "v1", "A"), ("C1", 2, 1, "v2", "A"), ("C1", 2, 1, "v3", "B"), ("C3", 2, 1, "v4", "B")],
    columns=["card_id", "round", "blocks", "voter", "group"],
).assign(row=range(2, 14))


def test_round_totals_and_voters() -> None:
    assert tally.round_totals(VOTES) == {1: 8, 2: 4}
    assert tally.voters_per_round(VOTES) == {1: 4, 2: 4}


def test_card_votes() -> None:
    got = tally.card_votes(VOTES, CARDS).set_index("card_id")
    # C1: r1 2, r2 3; C2: 2, 0; C3: 3, 1; C4: 1, 0
    assert got["round_1"].to_dict() == {"C1": 2, "C2": 2, "C3": 3, "C4": 1}
    assert got["round_2"].to_dict() == {"C1": 3, "C2": 0, "C3": 1, "C4": 0}
    assert got.loc["C1", "total"] == 5
    # shares: C1 2/8 = 25.0 % → 3/4 = 75.0 %, +50.0 points; C3 37.5 → 25.0, −12.5
    assert got.loc["C1", ["share_1", "share_2", "share_shift"]].tolist() == [25.0, 75.0, 50.0]
    assert got.loc["C3", "share_shift"] == -12.5
    assert got.loc["C1", "shift"] == 1
    # order: last round desc, then first round desc, then id
    assert list(got.index) == ["C1", "C3", "C2", "C4"]
    assert got.loc["C4", "title"] == "地域職業相談室"


def test_measure_votes_credit_every_linked_measure() -> None:
    got = tally.measure_votes(VOTES, CARDS, MEASURES).set_index("measure_id")
    # P2-1 ← C1 + C2: r1 2+2 = 4, r2 3+0 = 3;  P2-2 ← C1: 2, 3;  P3-1 ← C3: 3, 1
    assert got["round_1"].to_dict() == {"P2-1": 4, "P2-2": 2, "P3-1": 3}
    assert got["round_2"].to_dict() == {"P2-1": 3, "P2-2": 3, "P3-1": 1}
    assert got["cards"].to_dict() == {"P2-1": 2, "P2-2": 1, "P3-1": 1}


def test_pillar_votes_count_a_card_once_and_list_unlinked() -> None:
    got = tally.pillar_votes(VOTES, CARDS, MEASURES).set_index("pillar_id")
    # P2 ← C1 (once, though linked twice) + C2: r1 4, r2 3;  P3 ← C3: 3, 1;  (なし) ← C4: 1, 0
    assert got["round_1"].to_dict() == {"P2": 4, "P3": 3, "(なし)": 1}
    assert got["round_2"].to_dict() == {"P2": 3, "P3": 1, "(なし)": 0}


def test_department_votes() -> None:
    got = tally.department_votes(VOTES, CARDS).set_index("department")
    assert got["round_1"].to_dict() == {"福祉政策課": 2, "防災安全課": 3, "社会福祉協議会": 2, "商工振興課": 1}
    assert list(got.index) == ["福祉政策課", "防災安全課", "社会福祉協議会", "商工振興課"]


def test_single_round_has_no_shift() -> None:
    got = tally.card_votes(VOTES[VOTES["round"] == 1], CARDS)
    assert "shift" not in got.columns and "round_2" not in got.columns


def test_cards_per_measure_and_unlinked() -> None:
    got = tally.cards_per_measure(CARDS, MEASURES).set_index("measure_id")
    assert got["card_ids"].to_dict() == {"P2-1": "C1|C2", "P2-2": "C1", "P3-1": "C3"}
    only = CARDS[CARDS["card_id"] != "C3"]
    empty = tally.cards_per_measure(only, MEASURES)
    assert empty.loc[empty["cards"] == 0, "measure_id"].tolist() == ["P3-1"]
    assert tally.unlinked_cards(CARDS)["card_id"].tolist() == ["C4"]


def test_comments_per_kind_lists_every_kind() -> None:
    fb = pd.DataFrame({"kind": ["感想", "感想", "追加すべき視点"]})
    got = tally.comments_per_kind(fb)
    assert got.values.tolist() == [["感想", 2], ["重要な理由", 0], ["追加すべき視点", 1], ["質問", 0], ["その他", 0]]


def test_inputs_are_not_mutated() -> None:
    before = VOTES.copy(), CARDS.copy()
    tally.card_votes(VOTES, CARDS)
    tally.measure_votes(VOTES, CARDS, MEASURES)
    pd.testing.assert_frame_equal(VOTES, before[0])
    pd.testing.assert_frame_equal(CARDS, before[1])


@pytest.mark.parametrize("blocks", [0, 5])
def test_zero_and_many_block_rows(blocks: int) -> None:
    votes = pd.DataFrame([("C1", 1, blocks, "v1", "A", 2)], columns=[*VOTES.columns])
    assert tally.card_votes(votes, CARDS)["round_1"].tolist() == [blocks]
