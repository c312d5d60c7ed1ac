"""Comments kept as running text rather than a table: a plain text file (one comment per line or per paragraph, with
or without ・ / ○ / 1. markers) and a Word document (議事録: headings per group, bullets under each, an intro
paragraph, tables).  Each becomes a :class:`~pipeline.ingest.read.Sheet` of comments with its own header, so the
rest of ingest reads it like any table; lines that are not comments (headings, the meeting's details, a preamble)
are set aside with their line or paragraph number, never dropped in silence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import InputError
from pipeline.ingest.sheet import Sheet

TEXT_HEADER = "意見"
GROUP_HEADER = "グループ"

MARKER = re.compile(
    r"^\s*(?:[・･●○◯◎◇◆□▪▫•‣➢→＊*\-－‐―]+|[（(]?\d{1,3}[.)．）]|[（(]\d{1,3}[)）]|[①-⑳]|[a-zA-Zａ-ｚＡ-Ｚ][.)．）])\s*"
)
"""A list marker at the start of a line (stripped from the comment)."""

_HEADING_MARK = re.compile(r"^\s*[■□▼▽◆◇]\s*(.+)$|^\s*[【＜<〈《［\[](.+?)[】＞>〉》］\]]\s*$")
_GROUP_WORD = re.compile(r"(?:グループ|班|テーブル|分科会|チーム)(?:\s*[:：])?$|^(?:第?\s*\d+|[A-ZＡ-Ｚ])\s*(?:グループ|班)")
_DETAIL = re.compile(r"^(?:日時|日程|開催日時?|場所|会場|出席者|参加者|欠席者|記録者?|司会|進行|ファシリテーター|作成者|"
                     r"作成日|件名|議題|配布資料|資料|時間)\s*[:：]")
_SENTENCE_END = re.compile(r"[。．！？!?」』）)]$")


@dataclass(frozen=True)
class Line:
    """One line of a text file or one paragraph of a document: its number, its text, and what its style says
    (``heading``, ``title``, ``list`` or '')."""

    number: int
    text: str
    style: str = ""


def _heading(line: Line) -> str | None:
    """The heading's text when ``line`` is a heading (a Word heading style, ■ 子育て, 【Aグループ】, a short
    「Bグループ」 line), else None."""
    text = unicodedata.normalize("NFKC", line.text).strip()
    if line.style == "heading":
        return text
    if line.style == "list" or len(text) > 30 or re.search(r"[。！？!?]", text):
        return None
    m = _HEADING_MARK.match(text)
    if m:
        return (m.group(1) or m.group(2)).strip()
    if _GROUP_WORD.search(text) and len(text) <= 20:
        return text.rstrip(":：").strip()
    return None


def strip_marker(text: str) -> str:
    """A comment without its list marker (・, ○, 1., (2), ①, a.)."""
    return MARKER.sub("", text, count=1).strip()


def _paragraphs(lines: list[Line]) -> list[Line]:
    """One comment per paragraph when the text is written in paragraphs (blocks between blank lines, no list
    markers, lines inside a block that do not end a sentence: hard-wrapped text); else one comment per line."""
    blocks: list[list[Line]] = [[]]
    for line in lines:
        if line.text.strip():
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    inner = [ln for b in blocks for ln in b[:-1]]
    wrapped = (len(blocks) >= 2 and inner and not any(MARKER.match(ln.text) or _heading(ln) for b in blocks for ln in b)
               and sum(not _SENTENCE_END.search(ln.text.strip()) for ln in inner) >= 0.5 * len(inner))
    if not wrapped:
        return lines
    return [Line(b[0].number, "".join(ln.text.strip() for ln in b)) for b in blocks]


def comment_sheet(lines: Iterable[Line], *, file: str, encoding: str, name: str = "") -> Sheet:
    """The comments of running text as a sheet (header 意見, or グループ + 意見 when headings name groups); headings,
    the meeting's details (日時：…, 場所：…) and a preamble before the first heading are set aside."""
    items = [Line(ln.number, ln.text.strip(), ln.style) for ln in lines]
    has_headings = any(_heading(ln) is not None for ln in items if ln.text)
    has_marked = any(ln.style == "list" or MARKER.match(ln.text) for ln in items if ln.text)
    group = ""
    seen_heading = False
    rows: list[list[str]] = []
    numbers: list[int] = []
    aside: list[tuple[int, str, str]] = []
    for ln in items:
        if not ln.text:
            rows.append([""] * (2 if has_headings else 1))
            numbers.append(ln.number)
            continue
        title = ln.style == "title"
        head = None if title else _heading(ln)
        if title or head is not None:
            if head is not None:
                group, seen_heading = head, True
            aside.append((ln.number, "見出し / heading", ln.text))
            continue
        if _DETAIL.match(unicodedata.normalize("NFKC", ln.text)):
            aside.append((ln.number, "会議の情報 / meeting details", ln.text))
            continue
        marked = ln.style == "list" or bool(MARKER.match(ln.text))
        if has_headings and not seen_heading and has_marked and not marked:
            aside.append((ln.number, "前文 / preamble", ln.text))
            continue
        text = strip_marker(ln.text) if marked else ln.text
        rows.append([group, text] if has_headings else [text])
        numbers.append(ln.number)
    header = (GROUP_HEADER, TEXT_HEADER) if has_headings else (TEXT_HEADER,)
    return Sheet(file, name, rows, encoding, header=header, numbers=tuple(numbers), set_aside=tuple(aside))


def is_tab_table(text: str) -> bool:
    """Whether a text file is a tab-separated table (Excel's 「テキスト（タブ区切り）」 or 「Unicode テキスト」): its
    first non-blank line and most others hold a tab."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or "\t" not in lines[0]:
        return False
    return sum("\t" in ln for ln in lines) >= 0.6 * len(lines)


def text_lines(text: str) -> list[Line]:
    """A plain text file's lines, numbered from 1, wrapped lines of one paragraph joined."""
    return _paragraphs([Line(n, ln.rstrip()) for n, ln in enumerate(text.splitlines(), start=1)])


# ---------------------------------------------------------------------------------------------
# Word documents
# ---------------------------------------------------------------------------------------------

def _style(paragraph: object) -> str:
    name = (getattr(getattr(paragraph, "style", None), "name", "") or "").lower()
    if name.startswith(("title", "表題", "subtitle", "副題")):
        return "title"
    if name.startswith(("heading", "見出し")):
        return "heading"
    ppr = paragraph._p.pPr  # type: ignore[attr-defined]
    if "list" in name or "箇条書き" in name or "段落番号" in name or (ppr is not None and ppr.numPr is not None):
        return "list"
    return ""


def docx_sheets(path: Path, *, file: str) -> list[Sheet]:
    """A Word document: its paragraphs as one sheet of comments (:func:`comment_sheet`; numbered by paragraph),
    then each of its tables as a sheet (表1, 表2 …) read like any table."""
    import docx  # imported here: only Word inputs pay for it
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(str(path))
    except Exception as err:  # python-docx raises several unrelated types for a broken file
        raise InputError(file, f"Word の文書として開けません（{type(err).__name__}）。",
                         f"cannot open as a Word document ({type(err).__name__}: {err}).",
                         "Word で開けるか確認し、.docx で保存し直してください。",
                         "check it opens in Word and save it again as .docx.") from None
    lines: list[Line] = []
    tables: list[Sheet] = []
    number = 0
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            number += 1
            lines.append(Line(number, block.text, _style(block)))
        elif isinstance(block, Table):
            rows = [[cell.text.strip() for cell in row.cells] for row in block.rows]
            tables.append(Sheet(file, f"表{len(tables) + 1}", [_unmerge(r) for r in rows], "docx"))
    out = [comment_sheet(lines, file=file, encoding="docx", name="本文" if tables else "")]
    return [s for s in out if any(any(c.strip() for c in r) for r in s.rows) or s.set_aside] + tables


def _unmerge(row: list[str]) -> list[str]:
    """python-docx repeats a horizontally merged cell's text in every cell it spans: keep it once."""
    out: list[str] = []
    for i, cell in enumerate(row):
        out.append("" if i and cell and cell == row[i - 1] else cell)
    return out


def split_cell(text: str) -> list[str]:
    """The comments of one cell that holds several (a flip chart typed up): split at list markers (・, ○, 1.,
    ①) — an unmarked line continues the item above it — or, without markers, at line breaks that end a complete
    sentence (every line but the last ends with 。！？).  A cell whose lines break inside a sentence stays whole."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return [text.strip()] if text.strip() else []
    marked = [bool(MARKER.match(ln)) and strip_marker(ln) != "" for ln in lines]
    if sum(marked) >= 2:
        parts: list[str] = []
        for ln, mark in zip(lines, marked, strict=True):
            if mark or not parts:
                parts.append(strip_marker(ln) if mark else ln)
            else:
                parts[-1] += ln
        return parts
    if all(re.search(r"[。！？!?]」?$", ln) for ln in lines[:-1]):
        return lines
    return [text.strip()]
