"""Tables as a 報告書 shows them: all-zero rows and columns left out with one line, categories in natural order."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.tally.shown import left_out_note, natural_order, without_empty_columns, without_zeros


def test_all_zero_rows_and_columns_are_left_out_and_named() -> None:
    frame = pd.DataFrame({"theme": ["相談窓口", "再犯防止", "防災", "移動"],
                          "P1": [1, 0, 0, 0], "P2": [15, 0, 0, 0], "P3": [0, 0, 7, 0], "P4": [0, 0, 0, 0],
                          "total": [16, 0, 7, 0]})
    shown, rows, cols = without_zeros(frame, "theme", keep=("total",))
    assert shown.to_dict("list") == {"theme": ["相談窓口", "防災"], "P1": [1, 0], "P2": [15, 0], "P3": [0, 7],
                                     "total": [16, 7]}
    assert (rows, cols) == (["再犯防止", "移動"], ["P4"])
    assert left_out_note(rows, cols) == "件数がすべて0のテーマ（再犯防止、移動）とすべて0の列（P4）は省略しています。"


def test_nothing_left_out_says_nothing() -> None:
    frame = pd.DataFrame({"theme": ["防災"], "カード": [2]})
    shown, rows, cols = without_zeros(frame, "theme")
    assert shown.equals(frame) and rows == [] and cols == [] and left_out_note(rows, cols) == ""
    empty = pd.DataFrame({"theme": pd.Series([], dtype=str)})
    assert without_zeros(empty, "theme")[0] is empty


def test_a_long_list_of_left_out_rows_is_cut() -> None:
    rows = [f"テーマ{n}" for n in range(1, 11)]
    assert left_out_note(rows, []) == ("件数がすべて0のテーマ（テーマ1、テーマ2、テーマ3、テーマ4、テーマ5、テーマ6、テーマ7、"
                                       "テーマ8 ほか2件）は省略しています。")


@pytest.mark.parametrize(("values", "ordered"), [
    (["30代", "70代以上", "10代", "40代", "無回答", "20代"], ["10代", "20代", "30代", "40代", "70代以上", "無回答"]),
    (["第10回", "第2回", "第1回"], ["第1回", "第2回", "第10回"]),
    (["２年", "１年", "３年"], ["１年", "２年", "３年"]),                       # full-width digits
    (["北地区", "南地区", "中央"], ["北地区", "南地区", "中央"]),             # no numbers: the order given
    (["A班", "B班", "10代"], ["A班", "B班", "10代"]),                        # only one number: the order given
])
def test_categories_in_their_natural_order(values: list[str], ordered: list[str]) -> None:
    assert natural_order(values) == ordered


def test_the_sample_reports_theme_tables_leave_out_the_zero_rows(meeting2_result) -> None:
    from pipeline.report.layout import build_report
    from pipeline.run import outputs

    ctx = build_report(meeting2_result, outputs.images(meeting2_result), [])
    by_kind = next(s for g in ctx.groups for s in g.sections if s.title == "テーマ × 種別（件数）")
    # no card or comment of the 22 May meeting is about 再犯防止, 多文化共生, 移動 or 孤立
    assert not {"再犯防止", "多文化共生", "移動", "孤立"} & set(by_kind.frame["theme"])
    assert "件数がすべて0のテーマ（再犯防止、多文化共生、移動、孤立）" in by_kind.note
    assert len(by_kind.frame) == len(meeting2_result.theme_by_kind) - 4


def test_a_small_meeting_shows_its_most_frequent_words_instead_of_a_network(tmp_path) -> None:
    from pipeline.ingest import load_meeting
    from pipeline.report.layout import build_report
    from pipeline.run import outputs
    from pipeline.run.analysis import analyse
    from tests.conftest import MEASURES
    from tests.factories import shipped_models

    folder = tmp_path / "小さな会議"
    folder.mkdir()
    comments = ["移動手段がなくて通院が大変です。", "相談窓口がどこにあるのか分からない。", "担い手が足りず、町会の役員が続かない。",
                "バスの本数が少なく買い物が大変。", "障害のある人が働ける場所がほしい。"]
    (folder / "feedback.csv").write_text("comment_id,text\n" + "".join(f"F{n},{t}\n" for n, t in enumerate(comments, 1)),
                                         encoding="utf-8")
    r = analyse(load_meeting(folder, MEASURES), shipped_models())
    assert len(r.network_nodes) < outputs.MIN_NETWORK_WORDS and not outputs.network_shown(r)
    counts = outputs.word_counts(r)
    assert counts.iloc[0].tolist() == ["大変", 2]                        # 大変 in F1 and F4, every other word once
    assert (counts["items"].iloc[1:] == 1).all() and list(counts.columns) == ["term", "items"]
    images = outputs.images(r)
    ctx = build_report(r, images, [])
    shown = next(s for g in ctx.groups for s in g.sections if s.title == "出現件数の多い語")
    assert shown.image == images["network_png"] and shown.image.startswith(b"\x89PNG")
    assert "少ないため" in shown.note
    assert not any(s.title == "語の共起ネットワーク" for g in ctx.groups for s in g.sections)


def test_a_meeting_without_cards_shows_no_card_columns() -> None:
    coverage = pd.DataFrame({"pillar_id": ["P1", "P2"], "measure_id": ["P1-1", "P2-1"], "measure_name": ["見守り", "相談"],
                             "cards": [0, 0], "card_ids": ["", ""], "comments": [1, 0], "comment_ids": ["F3", ""],
                             "status": ["コメントのみ", "裏付けなし"]})
    shown = without_empty_columns(coverage, keep=("pillar_id", "measure_id", "measure_name", "status"))
    assert list(shown.columns) == ["pillar_id", "measure_id", "measure_name", "comments", "comment_ids", "status"]
    # a kept column stays even when empty; an empty frame is returned as it is
    assert "status" in without_empty_columns(coverage.assign(status=""), keep=("status",)).columns
    assert without_empty_columns(coverage.iloc[0:0]).columns.tolist() == coverage.columns.tolist()
