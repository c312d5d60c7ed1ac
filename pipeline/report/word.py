"""The report as a Word document (:data:`pipeline.run.outputs.REPORT_DOCX`) for the city's 報告書, or to hand out as it is.

Same :class:`~pipeline.report.render.ReportContext` as the HTML and Markdown reports (same groups, sections
and tables, in the order of a 報告書), written with python-docx:

- A4 portrait, 2 cm margins; a table wider than :data:`WIDE_TABLE` columns gets a landscape page of its own.
- Japanese fonts named for East Asian text in the document defaults and styles (游明朝 for text, 游ゴシック for
  headings and tables — the fonts of Windows and Office; another system substitutes its own Japanese font).
- Real Word headings (見出し 1–3), so the navigation pane and an inserted table of contents work.
- Tables with a repeated header row (on every page the table runs over), numbers right-aligned.
- Page numbers in the footer (the only field in the document; input text is always inserted as text, with the
  characters XML cannot hold removed).
- Deterministic bytes: fixed document properties and zip entry dates.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime

from pipeline.report.render import ReportContext, Section, cell_text, label_for
from pipeline.xlsx import display_width

BODY_FONT = "游明朝"
HEADING_FONT = "游ゴシック"
LATIN_FONT = "Century"
RECORD_TABLE = 12
"""A table with more columns than this is printed as one small two-column table per row (項目 | 内容), or on
landscape pages when it has more than :data:`RECORD_ROWS` rows."""
RECORD_ROWS = 40
PORTRAIT_CM = 17.0
HEADER_UNITS = 4
"""Half-width units a column's header asks for (two kanji): headers wrap, so that text columns get the room."""
CM_PER_UNIT = 0.18
"""Width of one half-width character in the 8 pt table text, in cm (a full-width character is two units)."""
CELL_PADDING_CM = 0.5
MAX_DOCX_ROWS = 300
"""Rows of one table in the document (the CSV files and the workbook hold them all)."""
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def xml_safe(text: str) -> str:
    """Text without the characters an XML document cannot hold (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


_UNBREAKABLE = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-_.:/,%]*[、。，）)]?")
"""An id (P2-1, C02, 1-2-3, V01), a number (1,234, 27.8%) or a file name, with the comma a line may not start with
(C01、): never broken across lines."""


def unbreakable_width(text: str) -> int:
    """Half-width units of the longest id or number in ``text`` with its trailing 「、」 (0 when it has none)."""
    return max((display_width(m) for m in _UNBREAKABLE.findall(text)), default=0)


def natural_widths(header: Sequence[str], rows: Sequence[Sequence[object]]) -> tuple[list[float], list[float]]:
    """Per column (cm): its natural width (its longest cell, at most 40 half-width units) and its least width (its
    longest id or number, one unit to spare)."""
    natural, least = [], []
    for n, name in enumerate(header):
        cells = [cell_text(r[n]) for r in rows]
        # a header wraps (増減 / (ポイント)): it asks for at most HEADER_UNITS, the cells for what they hold
        longest = max([min(HEADER_UNITS, display_width(w)) for w in name.split()]
                      + [min(40, display_width(c)) for c in cells] + [2])
        natural.append(longest * CM_PER_UNIT + CELL_PADDING_CM)
        least.append((max([unbreakable_width(c) for c in cells] + [2]) + 1) * CM_PER_UNIT + CELL_PADDING_CM)
    return natural, least


def column_widths(header: Sequence[str], rows: Sequence[Sequence[object]], total_cm: float) -> list[float]:
    """Column widths (cm) summing to ``total_cm``: each column's natural width; when they do not fit, short columns
    keep theirs and long text columns share the rest — and no column is narrower than its longest id or number
    (P2-1, 1-2-3, 27.8 are never broken across lines)."""
    natural, least = natural_widths(header, rows)
    if sum(natural) <= total_cm:
        scale = total_cm / sum(natural)
        return [w * scale for w in natural]
    floor = min(total_cm / len(natural), 2.5)
    fixed = [max(min(w, floor), lo) for w, lo in zip(natural, least, strict=True)]
    extra = [max(0.0, w - f) for w, f in zip(natural, fixed, strict=True)]
    spare = max(0.0, total_cm - sum(fixed))
    return [f + (spare * e / sum(extra) if sum(extra) else 0) for f, e in zip(fixed, extra, strict=True)]


def _set_fonts(rpr: object, east_asian: str, latin: str = LATIN_FONT) -> None:
    """Name the fonts of a run-properties element explicitly (theme fonts removed, East Asian font set)."""
    from docx.oxml.ns import qn

    fonts = rpr.get_or_add_rFonts()  # type: ignore[attr-defined]
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), latin)


def _styles(doc: object) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    styles = doc.styles  # type: ignore[attr-defined]
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "ja-JP")
    normal = styles["Normal"]
    normal.font.size = Pt(10.5)
    _set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)
    for name, size in (("Title", 18), ("Heading 1", 15), ("Heading 2", 12), ("Heading 3", 11)):
        style = styles[name]
        style.font.size = Pt(size)
        style.font.color.rgb = RGBColor(0x1F, 0x3A, 0x5F)
        _set_fonts(style.element.get_or_add_rPr(), HEADING_FONT, HEADING_FONT)
    for name in ("Caption", "Footer"):
        _set_fonts(styles[name].element.get_or_add_rPr(), HEADING_FONT, HEADING_FONT)
    note = styles.add_style("Kyosei Note", 1)
    note.base_style = normal
    note.font.size = Pt(9)
    note.font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    note.paragraph_format.keep_with_next = True        # a note stays on the page of the table or chart it explains
    cell = styles.add_style("Kyosei Table Text", 1)
    cell.base_style = normal
    cell.font.size = Pt(8)
    _set_fonts(cell.element.get_or_add_rPr(), HEADING_FONT, HEADING_FONT)
    cell.paragraph_format.space_after = Pt(0)
    cell.paragraph_format.line_spacing = 1.0


def _page_setup(section: object, *, landscape: bool) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    short, long_ = Cm(21.0), Cm(29.7)
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT  # type: ignore[attr-defined]
    section.page_width, section.page_height = (long_, short) if landscape else (short, long_)  # type: ignore[attr-defined]
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(2.0))


def _page_numbers(section: object) -> None:
    """「- n / N -」 centred in the footer (PAGE and NUMPAGES: the document's only fields)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    para = section.footer.paragraphs[0]  # type: ignore[attr-defined]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for piece in ("- ", "PAGE", " / ", "NUMPAGES", " -"):
        if piece in ("PAGE", "NUMPAGES"):
            field = OxmlElement("w:fldSimple")
            field.set(qn("w:instr"), piece)
            run = OxmlElement("w:r")
            text = OxmlElement("w:t")
            text.text = "1"
            run.append(text)
            field.append(run)
            para._p.append(field)
        else:
            para.add_run(piece)


class _Writer:
    """Adds the report's parts to a python-docx document, switching to landscape pages for wide tables."""

    def __init__(self, doc: object) -> None:
        self.doc = doc
        self.landscape = False
        # set by id: python-docx looks a style name up through every style each time
        self.cell_style = doc.styles["Kyosei Table Text"].style_id  # type: ignore[attr-defined]

    def orient(self, landscape: bool) -> None:
        from docx.enum.section import WD_SECTION

        if landscape == self.landscape:
            return
        section = self.doc.add_section(WD_SECTION.NEW_PAGE)  # type: ignore[attr-defined]
        _page_setup(section, landscape=landscape)
        self.landscape = landscape

    def heading(self, text: str, level: int) -> None:
        self.doc.add_heading(xml_safe(text), level=level)  # type: ignore[attr-defined]

    def paragraph(self, text: str, style: str | None = None) -> None:
        self.doc.add_paragraph(xml_safe(text), style=style)  # type: ignore[attr-defined]

    def image(self, png: bytes, caption: str) -> None:
        from docx.shared import Cm
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            w, h = im.size
        max_w, max_h = (25.0, 14.0) if self.landscape else (16.5, 21.0)
        width = min(max_w, max_h * w / h)
        self.doc.add_picture(io.BytesIO(png), width=Cm(width))  # type: ignore[attr-defined]
        self.paragraph(caption, "Caption")

    @property
    def text_width_cm(self) -> float:
        return 25.7 if self.landscape else PORTRAIT_CM

    def table(self, header: Sequence[str], rows: Sequence[Sequence[object]], *, widths: Sequence[float] = (),
              repeat_header: bool = True, numbers_right: bool = True) -> None:
        from docx.enum.table import WD_TABLE_ALIGNMENT
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Cm
        from docx.table import _Row

        sizes = [Cm(w) for w in (list(widths) or column_widths(header, rows, self.text_width_cm))]
        table = self.doc.add_table(rows=1, cols=len(header))  # type: ignore[attr-defined]
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.LEFT
        table.autofit = False
        for col, size in zip(table.columns, sizes, strict=True):
            col.width = size                                   # the grid (LibreOffice reads this)
        head = table.rows[0]
        if repeat_header:
            repeat = OxmlElement("w:tblHeader")
            repeat.set(qn("w:val"), "true")
            head._tr.get_or_add_trPr().append(repeat)
        for cell, name, size in zip(head.cells, header, sizes, strict=True):
            cell.width = size                                  # each cell (Word reads this)
            para = cell.paragraphs[0]
            para._p.get_or_add_pPr().style = self.cell_style
            para.add_run(xml_safe(name)).bold = True
            shade = OxmlElement("w:shd")
            shade.set(qn("w:val"), "clear")
            shade.set(qn("w:fill"), "DDEBF7")
            cell._tc.get_or_add_tcPr().append(shade)
        blank = None     # an empty body row (cell widths, paragraph style), copied for every row: the same XML
        for values in rows:
            if blank is None:
                row = table.add_row()
                for cell, size in zip(row.cells, sizes, strict=True):
                    cell.width = size
                    cell.paragraphs[0]._p.get_or_add_pPr().style = self.cell_style
                blank = copy.deepcopy(row._tr)
            else:
                tr = copy.deepcopy(blank)
                table._tbl.append(tr)
                row = _Row(tr, table)
            for cell, value in zip(row.cells, values, strict=True):
                para = cell.paragraphs[0]
                para.add_run(xml_safe(cell_text(value)))
                if numbers_right and isinstance(value, int | float) and not isinstance(value, bool):
                    para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        self.doc.add_paragraph()  # type: ignore[attr-defined]

    def records(self, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """A wide table as one 項目 | 内容 table per row (first column as its title), empty cells left out."""
        for values in rows:
            body = [(name, value) for name, value in zip(header[1:], values[1:], strict=True)
                    if cell_text(value).strip()]
            self.table([f"{header[0]}: {cell_text(values[0])}", ""], body, widths=(4.0, self.text_width_cm - 4.0),
                       repeat_header=False, numbers_right=False)

    @staticmethod
    def landscape_for(s: Section) -> bool:
        """A table too wide for a portrait page and too long to print as records (each change of orientation starts
        a page, so only then)."""
        return len(s.frame.columns) > RECORD_TABLE and len(s.frame) > RECORD_ROWS

    def section(self, s: Section) -> None:
        frame = s.table
        records = len(frame.columns) > RECORD_TABLE and 0 < len(frame) <= RECORD_ROWS
        self.orient(self.landscape_for(s))
        if s.title:
            self.heading(s.title, 2)
        if s.shown_note:
            self.paragraph(s.shown_note, "Kyosei Note")
        if s.image:
            self.image(s.image, s.image_alt or s.title)
        if s.points:
            for text, _, heading in s.points:
                self.paragraph(f"・{text}（→ {heading}）")
        elif s.picker:
            self.paragraph(s.print_note or s.empty)
        elif s.pairs:
            self.table(["項目", "内容"], [(k, v) for k, v in s.pairs], widths=(4.0, self.text_width_cm - 4.0))
        elif len(frame):
            shown = frame.head(MAX_DOCX_ROWS)
            if len(frame) > len(shown):
                self.paragraph(f"最初の {len(shown)} 行です（全 {len(frame)} 行は Excel のブック）。",
                               "Kyosei Note")
            header = [label_for(c) for c in shown.columns]
            rows = list(shown.itertuples(index=False, name=None))
            if records:
                self.records(header, rows)
            else:
                self.table(header, rows)
        elif not s.image:
            self.paragraph(s.empty)


def _document_date(date: str) -> datetime:
    try:
        return datetime.fromisoformat(date).replace(tzinfo=UTC)
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=UTC)


def _stable_zip(data: bytes) -> bytes:
    """The same package with fixed entry dates (python-docx stamps each entry with the current time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def render_docx(ctx: ReportContext) -> bytes:
    """The report as ``.docx`` bytes (deterministic for the same context)."""
    from docx import Document

    doc = Document()
    _styles(doc)
    _page_setup(doc.sections[0], landscape=False)
    _page_numbers(doc.sections[0])
    props = doc.core_properties
    props.title = xml_safe(f"{ctx.title}（{ctx.meeting_id}）")
    props.subject = "会議の分析結果"
    props.author = props.last_modified_by = "kyosei"
    props.keywords = props.comments = props.category = ""
    props.revision = 1
    props.created = props.modified = props.last_printed = _document_date(ctx.date)
    writer = _Writer(doc)
    doc.add_heading(xml_safe(ctx.title), level=0)
    writer.paragraph(f"会議ID: {ctx.meeting_id}　開催日: {ctx.date}")
    for group in ctx.groups:
        writer.orient(bool(group.sections) and writer.landscape_for(group.sections[0]))
        writer.heading(group.heading, 1)
        if group.note:
            writer.paragraph(group.note, "Kyosei Note")
        for s in group.sections:
            writer.section(s)
    buf = io.BytesIO()
    doc.save(buf)
    return _stable_zip(buf.getvalue())


def docx_text(data: bytes) -> str:
    """All paragraph and table text of a ``.docx`` (for checks and tests)."""
    from docx import Document

    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    parts += [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join(parts)


__all__ = ["MAX_DOCX_ROWS", "docx_text", "render_docx", "xml_safe"]

