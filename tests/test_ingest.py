"""Ingest: encodings, XLSX, header aliases and every row-level refusal, with row numbers."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.ingest import (
    canonical_columns,
    decode_bytes,
    find_input_files,
    load_meeting,
    meeting_id_for,
    parse_int,
    read_table,
    split_ids,
    validate_cards,
    validate_feedback,
    validate_measures,
    validate_votes,
)
from tests.conftest import MEASURES, MEETING_2, ROOT
from tests.factories import meeting_copy

MEASURES_CSV = (
    "pillar_id,pillar_name,measure_id,measure_name,description,keywords\n"
    "P2,分野にとらわれない相談・サポート体制の充実,P2-1,相談窓口の充実,相談窓口を充実させる,相談窓口\n"
    "P3,安全・安心して暮らせる環境づくり,P3-1,災害時の要配慮者支援の推進,個別避難計画,防災\n"
)
CARDS_CSV = (
    "カードID,部署,事業名,内容,施策ID\n"
    "C01,社会福祉協議会,心配ごと相談,暮らしの困りごとを聞く,P2-1\n"
    "C02,福祉政策課,あいネット,分野を問わない相談窓口,P2-1\n"
    "C03,防災安全課,個別避難計画の作成,避難を支援する計画,P3-1\n"
)
FEEDBACK_CSV = (
    "ID,意見,種別\n"
    "F01,相談窓口の充実では、社協の心配ごと相談の話がたくさんあった。,感想\n"
    "F02,K - N e t は登録制なので，取りこぼしは出る。,重要な理由\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def table(tmp_path: Path, text: str, kind: str, name: str = "t.csv") -> pd.DataFrame:
    return canonical_columns(read_table(write(tmp_path / name, text)), kind)


# ---- decoding -------------------------------------------------------------------------------

@pytest.mark.parametrize(("encoding", "expected"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932"), ("utf-16", "utf-16"),
])
def test_decode_detects_encoding(encoding: str, expected: str) -> None:
    text, found = decode_bytes(FEEDBACK_CSV.encode(encoding), file="feedback.csv")
    assert found == expected
    assert text.lstrip("\ufeff") == FEEDBACK_CSV


def test_shift_jis_file_reads_like_utf8(tmp_path: Path) -> None:
    a = read_table(write(tmp_path / "a.csv", FEEDBACK_CSV, "shift_jis"))
    b = read_table(write(tmp_path / "b.csv", FEEDBACK_CSV))
    assert a.encoding == "cp932"
    pd.testing.assert_frame_equal(a.frame, b.frame)


def test_undecodable_file_is_a_clear_error() -> None:
    data = b"\x82\x20\xa0\xfd\n\xfd\xfe\x82\n\xa0\xa0\xfd"  # no line is UTF-8 or CP932
    with pytest.raises(InputError, match=r"feedback\.csv: 文字コードを判別できません"):
        decode_bytes(data, file="feedback.csv")


def test_binary_file_is_refused() -> None:
    with pytest.raises(InputError, match="バイナリ"):
        decode_bytes(b"PK\x03\x04\x00\x00garbage", file="feedback.csv")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="空のファイル"):
        read_table(write(tmp_path / "feedback.csv", "\n\n"))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="見つかりません"):
        read_table(tmp_path / "nope.csv")


def test_header_only_gives_zero_rows(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "feedback.csv", "ID,意見,種別\n"))
    assert raw.rows_in == 0
    assert list(canonical_columns(raw, "feedback").columns) == [
        "comment_id", "text", "kind", "card_id", "group", "section", "reply", "question", "row"]


def test_blank_rows_are_skipped_and_counted_and_row_numbers_follow_the_sheet(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "f.csv", "ID,意見\nF1,一つ目\n,\n\nF2,二つ目\n"))
    assert raw.blank_rows == 2
    assert list(raw.frame["row"]) == [2, 5]


def test_row_with_more_cells_than_header_is_rejected(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "f.csv", "ID,意見\nF1,ずれた,余分なセル\nF2,正しい行\n"))
    assert list(raw.frame["row"]) == [3]
    assert list(raw.rejects["row"]) == [2]
    assert "more cells than header" in raw.rejects.loc[0, "reason"]
    assert raw.rows_in == 2


def test_tab_separated_file(tmp_path: Path) -> None:
    frame = table(tmp_path, "ID\t意見\nF1\t相談窓口が大事\n", "feedback", "f.tsv")
    assert frame.loc[0, "text"] == "相談窓口が大事"


def test_xlsx_matches_csv(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    for line in FEEDBACK_CSV.strip().split("\n"):
        ws.append(line.split(","))
    ws.append([None, None, None])            # blank row
    ws.append([3, "数値のIDと日付", dt.date(2024, 5, 22)])
    wb.save(tmp_path / "feedback.xlsx")
    raw = read_table(tmp_path / "feedback.xlsx")
    assert raw.encoding == "xlsx"
    assert raw.frame.loc[2, "ID"] == "3"
    assert raw.frame.loc[2, "種別"] == "2024-05-22"
    assert raw.blank_rows == 1
    csv_raw = read_table(write(tmp_path / "feedback.csv", FEEDBACK_CSV))
    pd.testing.assert_frame_equal(raw.frame.head(2), csv_raw.frame)


def test_broken_xlsx_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "cards.xlsx").write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match=r"cards\.xlsx: Excel ファイルとして開けません"):
        read_table(tmp_path / "cards.xlsx")


# ---- columns --------------------------------------------------------------------------------

def test_japanese_headers_map_to_canonical_columns(tmp_path: Path) -> None:
    frame = table(tmp_path, "カードＩＤ, 担当課 ,事業名,事業内容,施策ID,班\nC1,福祉政策課,あいネット,相談,P2-1,A\n",
                  "cards")
    assert frame.loc[0].to_dict() == {"card_id": "C1", "department": "福祉政策課", "title": "あいネット",
                                      "body": "相談", "measure_ids": "P2-1", "group": "A", "row": 2}


def test_missing_text_column_names_file_and_column(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "feedback.csv", "ID,種別\nF1,感想\n"))
    with pytest.raises(InputError) as err:
        canonical_columns(raw, "feedback")
    msg = str(err.value)
    assert "feedback.csv" in msg and "text" in msg and "意見" in msg


def test_two_headers_for_one_column_is_an_error(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "feedback.csv", "意見,内容\nA,B\n"))
    with pytest.raises(InputError, match="どちらも"):
        canonical_columns(raw, "feedback")


# ---- cells ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("3", 3), ("３", 3), ("3.0", 3), (" 12 ", 12), ("-1", -1), ("2.5", None), ("三", None), ("", None),
    ("1,000", 1000),
])
def test_parse_int(value: str, expected: int | None) -> None:
    assert parse_int(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("P2-1|P2-2", ["P2-1", "P2-2"]), ("P2-1、P2-2", ["P2-1", "P2-2"]), ("P2-1, P2-1", ["P2-1"]),
    ("Ｐ２-１", ["P2-1"]), ("", []),
])
def test_split_ids(value: str, expected: list[str]) -> None:
    assert split_ids(value) == expected


# ---- row validation ---------------------------------------------------------------------------

def test_validate_cards_refusals(tmp_path: Path) -> None:
    frame = table(tmp_path, CARDS_CSV + (
        "C02,福祉政策課,あいネット（重複）,重複,P2-1\n"
        ",防災安全課,IDなし,本文,P3-1\n"
        "C04,福祉政策課,,,P2-1\n"
        "C05,商工振興課,地域職業相談室,職業相談,P9-9\n"
        "C06,障害福祉課,手話通訳者の派遣,施策なし,\n"
        "C07,福祉政策課,重層的支援,多機関協働,P2-1、P3-1\n"
    ), "cards")
    v = validate_cards(frame, file="cards.csv", measure_ids=["P2-1", "P3-1"])
    assert list(v.ok["card_id"]) == ["C01", "C02", "C03", "C06", "C07"]
    assert v.ok.set_index("card_id").loc["C07", "measure_ids"] == "P2-1|P3-1"
    assert v.ok.set_index("card_id").loc["C06", "measure_ids"] == ""
    got = {(r.row, r.column): r.reason for r in v.rejects.itertuples()}
    assert set(got) == {(5, "card_id"), (6, "card_id"), (7, "title"), (8, "measure_ids")}
    assert "最初は3行目" in got[(5, "card_id")]
    assert "P9-9" in got[(8, "measure_ids")]


def test_validate_feedback_refusals(tmp_path: Path) -> None:
    frame = table(tmp_path, FEEDBACK_CSV + (
        "F01,重複したID,感想\n"
        "F03,,感想\n"
        "F04,種別が不明,アンケート\n"
        "F05,種別が空なら「その他」,\n"
        "F06,理由の別名,理由\n"
        "C01,カードと同じID,感想\n"
        ",IDが空,感想\n"
    ), "feedback")
    v = validate_feedback(frame, file="feedback.csv", card_ids=["C01"], reserved_ids=["C01"])
    assert list(v.ok["comment_id"]) == ["F01", "F02", "F04", "F05", "F06"]
    # a kind outside the known ones (アンケート) is kept as written
    assert list(v.ok["kind"]) == ["感想", "重要な理由", "アンケート", "その他", "重要な理由"]
    assert [(r.row, r.column) for r in v.rejects.itertuples()] == [
        (4, "comment_id"), (5, "text"), (9, "comment_id"), (10, "comment_id")]


def test_feedback_card_id_must_be_a_card_of_the_meeting(tmp_path: Path) -> None:
    frame = table(tmp_path, "ID,意見,カードID\nF1,大事,C01\nF2,大事,C99\n", "feedback")
    v = validate_feedback(frame, file="feedback.csv", card_ids=["C01"])
    assert list(v.ok["comment_id"]) == ["F1"]
    assert v.rejects.loc[0, "row"] == 3 and "C99" in v.rejects.loc[0, "reason"]
    # without cards in the meeting the reference cannot be checked, so it is kept
    assert len(validate_feedback(frame, file="feedback.csv", card_ids=None).ok) == 2


def test_feedback_without_id_column_gets_row_ids(tmp_path: Path) -> None:
    frame = table(tmp_path, "意見\n一つ目\n二つ目\n", "feedback")
    v = validate_feedback(frame, file="feedback.csv", card_ids=None, has_id_column=False)
    assert list(v.ok["comment_id"]) == ["F0002", "F0003"]


def test_validate_votes_refusals(tmp_path: Path) -> None:
    frame = table(tmp_path, (
        "カードID,回,票数,投票者\n"
        "C01,1,1,P01\n"
        "C99,1,1,P01\n"
        "C02,1,-1,P02\n"
        "C02,1,1.5,P02\n"
        "C02,0,1,P02\n"
        "C02,一,1,P02\n"
        "C02,2,,P02\n"
        "Ｃ０２,２,３,P03\n"
        "C03,2,2.0,P04\n"
    ), "votes")
    v = validate_votes(frame, file="votes.csv", card_ids=["C01", "C02", "C03"])
    assert list(v.ok["card_id"]) == ["C01", "C02", "C03"]
    assert list(v.ok["blocks"]) == [1, 3, 2]
    assert list(v.ok["round"]) == [1, 2, 2]
    reasons = {r.row: (r.column, r.reason) for r in v.rejects.itertuples()}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3][0] == "card_id" and "C99" in reasons[3][1]
    assert "負" in reasons[4][1]
    assert "整数" in reasons[5][1]
    assert reasons[6][0] == "round" and reasons[7][0] == "round"
    assert reasons[8][0] == "blocks"


def test_votes_without_blocks_column_count_one_per_row(tmp_path: Path) -> None:
    frame = table(tmp_path, "card_id,round\nC01,1\nC01,1\n", "votes")
    v = validate_votes(frame, file="votes.csv", card_ids=["C01"], has_blocks_column=False)
    assert list(v.ok["blocks"]) == [1, 1]


def test_validate_measures_refuses_duplicates_and_empty_ids(tmp_path: Path) -> None:
    frame = table(tmp_path, MEASURES_CSV + "P2,,P2-1,重複,,\nP4,,,名前だけ,,\n", "measures")
    v = validate_measures(frame, file="measures.csv")
    assert list(v.ok["measure_id"]) == ["P2-1", "P3-1"]
    assert list(v.rejects["row"]) == [4, 5]


# ---- a whole meeting ----------------------------------------------------------------------

def make_meeting(tmp_path: Path, *, votes: str | None = None, meta: str | None = None) -> tuple[Path, Path]:
    meeting = tmp_path / "meetings" / "2024-06-05"
    meeting.mkdir(parents=True)
    write(meeting / "cards.csv", CARDS_CSV)
    write(meeting / "feedback.csv", FEEDBACK_CSV, "cp932")
    if votes is not None:
        write(meeting / "votes.csv", votes)
    if meta is not None:
        write(meeting / "meeting.yaml", meta)
    return meeting, write(tmp_path / "measures.csv", MEASURES_CSV)


def test_load_meeting_counts_every_row(tmp_path: Path) -> None:
    meeting, measures = make_meeting(tmp_path, votes="card_id,round,blocks\nC01,1,2\nC77,1,1\nC02,2,x\n")
    m = load_meeting(meeting, measures)
    assert m.meeting_id == "2024-06-05"
    for c in m.counts:
        assert c["rows_in"] == c["rows_ok"] + c["rows_rejected"]
    votes = next(c for c in m.counts if c["kind"] == "votes")
    assert (votes["rows_in"], votes["rows_ok"], votes["rows_rejected"]) == (3, 1, 2)
    assert next(c for c in m.counts if c["kind"] == "feedback")["encoding"] == "cp932"
    unknown = m.rejects[m.rejects["file"] == "votes.csv"].set_index("row")
    assert "C77" in unknown.loc[3, "reason"]


def test_meeting_id_from_yaml_date_and_folder(tmp_path: Path) -> None:
    meeting, measures = make_meeting(tmp_path, meta="id: 2024-06-05\ntitle: 第3回\n")
    m = load_meeting(meeting, measures)
    assert m.meeting_id == "2024-06-05" and m.meta["id"] == "2024-06-05"
    assert meeting_id_for(Path("/x/第3回"), {}) == "第3回"
    assert meeting_id_for(Path("/x/第3回 連携会議 (7月)"), {}) == "第3回 連携会議 (7月)"     # spaces and brackets kept


@pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden", "a:b", "会議?", "会議.", "a\\b"])
def test_meeting_id_that_leaves_the_output_folder_is_refused(bad: str) -> None:
    with pytest.raises(InputError, match="会議ID"):
        meeting_id_for(Path("m"), {"id": bad})


def test_meeting_yaml_must_be_a_mapping(tmp_path: Path) -> None:
    meeting, measures = make_meeting(tmp_path, meta="- just\n- a list\n")
    with pytest.raises(InputError, match=r"meeting\.yaml"):
        load_meeting(meeting, measures)


def test_meeting_without_inputs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"読めるファイルがありません。読むもの: 表（\.csv \.tsv \.xlsx \.xlsm）、Word"):
        load_meeting(tmp_path / "empty", tmp_path / "measures.csv")


def test_two_files_of_one_kind_are_refused(tmp_path: Path) -> None:
    meeting, measures = make_meeting(tmp_path)
    write(meeting / "feedback.xlsx", "")
    with pytest.raises(InputError, match="複数"):
        load_meeting(meeting, measures)


def test_mixed_encodings_are_read_line_by_line(tmp_path: Path) -> None:
    data = "ID,意見\nF1,UTF-8の行\n".encode() + "F2,CP932の行\n".encode("cp932") + b"F3,\x82\x20\xfd\n"
    raw = read_table(write_bytes(tmp_path / "f.csv", data))
    assert raw.encoding == "mixed(cp932+unreadable+utf-8)"
    assert raw.frame["意見"].tolist() == ["UTF-8の行", "CP932の行"]
    assert raw.rejects["row"].tolist() == [4] and "読めない文字" in raw.rejects.loc[0, "reason"]


def test_unbalanced_quote_loses_only_its_row(tmp_path: Path) -> None:
    raw = read_table(write(tmp_path / "f.csv", 'ID,意見\nF1,"閉じていない引用,です\nF2,次の行\nF3,"正しい,引用"\n'))
    assert raw.frame[["ID", "意見"]].values.tolist() == [["F2", "次の行"], ["F3", "正しい,引用"]]
    assert raw.rejects["row"].tolist() == [2] and "引用符" in raw.rejects.loc[0, "reason"]


def test_xlsx_with_several_sheets_picks_the_one_with_the_columns(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "表紙"
    wb.active.append(["第2回 地域共生社会連携会議 意見まとめ"])
    ws = wb.create_sheet("意見")
    ws.append(["ID", "意見", "種別"])
    ws.append(["F1", "=A1", "感想"])          # a formula never calculated by Excel: no value
    ws.append(["F2", "相談窓口の充実", "感想"])
    ws.merge_cells("C2:C3")
    wb.save(tmp_path / "feedback.xlsx")
    frame = canonical_columns(read_table(tmp_path / "feedback.xlsx", kind="feedback"), "feedback")
    v = validate_feedback(frame, file="feedback.xlsx", card_ids=None)
    assert v.ok["comment_id"].tolist() == ["F2"] and v.ok["kind"].tolist() == ["その他"]
    assert v.rejects["row"].tolist() == [2]


def test_input_file_linking_outside_the_meeting_is_refused(tmp_path: Path) -> None:
    meeting, measures = make_meeting(tmp_path)
    outside = tmp_path / "secret.csv"
    outside.write_text("ID,意見\nF1,外のファイル\n", encoding="utf-8")
    (meeting / "feedback.csv").unlink()
    (meeting / "feedback.csv").symlink_to(outside)
    with pytest.raises(InputError, match="外"):
        load_meeting(meeting, measures)


@pytest.mark.parametrize("meta", ["id: [1, 2]\n", "title: {a: 1}\n", "date: yesterday\n", "date: [2024]\n"])
def test_meeting_yaml_with_wrong_types(tmp_path: Path, meta: str) -> None:
    meeting, measures = make_meeting(tmp_path, meta=meta)
    with pytest.raises(InputError, match=r"meeting\.yaml"):
        load_meeting(meeting, measures)


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD = ROOT / "tests" / "bad_inputs"


@pytest.mark.parametrize(("replace", "refused_rows", "reason"), [
    ({"feedback.csv": BAD / "unbalanced_quotes.csv"}, [("feedback.csv", 2)], "引用符"),
    ({"feedback.csv": BAD / "cp932_outside.csv"}, [("feedback.csv", 3)], "読めない文字"),
    ({"feedback.csv": BAD / "duplicate_ids.csv"}, [("feedback.csv", 3)], "重複"),
    ({"feedback.csv": BAD / "bad_kind.csv"}, [("feedback.csv", 3)], "空です"),   # アンケート is kept as a kind
    ({"votes.csv": BAD / "votes_bad.csv"}, [("votes.csv", 3), ("votes.csv", 4), ("votes.csv", 5), ("votes.csv", 6)], "C99"),
])
def test_bad_rows_are_refused_with_row_numbers(tmp_path: Path, replace: dict, refused_rows: list, reason: str) -> None:
    """Row-level problems, checked where they are decided (load_meeting), without running the flow."""
    inputs = load_meeting(meeting_copy(tmp_path, **replace), MEASURES)
    assert list(zip(inputs.rejects["file"], inputs.rejects["row"], strict=True)) == refused_rows
    assert reason in " ".join(inputs.rejects["reason"])
    for f in inputs.counts:
        assert f["rows_in"] == f["rows_ok"] + f["rows_rejected"]


def test_every_other_file_of_the_meeting_folder_is_named_with_why_it_is_not_read(tmp_path: Path) -> None:
    """A PDF and a photo beside the comments are not read, and said so (never skipped in silence); meeting.yaml, a
    policy table, a codebook layer, hidden files and Excel's lock files are not reported."""
    from pipeline.ingest.discover import unread_files
    from pipeline.report.notices import input_notices

    m = tmp_path / "第3回"
    shutil.copytree(MEETING_2, m)
    (m / "議事録.pdf").write_bytes(b"%PDF-1.4")
    (m / "模造紙.jpg").write_bytes(b"\xff\xd8\xff")
    for name in (".DS_Store", "~$feedback.xlsx", "codebook.local.yaml", "measures.csv"):
        (m / name).write_text("", encoding="utf-8")
    files = find_input_files(m)
    assert [name for name, _ in unread_files(m, files)] == ["模造紙.jpg", "議事録.pdf"]
    inputs = load_meeting(m, MEASURES)
    assert [s["file"] for s in inputs.skipped] == ["模造紙.jpg", "議事録.pdf"]
    notes = input_notices(inputs)
    assert any(n.startswith("議事録.pdf は読み込んでいません（PDF は読みません") for n in notes)
    assert len(inputs.feedback) == 28                                           # the comments are still read


def test_a_folder_without_a_readable_table_names_its_files_and_what_is_read(tmp_path: Path) -> None:
    m = tmp_path / "m"
    m.mkdir()
    (m / "議事録.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputError) as err:
        find_input_files(m)
    text = str(err.value)
    assert "読めるファイルがありません" in text and "Word 文書（.docx）" in text
    assert "議事録.doc: 古い形式の Word 文書（.doc）は読みません" in text
    assert "議事録.doc: old Word documents (.doc) are not read" in text
