"""Words in context: positions of the analysis mapped back to the text as written, the sample meeting's lines
(contexts counted by hand from cards.csv / feedback.csv), the caps, sorting, and ``kyosei kwic``."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from flows.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, main
from pipeline.run import outputs
from pipeline.text.normalise import normalise_text, offset_map
from pipeline.themes.kwic import (
    INDEX_COLUMNS,
    KWIC_COLUMNS,
    context,
    find_word,
    kwic_chunks,
    kwic_index,
    kwic_lines,
    per_word,
    search_texts,
    sort_lines,
)
from tests.factories import kwic_table

F14 = "K - N e t は登録制なので，取りこぼしは出る。要支援のかたについては，個別避難計画計画を立てないと，災害時に漏れてしまうためどちらも必要。"
F16 = "「安全・安心して暮らせる環境づくり」という目で見るときに、長期的に見るとその方が自分で稼いで生活していく支援となる「就労支援」という視点も必要なのではないか。"


# ---- positions: normalised text → text as written ----------------------------------------------

def test_context_of_a_spaced_out_name_is_cut_from_the_text_as_written() -> None:
    norm = normalise_text(F14)
    assert norm.startswith("K-Netは登録制なので、")                  # spaces joined, full-width comma changed
    start = norm.index("K-Net")
    [(left, term, right, raw_start)] = context(F14, norm, [(start, start + 5)])
    assert (left, term, raw_start) == ("", "K - N e t", 0)
    assert right == " は登録制なので，取りこぼしは出る。要支"               # 20 characters as written: space, full-width comma


def test_full_width_letters_map_back_one_to_one() -> None:
    raw = "ＮＰＯ法人の支援を受けて、ひきこもりの人の居場所をつくる"
    norm = normalise_text(raw)
    assert norm.startswith("NPO法人の支援")
    assert offset_map(raw, norm) == list(range(len(raw) + 1))            # NFKC per character: same length
    s = norm.index("支援")
    assert context(raw, norm, [(s, s + 2)], width=6) == [("ＮＰＯ法人の", "支援", "を受けて、ひ", 6)]


def test_context_near_both_ends_and_newlines_shown_as_spaces() -> None:
    raw = "見守り\nが大切"
    norm = normalise_text(raw)
    s = norm.index("見守り")
    assert context(raw, norm, [(s, s + 3)], width=5) == [("", "見守り", " が大切", 0)]


# ---- the sample meeting (rules only), contexts counted by hand --------------------------------

@pytest.fixture(scope="module")
def lines(meeting2_result) -> pd.DataFrame:
    """Every line of the sample meeting (the run keeps the compact index; lines are cut from it)."""
    return kwic_lines(meeting2_result.kwic, meeting2_result.items)


def test_a_lemma_lists_every_inflected_form(meeting2_result, lines: pd.DataFrame) -> None:
    k = lines
    assert list(k.columns) == KWIC_COLUMNS
    mimamoru = k[k["word"] == "見守る"]
    assert list(mimamoru["item_id"]) == ["C12", "C18", "C22", "C31"]      # cards in input order
    assert list(mimamoru["term"]) == ["見守り", "見守り", "見守り", "見守る"]  # as written, counted as 見守る
    c12 = mimamoru.iloc[0]
    # C12 is 「K-Net（要援護者支え合いネットワーク）」+「。」+ its body: 見守り starts at character 50
    assert (c12["left"], c12["right"], c12["start"]) == ("の情報を町会・自治会などと共有し、日頃の",
                                                         "と災害時の安否確認につなげる。", 50)
    assert c12["themes"] == "支え合い" and c12["source"] == "card" and c12["kind"] == "カード"


def test_evidence_lines_carry_their_theme_and_the_parentheses_as_written(meeting2_result, lines: pd.DataFrame) -> None:
    k = lines
    c12 = k[(k["word"] == "支え合い") & (k["item_id"] == "C12")].iloc[0]
    assert (c12["left"], c12["term"], c12["right"], c12["themes"]) == (
        "K-Net（要援護者", "支え合い", "ネットワーク）。登録した要援護者の情報を", "支え合い")
    f16 = k[(k["item_id"] == "F16") & (k["term"] == "就労")].iloc[0]
    assert f16["left"] == "方が自分で稼いで生活していく支援となる「" and f16["right"] == "支援」という視点も必要なのではないか。"
    assert f16["themes"] == "就労" and f16["kind"] == "追加すべき視点"


def test_lines_are_ordered_by_word_frequency_then_item_then_position(meeting2_result, lines: pd.DataFrame) -> None:
    k = lines
    sizes = k.groupby("word", sort=False).size()
    assert list(sizes) == sorted(sizes, reverse=True)
    assert k["word"].iloc[0] == "支援"                                   # the most frequent word first
    order = {i: n for n, i in enumerate(meeting2_result.items["item_id"])}
    for _, part in k.groupby("word", sort=False):
        keys = [(order[i], s) for i, s in zip(part["item_id"], part["start"], strict=True)]
        assert keys == sorted(keys)


def test_every_line_is_a_real_place_in_the_text_as_written(meeting2_result, lines: pd.DataFrame) -> None:
    raw = dict(zip(meeting2_result.items["item_id"], meeting2_result.items["raw_text"], strict=True))
    for row in lines.itertuples():
        text = raw[row.item_id]
        assert text[row.start:row.start + len(row.term)] == row.term
        assert text[:row.start].replace("\n", " ").endswith(row.left)


def test_the_run_keeps_a_compact_index(meeting2_result, lines: pd.DataFrame) -> None:
    index = meeting2_result.kwic
    assert list(index.columns) == INDEX_COLUMNS and len(index) == len(lines)
    assert str(index["word"].dtype) == "category" and str(index["raw_start"].dtype) == "int32"
    chunks = list(kwic_chunks(index, meeting2_result.items, size=100))
    coded = ["word", "themes", "item_id", "source", "kind"]
    assert len(chunks) == -(-len(lines) // 100)
    assert all(isinstance(c[name].dtype, pd.CategoricalDtype) for c in chunks for name in coded)
    text = pd.concat([c.astype({name: str for name in coded}) for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(text, lines.astype({name: str for name in coded}))


def test_without_evidence_or_terms_the_table_is_empty_with_its_columns() -> None:
    items = pd.DataFrame({"item_id": ["F1"], "source": ["feedback"], "kind": ["感想"], "group": [""],
                          "card_id": [""], "raw_text": ["よかった"], "text": ["よかった"]})
    terms = pd.DataFrame(columns=["item_id", "term", "surface", "pos", "start", "end", "stopword"])
    evidence = pd.DataFrame(columns=["item_id", "theme", "terms", "spans", "source", "score"])
    assert list(kwic_table(items, terms, evidence).columns) == KWIC_COLUMNS


# ---- the index, by hand ---------------------------------------------------------------------------

def _by_hand() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three items; F1 written with spaces the normalisation removes (K - N e t → K-Net: 見守り at 6–9 is at 11–14 as
    written).  Terms as the analysis lists them (lemma, place, stopword); F2 has two terms at one place."""
    raw = ["K - N e t で見守りをする", "見守りと働きの場にする", "働く場がないとする"]
    items = pd.DataFrame({"item_id": ["F1", "F2", "F3"], "source": "feedback", "kind": "感想", "raw_text": raw,
                          "text": [normalise_text(t) for t in raw]})
    terms = pd.DataFrame([
        ("F1", "K-Net", 0, 5, False), ("F1", "見守る", 6, 9, False), ("F1", "する", 10, 12, True),
        ("F2", "見守る", 0, 3, False), ("F2", "見守り", 0, 3, False), ("F2", "働く", 4, 6, False),
        ("F2", "場", 7, 8, False), ("F2", "する", 9, 11, True),
        ("F3", "働く", 0, 2, False), ("F3", "場", 2, 3, False), ("F3", "する", 7, 9, True),
    ], columns=["item_id", "term", "start", "end", "stopword"])
    evidence = pd.DataFrame([
        ("F1", "高齢者", "見守り", "6-9"),
        ("F1", "支え合い", "K-Net|見守り", "0-5|6-9"),
        ("F2", "就労", "働き|働き", "4-6|4-6"),
        ("F3", "就労", "場が", "2-4"),
        ("F9", "就労", "働き", "0-2"),          # not among the items
    ], columns=["item_id", "theme", "terms", "spans"])
    return items, terms, evidence


BY_HAND = pd.DataFrame([
    # words by their lines (働く, 場, 見守る: 2 each, then K-Net, 場が: 1), ties in the words' order, then item, place
    ("働く", "就労", 1, 4, 6),              # evidence 働き, named by the term at its place
    ("働く", "", 2, 0, 2),                  # a top keyword (2 items) that is not evidence there
    ("場", "", 1, 7, 8),
    ("場", "", 2, 2, 3),
    ("見守る", "高齢者|支え合い", 0, 11, 14),  # two themes at one place, in the evidence's order
    ("見守る", "", 1, 0, 3),                # the first of the two terms at F2's place
    ("K-Net", "支え合い", 0, 0, 9),          # K - N e t as written
    ("場が", "就労", 2, 2, 4),              # no term at the span: the word as written in the evidence
], columns=INDEX_COLUMNS)


def test_the_index_by_hand() -> None:
    items, terms, evidence = _by_hand()
    index = kwic_index(items, terms, evidence, top_keywords=2)  # する is held by all three items but a stopword
    assert [str(t) for t in index.dtypes] == ["category", "category", "int32", "int32", "int32"]
    assert list(index["word"].cat.categories) == ["K-Net", "働く", "場", "場が", "見守る"]
    pd.testing.assert_frame_equal(index.astype({"word": str, "themes": str, "item": "int64", "raw_start": "int64",
                                                "raw_end": "int64"}), BY_HAND.astype({"word": str, "themes": str}))
    lines = kwic_lines(index, items)
    assert list(lines["term"]) == ["働き", "働く", "場", "場", "見守り", "見守り", "K - N e t", "場が"]


@pytest.mark.parametrize("rows", [1, 2, 4, 1_000])
def test_the_index_is_the_same_by_ranges_of_items_with_the_terms_in_any_order(rows: int) -> None:
    items, terms, evidence = _by_hand()
    expected = kwic_index(items, terms, evidence, top_keywords=2)
    shuffled = terms.iloc[[10, 3, 0, 7, 4, 9, 1, 5, 8, 2, 6]].reset_index(drop=True)
    coded = terms.assign(item_id=pd.Categorical(terms["item_id"], categories=["F1", "F2", "F3"]),
                         term=terms["term"].astype("category"), start=terms["start"].astype("int32"),
                         end=terms["end"].astype("int32"))
    for given in (terms, shuffled, coded):
        pd.testing.assert_frame_equal(kwic_index(items, given, evidence, top_keywords=2, rows=rows), expected)


def test_top_keywords_count_items_not_occurrences() -> None:
    items, terms, evidence = _by_hand()
    many = pd.concat([terms, pd.DataFrame([("F1", "K-Net", 13, 18, False)] * 3, columns=terms.columns)])
    index = kwic_index(items, many, evidence.iloc[:0], top_keywords=1)  # K-Net: 4 times, in one item
    assert list(index["word"].astype(str)) == ["働く", "働く"]            # 働く, 場, 見守る: 2 items each; the first


# ---- caps, sorting, finding ----------------------------------------------------------------------

LINES = pd.DataFrame([
    ("相談", "", "F1", "feedback", "感想", "気軽に", "相談", "できる", 3),
    ("相談", "", "F2", "feedback", "感想", "どこに", "相談", "すれば", 3),
    ("相談", "", "F3", "feedback", "感想", "まず", "相談", "から", 2),
    ("窓口", "", "F1", "feedback", "感想", "相談", "窓口", "が遠い", 2),
], columns=KWIC_COLUMNS)


def test_per_word_keeps_the_first_lines_of_each_word() -> None:
    assert list(per_word(LINES, 2)["item_id"]) == ["F1", "F2", "F1"]


def test_sorting_by_the_left_context_reads_from_the_word_outwards() -> None:
    # within each word: left contexts read backwards — ずま < にこど < に軽気 (ず before に; こ before 軽)
    assert list(sort_lines(LINES, "left")["left"]) == ["まず", "どこに", "気軽に", "相談"]
    assert list(sort_lines(LINES, "right")["right"]) == ["から", "すれば", "できる", "が遠い"]
    assert sort_lines(LINES, "order").equals(LINES)
    with pytest.raises(ValueError):
        sort_lines(LINES, "middle")


def test_find_word_by_the_counted_or_the_written_form_in_any_width() -> None:
    lines = pd.DataFrame([("見守る", "", "C1", "card", "カード", "", "見守り", "", 0)], columns=KWIC_COLUMNS)
    assert len(find_word(lines, "見守る")) == 1 and len(find_word(lines, "見守り")) == 1
    k = pd.DataFrame([("K-Net", "", "C1", "card", "カード", "", "K-Net", "", 0)], columns=KWIC_COLUMNS)
    assert len(find_word(k, "Ｋ－Ｎｅｔ")) == 1 and len(find_word(k, "k - net")) == 1
    assert len(find_word(lines, "支援")) == 0


def test_search_texts_finds_a_word_the_analysis_did_not_list() -> None:
    texts = pd.DataFrame({"item_id": ["F1", "F2"], "source": ["feedback"] * 2, "kind": ["感想"] * 2,
                          "text": ["とても良い会議だった", "良い良い"]})
    got = search_texts(texts, "良い", width=3)
    assert got[["item_id", "left", "term", "right", "start"]].values.tolist() == [
        ["F1", "とても", "良い", "会議だ", 3], ["F2", "", "良い", "良い", 0], ["F2", "良い", "良い", "", 2]]


# ---- outputs and the command line ------------------------------------------------------------

def test_the_report_lists_the_words_and_the_printed_reports_point_to_them(meeting2_run: Path) -> None:
    html = (meeting2_run / outputs.REPORT_HTML.file).read_text(encoding="utf-8")
    assert '<select class="pick">' in html and '<option value="見守る">見守る（4）</option>' in html
    left = "の情報を町会・自治会などと共有し、日頃の"
    assert 'data-pick="見守る"' in html and f'data-sort="{left[::-1]}"' in html
    md = (meeting2_run / outputs.REPORT_MD.file).read_text(encoding="utf-8")
    assert "### 語の前後（KWIC）" in md and f"{outputs.KWIC.file}" in md and "【" not in md
    table = pd.read_csv(meeting2_run / outputs.KWIC.file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(table.columns) == KWIC_COLUMNS and len(table) > 300


def test_kwic_sheet_holds_the_lines(meeting2_run: Path) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(meeting2_run / outputs.WORKBOOK.file, read_only=True)
    rows = list(wb[outputs.KWIC.sheet].iter_rows(values_only=True))
    assert rows[0][:3] == ("見出し語", "テーマ", "ID")
    csv_rows = pd.read_csv(meeting2_run / outputs.KWIC.file, encoding="utf-8-sig")
    assert len(rows) - 1 == len(csv_rows)                    # under 200 lines per word: nothing cut
    wb.close()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_kwic_command_prints_aligned_lines(meeting2_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kwic", str(meeting2_run), "見守る"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    lines = [line for line in out if "【" in line]
    assert len(lines) == 4 and lines[0].startswith("C12 カード")
    assert "の情報を町会・自治会などと共有し、日頃の 【見守り】 と災害時の安否確認につなげる。" in lines[0]
    assert lines[0].endswith("[支え合い]")
    columns = {_width(line[:line.index("【")]) for line in lines}
    assert len(columns) == 1                                  # every word in one column
    assert out[-1].startswith("4 行") and outputs.KWIC.file in out[-1]


def test_kwic_command_sorts_limits_and_falls_back_to_a_plain_search(meeting2_run: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kwic", str(meeting2_run), "見守る", "--sort", "left", "--limit", "2"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    # left contexts read backwards: う行が… (C22) < で域地… (C31) < の頃日… (C12) < 者齢高 (C18)
    assert [line.split()[0] for line in out if "【" in line] == ["C22", "C31"]
    assert "4 行（2 行を表示）" in out[-1]
    assert main(["kwic", str(meeting2_run), "Ｋ－Ｎｅｔ"]) == EXIT_OK            # not a listed word: plain search
    out = capsys.readouterr().out
    assert "【K-Net】 は登録制なので、" in out and outputs.TAGGED.file in out
    assert main(["kwic", str(meeting2_run), "存在しない語"]) == EXIT_PROBLEMS
    assert main(["kwic", str(meeting2_run.parent / "nothing-here"), "相談"]) == EXIT_ERROR
