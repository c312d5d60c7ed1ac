"""Report: keyword counts, tagged.csv shape, escaping in HTML/Markdown, formula-safe cells."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from pipeline.report import (
    Group,
    ReportContext,
    Section,
    label_for,
    render_html,
    render_markdown,
    tagged_table,
    top_keywords,
)
from pipeline.safety import neutralise_formula, safe_frame
from pipeline.schemas import TAGGED_COLUMNS

ITEMS = pd.DataFrame({
    "item_id": ["F1", "F2", "F3"],
    "source": ["feedback"] * 3,
    "kind": ["感想", "感想", "追加すべき視点"],
    "group": ["", "", ""],
    "card_id": ["", "", ""],
    "raw_text": ["", "", ""],
    "text": ["相談窓口が大事。相談窓口", "相談窓口と担い手", "就労支援"],
})
TERMS = pd.DataFrame(
    [("F1", "相談窓口", False), ("F1", "大事", True), ("F1", "相談窓口", False),
     ("F2", "相談窓口", False), ("F2", "担い手", False), ("F3", "就労支援", False)],
    columns=["item_id", "term", "stopword"],
)


def test_top_keywords_counts_items_not_occurrences() -> None:
    got = top_keywords(ITEMS, TERMS, n=5)
    assert got.values.tolist() == [
        ["感想", 1, "相談窓口", 2],       # F1 twice + F2 once = 2 items
        ["感想", 2, "担い手", 1],
        ["追加すべき視点", 1, "就労支援", 1],
    ]


def test_top_keywords_from_the_coded_rows_are_the_same() -> None:
    """The analysis keeps its keyword rows as codes (items by row, words categorical): counted on the codes, the same
    table — ties by the word, a kind with no keyword absent, a row of an unknown item not counted."""
    from pipeline.run.items import coded_terms

    items = pd.concat([ITEMS, ITEMS.iloc[[0]].assign(item_id="C1", kind="カード", text="担い手")], ignore_index=True)
    terms = pd.concat([TERMS, pd.DataFrame([("C1", "担い手", False), ("C1", "大事", True)], columns=TERMS.columns)],
                      ignore_index=True).assign(start=0, end=1)
    coded = coded_terms([terms.iloc[:4], terms.iloc[4:]], items["item_id"])
    assert isinstance(coded["term"].dtype, pd.CategoricalDtype)
    got = top_keywords(items, coded, n=5)
    pd.testing.assert_frame_equal(got, top_keywords(items, terms, n=5))
    assert got.values.tolist() == [["感想", 1, "相談窓口", 2], ["感想", 2, "担い手", 1], ["追加すべき視点", 1, "就労支援", 1],
                                   ["カード", 1, "担い手", 1]]
    assert top_keywords(items, coded, n=1)["term"].tolist() == ["相談窓口", "就労支援", "担い手"]
    only_stopwords = coded.assign(stopword=True)
    assert top_keywords(items, only_stopwords).empty


def test_tagged_table_has_contract_columns_and_fills_mappings() -> None:
    got = tagged_table(ITEMS, themes={"F1": "相談窓口"}, new_perspective={"F3": 1})
    assert list(got.columns) == TAGGED_COLUMNS
    assert got["themes"].tolist() == ["相談窓口", "", ""]
    assert got["new_perspective"].tolist() == [0, 0, 1]


@pytest.mark.parametrize(("column", "label"), [
    ("round_1", "1回目"), ("share_2", "2回目(%)"), ("share_shift", "増減(ポイント)"), ("measure_name", "施策案"),
    ("unknown", "unknown"),
])
def test_labels(column: str, label: str) -> None:
    assert label_for(column) == label


def context(text: str) -> ReportContext:
    comments = pd.DataFrame({"item_id": ["F1"], "kind": ["感想"], "text": [text]})
    counts = pd.DataFrame([{"file": "feedback.csv", "kind": "feedback", "encoding": "utf-8", "rows_in": 1,
                            "rows_ok": 1, "rows_rejected": 0}])
    return ReportContext(meeting_id="2024-05-22", title="第2回 <会議>", date="2024-05-22", groups=[
        Group("概要", "summary", [Section("", pairs=[("コメント", "1件")]), Section("入力ファイル", counts)]),
        Group("コメント", "comments", [Section("種別ごとの件数", pd.DataFrame({"kind": ["感想"], "comments": [1]}))]),
        Group("コメント一覧", "list", [Section("", comments, filterable=True)]),
        Group("付録", "appendix", [Section("取り込めなかった行", pd.DataFrame(), empty="なし"),
                                  Section("実行情報", pairs=[("乱数シード", "0")])]),
    ])


def test_html_escapes_every_input_text() -> None:
    html = render_html(context('<script>alert("x")</script> & <img src=x onerror=1>'))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;img" in html
    assert "第2回 &lt;会議&gt;" in html
    # self-contained: no external URL in src/href
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html)
    assert html.count("<script>") == 1  # only our own sorting script


def test_markdown_escapes_pipes_and_has_sections() -> None:
    md = render_markdown(context("A|B\n改行"))
    assert "A\\|B 改行" in md
    for heading in ("## 概要", "## コメント", "## コメント一覧", "## 付録"):
        assert heading in md


@pytest.mark.parametrize(("value", "expected"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+81", "'+81"), ("-1", "'-1"), ("@SUM", "'@SUM"),
    ("\tTAB", "'\tTAB"), ("相談窓口", "相談窓口"), ("", ""),
])
def test_neutralise_formula(value: str, expected: str) -> None:
    assert neutralise_formula(value) == expected


def test_safe_frame_leaves_numbers_alone() -> None:
    frame = pd.DataFrame({"text": ["=1+1", "普通"], "n": [-1, 2]})
    got = safe_frame(frame)
    assert got["text"].tolist() == ["'=1+1", "普通"]
    assert got["n"].tolist() == [-1, 2]
    assert frame["text"].tolist() == ["=1+1", "普通"]


def test_safe_frame_neutralises_text_among_other_cells() -> None:
    """Object columns hold text beside numbers, missing values and lists; pandas' string columns hold NA."""
    frame = pd.DataFrame({
        "mixed": ["-3人", 5, None, float("nan"), ["=x"], "@メモ", "普通"],
        "str": pd.array(["+81-90", pd.NA, "相談", "\t字下げ", "=A1", "", "'既に"], dtype="string"),
        "numbers": pd.Series([1, -2, 3, 4, 5, 6, 7], dtype=object),
    })
    got = safe_frame(frame)
    assert got["mixed"].tolist()[:3] == ["'-3人", 5, None] and got["mixed"].tolist()[4:] == [["=x"], "'@メモ", "普通"]
    assert got["str"].tolist() == ["'+81-90", pd.NA, "相談", "'\t字下げ", "'=A1", "", "'既に"]
    assert got["numbers"].tolist() == [1, -2, 3, 4, 5, 6, 7]


def test_safe_frame_neutralises_the_words_of_a_categorical_column() -> None:
    frame = pd.DataFrame({"word": pd.Categorical(["=HYPERLINK()", "相談", "=HYPERLINK()", "-1"]),
                          "clash": pd.Categorical(["=A1", "'=A1", "見守り", "=A1"]),
                          "n": pd.Categorical([1, 2, 1, 3])})
    got = safe_frame(frame)
    assert got["word"].tolist() == ["'=HYPERLINK()", "相談", "'=HYPERLINK()", "'-1"]
    assert got["clash"].tolist() == ["'=A1", "'=A1", "見守り", "'=A1"]  # two values that become one: as text
    assert got["n"].tolist() == [1, 2, 1, 3]
    assert frame["word"].tolist()[0] == "=HYPERLINK()"
