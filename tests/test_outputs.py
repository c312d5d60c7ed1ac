"""The output list is the truth: a run writes exactly its files, the workbook has its sheets, docs/reference.md's
output table names them, and no other module spells an output file name."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl

from pipeline.report.workbook import FIGURE_SHEET
from pipeline.review import REVIEW_SHEET, SUMMARY_SHEET
from pipeline.run import outputs
from tests.conftest import ROOT

ABSENT = (outputs.REPLIES, outputs.THEMES_BY_ATTRIBUTE, outputs.POLICY_TABLE)
"""The sample meeting has no replies or attributes, and its policy table has ids (no normalised copy)."""


def test_a_run_writes_exactly_the_declared_files(meeting2_run: Path) -> None:
    expected = set(outputs.ALL_FILES) - {t.file for t in ABSENT}
    assert sorted(p.name for p in meeting2_run.iterdir()) == sorted(expected)


def test_the_workbook_has_one_sheet_per_declared_table(meeting2_run: Path) -> None:
    wb = openpyxl.load_workbook(meeting2_run / outputs.WORKBOOK.file, read_only=True)
    assert wb.sheetnames == [SUMMARY_SHEET, FIGURE_SHEET, *(t.sheet for t in outputs.TABLES if t not in ABSENT)]
    assert outputs.TABLES[-1].sheet == REVIEW_SHEET


def test_table_files_and_sheets_are_unique() -> None:
    assert len(set(outputs.ALL_FILES)) == len(outputs.ALL_FILES)
    assert len({t.sheet for t in outputs.TABLES}) == len(outputs.TABLES)
    assert all(len(t.sheet) <= 25 for t in outputs.TABLES)     # room for " (2)" on a continued sheet


def test_the_reference_output_table_lists_every_file_and_the_readme_names_only_real_ones() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    section = reference.split("## Outputs", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([\w.]+\.(?:csv|png|html|md|xlsx|json|docx))`", section))
    assert listed == set(outputs.ALL_FILES)
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Outputs", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w.]+\.(?:csv|png|html|md|xlsx|json|docx))`", readme))
    assert named and named <= set(outputs.ALL_FILES)


def test_no_other_module_spells_an_output_file_name() -> None:
    sources = [p for d in ("pipeline", "flows", "bench") for p in (ROOT / d).rglob("*.py")
               if p.name != "outputs.py"]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for name in outputs.ALL_FILES:
            assert name not in text, f"{path.relative_to(ROOT)} spells {name}; use pipeline.run.outputs"


def test_the_same_network_picture_in_html_word_and_excel(meeting2_run: Path) -> None:
    import base64
    import zipfile

    png = (meeting2_run / outputs.NETWORK_PNG.file).read_bytes()
    html = (meeting2_run / outputs.REPORT_HTML.file).read_text(encoding="utf-8")
    assert base64.b64encode(png).decode("ascii") in html
    for document in (outputs.REPORT_DOCX, outputs.WORKBOOK):
        with zipfile.ZipFile(meeting2_run / document.file) as z:
            media = [z.read(n) for n in z.namelist() if n.endswith(".png")]
        assert png in media, document.file


def test_a_long_table_is_written_in_parts_with_the_same_bytes(tmp_path, monkeypatch) -> None:
    """Beyond CSV_PART_ROWS rows a table is made formula-safe and written part by part: one header, the same bytes."""
    import pandas as pd

    from pipeline.run import writers

    frame = pd.DataFrame({"item_id": ["F01", "F02", "F03", "F04", "F05"],
                          "text": ["=HYPERLINK(\"x\")", "見守りが必要", "+81 の番号", "", "@sum"],
                          "kind": pd.Categorical(["要望", "=cmd", "要望", "感想", "要望"]),
                          "score": [0.5, 1.0, 0.125, 0.0, 2.0]})
    writers.write_csv(frame, tmp_path / "whole.csv")
    monkeypatch.setattr(writers, "CSV_PART_ROWS", 2)
    writers.write_csv(frame, tmp_path / "parts.csv")
    whole = (tmp_path / "whole.csv").read_bytes()
    assert (tmp_path / "parts.csv").read_bytes() == whole
    text = whole.decode("utf-8-sig")
    assert text.count("item_id,") == 1 and text.count("\n") == 6
    assert "'=HYPERLINK" in text and "'=cmd" in text and "'@sum" in text
