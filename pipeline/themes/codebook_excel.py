"""The codebook as an Excel workbook, for analysts who do not edit YAML.

``kyosei codebook export`` writes :func:`codebook_frames` as a workbook: one sheet per kind of entry
(テーマ, ルール, 除外, グループ, 同義語, 辞書語) with Japanese headers, and a 使い方 sheet.
``kyosei codebook import`` and ``kyosei run --codebook 〜.xlsx`` read it back with :func:`workbook_to_yaml`:
every row is checked like ``kyosei codebook check`` checks the YAML file, and each problem names the sheet,
the row and the column; the YAML text is made only when no error remains.  Export then import gives a codebook
with the same content (:func:`pipeline.themes.codebook.codebook_content`).

Pure apart from reading the workbook file: frames in, bytes out; path in, text and problems out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from pipeline.errors import ConfigError
from pipeline.themes.codebook import (
    THEME_KINDS,
    Codebook,
    Group,
    Problem,
    RuleSyntaxError,
    parse_rule,
    words_in,
)

THEMES, RULES, EXCLUDE, GROUPS, SYNONYMS, TERMS, HOWTO = "テーマ", "ルール", "除外", "グループ", "同義語", "辞書語", "使い方"

T_ID, T_LABEL, T_KIND, T_DEFINITION, T_GAP, T_PILLARS, T_MEASURES, T_RELATED = (
    "ID", "表示名", "種類", "定義", "抜けている視点の名前", "柱", "施策", "関連テーマ")
R_THEME, R_RULE, X_RULE = "テーマID", "ルール", "除外ルール"
G_NAME, G_WORDS = "グループ名", "語"
S_CANON, S_VARIANTS = "代表表記", "別の書き方"
W_TERM = "語"

COLUMNS: dict[str, list[str]] = {
    THEMES: [T_ID, T_LABEL, T_KIND, T_DEFINITION, T_GAP, T_PILLARS, T_MEASURES, T_RELATED],
    RULES: [R_THEME, R_RULE],
    EXCLUDE: [R_THEME, X_RULE],
    GROUPS: [G_NAME, G_WORDS],
    SYNONYMS: [S_CANON, S_VARIANTS],
    TERMS: [W_TERM],
}
REQUIRED: dict[str, list[str]] = {
    THEMES: [T_ID, T_LABEL, T_DEFINITION], RULES: [R_THEME, R_RULE], EXCLUDE: [R_THEME, X_RULE],
    GROUPS: [G_NAME, G_WORDS], SYNONYMS: [S_CANON, S_VARIANTS], TERMS: [W_TERM],
}
KIND_LABELS = {"area": "分野", "group": "対象者", "document": "計画書の記述"}
"""How the 種類 column shows a theme's kind (the English values are accepted too)."""
KIND_OF = {**{v: k for k, v in KIND_LABELS.items()}, **{k: k for k in THEME_KINDS}}
LIST_SEPARATORS = re.compile(r"[、,，;；\n]+")
SEPARATOR = "、"

HOWTO_LINES: list[tuple[str, str]] = [
    ("このブック", "kyosei のコードブック（テーマの定義とコーディングルール）です。シートごとに1種類の項目を1行ずつ書きます。"
                  "見出し（1行目）は変えないでください。行の順番はテーマとルールの順番になります。"),
    ("読み込み方", "保存したら kyosei codebook import このブック.xlsx codebook.yaml で YAML にします"
                  "（kyosei run --codebook このブック.xlsx でそのまま使うこともできます）。誤りがあるときは、"
                  "シート・行・列を示して止まり、何も書きません。"),
    (THEMES, "1行に1テーマ。ID（テーマの短い名前）・表示名・定義は必須です。種類は 分野 / 対象者 / 計画書の記述。"
             "対象者のテーマは、分野のテーマを持たないコメントでだけ「抜けている視点」になります。計画書の記述のテーマは"
             "計画書そのものへの意見として別に一覧し、新たな視点(案)には使いません。柱・施策・関連テーマは「、」で区切って"
             "複数書けます。定義には「含むもの・含まないもの」を書くと、2人の分析者が同じように判断できます。"),
    (RULES, "1行に1ルール。テーマIDのどれか1つのルールに当てはまれば、そのテーマが付きます。"
            "書き方: A | B（または）、A & B（かつ）、!A（ではない）、( … )、near(A, B, 5)（5語以内に両方）、"
            "seq(A, B)（この順に続けて）、働く/動詞（品詞の指定）、@グループ名、相談*（〜で始まる語）、"
            "*窓口（〜で終わる語）、\"安心安全\"（本文にこの文字列）。"),
    (EXCLUDE, "似ているが別の意味の言い方。当てはまった部分はテーマの根拠になりません（同じコメントの別の部分に根拠が"
              "あればテーマは付きます）。"),
    (GROUPS, "同じ意味で使う語のまとまり。ルールの中で @グループ名 と書くと、どれか1語に当てはまります。語は「、」で区切ります。"),
    (SYNONYMS, "表記ゆれ・同義語。別の書き方は代表表記にまとめて数えます（子ども: 子供、こども）。"
               "ユーザー辞書（models/lexicon.yaml）に加えて使われます。"),
    (TERMS, "1語として扱う語（地域の事業名・固有名詞・複合語）。形態素解析の前に1語にします。"),
    ("確かめ方", "kyosei codebook check このブック.xlsx で誤りだけを確かめられます。"),
]


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def lexicon_entries(data: object) -> tuple[list[str], dict[str, list[str]]]:
    """The ``terms`` and ``synonyms`` of a lexicon file's parsed YAML, as written (empty when absent)."""
    if not isinstance(data, dict):
        return [], {}
    terms = [str(t) for t in data.get("terms") or [] if str(t).strip()]
    synonyms: dict[str, list[str]] = {}
    for canon, variants in (data.get("synonyms") or {}).items():
        vs = [variants] if isinstance(variants, str) else list(variants or [])
        synonyms[str(canon)] = [str(v) for v in vs]
    return terms, synonyms


def codebook_frames(book: Codebook, *, lexicon: object = None) -> list[tuple[str, pd.DataFrame]]:
    """The codebook's sheets (使い方 first).  ``lexicon`` (a lexicon file's parsed YAML) adds its terms and
    synonyms to the codebook's own on the 同義語 and 辞書語 sheets."""
    themes = pd.DataFrame([{
        T_ID: t.theme_id, T_LABEL: t.label, T_KIND: KIND_LABELS[t.kind], T_DEFINITION: t.definition, T_GAP: t.gap,
        T_PILLARS: SEPARATOR.join(t.pillars), T_MEASURES: SEPARATOR.join(t.measures),
        T_RELATED: SEPARATOR.join(t.related)} for t in book.themes], columns=COLUMNS[THEMES])
    rules = pd.DataFrame([(t.theme_id, r.text) for t in book.themes for r in t.rules], columns=COLUMNS[RULES])
    exclude = pd.DataFrame([(t.theme_id, r.text) for t in book.themes for r in t.exclude], columns=COLUMNS[EXCLUDE])
    groups = pd.DataFrame([(k, SEPARATOR.join(v)) for k, v in book.groups.items()], columns=COLUMNS[GROUPS])
    lex_terms, lex_synonyms = lexicon_entries(lexicon)
    merged: dict[str, list[str]] = {k: list(v) for k, v in lex_synonyms.items()}
    for canon, variants in book.synonyms.items():
        merged[canon] = list(dict.fromkeys([*merged.get(canon, []), *variants]))
    synonyms = pd.DataFrame([(k, SEPARATOR.join(v)) for k, v in merged.items()], columns=COLUMNS[SYNONYMS])
    terms = pd.DataFrame({W_TERM: list(dict.fromkeys([*lex_terms, *book.terms]))}, columns=COLUMNS[TERMS])
    howto = pd.DataFrame(HOWTO_LINES, columns=["項目", "説明"])
    return [(HOWTO, howto), (THEMES, themes), (RULES, rules), (EXCLUDE, exclude), (GROUPS, groups),
            (SYNONYMS, synonyms), (TERMS, terms)]


def export_workbook(book: Codebook, *, lexicon: object = None) -> bytes:
    """The codebook as workbook bytes (every cell text, never a formula; fixed dates, so stable bytes)."""
    from pipeline.xlsx import sheets_workbook

    return sheets_workbook(codebook_frames(book, lexicon=lexicon),
                           wrap={HOWTO: ["説明"], THEMES: [T_DEFINITION], GROUPS: [G_WORDS], SYNONYMS: [S_VARIANTS]},
                           choices={THEMES: {T_KIND: list(KIND_LABELS.values())}})


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


class _Rows:
    """One sheet's rows as {header: text}, with where each cell is for messages."""

    def __init__(self, name: str, header: list[str], rows: list[tuple[int, list[str]]]):
        self.name, self.header, self.rows = name, header, rows

    def where(self, row: int, column: str | None = None) -> str:
        col = f" {_column_letter(self.header.index(column))}列（{column}）" if column in self.header else ""
        return f"シート「{self.name}」{row}行目{col}"

    def records(self) -> list[tuple[int, dict[str, str]]]:
        return [(r, {h: (values[i] if i < len(values) else "") for i, h in enumerate(self.header) if h})
                for r, values in self.rows]


def _read_sheets(path: Path) -> dict[str, _Rows]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a broken file
        raise ConfigError(f"{path}: Excel ファイルとして開けません / cannot open as a workbook "
                          f"({type(err).__name__})") from None
    try:
        out = {}
        for ws in wb.worksheets:
            values = [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
            header = values[0] if values else []
            rows = [(n, row) for n, row in enumerate(values[1:], start=2) if any(row)]
            out[ws.title.strip()] = _Rows(ws.title.strip(), header, rows)
        return out
    finally:
        wb.close()


def _split(text: str) -> list[str]:
    return [x.strip() for x in LIST_SEPARATORS.split(text) if x.strip()]


def _check_rule(text: str, where: str, theme: str, what: str, groups: Mapping[str, Any],
                problems: list[Problem]) -> bool:
    try:
        expr = parse_rule(text)
    except RuleSyntaxError as err:
        problems.append(Problem(0, f"テーマ「{theme}」の{what}「{text}」の{err.column}文字目: {err}", where=where))
        return False
    ok = True
    for w in words_in(expr):
        if isinstance(w, Group) and w.name not in groups:
            problems.append(Problem(0, f"テーマ「{theme}」の{what}「{text}」: グループ @{w.name} がシート「{GROUPS}」に"
                                       f"ありません / unknown group @{w.name}", where=where))
            ok = False
    return ok


_EMPTY = _Rows("", [], [])


def workbook_data(sheets: Mapping[str, _Rows]) -> tuple[dict[str, Any], list[Problem]]:
    """The codebook's content from the sheets, and every problem (sheet, row, column)."""
    problems: list[Problem] = []
    for name in (THEMES, RULES):
        if name not in sheets:
            problems.append(Problem(0, f"シート「{name}」がありません（あるシート: {'、'.join(sheets) or 'なし'}）/ "
                                       f"sheet {name} is missing", where=f"シート「{name}」"))
    for name, sheet in sheets.items():
        for col in REQUIRED.get(name, []):
            if col not in sheet.header:
                problems.append(Problem(0, f"見出し「{col}」がありません（見出し: {'、'.join(filter(None, sheet.header))}）/ "
                                           f"header {col} is missing", where=f"シート「{name}」1行目"))
    if problems:
        return {}, problems
    groups = _groups_sheet(sheets.get(GROUPS, _EMPTY), problems)
    themes, t_rows = _themes_sheet(sheets[THEMES], problems)
    _rules_sheets(sheets, themes, t_rows, groups, problems)
    synonyms = _synonyms_sheet(sheets.get(SYNONYMS, _EMPTY), problems)
    terms = list(dict.fromkeys(rec[W_TERM] for _, rec in sheets.get(TERMS, _EMPTY).records() if rec[W_TERM]))
    data = {"groups": groups, "lexicon": {"terms": terms, "synonyms": synonyms}, "themes": list(themes.values())}
    return data, problems


def _groups_sheet(g: _Rows, problems: list[Problem]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for row, rec in g.records():
        name, words = rec[G_NAME].lstrip("@"), _split(rec[G_WORDS])
        if not name:
            problems.append(Problem(0, "グループ名がありません / group without a name", where=g.where(row, G_NAME)))
            continue
        if name in groups:
            problems.append(Problem(0, f"グループ「{name}」が重複しています / duplicate group", where=g.where(row, G_NAME)))
            continue
        for w in words:
            try:
                parse_rule(w)
            except RuleSyntaxError as err:
                problems.append(Problem(0, f"グループ @{name} の語「{w}」: {err}", where=g.where(row, G_WORDS)))
        groups[name] = words
    return groups


def _themes_sheet(t: _Rows, problems: list[Problem]) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    themes: dict[str, dict[str, Any]] = {}
    t_rows: dict[str, int] = {}
    for row, rec in t.records():
        tid = rec[T_ID]
        if not tid:
            problems.append(Problem(0, "テーマの ID がありません / theme without id", where=t.where(row, T_ID)))
            continue
        if tid in themes:
            problems.append(Problem(0, f"テーマ ID「{tid}」が重複しています（{t_rows[tid]}行目）/ duplicate theme id",
                                    where=t.where(row, T_ID)))
            continue
        for col in (T_LABEL, T_DEFINITION):
            if not rec[col]:
                problems.append(Problem(0, f"テーマ「{tid}」の{col}がありません / theme {tid} needs a {col}",
                                        where=t.where(row, col)))
        kind_text = rec.get(T_KIND, "") or KIND_LABELS["area"]
        if kind_text not in KIND_OF:
            problems.append(Problem(0, f"テーマ「{tid}」の種類「{kind_text}」は {'・'.join(KIND_LABELS.values())} の"
                                       f"どれかにしてください / kind must be one of {THEME_KINDS}",
                                    where=t.where(row, T_KIND)))
        t_rows[tid] = row
        themes[tid] = {"id": tid, "label": rec[T_LABEL], "kind": KIND_OF.get(kind_text, "area"),
                       "definition": rec[T_DEFINITION], "gap": rec.get(T_GAP, ""),
                       "pillars": _split(rec.get(T_PILLARS, "")), "measures": _split(rec.get(T_MEASURES, "")),
                       "related": _split(rec.get(T_RELATED, "")), "rules": [], "exclude": []}
    for tid, theme in themes.items():
        for r in theme["related"]:
            if r not in themes:
                problems.append(Problem(0, f"テーマ「{tid}」の関連テーマ「{r}」はシート「{THEMES}」にありません / "
                                           f"related theme {r} does not exist", where=t.where(t_rows[tid], T_RELATED)))
    return themes, t_rows


def _rules_sheets(sheets: Mapping[str, _Rows], themes: dict[str, dict[str, Any]], t_rows: Mapping[str, int],
                  groups: Mapping[str, list[str]], problems: list[Problem]) -> None:
    """The rules and exclusions of the two rule sheets added to their themes; a theme left without a rule is a
    problem."""
    t = sheets[THEMES]
    for sheet_name, column, key, what in ((RULES, R_RULE, "rules", "ルール"), (EXCLUDE, X_RULE, "exclude", "除外ルール")):
        s = sheets.get(sheet_name, _EMPTY)
        for row, rec in s.records():
            tid, text = rec[R_THEME], rec[column]
            if tid not in themes:
                problems.append(Problem(0, f"テーマID「{tid}」はシート「{THEMES}」にありません / unknown theme id {tid!r}"
                                        if tid else "テーマIDがありません / theme id missing", where=s.where(row, R_THEME)))
                continue
            if not text:
                problems.append(Problem(0, f"テーマ「{tid}」の{what}が空です / empty rule", where=s.where(row, column)))
                continue
            if _check_rule(text, s.where(row, column), tid, what, groups, problems):
                themes[tid][key].append(text)
    for tid, theme in themes.items():
        if not theme["rules"] and not any(f"「{tid}」" in p.message for p in problems):
            problems.append(Problem(0, f"テーマ「{tid}」のルールがシート「{RULES}」に1つもありません / theme {tid} has no rules",
                                    where=t.where(t_rows[tid], T_ID)))


def _synonyms_sheet(s: _Rows, problems: list[Problem]) -> dict[str, list[str]]:
    synonyms: dict[str, list[str]] = {}
    owner: dict[str, str] = {}
    for row, rec in s.records():
        canon = rec[S_CANON]
        if not canon:
            problems.append(Problem(0, "代表表記がありません / representative form missing", where=s.where(row, S_CANON)))
            continue
        for v in _split(rec[S_VARIANTS]):
            if owner.get(v, canon) != canon:
                problems.append(Problem(0, f"「{v}」が「{owner[v]}」と「{canon}」の両方の別の書き方です / "
                                           f"{v!r} is a variant of two representative forms",
                                        where=s.where(row, S_VARIANTS)))
                continue
            owner[v] = canon
            synonyms.setdefault(canon, [])
            if v not in synonyms[canon]:
                synonyms[canon].append(v)
    return synonyms


def workbook_to_yaml(path: Path) -> tuple[str, list[Problem]]:
    """A codebook workbook → its YAML text (``""`` while an error remains) and every problem."""
    data, problems = workbook_data(_read_sheets(path))
    if any(p.severity == "error" for p in problems):
        return "", problems
    return codebook_yaml(data, note=f"{path.name} から kyosei codebook import で作りました。"), problems


# ---------------------------------------------------------------------------------------------
# YAML text
# ---------------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[\w・ー々〆ヶ]+(?:[-/][\w・ー々〆ヶ]+)*")


def _block(text: str) -> str:
    """A scalar in block context: plain when YAML reads it back as the same text, quoted otherwise."""
    if "\n" in text:
        return json.dumps(text, ensure_ascii=False)
    out = yaml.safe_dump(text, allow_unicode=True, width=1_000_000)
    out = out.removesuffix("\n...\n").rstrip("\n")
    return out


def _flow(items: Sequence[str]) -> str:
    return "[" + ", ".join(x if _PLAIN.fullmatch(x) else json.dumps(x, ensure_ascii=False) for x in items) + "]"


def codebook_yaml(data: Mapping[str, Any], *, note: str = "") -> str:
    """Codebook YAML (the layout of ``models/codebook.yaml``) from :func:`workbook_data`'s content."""
    lines = ["# kyosei コードブック / theme codebook"]
    if note:
        lines.append(f"# {note}")
    lines += ["# 書き方は models/codebook.yaml の冒頭を見てください。確認: kyosei codebook check このファイル", ""]
    if data.get("groups"):
        lines.append("groups:")
        lines += [f"  {_block(k)}: {_flow(v)}" for k, v in data["groups"].items()]
        lines.append("")
    lex = data.get("lexicon") or {}
    if lex.get("terms") or lex.get("synonyms"):
        lines.append("lexicon:")
        if lex.get("terms"):
            lines.append(f"  terms: {_flow(lex['terms'])}")
        if lex.get("synonyms"):
            lines.append("  synonyms:")
            lines += [f"    {_block(k)}: {_flow(v)}" for k, v in lex["synonyms"].items()]
        lines.append("")
    lines.append("themes:")
    for t in data.get("themes", []):
        lines.append(f"  - id: {_block(t['id'])}")
        lines.append(f"    label: {_block(t['label'])}")
        if t.get("kind", "area") != "area":
            lines.append(f"    kind: {t['kind']}")
        lines.append(f"    definition: {_block(t['definition'])}")
        if t.get("gap"):
            lines.append(f"    gap: {_block(t['gap'])}")
        for key in ("pillars", "measures", "related"):
            if t.get(key):
                lines.append(f"    {key}: {_flow(t[key])}")
        for key in ("rules", "exclude"):
            if t.get(key):
                lines.append(f"    {key}:")
                lines += [f"      - {_block(r)}" for r in t[key]]
    return "\n".join(lines) + "\n"


