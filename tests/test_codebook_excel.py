"""The codebook for analysts: layers (the field's codebook with a city's additions on top) and the codebook as an
Excel workbook (export, edit, import; every bad row refused with its sheet, row and column)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from flows.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, main
from pipeline.errors import ConfigError, InputError
from pipeline.ingest.discover import find_codebook_layers, find_input_files
from pipeline.text.tokenise import Tokeniser, extend_lexicon, load_lexicon
from pipeline.themes.codebook import parse_codebook
from pipeline.themes.codebook_excel import (
    EXCLUDE,
    GROUPS,
    RULES,
    SYNONYMS,
    THEMES,
    codebook_yaml,
    export_workbook,
    workbook_to_yaml,
)
from pipeline.themes.load import check_codebook, load_codebook
from pipeline.themes.tagging import Tagger
from tests.conftest import DATA, LOCAL_CODEBOOK, MEASURES, MEETING_2, MODELS
from tests.factories import codebook_content, codebook_to_data

BASE = MODELS / "codebook.yaml"
LEXICON = MODELS / "lexicon.yaml"


def tagger(book) -> Tagger:
    lex = extend_lexicon(load_lexicon(LEXICON), book.terms, book.synonyms)
    return Tagger(book, Tokeniser(lexicon=lex))


def themes_of(book, *texts: str) -> list[str]:
    got = tagger(book).tag_texts([str(n) for n in range(len(texts))], list(texts))
    return [got.get(str(n), "") for n in range(len(texts))]


# ---- layers ------------------------------------------------------------------------------------

def test_the_field_codebook_names_no_programme_and_no_measure_of_the_sample_city() -> None:
    text = BASE.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for local in ("あいネット", "いきいきセンター", "K-Net", "P2-1", "pillars:", "measures:"):
        assert local not in body
    assert "あいネット" not in LEXICON.read_text(encoding="utf-8")
    book = load_codebook(BASE)
    assert all(not t.pillars and not t.measures for t in book.themes) and book.layers == ()


def test_the_sample_layer_adds_rules_after_the_base_rules_and_the_city_s_ids() -> None:
    base = load_codebook(BASE)
    book = load_codebook(BASE, layers=[LOCAL_CODEBOOK])
    assert book.layers == (str(LOCAL_CODEBOOK),) and book.theme_ids == base.theme_ids
    sodan, base_sodan = book.theme("相談窓口"), base.theme("相談窓口")
    n = len(base_sodan.rules)
    assert sodan.rules[:n] == base_sodan.rules                          # the base's rules and ids unchanged
    assert [(r.rule_id, r.text) for r in sodan.rules[n:]] == [(f"相談窓口#rule{n + 1}", "あいネット | いきいきセンター")]
    assert (sodan.pillars, sodan.measures) == (("P2",), ("P2-1", "P2-2"))
    assert sodan.label == base_sodan.label and sodan.definition == base_sodan.definition
    assert book.theme("就労").pillars == ("P2", "P3") and book.theme("就労").measures == ()
    assert set(book.terms) == {"いきいきセンター", "あいネット", "K-Net", "地域づくりコーディネーター"}


def test_a_programme_name_tags_only_with_the_city_layer() -> None:
    text = "あいネットに電話した"
    assert themes_of(load_codebook(BASE), text) == [""]
    assert themes_of(load_codebook(BASE, layers=[LOCAL_CODEBOOK]), text) == ["相談窓口"]


LAYER = """\
groups:
  場所: [公民館]
  商店語: [商店街, 八百屋]
lexicon:
  terms: [みどりの家]
  synonyms:
    居場所: [たまり場]
themes:
  - id: 居場所
    rules:
      - みどりの家 | 縁側
    exclude:
      - 縁側 & 住宅
  - id: 買い物
    label: 買い物の不便
    definition: 日用品の買い物に困ることについて述べている。
    related: [移動]
    rules:
      - 買い物 | @商店語
"""


def test_a_layer_adds_groups_words_synonyms_new_themes_and_exclusions() -> None:
    base = load_codebook(BASE)
    book, problems = parse_codebook(LAYER, source="local.yaml", base=base)
    assert problems == [] and book is not None
    assert book.groups["場所"] == (*base.groups["場所"], "公民館") and book.groups["商店語"] == ("商店街", "八百屋")
    assert book.theme_ids == [*base.theme_ids, "買い物"]
    ibasho = book.theme("居場所")
    assert ibasho.exclude[-1].rule_id == f"居場所#除外{len(base.theme('居場所').exclude) + 1}"
    assert book.synonyms == {"居場所": ("たまり場",)} and book.terms == ("みどりの家",)
    # the new exclusion keeps 縁側 of a house out of 居場所 (住宅 still gives 住まい)
    assert themes_of(book, "みどりの家に通っている", "八百屋がなくなって不便", "縁側のある住宅を建てる") == [
        "居場所", "買い物", "住まい"]


@pytest.mark.parametrize(("layer", "message", "line"), [
    ("themes:\n  - id: 新しいテーマ\n    rules: [相談]\n", "新しいテーマ」に label がありません", 2),
    ("themes:\n  - id: 居場所\n    rules:\n      - \"@ない語 & 場\"\n", "グループ @ない語 が groups にありません", 4),
    ("themes:\n  - id: 居場所\n    related: [ないテーマ]\n", "related「ないテーマ」はテーマにありません", 2),
    ("lexicon:\n  synonyms:\n    子ども: [児童]\n    児童生徒: [児童]\n", "「児童」が「子ども」と「児童生徒」の両方", 4),
    ("colour: red\n", "知らない項目「colour」", 1),
])
def test_a_broken_layer_is_refused_with_its_line(layer: str, message: str, line: int) -> None:
    book, problems = parse_codebook(layer, source="local.yaml", base=load_codebook(BASE))
    assert book is None
    assert any(message in p.message and p.line == line for p in problems), [str(p) for p in problems]


def test_an_empty_layer_changes_nothing() -> None:
    base = load_codebook(BASE)
    book, problems = parse_codebook("", source="empty.yaml", base=base)
    assert problems == [] and book is not None and codebook_content(book) == codebook_content(base)


def test_load_codebook_names_the_layer_file_of_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "codebook.local.yaml"
    bad.write_text("themes:\n  - id: 居場所\n    rules:\n      - (縁側 | 縁台\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"codebook.local.yaml: 4行目 / line 4: エラー"):
        load_codebook(BASE, layers=[bad])


def test_layers_are_found_in_the_data_root_then_the_meeting_folder(tmp_path: Path) -> None:
    meeting = tmp_path / "data" / "meetings" / "第1回"
    meeting.mkdir(parents=True)
    (meeting / "feedback.csv").write_text("text\n意見\n", encoding="utf-8")
    assert find_codebook_layers(meeting) == []
    (tmp_path / "data" / "codebook.local.yaml").write_text("", encoding="utf-8")
    (meeting / "codebook.local.xlsx").write_bytes(export_workbook(load_codebook(BASE)))
    assert find_codebook_layers(meeting) == [tmp_path / "data" / "codebook.local.yaml",
                                             meeting / "codebook.local.xlsx"]
    assert list(find_input_files(meeting)) == ["feedback"]         # the layer workbook is not a table of comments
    assert find_codebook_layers(meeting, data_root=tmp_path) == [meeting / "codebook.local.xlsx"]


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_a_layer_that_links_out_of_its_folder_is_refused(tmp_path: Path) -> None:
    meeting = tmp_path / "data" / "meetings" / "m"
    meeting.mkdir(parents=True)
    (meeting / "codebook.local.yaml").symlink_to(LOCAL_CODEBOOK)
    with pytest.raises(InputError):
        find_codebook_layers(meeting)


def test_the_layered_default_gives_the_sample_meetings_the_analysis_they_had(meeting2_result) -> None:
    """Before the split, models/codebook.yaml held the city's names and ids itself; the layered codebook must tag
    the sample meeting exactly as that file did.  These rows were the run's evidence then (only the rule ids of
    the names, now rules of the layer, differ), plus what issue 32's constructions add: C02's body 「どこに相談したら
    よいかわからない」 (not knowing where to turn) adds どこ at 40-42 and わから at 51-54 (title 「あいネット（福祉の総合
    相談窓口）」 is 16 characters, then 「。」 and the body, where どこ is the 24th character)."""
    ev = meeting2_result.evidence.set_index(["item_id", "theme"])
    assert ev.loc[("C02", "相談窓口"), ["terms", "spans"]].tolist() == [
        "あいネット|総合相談|相談窓口|どこ|相談|わから", "0-5|9-13|11-15|40-42|43-45|51-54"]
    assert ev.loc[("C03", "高齢者"), ["terms", "spans"]].tolist() == [
        "いきいきセンター|地域包括支援センター|高齢者|介護", "0-8|9-19|24-27|33-35"]
    # worked out by hand above and checked against the cards as written: each span cut from title + body is its term
    cards = pd.read_csv(MEETING_2 / "cards.csv", dtype=str, keep_default_na=False).set_index("card_id")
    for card, theme in (("C02", "相談窓口"), ("C03", "高齢者")):
        text = cards.loc[card, "title"] + "。" + cards.loc[card, "body"]       # a card reads 「title。body」
        terms, spans = ev.loc[(card, theme), "terms"].split("|"), ev.loc[(card, theme), "spans"].split("|")
        assert [text[int(a):int(b)] for a, b in (span.split("-") for span in spans)] == terms
    # the layer's rule comes after the base theme's 8 rules (6 before issue 32)
    assert ev.loc[("F06", "相談窓口"), ["terms", "source"]].tolist() == ["いきいきセンター", "rule:相談窓口#rule9"]
    assert meeting2_result.themes["F06"] == "職員の力|相談窓口|高齢者"
    assert sum(1 for v in meeting2_result.themes.values() if v) == 62      # as in the run before the split
    assert meeting2_result.codebook_files == (str(MODELS / "codebook.yaml"), str(LOCAL_CODEBOOK))


# ---- the codebook as a workbook ----------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cb") / "codebook.xlsx"
    assert main(["codebook", "export", str(BASE), str(path), "--lexicon", str(LEXICON)]) == EXIT_OK
    return path


def test_export_has_one_sheet_per_kind_with_japanese_headers(exported: Path) -> None:
    wb = openpyxl.load_workbook(exported)
    assert wb.sheetnames == ["使い方", THEMES, RULES, EXCLUDE, GROUPS, SYNONYMS, "辞書語"]
    themes = wb[THEMES]
    assert [c.value for c in themes[1]] == ["ID", "表示名", "種類", "定義", "抜けている視点の名前", "柱", "施策", "関連テーマ"]
    first = [c.value for c in themes[2]]
    assert first[:3] == ["計画書の記述", "計画書の記述への意見", "計画書の記述"]
    rules = [(r[0].value, r[1].value) for r in wb[RULES].iter_rows(min_row=2)]
    book = load_codebook(BASE)
    assert rules == [(t.theme_id, r.text) for t in book.themes for r in t.rules]
    assert all(c.data_type == "s" for row in wb[RULES].iter_rows() for c in row if c.value is not None)
    dv = themes.data_validations.dataValidation
    assert dv and '"分野,対象者,計画書の記述"' in dv[0].formula1
    synonyms = {r[0].value: r[1].value for r in wb[SYNONYMS].iter_rows(min_row=2)}
    assert synonyms["子ども"] == "子供、こども"


def test_export_then_import_gives_the_same_codebook(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "codebook.yaml"
    assert main(["codebook", "import", str(exported), str(out)]) == EXIT_OK
    before, after = codebook_content(load_codebook(BASE)), codebook_content(load_codebook(out))
    assert after["themes"] == before["themes"] and after["groups"] == before["groups"]
    lexicon = yaml.safe_load(LEXICON.read_text(encoding="utf-8"))
    assert after["terms"] == lexicon["terms"]
    assert after["synonyms"] == {k: (v if isinstance(v, list) else [v]) for k, v in lexicon["synonyms"].items()}
    # and the same workbook again from the imported file
    again = tmp_path / "again.xlsx"
    assert main(["codebook", "export", str(out), str(again), "--no-lexicon"]) == EXIT_OK
    assert again.read_bytes() == export_workbook(load_codebook(out))


def test_a_layered_codebook_round_trips_as_one_workbook(tmp_path: Path) -> None:
    merged = load_codebook(BASE, layers=[LOCAL_CODEBOOK])
    path = tmp_path / "city.xlsx"
    path.write_bytes(export_workbook(merged))
    text, problems = workbook_to_yaml(path)
    assert problems == []
    book, _ = parse_codebook(text)
    assert codebook_content(book) == codebook_content(merged)                 # pillars, measures, names, terms
    assert codebook_content(parse_codebook(codebook_yaml(codebook_to_data(merged)))[0]) == codebook_content(merged)


def _edit(src: Path, dst: Path, **sheets: list[list[object]]) -> Path:
    wb = openpyxl.load_workbook(src)
    for name, rows in sheets.items():
        for row in rows:
            wb[name].append(row)
    wb.save(dst)
    return dst


def test_an_edited_workbook_with_a_new_rule_word_and_exclusion_is_imported(exported: Path, tmp_path: Path) -> None:
    before = load_codebook(BASE)
    texts = ("地域の縁側を続けてほしい", "子ども会の役員を引き受ける人がいない")
    assert themes_of(before, *texts) == ["", "担い手|子ども・若者"]
    edited = _edit(exported, tmp_path / "edited.xlsx",
                   **{RULES: [["居場所", "縁側"]], EXCLUDE: [["子ども・若者", "子ども会"]]})
    out = tmp_path / "codebook.yaml"
    assert main(["codebook", "import", str(edited), str(out)]) == EXIT_OK
    book = load_codebook(out)
    assert book.theme("居場所").rules[-1].text == "縁側"
    assert book.theme("子ども・若者").exclude[-1].text == "子ども会"
    assert themes_of(book, *texts) == ["居場所", "担い手"]
    assert themes_of(load_codebook(edited), *texts) == ["居場所", "担い手"]   # the workbook itself as a codebook


@pytest.mark.parametrize(("sheet", "row", "where", "message"), [
    (RULES, ["就労", "(仕事 | 働く"], "シート「ルール」{n}行目 B列（ルール）", "テーマ「就労」のルール「(仕事 | 働く」の9文字目"),
    (RULES, ["しごと", "仕事"], "シート「ルール」{n}行目 A列（テーマID）", "テーマID「しごと」はシート「テーマ」にありません"),
    (RULES, ["就労", "@仕事語 & 探す"], "シート「ルール」{n}行目 B列（ルール）", "テーマ「就労」のルール「@仕事語 & 探す」: グループ @仕事語 がシート「グループ」にありません"),
    (EXCLUDE, ["就労", "職員 &"], "シート「除外」{n}行目 B列（除外ルール）", "テーマ「就労」の除外ルール「職員 &」"),
    (THEMES, ["買い物", "買い物の不便", "分野", ""], "シート「テーマ」{n}行目 D列（定義）", "テーマ「買い物」の定義がありません"),
    (THEMES, ["就労", "重複", "分野", "定義"], "シート「テーマ」{n}行目 A列（ID）", "テーマ ID「就労」が重複しています"),
    (THEMES, ["買い物", "買い物の不便", "地域", "定義"], "シート「テーマ」{n}行目 C列（種類）", "テーマ「買い物」の種類「地域」は"),
    (SYNONYMS, ["児童生徒", "子供"], "シート「同義語」{n}行目 B列（別の書き方）", "「子供」が「子ども」と「児童生徒」の両方"),
])
def test_a_broken_row_is_refused_with_sheet_row_and_column_and_nothing_is_written(
        exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        sheet: str, row: list[object], where: str, message: str) -> None:
    n = openpyxl.load_workbook(exported)[sheet].max_row + 1
    edited = _edit(exported, tmp_path / "edited.xlsx", **{sheet: [row]})
    out = tmp_path / "codebook.yaml"
    assert main(["codebook", "import", str(edited), str(out)]) == EXIT_PROBLEMS
    said = capsys.readouterr().out
    assert f"{where.format(n=n)}: エラー / error: {message}" in said, said
    assert "書いていません" in said and not out.exists()
    with pytest.raises(ConfigError, match=where.format(n=n).replace("（", r"\（").replace("）", r"\）")):
        load_codebook(edited)                                            # run --codebook refuses it the same way


def test_a_workbook_without_its_sheets_or_headers_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "メモ"
    wb.save(tmp_path / "memo.xlsx")
    text, problems = workbook_to_yaml(tmp_path / "memo.xlsx")
    assert text == "" and [p.where for p in problems] == ["シート「テーマ」", "シート「ルール」"]
    wb = openpyxl.Workbook()
    wb.active.title = THEMES
    wb.active.append(["ID", "表示名"])
    wb.create_sheet(RULES).append(["テーマID", "ルール"])
    wb.save(tmp_path / "headers.xlsx")
    _, problems = workbook_to_yaml(tmp_path / "headers.xlsx")
    assert [(p.where, p.message.split("（")[0]) for p in problems] == [("シート「テーマ」1行目", "見出し「定義」がありません")]
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="Excel ファイルとして開けません"):
        workbook_to_yaml(tmp_path / "broken.xlsx")


def test_formula_like_text_is_written_as_text_and_read_back_as_written(tmp_path: Path) -> None:
    book, _ = parse_codebook("themes:\n  - id: 相談窓口\n    label: '=HYPERLINK(\"http://x\")'\n"
                             "    definition: '+1 相談について'\n    rules: [相談]\n")
    path = tmp_path / "f.xlsx"
    path.write_bytes(export_workbook(book))
    cell = openpyxl.load_workbook(path)[THEMES]["B2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'
    text, problems = workbook_to_yaml(path)
    again, _ = parse_codebook(text)
    assert problems == [] and again.theme("相談窓口").label == '=HYPERLINK("http://x")'


def test_codebook_check_reads_a_workbook_and_a_layer(exported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codebook", "check", str(exported)]) == EXIT_OK
    assert "OK" in capsys.readouterr().out
    assert main(["codebook", "check", str(BASE), "--layer", str(LOCAL_CODEBOOK), "--measures", str(MEASURES)]) == EXIT_OK
    assert "codebook.local.yaml" in capsys.readouterr().out
    book, problems = check_codebook(BASE, layers=[LOCAL_CODEBOOK], measure_ids=["P9-9"], pillar_ids=["P9"])
    assert book is not None and any(f == LOCAL_CODEBOOK and p.severity == "warning" for f, p in problems)


def test_export_refuses_an_output_that_is_not_a_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codebook", "export", str(BASE), str(tmp_path / "codebook.csv")]) == EXIT_ERROR
    assert not (tmp_path / "codebook.csv").exists()


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness", "no_prefect_console")
def test_a_run_with_the_workbook_as_codebook_tags_by_the_new_word(exported: Path, tmp_path: Path) -> None:
    meeting = tmp_path / "data" / "meetings" / "2024-05-22"
    shutil.copytree(MEETING_2, meeting)
    shutil.copy(LOCAL_CODEBOOK, tmp_path / "data" / LOCAL_CODEBOOK.name)
    with (meeting / "feedback.csv").open("a", encoding="utf-8") as f:
        f.write("F99,地域の縁側のような場を続けてほしい。,感想,,\n")
    edited = _edit(exported, tmp_path / "codebook.xlsx", **{RULES: [["居場所", "縁側"]]})
    out = tmp_path / "out"
    assert main(["run", str(meeting), "--measures", str(MEASURES), "--codebook", str(edited),
                 "--lexicon", str(LEXICON), "--out-root", str(out), "--quiet"]) == EXIT_OK
    tagged = pd.read_csv(out / "2024-05-22" / "tagged.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert tagged.set_index("item_id").loc["F99", "themes"] == "居場所"
    manifest = (out / "2024-05-22" / "manifest.json").read_text(encoding="utf-8")
    assert "codebook.xlsx" in manifest and "codebook_layer_1" in manifest
    assert (DATA / "codebook.local.yaml").is_file()


def test_a_changed_layer_changes_the_run_fingerprint(tmp_path: Path) -> None:
    from pipeline.run.manifest import RunFiles, fingerprint

    layer = tmp_path / "codebook.local.yaml"
    shutil.copy(LOCAL_CODEBOOK, layer)
    files = RunFiles(meeting_dir=MEETING_2, measures=MEASURES, codebook=BASE, codebook_layers=(layer,))
    before = fingerprint(files)
    assert fingerprint(RunFiles(meeting_dir=MEETING_2, measures=MEASURES, codebook=BASE)) != before
    layer.write_text(layer.read_text(encoding="utf-8") + "  - id: 移動\n    rules: [コミュニティバス]\n", encoding="utf-8")
    assert fingerprint(files) != before                            # run-pending reruns the meeting
