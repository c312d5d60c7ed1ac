"""Each normalisation rule with its (input, expected) table; then the composed normaliser."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.text.normalise import (
    ascii_comma_in_japanese,
    card_text,
    japanese_punctuation,
    join_spaced_letters,
    normalise_text,
    protect_digit_hyphens,
    raw_items,
    strip_invisible,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("K - N e t は登録制", "K-Net は登録制"),
    ("N e t", "Net"),
    ("A B C対策", "ABC対策"),
    ("I am a pen", "I am a pen"),            # ordinary words are not glued
    ("NPO 等の団体", "NPO 等の団体"),
    ("a b", "a b"),                           # two letters are not enough evidence
    ("K-Net", "K-Net"),
    ("Q & A", "Q & A"),                       # only 2 letters
    ("S D G s", "SDGs"),
])
def test_join_spaced_letters(text: str, expected: str) -> None:
    assert join_spaced_letters(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("場所，潜在的な相談", "場所、潜在的な相談"),
    ("機関．", "機関。"),
    ("１．５倍", "１．５倍"),                  # decimal point stays for NFKC
    ("普通の、文。", "普通の、文。"),
])
def test_japanese_punctuation(text: str, expected: str) -> None:
    assert japanese_punctuation(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("福祉,子ども", "福祉、子ども"),
    ("1,000人", "1,000人"),
    ("A, B", "A, B"),
])
def test_ascii_comma_in_japanese(text: str, expected: str) -> None:
    assert ascii_comma_in_japanese(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("０１２－３４５－６７８９", "０１２-３４５-６７８９"),
    ("04-7167-1111", "04-7167-1111"),
    ("ハイティーン－", "ハイティーン－"),     # not between digits
])
def test_protect_digit_hyphens(text: str, expected: str) -> None:
    assert protect_digit_hyphens(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("ゼロ\u200b幅", "ゼロ幅"),
    ("改行\nあり\r\nます", "改行 あり ます"),
    ("制御\x07文字", "制御 文字"),
    ("\ufeff先頭BOM", "先頭BOM"),
])
def test_strip_invisible(text: str, expected: str) -> None:
    assert strip_invisible(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # transcription noise kept in the sample data
    ("K - N e t は登録制なので，取りこぼしは出る。", "K-Netは登録制なので、取りこぼしは出る。"),
    ("レ ゴ ブロック", "レゴブロック"),
    ("ハイティーン（16～18歳）の高校中退", "ハイティーン(16~18歳)の高校中退"),
    ("ﾌﾚｲﾙ予防", "フレイル予防"),
    ("ＮＰＯ等", "NPO等"),
    ("(施策案との紐づけについて) どこにも", "(施策案との紐づけについて)どこにも"),
    ("０４－７１６７－１１１１", "04-7167-1111"),
    ("", ""),
    ("   ", ""),
])
def test_normalise_text(text: str, expected: str) -> None:
    assert normalise_text(text) == expected


@pytest.mark.parametrize("text", [
    "K - N e t は登録制なので，取りこぼしは出る。", "ハイティーン（16～18歳）", "ｱｲｳ　ＡＢＣ，１．５", "すごーーーい！！",
])
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise_text(text)
    assert normalise_text(once) == once


@pytest.mark.parametrize(("title", "body", "expected"), [
    ("心配ごと相談", "悩みを聞く。", "心配ごと相談。悩みを聞く。"),
    ("質問です？", "内容", "質問です？内容"),
    ("", "内容だけ", "内容だけ"),
    ("題だけ", "", "題だけ"),
])
def test_card_text(title: str, body: str, expected: str) -> None:
    assert card_text(title, body) == expected


def test_raw_items_keep_every_row_in_order_and_normalise_to_the_texts() -> None:
    cards = pd.DataFrame({"card_id": ["C1"], "department": ["福祉政策課"], "title": ["あいネット"],
                          "body": ["相談窓口，つなぐ"], "measure_ids": ["P2-1"], "group": ["A"], "row": [2]})
    feedback = pd.DataFrame({"comment_id": ["F1", "F2"], "text": ["K - N e t は大事", "ﾌﾚｲﾙ予防"],
                             "kind": ["感想", "重要な理由"], "card_id": ["", "C1"], "group": ["", ""],
                             "row": [2, 3]})
    items = raw_items(cards, feedback)
    assert list(items["text"]) == ["", "", ""]  # the item pass normalises each text with its one parse
    items = items.assign(text=[normalise_text(t) for t in items["raw_text"]])
    assert list(items["item_id"]) == ["C1", "F1", "F2"]
    assert list(items["source"]) == ["card", "feedback", "feedback"]
    assert list(items["kind"]) == ["カード", "感想", "重要な理由"]
    assert list(items["text"]) == ["あいネット。相談窓口、つなぐ", "K-Netは大事", "フレイル予防"]
    assert items.loc[1, "raw_text"] == "K - N e t は大事"
    assert cards.loc[0, "body"] == "相談窓口，つなぐ"  # input not mutated


@pytest.mark.parametrize(("text", "expected"), [
    ("Ｋ－Ｎｅｔ", "K-Net"), ("Ａ‐１", "A-1"), ("K－Net", "K-Net"),
])
def test_hyphens_between_latin_letters(text: str, expected: str) -> None:
    assert normalise_text(text) == expected
