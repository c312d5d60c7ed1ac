"""A meeting's title and date found in its files when meeting.yaml does not give them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest.titles import find_date, find_title, found_title_and_date


@pytest.mark.parametrize(("text", "date"), [
    ("令和6年7月1日", "2024-07-01"), ("令和元年5月1日（水）", "2019-05-01"), ("令和６年７月１日", "2024-07-01"),
    ("平成31年4月30日", "2019-04-30"), ("R6.7.1", "2024-07-01"), ("H31.4.30", "2019-04-30"),
    ("2024年7月1日", "2024-07-01"), ("2024-07-01", "2024-07-01"), ("2024/7/1", "2024-07-01"),
    ("第3回_地域福祉ワークショップ_2024.7.1.xlsx", "2024-07-01"),
    ("日時：令和6年10月15日（火）14時～16時", "2024-10-15"),
    ("2024/13/40", ""), ("令和6年2月30日", ""), ("第3回 意見一覧", ""), ("電話 0471-23-4567", ""),
    ("R2-1 の施策案", ""),
])
def test_dates_as_cities_write_them(text: str, date: str) -> None:
    assert find_date(text) == date


def test_the_title_is_the_first_row_naming_a_meeting_else_a_file_name() -> None:
    assert find_title(["令和6年7月1日", "第3回 地域福祉計画策定ワークショップ 意見一覧"]) == \
        "第3回 地域福祉計画策定ワークショップ 意見一覧"
    assert find_title(["日時：第3回会議の翌日"], ["第2回懇談会_R6.9.3.docx"]) == "第2回懇談会 R6.9.3"
    assert find_title(["番号 意見"], ["comments.csv", "a_taikeihyo"]) == ""


def test_only_what_meeting_yaml_leaves_out_is_found() -> None:
    import pandas as pd

    from pipeline.ingest.read import RawTable

    table = RawTable(file="意見.xlsx", frame=pd.DataFrame(), encoding="xlsx", sheet="ワークショップ",
                     title_lines=("第3回 地域福祉計画策定ワークショップ", "令和6年7月1日"))
    assert found_title_and_date({}, [table], []) == {"title": "第3回 地域福祉計画策定ワークショップ",
                                                       "date": "2024-07-01", "found": "title|date"}
    assert found_title_and_date({"title": "連携会議"}, [table], []) == {"date": "2024-07-01", "found": "date"}
    assert found_title_and_date({"title": "連携会議", "date": "2024-05-22"}, [table], []) == {}
    plain = RawTable(file="feedback.csv", frame=pd.DataFrame(), encoding="utf-8")
    assert found_title_and_date({}, [plain], [Path("feedback.csv"), Path("a_meeting")]) == {}
    # the folder's name is read last: 第2回懇談会_R6.9.3
    assert found_title_and_date({}, [plain], [Path("feedback.csv"), Path("第2回懇談会_R6.9.3")]) == {
        "title": "第2回懇談会 R6.9.3", "date": "2024-09-03", "found": "title|date"}
    # minutes in Word: the lines set aside (日時：…) hold the date
    minutes = RawTable(file="議事録.docx", frame=pd.DataFrame(), encoding="docx",
                       set_aside=((1, "表題 / title", "地域福祉懇談会 記録"), (2, "会議の情報", "日時：令和6年11月5日")))
    assert found_title_and_date({}, [minutes], []) == {"title": "地域福祉懇談会 記録", "date": "2024-11-05",
                                                        "found": "title|date"}


def test_a_meeting_without_meeting_yaml_gets_its_title_and_date_from_its_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    from pipeline.ingest import load_meeting
    from pipeline.report.notices import input_notices
    from tests.conftest import MEASURES

    folder = tmp_path / "a_meeting"
    folder.mkdir()
    wb = Workbook()
    ws = wb.active
    ws.append(["第3回 地域福祉計画策定ワークショップ 意見一覧"])
    ws.append(["令和6年7月1日（月）"])
    ws.append([])
    ws.append(["番号", "ご意見"])
    ws.append([1, "移動手段がなくて通院が大変です。"])
    ws.append([2, "相談窓口がどこにあるのか分からない。"])
    wb.save(folder / "意見.xlsx")
    m = load_meeting(folder, MEASURES)
    assert (m.meta["title"], m.meta["date"]) == ("第3回 地域福祉計画策定ワークショップ 意見一覧", "2024-07-01")
    notes = input_notices(m)
    assert any(n.startswith("会議名と開催日はファイルの表題・ファイル名から読み取りました") for n in notes)
    # nothing to find: one notice asks for them
    bare = tmp_path / "b_meeting"
    bare.mkdir()
    (bare / "feedback.csv").write_text("comment_id,text\nF01,通院が大変です\n", encoding="utf-8")
    notes = input_notices(load_meeting(bare, MEASURES))
    assert any(n.startswith("会議名と開催日が見つかりませんでした") and "meeting.yaml" in n for n in notes)
