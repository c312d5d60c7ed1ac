"""The policy table (体系表) as a city keeps it: levels in columns (基本目標 | 施策の方向 | 主な取組), merged or blank cells
meaning "the same as above", the numbering inside the text (「基本目標1 …」, 「(1) …」, 「①」, 「1-(1)」), no id columns.

:func:`read_policy` turns such a table into a :class:`PolicyTable`: a tree of nodes with ids made from the numbering
(``1``, ``1-2``, ``1-2-3``; the position among its siblings where a level has no numbering), the top level as the
pillar and the most specific level as the measures (施策案) the comments are matched against.  The tree is what
``kyosei validate`` prints, what the run writes as a normalised copy, and how a card naming its measure in words
(「柱2 (1) 相談体制の充実」, 「2-(1)」, the measure's name) is linked (:meth:`PolicyTable.resolve`).

A table with a measure id column (``measure_id`` / 施策ID) is already in kyosei's own shape and is read as it is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.read import ROW, RawTable, header_key
from pipeline.schemas import ALIASES, Measures

LEVEL_WORDS: tuple[str, ...] = (
    "基本目標", "基本方針", "基本理念", "目標", "方針", "政策", "柱", "施策の方向", "方向性", "方向", "基本施策",
    "施策分野", "分野", "主な取組", "具体的な取組", "取組", "取り組み", "事業", "具体的施策", "施策",
)
"""Words of a header naming a level of the table (its position among the level columns gives its depth)."""

DESCRIPTION_WORDS = ("説明", "内容", "概要", "取組内容", "事業内容")
KEYWORD_WORDS = ("キーワード", "keyword")
MAX_LEVELS = 4

_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_WIDTH = str.maketrans("０１２３４５６７８９（）－．　", "0123456789()-. ")
_KANJI = {c: i for i, c in enumerate("〇一二三四五六七八九十", start=0)}
_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(20)}
_LABEL = r"(?:基本目標|目標|基本方針|方針|基本理念|政策|柱|施策の方向|方向|基本施策|施策|取組|事業)"
_NUMBER = re.compile(
    rf"^\s*(?:{_LABEL}\s*)?(?P<path>\d+(?:\s*[-‐－ー―.．]\s*(?:[(（]\d+[)）]|\d+|[①-⑳]))+)\s*"   # 1-(1)-①, 2-1
    rf"|^\s*(?:{_LABEL}\s*|第)(?P<kn>[0-9]+|[一二三四五六七八九十]+)\s*(?:章|節)?[\s.．、:：)）]?\s*"      # 基本目標1, 柱二
    r"|^\s*[(（](?P<p>[0-9]+|[一二三四五六七八九十]+)[)）]\s*"                                         # (1)
    r"|^\s*(?P<c>[①-⑳])\s*"                                                                          # ①
    r"|^\s*(?P<n>[0-9]+)[\s.．、:：)）]\s*"                                                         # 1 …, 1. …
)


def _int(text: str) -> int:
    text = text.translate(_DIGITS)
    if text in _CIRCLED:
        return _CIRCLED[text]
    if text.isascii() and text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _KANJI[text[1]]
    if len(text) == 2 and text[1] == "十":
        return 10 * _KANJI[text[0]]
    if len(text) == 3 and text[1] == "十":
        return 10 * _KANJI[text[0]] + _KANJI[text[2]]
    return _KANJI.get(text, 0)


def parse_number(cell: str) -> tuple[tuple[int, ...], str, str]:
    """(the numbering as a path of whole numbers — one number, or several for 1-(1)-①; the numbering as written;
    the name after it) — ``((), "", cell)`` when the cell has no numbering."""
    text = cell.translate(_WIDTH).strip()
    m = _NUMBER.match(text)
    if not m or m.end() == 0 or not text[m.end():].strip():
        return (), "", text
    name = text[m.end():].strip(" 　.．、:：")
    if m.group("path"):
        parts = re.findall(r"\d+|[①-⑳]", m.group("path"))
        return tuple(_int(p) for p in parts), m.group(0).strip(), name
    raw = m.group("kn") or m.group("p") or m.group("c") or m.group("n")
    return (_int(raw),), m.group(0).strip(), name


@dataclass(frozen=True)
class Node:
    """One entry of the table: its id (``1-2-3``), depth (0 = the pillar), numbering as written (「(1)」), name,
    its parent's id and the spreadsheet row it was first read from."""

    id: str
    depth: int
    number: str
    name: str
    parent: str
    row: int
    description: str = ""
    keywords: str = ""


@dataclass(frozen=True)
class PolicyTable:
    """A policy table as a tree (:func:`read_policy`); ``levels`` are the level columns' headers, top first."""

    file: str
    levels: tuple[str, ...]
    nodes: tuple[Node, ...]
    notes: tuple[str, ...] = ()
    own_ids: bool = False
    """True for a table already in kyosei's shape (ids given); False when the ids were made from the numbering."""
    measure_depth: int | None = None
    """The level matched against (0 = the pillar), when chosen (``measure_level`` in the table's mapping); None:
    every entry below the pillar without children."""

    def children(self, node_id: str) -> list[Node]:
        return [n for n in self.nodes if n.parent == node_id]

    @property
    def measures(self) -> list[Node]:
        """The nodes comments are matched against: every node below the top level without children, or, with a
        chosen level, the entries of that level (and entries without children above it)."""
        parents = {n.parent for n in self.nodes}
        if self.measure_depth is not None:
            return [n for n in self.nodes if n.depth == self.measure_depth
                    or (0 < n.depth < self.measure_depth and n.id not in parents)]
        return [n for n in self.nodes if n.depth > 0 and n.id not in parents]

    def below(self, node: Node) -> list[Node]:
        """Every entry under ``node``, in the table's order."""
        return [n for n in self.nodes if n is not node and node.id in [p.id for p in self.path(n)]]

    def pillar_of(self, node: Node) -> Node:
        by_id = {n.id: n for n in self.nodes}
        while node.parent:
            node = by_id[node.parent]
        return node

    def path(self, node: Node) -> list[Node]:
        by_id = {n.id: n for n in self.nodes}
        out = [node]
        while out[0].parent:
            out.insert(0, by_id[out[0].parent])
        return out

    def frame(self) -> pd.DataFrame:
        """The measures in kyosei's shape (:class:`pipeline.schemas.Measures`) plus the spreadsheet row: a measure
        without a description is described by the levels between it and its pillar (施策の方向)."""
        rows = []
        for m in self.measures:
            path = self.path(m)
            between = " ／ ".join(n.name for n in [*path[1:-1], *self.below(m)])
            rows.append({Measures.pillar_id: path[0].id, Measures.pillar_name: path[0].name,
                         Measures.measure_id: m.id, Measures.measure_name: m.name,
                         Measures.description: m.description or between, Measures.keywords: m.keywords,
                         ROW: m.row})
        return pd.DataFrame(rows, columns=[*ALIASES["measures"], ROW]).astype({ROW: "int64"})

    def table(self) -> pd.DataFrame:
        """The normalised copy written with a run: one row per node, its id, level, numbering and name."""
        return pd.DataFrame([{"id": n.id, "level": self.levels[n.depth] if n.depth < len(self.levels) else "",
                              "number": n.number, "name": n.name, "parent_id": n.parent,
                              "is_measure": n in self.measures, "row": n.row} for n in self.nodes])

    def lines(self) -> list[str]:
        """The tree as indented lines (``kyosei validate``)."""
        return ["  " * n.depth + f"{n.id}  {(n.number + ' ') if n.number else ''}{n.name}" for n in self.nodes]

    def resolve(self, ref: str) -> tuple[list[str], str]:
        """The measure ids a card's words name — an id, a numbering (「2-(1)」, 「柱2 (1)」), a name or a word of one
        name, or a numbering and a name together — and why not ('' when linked).  A direction (施策の方向) gives the
        measures under it; a whole pillar, several unrelated entries or none give no link."""
        text = unicodedata.normalize("NFKC", ref).strip()
        by_id = {n.id: n for n in self.nodes}
        if text in by_id:
            node: Node | None = by_id[text]
        else:
            node, why = self._find(text)
            if node is None:
                return [], why
        if node.depth == 0:
            return [], f"柱全体（{node.id} {node.name}）を指していて、施策案を1つに決められません"
        below = [m.id for m in self.measures if m.id == node.id or node.id in [p.id for p in self.path(m)]]
        return below, ""

    def _find(self, text: str) -> tuple[Node | None, str]:
        numbers = () if self.own_ids else _numbers_in(text)
        by_number = [n for n in self.nodes if numbers and _numbering_path(n) == numbers]
        key = _name_key(re.sub(r"^[^\u3040-\u30ff\u4e00-\u9fff]*(?:(?:基本目標|目標|柱|方針|施策)[^\u3040-\u30ff\u4e00-\u9fff]*)*",
                               "", text))
        by_name = [n for n in self.nodes if key and (_name_key(n.name) == key or (len(_name_key(n.name)) >= 4
                   and _name_key(n.name) in key) or (len(key) >= 2 and key in _name_key(n.name)))]
        if by_number and (not by_name or by_number[0] in by_name or not key):
            return by_number[0], ""
        deepest = [n for n in by_name if not any(n.id in [p.id for p in self.path(o)] and o is not n for o in by_name)]
        chain = len({self.path(n)[-1].id for n in deepest}) == 1
        if deepest and chain:
            return deepest[0], ""
        if by_name or by_number:
            names = "、".join(f"{n.id} {n.name}" for n in (by_name or by_number)[:4])
            return None, f"複数の項目に当たります（{names}）"
        return None, "体系表に見つかりません"


def _name_key(name: str) -> str:
    return re.sub(r"[\s・、。「」()（）]", "", unicodedata.normalize("NFKC", name))


def _numbers_in(text: str) -> tuple[int, ...]:
    """The numbers a reference gives, in order (「柱2 (1)」 → (2, 1); 「2-(1)-①」 → (2, 1, 1))."""
    head = re.match(r"^[^\u3040-\u30ff\u4e00-\u9fff]*(?:(?:基本目標|目標|柱|方針|施策)\s*[^\u3040-\u30ff\u4e00-\u9fff]*)*",
                    text)
    return tuple(_int(t) for t in re.findall(r"\d+|[①-⑳]", head.group(0) if head else ""))


def _numbering_path(node: Node) -> tuple[int, ...]:
    return tuple(int(p) for p in node.id.split("-") if p.isdigit())


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def in_own_shape(raw: RawTable) -> bool:
    """Whether the table has a measure id column (kyosei's own shape, read as it is)."""
    keys = {header_key(a) for a in ALIASES["measures"][Measures.measure_id]}
    return any(header_key(h) in keys for h in raw.frame.columns)


def level_columns(raw: RawTable) -> list[str]:
    """The columns holding the table's levels, left to right: headers with a level word, else columns whose
    values mostly start with a numbering."""
    found = [h for h in raw.frame.columns if h != ROW]
    by_header = [h for h in found if any(w in header_key(h) for w in LEVEL_WORDS)
                 and not any(w in header_key(h) for w in (*DESCRIPTION_WORDS, *KEYWORD_WORDS, "担当", "指標", "id"))]
    if len(by_header) >= 2:
        return by_header[:MAX_LEVELS]
    numbered = []
    for h in found:
        vals = [v for v in raw.frame[h] if str(v).strip()]
        if vals and sum(bool(parse_number(v)[1]) for v in vals) >= 0.6 * len(vals):
            numbered.append(h)
    return numbered[:MAX_LEVELS] if len(numbered) >= 2 else by_header


def looks_like_policy(raw: RawTable) -> bool:
    """A 体系表 by its shape: two or more level columns named by their headers (基本目標, 施策の方向, 主な取組 …), or a
    measure id column beside a measure name column."""
    found = [h for h in raw.frame.columns if h != ROW]
    level_headers = [h for h in found if any(w in header_key(h) for w in LEVEL_WORDS)]
    return len(level_headers) >= 2 or (in_own_shape(raw) and len(found) >= 3)


def _column(raw: RawTable, words: Sequence[str]) -> str | None:
    return next((h for h in raw.frame.columns if h != ROW and any(w in header_key(h) for w in words)), None)


MAPPING_KEYS = ("header_row", "levels", "description", "keywords", "measure_level")
"""What a policy table's mapping (``<table>.yaml`` beside it) may say."""


def read_policy(raw: RawTable, mapping: Mapping[str, object] | None = None) -> PolicyTable:
    """The tree of a city-shaped table (:func:`level_columns`, or ``mapping``'s ``levels``): blank or merged level
    cells are the value above (a deeper level filled on the row says so), numbering parsed from the text, ids from
    the numbering path (a hierarchical number such as 1-(1)-① gives the path itself), else from the position among
    siblings.  ``mapping`` may also name the ``description`` and ``keywords`` columns and the ``measure_level``
    matched against (1 = the top level); a measure above the deepest level is described by the entries under it."""
    spec = dict(mapping or {})
    found = [h for h in raw.frame.columns if h != ROW]
    named = [str(v) for v in spec.get("levels") or []]  # type: ignore[attr-defined]
    for key in ("description", "keywords"):
        if spec.get(key):
            named.append(str(spec[key]))
    missing = [h for h in named if h not in found]
    if missing:
        raise InputError(raw.file, f"体系表の対応づけで指定された列 {missing} が見つかりません。見つかった列: {found}",
                         f"the policy table's mapping names column(s) {missing} that are not there; found: {found}")
    levels = [str(v) for v in spec["levels"]] if spec.get("levels") else level_columns(raw)  # type: ignore[union-attr]
    desc_col = str(spec["description"]) if spec.get("description") else _column(raw, DESCRIPTION_WORDS)
    kw_col = str(spec["keywords"]) if spec.get("keywords") else _column(raw, KEYWORD_WORDS)
    level = spec.get("measure_level")
    if level is not None and (not isinstance(level, int) or not 2 <= level <= len(levels)):
        raise InputError(raw.file, f"measure_level は 2 から {len(levels)} の整数にしてください（1 は柱）。",
                         f"measure_level must be a whole number from 2 to {len(levels)} (1 is the pillar).")
    nodes: list[Node] = []
    current: list[Node | None] = [None] * len(levels)
    current_cell = [""] * len(levels)
    counters: dict[str, int] = {}
    notes: list[str] = []
    for rec in raw.frame.to_dict("records"):
        cells = [str(rec[h]).strip() for h in levels]
        deepest = max((i for i, c in enumerate(cells) if c), default=-1)
        if deepest < 0:
            continue
        for depth in range(deepest + 1):
            cell = cells[depth]
            if not cell:
                if current[depth] is None:
                    notes.append(f"{rec[ROW]}行目: 「{levels[depth]}」が空で、上の行にもありません / row {rec[ROW]}: "
                                 f"no {levels[depth]} on this row or above")
                    break
                continue
            parent = current[depth - 1] if depth else None
            if current[depth] is not None and cell == current_cell[depth] and (
                    parent is None or current[depth].parent == parent.id):
                continue
            node = _node(cell, depth, parent, counters, int(rec[ROW]))
            if depth == deepest:
                node = Node(node.id, node.depth, node.number, node.name, node.parent, node.row,
                            str(rec[desc_col]).strip() if desc_col else "", str(rec[kw_col]).strip() if kw_col else "")
            nodes.append(node)
            current[depth], current_cell[depth] = node, cell
            for deeper in range(depth + 1, len(current)):
                current[deeper], current_cell[deeper] = None, ""
    nodes = _unique_ids(nodes, notes)
    return PolicyTable(raw.file, tuple(levels), tuple(nodes), tuple(notes),
                       measure_depth=None if level is None else int(level) - 1)


def _node(cell: str, depth: int, parent: Node | None, counters: dict[str, int], row: int) -> Node:
    path, written, name = parse_number(cell)
    key = parent.id if parent else ""
    counters[key] = counters.get(key, 0) + 1
    if len(path) > 1:                       # 1-(1)-①: the whole path
        node_id = "-".join(str(p) for p in path)
    else:
        n = path[0] if path else counters[key]
        node_id = f"{parent.id}-{n}" if parent else str(n)
    return Node(node_id, depth, written, name, parent.id if parent else "", row)


def _unique_ids(nodes: list[Node], notes: list[str]) -> list[Node]:
    """Two entries numbered alike (a typo in the numbering) keep the first id; the next gets ``…a``, ``…b``."""
    seen: dict[str, int] = {}
    out = []
    for n in nodes:
        if n.id in seen:
            seen[n.id] += 1
            new = f"{n.id}{chr(ord('a') + seen[n.id] - 1)}"
            notes.append(f"{n.row}行目: 番号 {n.id} が重なるため {new} としました / number {n.id} repeats: {new}")
            n = Node(new, n.depth, n.number, n.name, n.parent, n.row, n.description, n.keywords)
        else:
            seen[n.id] = 1
        out.append(n)
    return out


def from_measures(file: str, measures: pd.DataFrame) -> PolicyTable:
    """A table already in kyosei's shape as a two-level tree (pillars, then measures), ids as given."""
    by_pillar: dict[str, list[Node]] = {}
    for rec in measures.to_dict("records"):
        pid = str(rec[Measures.pillar_id])
        row = int(rec.get(ROW, 0) or 0)
        by_pillar.setdefault(pid, [Node(pid, 0, "", str(rec[Measures.pillar_name]), "", row)]).append(
            Node(str(rec[Measures.measure_id]), 1, "", str(rec[Measures.measure_name]), pid, row,
                 str(rec[Measures.description]), str(rec[Measures.keywords])))
    return PolicyTable(file, ("基本方針", "施策案"), tuple(n for ns in by_pillar.values() for n in ns), own_ids=True)


# ---------------------------------------------------------------------------------------------
# The next draft in the city's own shape
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[①-⑳]|\d+|[一二三四五六七八九十]+")
DRAFT_TEXT = {"description": "説明", "keywords": "キーワード"}


def renumber(written: str, n: int) -> str:
    """A sibling's numbering as written with its last number made ``n``, in the same style (「②」 → 「③」, 「(2)」 →
    「(3)」, 「基本目標2」 → 「基本目標3」, 「1-(2)」 → 「1-(3)」)."""
    found = list(_TOKEN.finditer(written))
    if not found:
        return str(n)
    last = found[-1]
    token = last.group(0)
    if token in _CIRCLED:
        new = chr(0x2460 + n - 1) if 1 <= n <= 20 else f"({n})"
    elif token.isascii():
        new = str(n)
    else:
        new = "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else str(n)
    return written[:last.start()] + new + written[last.end():]


def city_draft(policy: PolicyTable, draft: pd.DataFrame) -> pd.DataFrame:
    """``kyosei revise``'s draft (kyosei's columns plus ``change`` and ``evidence``) in the city's own shape: its
    level columns with the numbering as written, one row per measure in the table's order; a new measure goes under
    its parent (the entry its id continues, else its pillar's last entry above the measures' level), numbered after
    its siblings in their style.  Read back with ``--measures``, it gives the same ids."""
    by_id = {n.id: n for n in policy.nodes}
    order = {n.id: i for i, n in enumerate(policy.nodes)}
    rows: list[tuple[float, int, dict[str, str]]] = []
    for seq, rec in enumerate(draft.to_dict("records")):
        mid = str(rec[Measures.measure_id])
        node = by_id.get(mid)
        if node is not None:
            path, key = policy.path(node), float(order[mid])
        else:
            parent = _parent_for(policy, mid, str(rec[Measures.pillar_id]))
            siblings = policy.children(parent.id) if parent is not None else []
            n = int(mid.rsplit("-", 1)[-1]) if mid.rsplit("-", 1)[-1].isdigit() else len(siblings) + 1
            written = renumber(siblings[-1].number, n) if siblings and siblings[-1].number else ""
            new = Node(mid, (parent.depth + 1) if parent else 0, written, str(rec[Measures.measure_name]),
                       parent.id if parent else "", 0)
            path = [*(policy.path(parent) if parent else []), new]
            last = max((order[d.id] for d in policy.nodes if parent and parent.id in [p.id for p in policy.path(d)]),
                       default=len(order))
            key = last + 0.5
        cells = {level: "" for level in policy.levels}
        for level, n in zip(policy.levels, path, strict=False):
            cells[level] = f"{n.number} {n.name}".strip() if n.number else n.name
        cells |= {DRAFT_TEXT["description"]: str(rec[Measures.description]),
                  DRAFT_TEXT["keywords"]: str(rec[Measures.keywords]),
                  "change": str(rec.get("change", "")), "evidence": str(rec.get("evidence", ""))}
        rows.append((key, seq, cells))
    columns = [*policy.levels, DRAFT_TEXT["description"], DRAFT_TEXT["keywords"], "change", "evidence"]
    return pd.DataFrame([cells for _, _, cells in sorted(rows, key=lambda r: (r[0], r[1]))], columns=columns)


def _parent_for(policy: PolicyTable, mid: str, pillar_id: str) -> Node | None:
    by_id = {n.id: n for n in policy.nodes}
    depth = max((m.depth for m in policy.measures), default=1) - 1         # the measures' parents' level
    head = mid.rsplit("-", 1)[0] if "-" in mid else ""
    if head in by_id and by_id[head].depth == depth:
        return by_id[head]
    pillar = by_id.get(pillar_id)
    if pillar is None:
        return None
    under = [n for n in policy.nodes if n.depth == depth and policy.pillar_of(n).id == pillar.id]
    return under[-1] if under else pillar
