"""The theme codebook: an analyst-editable YAML file of themes and coding rules (the shipped one is
``pipeline/resources/codebook.yaml``, documented in Japanese at its top), parsed into :class:`Codebook`.

Each theme's rules are written in the rule language of :mod:`pipeline.themes.rules` (and/or/not, near, seq,
parts of speech, synonym groups, prefixes, literal text).  A word is tokenised like the comments, so ``就労支援`` matches the adjacent tokens 就労 + 支援 inside
any compound (就労支援事業) and inflected forms match by lemma (働き → 働く).  Spelling variants from the
lexicon are merged on both sides (子供 = 子ども).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from pipeline.themes.rules import (
    DEFAULT_NEAR,
    And,
    Expr,
    Group,
    Near,
    Not,
    Or,
    RuleSyntaxError,
    Seq,
    Word,
    parse_rule,
    words_in,
)

CORE_THEMES: tuple[str, ...] = ("相談窓口", "担い手", "防災", "就労")


__all__ = ["CORE_THEMES", "DEFAULT_NEAR", "THEME_KINDS", "And", "Codebook", "Expr", "Group", "Near", "Not", "Or", "Problem",
           "Rule", "RuleSyntaxError", "Seq", "Theme", "Word", "parse_codebook", "parse_rule", "words_in"]


# ---------------------------------------------------------------------------------------------
# Codebook
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A parsed rule with where it came from (for evidence and error messages)."""

    rule_id: str
    text: str
    expr: Expr
    line: int


THEME_KINDS = ("area", "group", "document")
"""``area``: a field of the plan (移動, 住まい, 相談窓口 …) — a gap when no measure covers it; ``group``: the people a
comment is about (子ども・若者, 高齢者, 障害) — a gap only when a comment has no area theme; ``document``: comments
about the plan document itself (wording, pages, data) — listed apart, never a perspective."""


@dataclass(frozen=True)
class Theme:
    theme_id: str
    label: str
    definition: str
    pillars: tuple[str, ...]
    measures: tuple[str, ...]
    rules: tuple[Rule, ...]
    exclude: tuple[Rule, ...]
    line: int
    gap: str = ""
    """A short readable name for the theme as a missing perspective (「就労に困難を抱える人への支援」)."""
    kind: str = "area"
    related: tuple[str, ...] = ()
    """Themes whose measures also cover this one (孤立 is covered by a 見守り or 居場所 measure)."""

    @property
    def gap_label(self) -> str:
        return self.gap or self.label


@dataclass(frozen=True)
class Codebook:
    themes: tuple[Theme, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "codebook.yaml"
    terms: tuple[str, ...] = ()
    """Words the codebook adds to the user lexicon's ``terms`` (kept whole: a city's programme names)."""
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Spelling variants the codebook adds to the lexicon: representative form → variants."""
    layers: tuple[str, ...] = ()
    """The files merged on top of ``source`` (:func:`load_codebook`'s ``layers``), in order."""

    @property
    def theme_ids(self) -> list[str]:
        return [t.theme_id for t in self.themes]

    @property
    def document_themes(self) -> list[str]:
        return [t.theme_id for t in self.themes if t.kind == "document"]

    def theme(self, theme_id: str) -> Theme:
        return next(t for t in self.themes if t.theme_id == theme_id)


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    severity: str = "error"
    where: str = ""
    """Where it is when not a line of a YAML file (a workbook's 「シート「ルール」 12行目 B列」)."""

    def __str__(self) -> str:
        tag = "エラー / error" if self.severity == "error" else "注意 / warning"
        at = self.where or f"{self.line}行目 / line {self.line}"
        return f"{at}: {tag}: {self.message}"


_THEME_KEYS = {"id", "label", "definition", "pillars", "measures", "rules", "exclude", "gap", "kind", "related"}
_TOP_KEYS = {"groups", "themes", "lexicon"}


def _scalar_list(node: yaml.Node, what: str, problems: list[Problem]) -> list[tuple[str, int]]:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return [(str(node.value), line)] if node.value != "" else []
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(line, f"{what} はリストにしてください / {what} must be a list"))
        return []
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode):
            problems.append(Problem(item.start_mark.line + 1, f"{what} の要素は文字列にしてください / {what} items must be text"))
            continue
        out.append((str(item.value), item.start_mark.line + 1))
    return out


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _rules(node: yaml.Node | None, theme_id: str, kind: str, groups: Mapping[str, Any],
           problems: list[Problem], *, start: int = 1) -> list[Rule]:
    if node is None:
        return []
    out = []
    for i, (text, line) in enumerate(_scalar_list(node, kind, problems), start=start):
        try:
            expr = parse_rule(text)
        except RuleSyntaxError as err:
            problems.append(Problem(line, f"テーマ「{theme_id}」の{kind} {i}「{text}」の{err.column}文字目: {err}"))
            continue
        for w in words_in(expr):
            if isinstance(w, Group) and w.name not in groups:
                problems.append(Problem(line, f"テーマ「{theme_id}」の{kind} {i}: グループ @{w.name} が groups にありません / "
                                              f"unknown group @{w.name}"))
        prefix = "除外" if kind == "exclude" else "rule"
        out.append(Rule(f"{theme_id}#{prefix}{i}", text, expr, line))
    return out


def _groups(gnode: yaml.Node | None, base: Mapping[str, tuple[str, ...]],
            problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    groups = dict(base)
    if gnode is None:
        return groups
    if not isinstance(gnode, yaml.MappingNode):
        problems.append(Problem(gnode.start_mark.line + 1, "groups は「名前: [語, ...]」にしてください / groups must be a mapping"))
        return groups
    for name, node in _mapping(gnode).items():
        words = [w for w, _ in _scalar_list(node, f"groups.{name}", problems)]
        for w in words:
            try:
                parse_rule(w)
            except RuleSyntaxError as err:
                problems.append(Problem(node.start_mark.line + 1, f"グループ @{name} の語「{w}」: {err}"))
        # a layer's group of the same name adds its words to the base's
        groups[name] = tuple(dict.fromkeys([*groups.get(name, ()), *words]))
    return groups


def _lexicon(node: yaml.Node | None, base: Codebook | None,
             problems: list[Problem]) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    terms = list(base.terms) if base else []
    synonyms = {k: list(v) for k, v in (base.synonyms if base else {}).items()}
    if node is None:
        return tuple(terms), {k: tuple(v) for k, v in synonyms.items()}
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(line, "lexicon は terms: と synonyms: の項目にしてください / lexicon must be a mapping"))
        return tuple(terms), {k: tuple(v) for k, v in synonyms.items()}
    m = _mapping(node)
    for key in m:
        if key not in ("terms", "synonyms"):
            problems.append(Problem(m[key].start_mark.line + 1, f"lexicon の知らない項目「{key}」/ unknown key {key!r} "
                                                                "(use terms, synonyms)"))
    if "terms" in m:
        terms += [t for t, _ in _scalar_list(m["terms"], "lexicon.terms", problems) if t.strip()]
    snode = m.get("synonyms")
    if snode is not None and not isinstance(snode, yaml.MappingNode):
        problems.append(Problem(snode.start_mark.line + 1, "lexicon.synonyms は「代表表記: [別表記, ...]」にしてください / "
                                                           "synonyms must be a mapping"))
    elif snode is not None:
        owner = {v: c for c, vs in synonyms.items() for v in vs}
        for canon, vnode in _mapping(snode).items():
            for v, vline in _scalar_list(vnode, f"lexicon.synonyms.{canon}", problems):
                if owner.get(v, canon) != canon:
                    problems.append(Problem(vline, f"「{v}」が「{owner[v]}」と「{canon}」の両方の別表記です / "
                                                   f"{v!r} is a variant of two representative forms"))
                    continue
                owner[v] = canon
                synonyms.setdefault(canon, [])
                if v not in synonyms[canon]:
                    synonyms[canon].append(v)
    return tuple(dict.fromkeys(terms)), {k: tuple(v) for k, v in synonyms.items()}


def _theme(m: Mapping[str, yaml.Node], tid: str, line: int, old: Theme | None, groups: Mapping[str, Any],
           known_measures: set[str] | None, known_pillars: set[str] | None, problems: list[Problem]) -> Theme:
    """One theme's mapping (``m``) → :class:`Theme`, extending ``old`` (the base codebook's theme of that id) when
    a layer names it; every problem appended to ``problems``."""
    label, definition = m.get("label"), m.get("definition")
    for key, val in (("label", label), ("definition", definition)):
        if val is None and old is not None:
            continue
        if not isinstance(val, yaml.ScalarNode) or not str(val.value).strip():
            problems.append(Problem(line, f"テーマ「{tid}」に {key} がありません / theme {tid} needs a {key}"))
    rules = _rules(m.get("rules"), tid, "rules", groups, problems, start=len(old.rules) + 1 if old else 1)
    if m.get("rules") is None and old is None:
        problems.append(Problem(line, f"テーマ「{tid}」に rules がありません / theme {tid} has no rules"))
    exclude = _rules(m.get("exclude"), tid, "exclude", groups, problems,
                     start=len(old.exclude) + 1 if old else 1)
    pillars = _scalar_list(m["pillars"], "pillars", problems) if "pillars" in m else []
    measures = _scalar_list(m["measures"], "measures", problems) if "measures" in m else []
    for mid, mline in measures:
        if known_measures is not None and mid not in known_measures:
            problems.append(Problem(mline, f"テーマ「{tid}」の施策ID「{mid}」は施策一覧にありません / "
                                           f"measure {mid} is not in the policy table", "warning"))
    for pid, pline in pillars:
        if known_pillars is not None and pid not in known_pillars:
            problems.append(Problem(pline, f"テーマ「{tid}」の柱「{pid}」は施策一覧にありません / "
                                           f"pillar {pid} is not in the policy table", "warning"))
    gap, kind = m.get("gap"), m.get("kind")
    default_kind = old.kind if old else "area"
    kind_value = str(kind.value).strip() if isinstance(kind, yaml.ScalarNode) else default_kind
    if kind_value not in THEME_KINDS:
        problems.append(Problem(kind.start_mark.line + 1 if kind is not None else line,
                                f"テーマ「{tid}」の kind「{kind_value}」は {'/'.join(THEME_KINDS)} のどれかにしてください / "
                                f"kind must be one of {THEME_KINDS}"))
    related = _scalar_list(m["related"], "related", problems) if "related" in m else []

    def text_of(val: yaml.Node | None, before: str) -> str:
        return str(val.value).strip() if isinstance(val, yaml.ScalarNode) else before

    def joined(before: tuple[str, ...], added: list[tuple[str, int]]) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*before, *(x for x, _ in added)]))

    return Theme(
        theme_id=tid,
        label=text_of(label, old.label if old else tid),
        definition=text_of(definition, old.definition if old else ""),
        pillars=joined(old.pillars if old else (), pillars),
        measures=joined(old.measures if old else (), measures),
        rules=(*(old.rules if old else ()), *rules),
        exclude=(*(old.exclude if old else ()), *exclude),
        line=old.line if old else line,
        gap=text_of(gap, old.gap if old else ""),
        kind=kind_value,
        related=joined(old.related if old else (), related),
    )


def _check_themes(themes: Mapping[str, Theme], seen: Mapping[str, int], base: Codebook | None,
                  problems: list[Problem]) -> None:
    """Related themes that do not exist (errors), core themes missing from a base codebook (warnings)."""
    for t in themes.values():
        for r in t.related:
            if r not in themes:
                problems.append(Problem(seen.get(t.theme_id, t.line),
                                        f"テーマ「{t.theme_id}」の related「{r}」はテーマにありません / "
                                        f"related theme {r} does not exist"))
    if base is None:
        for core in CORE_THEMES:
            if core not in themes:
                problems.append(Problem(1, f"基本テーマ「{core}」がありません / core theme {core} is missing", "warning"))


def parse_codebook(text: str, *, source: str = "codebook.yaml", measure_ids: Iterable[str] | None = None,
                   pillar_ids: Iterable[str] | None = None,
                   base: Codebook | None = None) -> tuple[Codebook | None, list[Problem]]:
    """Parse codebook YAML text; returns the codebook (None when it has errors) and every problem.

    Problems carry the 1-based line number in the file.  Unknown measure/pillar ids (when the policy
    table is given) and a missing core theme are warnings: the codebook still works.

    With ``base``, the text is a *layer* merged on top of it (a city's additions to the field's codebook):
    a theme whose id is in ``base`` extends it — its rules and exclusions are added after the base's (rule
    ids continue the base's numbering), its pillars, measures and related themes are added, and a label,
    definition, gap name or kind replaces the base's; a new id is a new theme; a group of a known name
    adds its words; ``lexicon`` terms and synonyms are added.
    """
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, [Problem(line, f"YAML として読めません / not valid YAML: {getattr(err, 'problem', err)}")]
    if root is None and base is not None:
        return replace(base, layers=(*base.layers, source)), []
    if not isinstance(root, yaml.MappingNode):
        return None, [Problem(1, "themes: と groups: を持つ形式にしてください / expected keys themes and groups")]
    top = _mapping(root)
    for key in top:
        if key not in _TOP_KEYS:
            problems.append(Problem(top[key].start_mark.line + 1, f"知らない項目「{key}」/ unknown key {key!r} "
                                                                  f"(use {sorted(_TOP_KEYS)})"))

    groups = _groups(top.get("groups"), base.groups if base else {}, problems)
    terms, synonyms = _lexicon(top.get("lexicon"), base, problems)

    tnode = top.get("themes")
    if tnode is None and base is not None:
        tnode = yaml.SequenceNode("tag:yaml.org,2002:seq", [])
    if not isinstance(tnode, yaml.SequenceNode):
        line = tnode.start_mark.line + 1 if tnode is not None else 1
        problems.append(Problem(line, "themes: にテーマのリストが必要です / themes must be a list of themes"))
        return None, problems

    known_measures = set(measure_ids) if measure_ids is not None else None
    known_pillars = set(pillar_ids) if pillar_ids is not None else None
    themes: dict[str, Theme] = {t.theme_id: t for t in base.themes} if base else {}
    seen: dict[str, int] = {}
    for node in tnode.value:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            problems.append(Problem(line, "テーマは「id: ...」などの項目で書いてください / a theme must be a mapping"))
            continue
        m = _mapping(node)
        for key in m:
            if key not in _THEME_KEYS:
                problems.append(Problem(m[key].start_mark.line + 1,
                                        f"知らない項目「{key}」/ unknown key {key!r} (use {sorted(_THEME_KEYS)})"))
        tid_node = m.get("id")
        tid = str(tid_node.value).strip() if isinstance(tid_node, yaml.ScalarNode) else ""
        if not tid:
            problems.append(Problem(line, "テーマに id がありません / theme without id"))
            continue
        if tid in seen:
            problems.append(Problem(line, f"テーマ id「{tid}」が重複しています（{seen[tid]}行目）/ duplicate theme id"))
            continue
        seen[tid] = line
        themes[tid] = _theme(m, tid, line, themes.get(tid), groups, known_measures, known_pillars, problems)
    _check_themes(themes, seen, base, problems)
    has_errors = any(p.severity == "error" for p in problems)
    if has_errors:
        return None, problems
    if base is not None:
        book = replace(base, themes=tuple(themes.values()), groups=groups, terms=terms, synonyms=synonyms,
                       layers=(*base.layers, source))
    else:
        book = Codebook(tuple(themes.values()), groups, source, terms=terms, synonyms=synonyms)
    return book, problems
