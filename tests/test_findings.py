"""Page 1 of the report: the findings of the 22 May sample meeting, each sentence checked against numbers
counted by hand from its input files (votes.csv: C02 has 7 of the 54 blocks of round 1 and 5 of the 18 of round 2)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pandas as pd
import pytest

from pipeline.report.findings import key_findings
from pipeline.run.result import MeetingResult


@pytest.fixture(scope="module")
def found(meeting2_result: MeetingResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in key_findings(meeting2_result):
        out.setdefault(f.anchor, []).append(f.text)
    return out


def test_the_perspectives_come_first_with_their_support(meeting2_result: MeetingResult) -> None:
    first = key_findings(meeting2_result)[0]
    # V01: F16 and the cards C33, C34, C36 (tests/test_perspectives.py); V02: F18 and two more
    assert (first.anchor, first.heading) == ("perspectives", "新たな視点(案)")
    assert first.text == ("施策案にない視点の候補が5件あります。支持が最も多いのは「『就労支援』という視点」"
                          "（就労に困難を抱える人への支援、4件）、次いで「企業や社会福祉法人、NPO等にアプローチしていくこと」"
                          "（3件）です。")


def test_measures_with_the_most_and_without_support(found: dict[str, list[str]]) -> None:
    # cards.csv places 8 cards under P2-1 (C01–C05, C09, C30, C40); nothing is placed under P2-3 or P3-4
    assert found["measures"] == [
        "裏付けが最も多い施策案はP2-1「相談窓口の充実」（カード8枚・コメント6件）です。",
        "カードもコメントもない施策案が2件あります（P2-3「権利擁護の推進」、P3-4「住まいと移動の支援」）。"]


def test_the_largest_vote_shifts_are_shares_of_each_round(found: dict[str, list[str]]) -> None:
    # C02: 7/54 = 13.0 % → 5/18 = 27.8 % (+14.8); C01: 4/54 = 7.4 % → 0/18 (−7.4), the largest fall
    assert found["votes"] == [
        "1回目から2回目の投票で、最も支持を集めたのはC02「あいネット（福祉の総合相談窓口）」（その回の票に占める割合"
        "13.0% → 27.8%、＋14.8ポイント）、最も減らしたのはC01「心配ごと相談」（7.4% → 0.0%、−7.4ポイント）です。"]


def test_the_themes_most_raised(meeting2_result: MeetingResult, found: dict[str, list[str]]) -> None:
    counts = Counter(t for v in meeting2_result.themes.values() for t in v.split("|") if t)
    assert (counts["相談窓口"], counts["担い手"], counts["連携"]) == (17, 13, 12)
    assert counts.most_common(3) == [("相談窓口", 17), ("担い手", 13), ("連携", 12)]
    assert found["themes"] == ["多く出たテーマは相談窓口（17件）、担い手（13件）、連携（12件）です。"]


def test_themes_that_rose_and_fell_against_the_previous_meeting(meeting2_result: MeetingResult) -> None:
    trend = pd.DataFrame({"theme": ["計画書の記述", "防災", "就労", "担い手", "移動"],
                          "2024-05-08": [0, 2, 3, 4, 1], "2024-05-22": [4, 5, 1, 4, 2]})
    texts = [f.text for f in key_findings(replace(meeting2_result, trend=trend))]
    # 計画書の記述 (about the plan document) is no theme of the comments; 担い手 did not move
    assert texts[-1] == ("前回の会議（2024-05-08）と比べて、増えたのは防災（2件→5件）、移動（1件→2件）、"
                         "減ったのは就労（3件→1件）です。")


def test_a_meeting_without_votes_or_suggestions_says_so(meeting2_result: MeetingResult) -> None:
    r = meeting2_result
    quiet = replace(r, tallies=replace(r.tallies, round_totals={}),
                    perspectives=replace(r.perspectives, suggestions=r.perspectives.suggestions.iloc[0:0]))
    found = key_findings(quiet)
    assert found[0].text.startswith("施策案にない視点の候補はありませんでした")
    assert "votes" not in {f.anchor for f in found}
