"""A meeting's title and date when ``meeting.yaml`` does not give them: from the title rows above its tables, the
lines of its minutes that are not comments (日時：…), its sheet names and its file names.

Dates are read as cities write them: 令和6年7月1日 (令和元年 too), 平成31年4月30日, R6.7.1, H31.4.30, 2024年7月1日,
2024-07-01, 2024/7/1, 2024.7.1 — full-width digits and spaces allowed."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pipeline.ingest.read import RawTable

ERAS = {"令和": 2018, "平成": 1988, "R": 2018, "H": 1988}
_ERA = re.compile(r"(令和|平成)\s*(\d{1,2}|元)\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ERA_SHORT = re.compile(r"(?<![A-Za-z])([RH])\s*(\d{1,2})\s*[./-]\s*(\d{1,2})\s*[./-]\s*(\d{1,2})(?!\d)")
_WESTERN = re.compile(r"(?<!\d)(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|[./-](\d{1,2})[./-](\d{1,2})(?!\d))")
MEETING_WORDS = re.compile(r"第\s*\d+\s*回|会議|ワークショップ|懇談会|検討会|委員会|意見交換会|座談会|説明会|"
                           r"協議会|部会|研修会|タウンミーティング|パブリックコメント|意見募集|アンケート|フォーラム")
MAX_TITLE = 60


def _date(y: int, m: int, d: int) -> str:
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        return ""


def find_date(text: str) -> str:
    """The first date written in ``text`` as YYYY-MM-DD, or ""."""
    s = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, str]] = []
    for m in _ERA.finditer(s):
        year = 1 if m.group(2) == "元" else int(m.group(2))
        found.append((m.start(), _date(ERAS[m.group(1)] + year, int(m.group(3)), int(m.group(4)))))
    for m in _ERA_SHORT.finditer(s):
        found.append((m.start(), _date(ERAS[m.group(1)] + int(m.group(2)), int(m.group(3)), int(m.group(4)))))
    for m in _WESTERN.finditer(s):
        month, day = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
        found.append((m.start(), _date(int(m.group(1)), int(month), int(day))))
    return next((d for _, d in sorted(found) if d), "")


def _clean(line: str) -> str:
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", line)).strip(" 　・-_")
    return s[:MAX_TITLE]


def find_title(lines: Iterable[str], names: Iterable[str] = ()) -> str:
    """The first title row or minutes line that names a meeting (第3回, 会議, ワークショップ, 懇談会 …), else the
    first file or sheet name that does (its suffix and separators dropped), else ""."""
    for line in lines:
        s = _clean(line)
        if s and MEETING_WORDS.search(s) and not s.startswith(("日時", "日 時", "場所", "開催日")):
            return s
    for name in names:
        stem = re.sub(r"\.[A-Za-z0-9]{2,5}$", "", name)
        s = _clean(re.sub(r"[_]+", " ", stem))
        if s and MEETING_WORDS.search(s):
            return s
    return ""


def meeting_title_and_date(lines: Iterable[str], names: Iterable[str]) -> tuple[str, str]:
    """(title, date) found in the title rows and minutes lines (``lines``), then the sheet and file ``names``."""
    lines, names = list(lines), list(names)
    date = next((d for d in (find_date(t) for t in [*lines, *names]) if d), "")
    return find_title(lines, names), date


FOUND = "found"
"""``meta`` key listing what kyosei found itself (``title``, ``date``: not in meeting.yaml)."""


def found_title_and_date(meta: Mapping[str, str], tables: Sequence[RawTable], paths: Sequence[Path]) -> dict[str, str]:
    """The title and date ``meta`` (meeting.yaml) leaves out, found in the ``tables``' title rows and minutes
    lines, then their sheet names and the names of ``paths`` (the files, then the meeting folder); ``found`` lists
    which (``title|date``)."""
    if meta.get("title") and meta.get("date"):
        return {}
    lines = [t for raw in tables for t in (*raw.title_lines, *(text for _, _, text in raw.set_aside))]
    names = [*dict.fromkeys(raw.sheet for raw in tables if raw.sheet), *(p.name for p in paths)]
    title, date = meeting_title_and_date(lines, names)
    out = {k: v for k, v in (("title", title), ("date", date)) if v and not meta.get(k)}
    return {**out, FOUND: "|".join(out)} if out else {}
