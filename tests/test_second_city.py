"""A second city's files read with no hand edits (fixtures in tests/second_city.py): every comment found, every
other line accounted for (rows of the file = comments + refused rows + lines that are not comments)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ingest import load_meeting
from pipeline.ingest.discover import unread_files
from pipeline.ingest.documents import strip_marker
from tests import second_city as sc
from tests.conftest import MEASURES


def folder(tmp_path: Path, name: str = "m") -> Path:
    m = tmp_path / name
    m.mkdir()
    return m


def counts(inputs, file: str) -> dict:
    return next(c for c in inputs.counts if c["file"] == file)


def accounted(c: dict) -> int:
    """Comments + refused rows + lines set aside as not comments."""
    return int(c["rows_ok"]) + int(c["rows_rejected"]) + int(c.get("rows_not_comments", 0))


def test_word_minutes_headings_become_groups_and_the_rest_is_set_aside(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.word_minutes(m / "議事録.docx")
    inputs = load_meeting(m, MEASURES)
    fb = inputs.feedback
    assert list(fb["text"]) == sc.MINUTES_COMMENTS
    assert list(fb["group"]) == ["Aグループ", "Aグループ", "Bグループ", "Bグループ", "", ""]
    body = counts(inputs, "議事録.docx［本文］")
    # paragraphs: 1 title, 2-3 details, 4 intro, 5 heading, 6-7 bullets, 8 heading, 9-10 bullets
    assert [(n["row"], n["what"].split(" / ")[0]) for n in body["not_comments"]] == [
        (1, "見出し"), (2, "会議の情報"), (3, "会議の情報"), (4, "前文"), (5, "見出し"), (8, "見出し")]
    assert list(fb["comment_id"][:4]) == ["F0006", "F0007", "F0009", "F0010"]   # the paragraph's number
    assert body["header_row"] == 0 and body["rows_in"] == 4 and accounted(body) == 10
    table = counts(inputs, "議事録.docx［表1］")
    assert table["mapping"]["columns"] == {"comment_id": "番号", "text": "意見"} and table["rows_ok"] == 2
    assert unread_files(m, inputs.files) == []


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig", "utf-16"])
def test_plain_text_one_comment_per_line_markers_stripped(tmp_path: Path, encoding: str) -> None:
    m = folder(tmp_path)
    sc.plain_text(m / "意見メモ.txt", encoding=encoding)
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.feedback["text"]) == sc.TEXT_COMMENTS
    assert list(inputs.feedback["comment_id"]) == ["F0001", "F0002", "F0003", "F0005", "F0006"]  # line numbers
    c = counts(inputs, "意見メモ.txt")
    assert c["rows_in"] == 5 and c["blank_rows_skipped"] == 1 and c["rows_rejected"] == 0
    assert accounted(c) + c["blank_rows_skipped"] == len(sc.TEXT_LINES)


def test_hard_wrapped_paragraphs_are_one_comment_each(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.wrapped_text(m / "memo.txt")
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.feedback["text"]) == sc.PARAGRAPH_COMMENTS
    assert list(inputs.feedback["comment_id"]) == ["F0001", "F0004"]


def test_excels_unicode_text_is_a_tab_separated_table(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.unicode_text(m / "ワークショップ意見.txt")
    inputs = load_meeting(m, MEASURES)
    fb = inputs.feedback
    assert list(fb["comment_id"]) == ["1", "2", "3"]
    assert list(fb["text"]) == [r[1] for r in sc.UNICODE_ROWS]
    assert list(fb["年代"]) == ["70代", "20代", "50代"]
    assert counts(inputs, "ワークショップ意見.txt")["encoding"] == "utf-16"


def test_a_csv_without_a_header_loses_no_row(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.headerless_csv(m / "comments.csv")
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.feedback["text"]) == sc.HEADERLESS
    c = counts(inputs, "comments.csv")
    assert c["header_row"] == 0 and c["header_found_by"].startswith("見出し行なし")
    assert c["rows_in"] == len(sc.HEADERLESS) == accounted(c)
    assert list(inputs.feedback["comment_id"][:2]) == ["F0001", "F0002"]    # numbered from the file's first row


def test_a_table_with_a_header_keeps_it(tmp_path: Path) -> None:
    """The headerless rule does not touch a table whose first row names its column."""
    m = folder(tmp_path)
    (m / "comments.csv").write_text("ご意見\n" + "\n".join(sc.HEADERLESS) + "\n", encoding="utf-8")
    c = counts(load_meeting(m, MEASURES), "comments.csv")
    assert c["header_row"] == 1 and c["rows_in"] == len(sc.HEADERLESS)


@pytest.mark.parametrize(("line", "expected"), [
    ("・近所の人", "近所の人"), ("○ 見守り", "見守り"), ("1. 避難所", "避難所"), ("（2）居場所", "居場所"),
    ("③ 相談", "相談"), ("- 移動支援", "移動支援"), ("a) 就労", "就労"), ("2024年に始めた", "2024年に始めた"),
])
def test_list_markers(line: str, expected: str) -> None:
    assert strip_marker(line) == expected


@pytest.mark.parametrize(("name", "says"), [
    ("記録.pdf", "PDF は読みません"), ("写真.jpg", "画像は読みません"), ("古い議事録.doc", ".docx で保存し直して"),
    ("集計.xls", ".xlsx で保存し直して"), ("資料.pptx", "この形式は読みません"),
])
def test_files_not_read_are_named_with_what_to_do(tmp_path: Path, name: str, says: str) -> None:
    m = folder(tmp_path)
    sc.plain_text(m / "意見.txt")
    (m / name).write_bytes(b"\x00\x01")
    inputs = load_meeting(m, MEASURES)
    assert [(s["file"], says in s["reason"]) for s in inputs.skipped] == [(name, True)]


def test_validate_exits_1_when_a_file_is_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main
    from flows.cli.common import EXIT_OK, EXIT_PROBLEMS

    m = folder(tmp_path)
    sc.word_minutes(m / "議事録.docx")
    assert main(["validate", str(m), "--measures", str(MEASURES)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "意見ではない行 6 行" in out and "4: 前文" in out and "見出し行なし" in out
    (m / "議事録.pdf").write_bytes(b"%PDF-1.4")
    assert main(["validate", str(m), "--measures", str(MEASURES)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "議事録.pdf" in out and "読んでいないファイルが 1 件あります" in out


def test_a_forms_export_reads_questions_and_choices_never_names_or_mail(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.forms_export(m / "Forms回答.xlsx")
    inputs = load_meeting(m, MEASURES)
    fb = inputs.feedback
    assert list(fb["text"]) == sc.FORMS_COMMENTS
    assert set(fb["question"]) == set(sc.FORMS_HEADER[6:8])
    assert inputs.attributes == ["年代"]
    c = counts(inputs, "Forms回答.xlsx")
    assert c["mapping"]["ignored"] == ["開始時刻", "完了時刻", "メール", "名前", "最終変更時刻"]
    assert any("個人情報の列 ['メール', '名前']" in n for n in c["mapping"]["notes"])
    assert not fb.astype(str).apply(lambda col: col.str.contains("@|森川|石塚|野々村|黒部")).any().any()


def test_an_attribute_of_person_names_is_dropped_with_a_notice(tmp_path: Path) -> None:
    m = folder(tmp_path)
    rows = ["記入者,ご意見,お住まいの地区"] + [f"{who},{text},{area}" for who, text, area in [
        ("佐藤 一郎", "歩道に段差が多く車いすで通れない。", "北町"), ("鈴木様", "子育ての相談先が分かりにくい。", "南町"),
        ("高橋 二三子", "地域の祭りの担い手が減っている。", "北町"), ("田中さん", "夜間の相談窓口があると助かる。", "東町"),
        ("伊藤 五郎", "ひとり親家庭への支援を広げてほしい。", "西町")]]
    (m / "意見.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    c = counts(load_meeting(m, MEASURES), "意見.csv")
    assert c["mapping"]["attributes"] == ["お住まいの地区"] and "記入者" in c["mapping"]["ignored"]
    (m / "意見.csv").write_text("\n".join(r.split(",", 1)[1] for r in rows).replace("ご意見,お住まいの地区", "ご意見,担当")
                               .replace("北町", "福祉課", 1) + "\n", encoding="utf-8")
    assert counts(load_meeting(m, MEASURES), "意見.csv")["mapping"]["attributes"] == ["担当"]


@pytest.mark.parametrize(("values", "personal"), [
    (["a.b@example.jp", "c@example.com", "", "d@example.org"], True),
    (["090-1234-5678", "03(1234)5678", "0120-11-2222"], True),
    (["佐藤 一郎", "鈴木様", "高橋 二三子", "田中さん", "伊藤 五郎"], True),
    (["北町", "南町", "東町", "西町", "中町"], False),                 # places, however distinct
    (["70代", "40代", "30代", "60代", "80代"], False),                 # ages
    (["佐藤 一郎", "鈴木様", "佐藤 一郎", "田中さん"], False),          # fewer than five values
    (["福祉課", "子育て支援課", "高齢福祉課", "障害福祉課", "地域振興課"], False),
])
def test_looks_personal(values: list[str], personal: bool) -> None:
    from pipeline.ingest.columns import looks_personal

    assert looks_personal(values) is personal


def test_the_citys_policy_table_with_levels_merged_cells_and_no_ids(tmp_path: Path) -> None:
    from pipeline.ingest import load_measures, load_policy

    xlsx, csv = sc.policy_xlsx(tmp_path / "体系表.xlsx"), sc.policy_csv(tmp_path / "体系表.csv")
    for path in (xlsx, csv):
        policy = load_policy(path)
        assert policy.levels == ("基本目標", "施策の方向", "主な取組") and not policy.own_ids
        assert [m.id for m in policy.measures] == sc.POLICY_IDS
        measures = load_measures(path)
        assert list(measures["measure_id"]) == sc.POLICY_IDS
        assert list(measures["pillar_id"]) == ["1"] * 4 + ["2"] * 3 + ["3"] * 2
        assert measures.loc[0, "pillar_name"] == "みんなで支え合う地域づくり"
        assert measures.loc[0, "measure_name"] == "地域活動の担い手の発掘と育成"
        assert measures.loc[6, "description"] == "災害への備え"           # the level between, as its description
    tree = load_policy(xlsx).lines()
    assert tree[:3] == ["1  基本目標1 みんなで支え合う地域づくり", "  1-1  (1) 地域の担い手の育成",
                        "    1-1-1  ① 地域活動の担い手の発掘と育成"]
    assert len(tree) == 3 + 5 + 9                                        # pillars, directions, measures


def test_a_two_level_table_numbered_1_dash_1(tmp_path: Path) -> None:
    from pipeline.ingest import load_measures, load_policy

    path = sc.two_level_csv(tmp_path / "施策体系.csv")
    assert load_policy(path).levels == ("基本方針", "施策")
    m = load_measures(path)
    assert list(m["measure_id"]) == ["1-1", "1-2", "2-1", "2-2"]
    assert list(m["pillar_name"]) == ["地域で支え合う"] * 2 + ["相談できる安心"] * 2
    assert m.loc[3, "description"] == "災害時の助け合いに取り組む。"


@pytest.mark.parametrize(("cell", "path", "written", "name"), [
    ("基本目標1 みんなで支え合う", (1,), "基本目標1", "みんなで支え合う"), ("（２）相談体制", (2,), "(2)", "相談体制"),
    ("③ 就労支援", (3,), "③", "就労支援"), ("1-(2) 見守り", (1, 2), "1-(2)", "見守り"),
    ("2-(1)-④ 個別避難計画", (2, 1, 4), "2-(1)-④", "個別避難計画"), ("柱三 安心", (3,), "柱三", "安心"),
    ("2. 居場所", (2,), "2.", "居場所"), ("2024年度の取組", (), "", "2024年度の取組"), ("地域福祉の推進", (), "", "地域福祉の推進"),
])
def test_numbering_in_the_text(cell: str, path: tuple, written: str, name: str) -> None:
    from pipeline.ingest.policy import parse_number

    assert parse_number(cell) == (path, written, name)


def test_a_policy_table_in_the_meeting_folder_is_the_policy_table_never_comments(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.policy_xlsx(m / "施策体系.xlsx")
    sc.plain_text(m / "意見.txt")
    from pipeline.ingest import policy_for

    assert policy_for(m, tmp_path) == m / "施策体系.xlsx"          # beats the data folder's (none here)
    inputs = load_meeting(m, policy_for(m, tmp_path))
    assert list(inputs.measures["measure_id"]) == sc.POLICY_IDS and not inputs.measures_default
    assert list(inputs.feedback["text"]) == sc.TEXT_COMMENTS                  # the table's rows are not comments
    assert inputs.files["measures"].name == "施策体系.xlsx"
    # a policy table named on the command line wins; the folder's is named as not read
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.measures["measure_id"])[:1] == ["P1-1"] and len(inputs.feedback) == 5
    assert [s["file"] for s in inputs.skipped] == ["施策体系.xlsx"]
    assert "体系表の形" in inputs.skipped[0]["reason"]
    (tmp_path / "measures.csv").write_text(MEASURES.read_text(encoding="utf-8"), encoding="utf-8")
    assert policy_for(m, tmp_path) == m / "施策体系.xlsx"          # the data folder's gives way to the meeting's own
    (m / "measures.csv").write_text(MEASURES.read_text(encoding="utf-8"), encoding="utf-8")
    assert policy_for(m, tmp_path) == m / "measures.csv"           # and the meeting's measures.csv to nothing


def test_validate_prints_the_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import main
    from flows.cli.common import EXIT_OK

    m = folder(tmp_path)
    sc.plain_text(m / "意見.txt")
    policy = sc.policy_xlsx(tmp_path / "体系表.xlsx")
    assert main(["validate", str(m), "--measures", str(policy)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "体系表 / policy table（基本目標 > 施策の方向 > 主な取組。施策案 9 件" in out
    assert "    2-2  (2) 災害への備え\n      2-2-1  ① 避難行動要支援者の個別避難計画づくり" in out


def test_one_sheet_per_group_with_card_numbers_from_1_and_measures_as_text(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.group_sheets(m / "ワークショップ記録.xlsx")
    inputs = load_meeting(m, sc.policy_xlsx(tmp_path / "体系表.xlsx"))
    cards = inputs.cards
    assert len(cards) == sum(len(v) for v in sc.GROUP_SHEETS.values()) and len(inputs.rejects) == 0
    assert list(cards["card_id"][:3]) == ["Aグループ-1", "Aグループ-2", "Bグループ-1"]
    assert list(cards["group"]) == [g for g, cs in sc.GROUP_SHEETS.items() for _ in cs]
    assert list(cards["measure_ids"]) == sc.GROUP_LINKS
    notices = [n for c in inputs.counts for n in c.get("notices", [])]
    assert any("シート「Bグループ」の名前を班" in n for n in notices)
    assert any("ID をシート名つき" in n for n in notices)
    assert any("カード Cグループ-2）の施策「柱3」は紐づけていません — 「柱3」: 柱全体" in n for n in notices)


def test_an_unknown_measure_id_is_still_refused(tmp_path: Path) -> None:
    """Ids written as ids keep the old rule: a typo (P9-9) is refused, not guessed."""
    m = folder(tmp_path)
    (m / "cards.csv").write_text("card_id,title,measure_ids\nC1,見守り,P9-9\nC2,相談,（2）相談窓口の充実\n",
                                 encoding="utf-8")
    inputs = load_meeting(m, MEASURES)
    assert list(inputs.rejects["row"]) == [2] and "P9-9" in inputs.rejects.loc[0, "reason"]
    assert list(inputs.cards["measure_ids"]) == ["P2-1"]                        # named by its words


def test_several_comments_in_one_cell_are_split(tmp_path: Path) -> None:
    m = folder(tmp_path)
    sc.flip_chart(m / "模造紙.xlsx")
    inputs = load_meeting(m, MEASURES)
    fb = inputs.feedback
    assert [list(fb.loc[fb["group"] == g, "text"]) for g, _ in sc.FLIP_CHART] == sc.FLIP_ITEMS
    assert list(fb["comment_id"][:4]) == ["F0002.1", "F0002.2", "F0002.3", "F0003.1"]
    assert fb.loc[fb["comment_id"] == "F0004", "row"].item() == 4                  # kept whole
    c = counts(inputs, "模造紙.xlsx")
    assert c["cells_split"] == 3 and c["items_from_split"] == 7 and c["rows_ok"] == 4
    whole = load_meeting(m, MEASURES, split_cells=False).feedback
    assert list(whole["comment_id"]) == ["F0002", "F0003", "F0004", "F0005"]


def test_a_value_breaking_an_output_rule_is_named_not_a_bare_traceback() -> None:
    import pandas as pd

    from pipeline.errors import KyoseiError
    from pipeline.run.writers import check_table
    from pipeline.schemas import Perspective

    value = {"int64": 1, "float64": 0.5, "bool": True}
    columns = Perspective.to_schema().columns
    frame = pd.DataFrame([{c: value.get(str(col.dtype), "x") for c, col in columns.items()}] * 2)
    frame["perspective_id"] = ["V01", "V02"]
    frame.loc[1, "label"] = ""
    with pytest.raises(KyoseiError) as err:
        check_table("perspectives.csv", Perspective, frame)
    text = str(err.value)
    assert "perspectives.csv: 列「label」の値が規則" in text and "str_length" in text and "#1: ''" in text


def test_the_next_draft_in_the_citys_levels_and_numbering(tmp_path: Path) -> None:
    import pandas as pd

    from pipeline.ingest import load_measures, load_policy
    from pipeline.ingest.policy import city_draft, renumber

    path = sc.policy_xlsx(tmp_path / "体系表.xlsx")
    policy, measures = load_policy(path), load_measures(path)
    draft = measures.assign(change="", evidence="")
    draft.loc[6, "change"] = "要検討"
    new = {"pillar_id": "2", "pillar_name": "安心して暮らせる仕組みづくり", "measure_id": "2-2-2",
           "measure_name": "避難所での配慮が必要な人への支援", "description": "避難所の生活への配慮", "keywords": "避難所",
           "change": "新設", "evidence": "F0004|F0005"}
    other = {**new, "pillar_id": "3", "measure_id": "3-1-3", "measure_name": "学生の地域参加", "evidence": "F0001"}
    city = city_draft(policy, pd.concat([draft, pd.DataFrame([new, other])], ignore_index=True))
    assert list(city.columns) == ["基本目標", "施策の方向", "主な取組", "説明", "キーワード", "change", "evidence"]
    assert list(city.iloc[0, :3]) == ["基本目標1 みんなで支え合う地域づくり", "(1) 地域の担い手の育成",
                                      "① 地域活動の担い手の発掘と育成"]
    # the new measure right after its sibling, numbered in their style; the one of pillar 3 under its last direction
    assert list(city.iloc[7, :3]) == ["基本目標2 安心して暮らせる仕組みづくり", "(2) 災害への備え",
                                      "② 避難所での配慮が必要な人への支援"]
    assert list(city.iloc[10, :3]) == ["基本目標3 自分らしく活躍できるまちづくり", "(1) 働く場の確保", "③ 学生の地域参加"]
    assert list(city["change"]) == [""] * 6 + ["要検討", "新設", "", "", "新設"]
    # read back as the next --measures, it gives the same ids (the new one where the draft put it)
    back = tmp_path / "draft.csv"
    city.to_csv(back, index=False, encoding="utf-8-sig")
    ids = list(load_measures(back)["measure_id"])
    assert ids == [*sc.POLICY_IDS[:7], "2-2-2", *sc.POLICY_IDS[7:], "3-1-3"]
    assert [renumber(w, 3) for w in ("②", "(2)", "基本目標2", "1-(2)", "柱二", "")] == [
        "③", "(3)", "基本目標3", "1-(3)", "柱三", "3"]


def test_a_mapping_beside_the_policy_table_names_its_levels_and_the_level_matched(tmp_path: Path) -> None:
    """Headers detection cannot read (区分1 / 区分2 / 区分3, no numbering in the first column) named in 体系表.yaml;
    measure_level 2 matches the comments against the 施策の方向, described by the 主な取組 under each."""
    from pipeline.errors import InputError
    from pipeline.ingest import load_measures, load_policy

    path = tmp_path / "体系表.csv"
    lines = ["区分1,区分2,区分3"] + [",".join((g.split(" ", 1)[1], d, a)) for g, d, a in sc.POLICY]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_policy(path).levels == ("区分2", "区分3")          # by numbering only: the first level is missed
    path.with_suffix(".yaml").write_text("levels: [区分1, 区分2, 区分3]\nmeasure_level: 2\n", encoding="utf-8")
    m = load_measures(path)
    assert list(m["measure_id"]) == ["1-1", "1-2", "2-1", "2-2", "3-1"]        # pillars by position, directions numbered
    assert m.loc[0, "measure_name"] == "地域の担い手の育成"
    assert m.loc[0, "description"] == "地域活動の担い手の発掘と育成 ／ 民生委員・児童委員の活動支援"
    assert load_policy(path).measure_depth == 1
    path.with_suffix(".yaml").write_text("levels: [区分1, 区分9]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"\['区分9'\] が見つかりません"):
        load_measures(path)
    path.with_suffix(".yaml").write_text("columns: [区分1]\n", encoding="utf-8")
    with pytest.raises(InputError, match="使える項目"):
        load_measures(path)
