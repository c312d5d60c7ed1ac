"""A second city from ``kyosei init`` to reports, through the command line with no hand edits: its own 体系表 (no ids)
copied in, then one meeting per shape of file it keeps (Word minutes, a text file, Excel's Unicode text, a
headerless CSV, a Forms export, one sheet per group, a typed-up flip chart, a 体系表 left in a meeting folder).
Every comment reaches ``tagged.csv``, every row of every file is accounted for, no name or e-mail address of the
Forms export appears in any file written, and ``kyosei revise`` writes the next draft in the city's levels."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.text.normalise import normalise_text as normalise
from tests import second_city as sc

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness", "no_prefect_console")]

SHAPES = {
    "議事録": (lambda m: sc.word_minutes(m / "第3回議事録.docx"), sc.MINUTES_COMMENTS),
    "メモ": (lambda m: sc.plain_text(m / "意見メモ.txt"), sc.TEXT_COMMENTS),
    "unicode": (lambda m: sc.unicode_text(m / "意見.txt"), [r[1] for r in sc.UNICODE_ROWS]),
    "貼り付け": (lambda m: sc.headerless_csv(m / "意見.csv"), sc.HEADERLESS),
    "forms": (lambda m: sc.forms_export(m / "Forms.xlsx"), sc.FORMS_COMMENTS),
    "模造紙": (lambda m: sc.flip_chart(m / "模造紙.xlsx"), [c for cs in sc.FLIP_ITEMS for c in cs]),
}


def _texts_of_every_file(folder: Path) -> dict[str, str]:
    """Every output file as text (the parts of a Word or Excel file unpacked; images left out)."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix in (".xlsx", ".docx"):
            with zipfile.ZipFile(path) as z:
                out[path.name] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif path.suffix != ".png":
            out[path.name] = path.read_bytes().decode("utf-8", "replace")
    return out


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flows.cli import EXIT_OK, main

    root = tmp_path_factory.mktemp("city")
    policy = sc.policy_csv(root / "施策体系（第2期）.csv")
    assert main(["init", str(root / "ws"), "--measures", str(policy)]) == EXIT_OK
    meetings = root / "ws" / "data" / "meetings"
    for name, (write, _) in SHAPES.items():
        (meetings / name).mkdir()
        write(meetings / name)
    groups = meetings / "グループ別"
    groups.mkdir()
    sc.group_sheets(groups / "記録.xlsx")
    own = meetings / "体系表つき"
    own.mkdir()
    sc.two_level_csv(own / "施策体系.csv")
    sc.plain_text(own / "意見.txt")
    assert main(["run-pending", str(root / "ws" / "data"), "--out-root", str(root / "out"), "--quiet"]) == EXIT_OK
    return root


def _tagged(city: Path, meeting: str) -> pd.DataFrame:
    return pd.read_csv(city / "out" / meeting / "tagged.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")


@pytest.mark.parametrize("meeting", list(SHAPES))
def test_every_comment_of_every_shape_is_in_tagged_csv(city: Path, meeting: str) -> None:
    expected = [normalise(c) for c in SHAPES[meeting][1]]
    tagged = _tagged(city, meeting)
    assert sorted(tagged["text"]) == sorted(expected)
    man = json.loads((city / "out" / meeting / "manifest.json").read_text(encoding="utf-8"))
    for f in man["rows"]["files"]:
        assert f["rows_in"] == f["rows_ok"] + f["rows_rejected"]
    assert man["rows"]["rows_rejected"] == 0
    assert "1-1-1" in set(pd.read_csv(city / "out" / meeting / "coverage.csv", dtype=str)["measure_id"])


def test_the_forms_export_leaves_no_name_or_mail_in_any_output(city: Path) -> None:
    texts = _texts_of_every_file(city / "out" / "forms")
    assert len(texts) > 20
    found = {(name, value) for name, text in texts.items() for value in sc.FORMS_PERSONAL if value in text}
    assert found == set()
    assert "テーマ×属性" in texts["report.xlsx"] or "年代" in texts["themes_by_attribute.csv"]


def test_sheets_per_group_and_measures_as_text(city: Path) -> None:
    tagged = _tagged(city, "グループ別")
    assert len(tagged) == sum(len(v) for v in sc.GROUP_SHEETS.values())
    assert tagged["item_id"].str.startswith(("Aグループ-", "Bグループ-", "Cグループ-")).all()
    cards = pd.read_csv(city / "out" / "グループ別" / "cards_by_measure.csv", dtype=str, keep_default_na=False)
    assert "2-2-1" in set(cards["measure_id"])


def test_a_policy_table_in_a_meeting_folder_is_used_for_that_meeting(city: Path) -> None:
    tagged = _tagged(city, "体系表つき")
    assert sorted(tagged["text"]) == sorted(normalise(c) for c in sc.TEXT_COMMENTS)
    coverage = pd.read_csv(city / "out" / "体系表つき" / "coverage.csv", dtype=str)
    assert list(coverage["measure_id"]) == ["1-1", "1-2", "2-1", "2-2"]
    table = pd.read_csv(city / "out" / "体系表つき" / "policy_table.csv", dtype=str, keep_default_na=False)
    assert list(table["id"]) == ["1", "1-1", "1-2", "2", "2-1", "2-2"]


def test_revise_writes_the_draft_in_the_citys_levels(city: Path) -> None:
    from flows.cli import EXIT_OK, main

    out = city / "out" / "議事録"
    assert main(["revise", str(out), "--decisions", str(city / "none.csv"), "--out", str(city / "draft")]) == EXIT_OK
    draft = pd.read_csv(city / "draft" / "policy_draft.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(draft.columns[:3]) == ["基本目標", "施策の方向", "主な取組"]
    assert list(draft["主な取組"]) == [action for _, _, action in sc.POLICY]          # numbering as the city wrote it
    assert draft.loc[0, "基本目標"] == "基本目標1 みんなで支え合う地域づくり" and draft.loc[4, "施策の方向"] == "(1) 相談体制の充実"
    assert (city / "draft" / "measures_draft.csv").is_file() and (city / "draft" / "policy_draft.xlsx").is_file()


def test_the_report_shows_the_citys_tree(city: Path) -> None:
    report = (city / "out" / "体系表つき" / "report.md").read_text(encoding="utf-8")
    assert "体系表（市の表から読んだ階層と ID）" in report and "基本方針 > 施策 の各項目" in report
    # the table the run produced has the measures' ids as the city numbered them
    assert "| 2-2 | 施策 | 2-(2) | 災害時の助け合い |" in report.replace("  ", " ")
