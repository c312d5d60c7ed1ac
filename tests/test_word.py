"""report.docx: structure checked in the XML, and for real through LibreOffice (PDF text, pages, fonts)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipeline.report.layout import build_report
from pipeline.report.render import Group, ReportContext, Section
from pipeline.report.word import column_widths, docx_text, render_docx, xml_safe
from pipeline.run import outputs
from pipeline.run.result import MeetingResult

HOSTILE = [
    "=HYPERLINK(\"http://example.invalid\",\"ここをクリック\")",
    "+SUM(A1:A9)",
    "@cmd|' /C calc'!A0",
    "{ PAGE }と{ DATE }はただの文字",
    "制御文字\x00\x07\x1bが混じった意見\x0b\x0c",
    "<script>alert('x')</script> & 〈括弧〉",
    "長い意見。" * 600,
]


def hostile_context() -> ReportContext:
    frame = pd.DataFrame({"item_id": [f"F{n:02d}" for n in range(1, len(HOSTILE) + 1)], "text": HOSTILE,
                          "votes": list(range(len(HOSTILE)))})
    wide = pd.DataFrame([{f"c{n}": f"値{n}-{r}" for n in range(15)} for r in range(41)])  # landscape pages
    return ReportContext(meeting_id="2024-06-01", title="=危険なタイトル\x01", date="2024-06-01", groups=[
        Group("概要", "summary", [Section("", pairs=[("会議", "テスト\x02会議")]),
                                 Section("意見", frame, note="注記=1+1")]),
        Group("付録", "appendix", [Section("横に長い表", wide), Section("空の表", empty="なし")]),
    ])


def document_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("word/document.xml").decode("utf-8")


def test_xml_safe_drops_only_what_xml_cannot_hold() -> None:
    assert xml_safe("a\x00b\x07c\x1bd\te\nf\u3000g\ufffe") == "abcd\te\nf\u3000g"


def test_column_widths_fill_the_page_and_keep_short_columns_whole() -> None:
    widths = column_widths(["ID", "本文", "票"], [("F01", "長い意見" * 30, 3)], 17.0)
    assert round(sum(widths), 6) == 17.0
    assert widths[1] > 10 > widths[0] >= 0.18 * 3 + 0.5 and widths[2] >= 0.18 * 2 + 0.5


def test_no_column_is_narrower_than_its_longest_id_or_number() -> None:
    from pipeline.report.word import CELL_PADDING_CM, CM_PER_UNIT, unbreakable_width

    assert unbreakable_width("施策 10-2-18 と P2-1") == 7 and unbreakable_width("割合 27.8%") == 5
    assert unbreakable_width("相談窓口の充実") == 0
    header = ["柱", "施策ID", *[f"列{n}" for n in range(10)]]
    rows = [("基本目標10", "10-2-18", *["とても長い施策案の名前が入ります" * 2] * 10)]
    widths = column_widths(header, rows, 17.0)
    assert widths[1] >= 7 * CM_PER_UNIT + CELL_PADDING_CM       # 10-2-18 on one line
    assert widths[0] >= 2 * CM_PER_UNIT + CELL_PADDING_CM


def test_hostile_text_is_text_and_the_bytes_are_deterministic() -> None:
    data = render_docx(hostile_context())
    assert data == render_docx(hostile_context())
    xml = document_xml(data)
    text = docx_text(data)
    for s in HOSTILE:
        assert xml_safe(s) in text                               # as written, less the control characters
    assert "\x00" not in xml and "\x07" not in xml and "\x1b" not in xml
    assert "制御文字が混じった意見" in text
    # the only fields are the footer's page numbers: nothing from the input became a field or a macro
    assert "instrText" not in xml and "fldChar" not in xml
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        footer = "".join(z.read(n).decode() for n in names if n.startswith("word/footer"))
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert not any(n.endswith((".bin", "vbaProject.bin")) for n in names)
    assert sorted(re.findall(r'w:instr="([^"]+)"', xml + footer)) == ["NUMPAGES", "PAGE"]
    assert "&lt;script&gt;" in xml                                # escaped by the XML writer


def test_layout_a4_japanese_fonts_headings_and_repeated_header_rows() -> None:
    data = render_docx(hostile_context())
    xml = document_xml(data)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        styles = z.read("word/styles.xml").decode("utf-8")
    assert '<w:pgSz w:w="11906" w:h="16838"/>' in xml            # A4 portrait (twentieths of a point)
    assert re.search(r'<w:pgSz w:w="16838" w:h="11906" w:orient="landscape"/>', xml)  # 15 columns × 41 rows
    assert 'w:eastAsia="游明朝"' in styles and 'w:eastAsia="游ゴシック"' in styles
    assert 'w:eastAsia="ja-JP"' in styles
    assert xml.count('<w:pStyle w:val="Heading1"/>') == 2       # 概要, 付録: real Word headings
    assert '<w:pStyle w:val="Heading2"/>' in xml
    assert '<w:tblHeader w:val="true"/>' in xml


def test_wide_short_tables_become_one_record_per_row() -> None:
    frame = pd.DataFrame([{**{"perspective_id": f"V0{n}"}, **{f"c{k}": f"{n}-{k}" for k in range(14)}}
                          for n in (1, 2)])
    ctx = ReportContext("m", "t", "2024-01-01", [Group("新たな視点(案)", "p", [Section("提案", frame)])])
    from docx import Document

    doc = Document(io.BytesIO(render_docx(ctx)))
    assert len(doc.tables) == 2                                  # one small table per suggestion
    assert doc.tables[0].rows[0].cells[0].text == "ID: V01"
    assert [r.cells[0].text for r in doc.tables[1].rows][1:3] == ["c0", "c1"]


# --- the sample meeting, through LibreOffice ---------------------------------------------------------

def soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if not found:
        pytest.skip("LibreOffice (Debian libreoffice-writer) is not installed; .ci/run installs it")
    return found


def to_pdf(docx: bytes, folder: Path) -> Path:
    src = folder / "report.docx"
    src.write_bytes(docx)
    subprocess.run([soffice(), f"-env:UserInstallation=file://{folder / 'profile'}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(folder), str(src)],
                   check=True, capture_output=True, timeout=180)
    return folder / "report.pdf"


def pdf_text_and_fonts(path: Path) -> tuple[str, int, set[str]]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    fonts: set[str] = set()
    for page in reader.pages:
        for font in (page.get("/Resources", {}).get("/Font", {}) or {}).values():
            fonts.add(str(font.get_object().get("/BaseFont", "")))
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages), fonts


@pytest.fixture(scope="module")
def sample(meeting2_result: MeetingResult) -> tuple[MeetingResult, ReportContext, bytes]:
    ctx = build_report(meeting2_result, outputs.images(meeting2_result), [("ソフトウェア", "kyosei 0.1.0")])
    return meeting2_result, ctx, render_docx(ctx)


@pytest.mark.integration
def test_sample_report_through_libreoffice(sample: tuple[MeetingResult, ReportContext, bytes],
                                           tmp_path: Path) -> None:
    r, ctx, data = sample
    pdf = to_pdf(data, tmp_path)
    text, pages, fonts = pdf_text_and_fonts(pdf)
    flat = re.sub(r"\s+", "", text)
    from pypdf import PdfReader

    from pipeline.report.findings import key_findings

    first_page = re.sub(r"\s+", "", PdfReader(str(pdf)).pages[0].extract_text())
    assert "この会議で分かったこと" in first_page                    # page 1: what the meeting showed
    for finding in key_findings(r):
        assert re.sub(r"\s+", "", finding.text) in first_page, finding.text
    for group in ctx.groups:                                     # every heading of the report
        assert group.heading in flat
        for s in group.sections:
            if s.title:
                assert re.sub(r"\s+", "", s.title) in flat, s.title
    order = [g.heading for g in ctx.groups if g.heading != "判定の反映"]
    assert order == ["概要", "新たな視点(案)", "投票結果", "施策別", "テーマ別", "意見一覧", "付録"]  # a 報告書
    assert "あいネット" in flat and "C02" in flat                    # the vote table
    quotes = next(s for g in ctx.groups for s in g.sections if s.title == "提案の根拠（原文）").frame
    for quote in quotes["text"].head(3):                          # the perspectives' evidence, as written
        assert re.sub(r"\s+", "", quote)[:25] in flat
    assert "ハイティーン(16~18歳)" in flat or "ハイティーン（16～18歳）" in flat
    assert 8 <= pages <= 30
    assert any(re.search(r"IPA|Noto.*CJK|Gothic|Mincho|游", f) for f in fonts), fonts  # a Japanese font drew it
    assert "■" not in text


@pytest.mark.integration
def test_hostile_report_through_libreoffice(tmp_path: Path) -> None:
    text, pages, _ = pdf_text_and_fonts(to_pdf(render_docx(hostile_context()), tmp_path))
    flat = re.sub(r"\s+", "", text)
    assert "=HYPERLINK(" in flat and "{PAGE}と{DATE}はただの文字" in flat
    assert "制御文字が混じった意見" in flat
    assert 2 <= pages <= 12                                      # 3,000 characters wrap over a page or two
    assert "-1/" in flat                                         # the page-number footer was filled in


@pytest.mark.integration
def test_ids_are_never_broken_across_lines_in_the_pdf(tmp_path: Path) -> None:
    """A coverage table of a city with long measure names and three-level ids (12 columns, as the report's): each
    id is on one line of the PDF's text."""
    from pipeline.report.render import Group, ReportContext, Section

    ids = [f"{p}-{m}-{k}" for p in (1, 10) for m in (2, 12) for k in (3, 18)]
    frame = pd.DataFrame({
        "pillar_id": [i.split("-")[0] for i in ids], "measure_id": ids,
        "measure_name": [f"地域で支え合う仕組みと誰もが安心して暮らせる環境づくりの推進（その{n}）" for n in range(len(ids))],
        "cards": 3, "card_ids": "C01|C02|C03", "comments": 12, "comment_ids": "F01|F02", "votes_round_1": 1234,
        "votes_round_2": 27, "themes": "相談窓口(3)|担い手(2)", "suggested_card_ids": "C10", "status": "カード・コメントあり"})
    ctx = ReportContext(meeting_id="m", title="長い名前の施策案", date="2024-07-01",
                        groups=[Group("施策別", "measures", [Section("施策案ごとの裏付け（カバレッジ）", frame)])])
    text, _, _ = pdf_text_and_fonts(to_pdf(render_docx(ctx), tmp_path))
    lines = text.splitlines()
    for i in [*ids, "1234"]:
        assert any(re.search(rf"(?<![\d-]){re.escape(i)}(?![\d-])", line) for line in lines), (i, lines[:40])
