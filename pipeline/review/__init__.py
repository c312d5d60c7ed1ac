"""The analysts' review loop: the review sheet's rows, reading a filled sheet, the decision log, and
applying past decisions to the next run.

Decision log (``models/review_decisions.csv``, appended by ``kyosei review apply``), one row per decision:
``meeting_id, item_id, kind, suggestion, decision, correction, note, text, timestamp`` where ``kind`` is
``theme`` | ``measure`` | ``perspective``, ``decision`` is 採用 | 不採用 | 修正.  The latest decision for the
same (meeting, item, kind, suggestion) wins.

What a decision does on the next run of that meeting:
- theme 不採用: the tag is removed from that item; 修正: replaced by the corrected theme id; both, and
  採用, become training labels for the learned layer (text, theme, 1/0).
- measure 採用: a suggested card link is applied (the card counts under that measure); 不採用: the link
  is not suggested again / the comment no longer counts for that measure; 修正: the corrected measure is
  used instead.
- perspective 不採用: not suggested again (same meeting, same main theme); 採用 / 修正: kept and marked
  ``accepted`` (修正 replaces the label).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from pipeline.errors import ConfigError

ACCEPT, REJECT, CORRECT = "採用", "不採用", "修正"
DECISIONS = (ACCEPT, REJECT, CORRECT)
"""The values of the 判定 column (written as the sheet's drop-down, read back by ``review apply``)."""
REVIEW_SHEET = "レビュー"
SUMMARY_SHEET = "概要"
MEETING_ID_LABEL = "会議ID"
"""Sheet names and the 概要 row holding the meeting id: shared by the workbook writer and the reader."""
KIND_LABELS = {"theme": "テーマ", "measure": "施策の紐づけ", "perspective": "新たな視点"}
LOG_COLUMNS = ["meeting_id", "item_id", "kind", "suggestion", "decision", "correction", "note", "text", "timestamp"]

# Review sheet columns (Japanese: the analysts fill this sheet in Excel).
R_KIND, R_MEETING, R_TARGET, R_SUGGESTION, R_EVIDENCE, R_TEXT = "種類", "会議ID", "対象ID", "提案", "根拠", "本文"
R_DECISION, R_CORRECTION, R_NOTE, R_KEY = "判定", "修正後", "メモ", "キー"
REVIEW_COLUMNS = [R_KIND, R_MEETING, R_TARGET, R_SUGGESTION, R_EVIDENCE, R_TEXT, R_DECISION, R_CORRECTION, R_NOTE,
                  R_KEY]


TEACH_NOTE = "判定すると学習に役立つ（まだ付いていないテーマ）"
"""The 根拠 of a row of the active-learning queue: the tagger is least sure about it."""

REPEATED_COLUMNS = frozenset({R_KIND, R_MEETING, R_SUGGESTION, R_DECISION, R_CORRECTION, R_NOTE})
"""Review columns kept categorical (kind, meeting, the suggested theme or measure, earlier decisions)."""


def review_rows(meeting_id: str, items: pd.DataFrame, evidence: pd.DataFrame, measures_by_item: Mapping[str, str],
                suggestions: pd.DataFrame, perspectives: pd.DataFrame,
                previous: pd.DataFrame | None = None, *, coded: bool = False,
                to_teach: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per suggested theme tag, measure link and perspective (:data:`REVIEW_COLUMNS`), then the comments
    whose label would teach the tagger most (``to_teach``: item, theme, tagged, certainty — a theme the comment does
    not carry yet is 採用 to add it, 不採用 to confirm it does not apply; either becomes a training label).
    ``coded``: the columns of few distinct values (:data:`REPEATED_COLUMNS`) categorical — the same text in every
    file, a fraction of the memory (a run keeps them so: 4 million rows at 1,000,000 comments).

    Earlier decisions for the same suggestion are pre-filled, so a sheet can be completed over
    several sessions.  ``キー`` identifies the suggestion for ``kyosei review apply``.
    """
    text = dict(zip(items["item_id"].tolist(), items["text"].tolist(), strict=True))
    source = dict(zip(items["item_id"].tolist(), items["source"].tolist(), strict=True))

    def rows() -> Iterator[tuple[str, str, str, str, str]]:  # one at a time: 4 million at 1,000,000 comments
        for item_id, theme, terms, how, score in [] if not len(evidence) else zip(evidence["item_id"].tolist(), evidence["theme"].tolist(),
                                                     evidence["terms"].tolist(), evidence["source"].tolist(),
                                                     evidence["score"].tolist(), strict=True):
            by = "ルール" if str(how).startswith("rule") else "学習モデル"
            yield "theme", item_id, theme, f"{terms}（{by}, {score}）", text.get(item_id, "")
        for rec in suggestions.to_dict("records"):
            now = f"現在: {rec['declared'] or 'なし'}（{rec['declared_score']}）"
            yield ("measure", rec["card_id"], rec["suggested"],
                   f"一致度 {rec['score']}、共通語: {rec['evidence']}、{now}", text.get(rec["card_id"], ""))
        for item_id, mids in measures_by_item.items():
            if source.get(item_id) != "feedback":
                continue
            for m in filter(None, mids.split("|")):
                yield "measure", item_id, m, "内容が施策案に合うコメント", text.get(item_id, "")
        for rec in perspectives.to_dict("records"):
            yield ("perspective", rec["perspective_id"], rec["main_theme"] or rec["label"],
                   f"{rec['label']}／支持 {rec['support']}: {rec['item_ids']}", str(rec.get("quotes", ""))[:1000])
        tagged = set(zip(evidence["item_id"].tolist(), evidence["theme"].tolist(), strict=True)) if len(evidence) else set()
        for rec in [] if to_teach is None else to_teach.to_dict("records"):
            if (rec["item_id"], rec["theme"]) in tagged:
                continue                      # already a row above: its decision teaches as much
            yield ("theme", rec["item_id"], rec["theme"],
                   f"{TEACH_NOTE}（確からしさ {rec['certainty']}）", text.get(rec["item_id"], ""))

    prev = latest(previous, meeting_id) if previous is not None else pd.DataFrame(columns=LOG_COLUMNS)
    done = {(r.item_id, r.kind, r.suggestion): r for r in prev.itertuples(index=False)}
    out: dict[str, list[str]] = {c: [] for c in REVIEW_COLUMNS}  # column by column: no dict per row
    said: dict[str, str] = {}  # an evidence text repeated (the same words, rule and score): one object
    for kind, target, suggestion, evidence_text, body in rows():
        evidence_text = said.setdefault(evidence_text, evidence_text)
        key_item = target
        if kind == "perspective":
            key_item = _perspective_items(perspectives, target)
        d = done.get((key_item, kind, suggestion))
        for column, value in ((R_KIND, KIND_LABELS[kind]), (R_MEETING, meeting_id), (R_TARGET, target),
                              (R_SUGGESTION, suggestion), (R_EVIDENCE, evidence_text), (R_TEXT, body),
                              (R_DECISION, d.decision if d is not None else ""),
                              (R_CORRECTION, d.correction if d is not None else ""),
                              (R_NOTE, d.note if d is not None else ""), (R_KEY, f"{kind}|{key_item}|{suggestion}")):
            out[column].append(value)
    if not out[R_KIND]:
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    return pd.DataFrame({c: pd.Categorical(v) if coded and c in REPEATED_COLUMNS else v for c, v in out.items()},
                        columns=REVIEW_COLUMNS)


def review_sheet(review: pd.DataFrame, max_rows: int, *, always: Collection[str] = ()) -> pd.DataFrame:
    """The レビュー sheet's rows: all of them up to ``max_rows``; beyond, every new perspective and every suggestion
    for the ids in ``always`` (the cards: a workshop has a few hundred at most), then the comments' theme tags and
    measure links in their order up to ``max_rows`` — a person reviews the suggestions, not 100,000 tags, and the
    review table file keeps every row."""
    if len(review) <= max_rows:
        return review
    kept = ((review[R_KIND] == KIND_LABELS["perspective"]) | review[R_TARGET].isin(set(always))).to_numpy()
    room = max(0, max_rows - int(kept.sum()))
    keep = kept | (~kept & ((~kept).cumsum() <= room))
    return review[keep].reset_index(drop=True)


def _perspective_items(perspectives: pd.DataFrame, perspective_id: str) -> str:
    """A perspective is identified by its supporting items, joined with '+' (the key uses '|')."""
    row = perspectives[perspectives["perspective_id"] == perspective_id]
    return str(row.iloc[0]["item_ids"]).replace("|", "+") if len(row) else perspective_id


# ---------------------------------------------------------------------------------------------
# Reading a filled sheet
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetProblem:
    row: int
    message: str
    sheet: str = REVIEW_SHEET

    def __str__(self) -> str:
        if self.sheet == REVIEW_SHEET:
            return f"レビュー {self.row}行目 / row {self.row}: {self.message}"
        return f"{self.sheet} {self.row}行目 / sheet {self.sheet} row {self.row}: {self.message}"


def read_review_sheet(path: Path) -> tuple[str, pd.DataFrame]:
    """Rows of the レビュー sheet of a report workbook (strings), with their sheet row numbers.

    Returns the meeting id recorded in the workbook and the frame.  Raises :class:`ConfigError` when the
    file is not a kyosei report workbook.
    """
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many unrelated types for a broken file
        raise ConfigError(f"{path}: Excel ファイルとして開けません / cannot open as a workbook ({type(err).__name__})"
                          ) from None
    try:
        if REVIEW_SHEET not in wb.sheetnames:
            raise ConfigError(f"{path}: 「レビュー」シートがありません / no sheet named レビュー (found {wb.sheetnames})")
        # More rows than one Excel sheet holds continue on レビュー (2), レビュー (3) … (same header).
        sheets = [REVIEW_SHEET] + [n for n in wb.sheetnames if re.fullmatch(rf"{REVIEW_SHEET} \(\d+\)", n)]
        parts = [(name, [[("" if v is None else str(v)) for v in r] for r in wb[name].iter_rows(values_only=True)])
                 for name in sheets]
        rows = parts[0][1]
        meta_id = ""
        if SUMMARY_SHEET in wb.sheetnames:
            for r in wb[SUMMARY_SHEET].iter_rows(values_only=True):
                if r and r[0] == MEETING_ID_LABEL and len(r) > 1:
                    meta_id = str(r[1] or "")
    finally:
        wb.close()
    if not rows:
        raise ConfigError(f"{path}: 「レビュー」シートが空です / the review sheet is empty")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in REVIEW_COLUMNS if c not in header]
    if missing:
        raise ConfigError(f"{path}: レビューシートに列 {missing} がありません / missing columns {missing}")
    idx = [header.index(c) for c in REVIEW_COLUMNS]
    data = [[(r[i] if i < len(r) else "").strip() for i in idx] + [str(n), name]
            for name, sheet_rows in parts for n, r in enumerate(sheet_rows[1:], start=2) if any(c.strip() for c in r)]
    return meta_id, pd.DataFrame(data, columns=[*REVIEW_COLUMNS, "row", "sheet"])


def decisions_from_sheet(
    sheet: pd.DataFrame,
    *,
    meeting_id: str,
    theme_ids: Iterable[str],
    measure_ids: Iterable[str],
    known_items: Iterable[str] | None,
    timestamp: str,
) -> tuple[pd.DataFrame, list[SheetProblem]]:
    """Validate the filled rows and turn them into decision-log rows (undecided rows are skipped).

    Problems: an unknown 判定, 修正 without 修正後, a 修正後 that is not a theme id / measure id, a row of
    another meeting, an item that is not in that meeting's outputs, a changed キー.
    """
    themes, measures = set(theme_ids), set(measure_ids)
    items = set(known_items) if known_items is not None else None
    out, problems = [], []
    for rec in sheet.to_dict("records"):
        row, sheet_name = int(rec["row"]), str(rec.get("sheet") or REVIEW_SHEET)
        decision = rec[R_DECISION]
        if not decision:
            continue
        parts = rec[R_KEY].split("|", 2)
        if len(parts) != 3 or parts[0] not in KIND_LABELS:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"キー列「{rec[R_KEY]}」が壊れています / the key column was changed; "
                                              "do not edit the キー column"))
            continue
        kind, item_key, suggestion = parts
        if decision not in DECISIONS:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"判定「{decision}」は使えません（採用・不採用・修正）/ "
                                              f"decision must be 採用, 不採用 or 修正"))
            continue
        if rec[R_MEETING] != meeting_id:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"会議ID「{rec[R_MEETING]}」はこのブックの会議（{meeting_id}）では"
                                              f"ありません / row belongs to another meeting"))
            continue
        if items is not None and kind != "perspective" and item_key not in items:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"対象ID「{item_key}」は会議 {meeting_id} の出力にありません / "
                                              "item is not in this meeting's outputs"))
            continue
        correction = rec[R_CORRECTION]
        if decision == CORRECT and not correction:
            problems.append(SheetProblem(row, sheet=sheet_name, message="修正には「修正後」が必要です / 修正 needs a value in 修正後"))
            continue
        if decision == CORRECT and kind == "theme" and correction not in themes:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"修正後「{correction}」はコードブックのテーマIDではありません / "
                                              f"unknown theme id; use one of {sorted(themes)}"))
            continue
        if decision == CORRECT and kind == "measure" and correction not in measures:
            problems.append(SheetProblem(row, sheet=sheet_name, message=f"修正後「{correction}」は施策IDではありません / unknown measure id"))
            continue
        out.append({"meeting_id": meeting_id, "item_id": item_key, "kind": kind, "suggestion": suggestion,
                    "decision": decision, "correction": correction, "note": rec[R_NOTE], "text": rec[R_TEXT],
                    "timestamp": timestamp})
    return pd.DataFrame(out, columns=LOG_COLUMNS), problems


# ---------------------------------------------------------------------------------------------
# The log and applying it
# ---------------------------------------------------------------------------------------------


def load_decisions(path: Path) -> pd.DataFrame:
    """The decision log (empty when the file does not exist)."""
    if not path.is_file():
        return pd.DataFrame(columns=LOG_COLUMNS)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in LOG_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{path}: 列 {missing} がありません / missing columns {missing}")
    return frame[LOG_COLUMNS]


def latest(log: pd.DataFrame, meeting_id: str | None = None) -> pd.DataFrame:
    """The last decision per (meeting, item, kind, suggestion), optionally for one meeting."""
    frame = log if meeting_id is None else log[log["meeting_id"] == meeting_id]
    return frame.drop_duplicates(["meeting_id", "item_id", "kind", "suggestion"], keep="last").reset_index(drop=True)


class Change(NamedTuple):
    """One thing an earlier decision changed in this run (shown in the report's 判定の反映)."""

    kind: str
    item_id: str
    change: str


CHANGE_COLUMNS = list(Change._fields)


def change(kind: str, target: str, what: str) -> Change:
    return Change(KIND_LABELS.get(kind, kind), target, what)


def changes_frame(rows: Sequence[Change]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=CHANGE_COLUMNS)


def training_labels(log: pd.DataFrame) -> pd.DataFrame:
    """Theme decisions as learned-layer labels (``meeting_id, item_id, text, theme, label``)."""
    rows = []
    for r in latest(log).itertuples(index=False):
        if r.kind != "theme" or not r.text:
            continue
        if r.decision == ACCEPT:
            rows.append((r.meeting_id, r.item_id, r.text, r.suggestion, 1))
        elif r.decision == REJECT:
            rows.append((r.meeting_id, r.item_id, r.text, r.suggestion, 0))
        elif r.decision == CORRECT:
            rows += [(r.meeting_id, r.item_id, r.text, r.suggestion, 0),
                     (r.meeting_id, r.item_id, r.text, r.correction, 1)]
    return pd.DataFrame(rows, columns=["meeting_id", "item_id", "text", "theme", "label"])


def apply_theme_decisions(evidence: pd.DataFrame, decisions: pd.DataFrame,
                          theme_order: Sequence[str]) -> tuple[pd.DataFrame, list[Change]]:
    """Remove rejected tags, replace corrected ones, add accepted ones the item does not carry (a theme of the
    active-learning queue; source ``analyst``) for this meeting's decisions; returns the new evidence and what
    changed."""
    changes: list[Change] = []
    out = evidence.copy()
    order = {t: i for i, t in enumerate(theme_order)}
    for r in decisions[decisions["kind"] == "theme"].itertuples(index=False):
        mask = (out["item_id"] == r.item_id) & (out["theme"] == r.suggestion)
        if r.decision in (REJECT, CORRECT) and mask.any():
            out = out[~mask]
            changes.append(change("theme", r.item_id, f"テーマ「{r.suggestion}」を外しました（{r.decision}）"))
        if r.decision == ACCEPT and not mask.any() and r.suggestion in order:   # a queued theme the analyst confirmed
            out = pd.concat([out, pd.DataFrame([{"item_id": r.item_id, "theme": r.suggestion, "terms": "",
                                                  "spans": "", "source": "analyst", "score": 1.0}])],
                            ignore_index=True)
            changes.append(change("theme", r.item_id, f"テーマ「{r.suggestion}」を付けました（採用）"))
        if r.decision == CORRECT and not ((out["item_id"] == r.item_id) & (out["theme"] == r.correction)).any():
            out = pd.concat([out, pd.DataFrame([{"item_id": r.item_id, "theme": r.correction, "terms": "",
                                                  "spans": "", "source": "analyst", "score": 1.0}])],
                            ignore_index=True)
            changes.append(change("theme", r.item_id, f"テーマ「{r.correction}」を付けました（修正）"))
    if len(out):
        item_order = {i: n for n, i in enumerate(dict.fromkeys(evidence["item_id"]))}
        out = out.assign(_i=out["item_id"].map(item_order).fillna(len(item_order)),
                         _t=out["theme"].map(order).fillna(len(order)))
        out = out.sort_values(["_i", "_t"], kind="mergesort").drop(columns=["_i", "_t"])
    return out.reset_index(drop=True), changes


@dataclass(frozen=True)
class LinkOverrides:
    """Measure links the analysts added or removed (item id → measure ids)."""

    add: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    remove: frozenset[tuple[str, str]] = frozenset()


def link_overrides(decisions: pd.DataFrame) -> LinkOverrides:
    add: dict[str, list[str]] = {}
    remove: set[tuple[str, str]] = set()
    for r in decisions[decisions["kind"] == "measure"].itertuples(index=False):
        if r.decision == ACCEPT:
            add.setdefault(r.item_id, []).append(r.suggestion)
        elif r.decision == REJECT:
            remove.add((r.item_id, r.suggestion))
        elif r.decision == CORRECT:
            remove.add((r.item_id, r.suggestion))
            add.setdefault(r.item_id, []).append(r.correction)
    return LinkOverrides({k: tuple(dict.fromkeys(v)) for k, v in add.items()}, frozenset(remove))


def link_changes(overrides: LinkOverrides) -> list[Change]:
    """What the analysts' link decisions change (links added, then links removed)."""
    out = [change("measure", item_id, f"施策案 {m} への紐づけを反映しました（採用/修正）")
           for item_id, mids in overrides.add.items() for m in mids]
    out += [change("measure", item_id, f"施策案 {m} への紐づけを外しました（不採用/修正）")
            for item_id, m in sorted(overrides.remove)]
    return out


def apply_perspective_decisions(perspectives: pd.DataFrame,
                                decisions: pd.DataFrame) -> tuple[pd.DataFrame, list[Change]]:
    """Drop rejected suggestions (same main theme or label), mark accepted / corrected ones; returns the
    new table and what changed."""
    changes: list[Change] = []
    out = perspectives.copy()
    for r in decisions[decisions["kind"] == "perspective"].itertuples(index=False):
        match = (out["main_theme"] == r.suggestion) | (out["label"] == r.suggestion)
        if not match.any():
            continue
        pid = str(out.loc[match, "perspective_id"].iloc[0])
        if r.decision == REJECT:
            out = out[~match]
            changes.append(change("perspective", pid, f"「{r.suggestion}」は不採用のため提案しません"))
        else:
            out.loc[match, "status"] = "accepted"
            if r.decision == CORRECT:
                out.loc[match, "label"] = r.correction
            changes.append(change("perspective", pid, f"「{r.suggestion}」を{r.decision}済みとしました"))
    if len(out) != len(perspectives):
        out = out.reset_index(drop=True)
        out["perspective_id"] = [f"V{n:02d}" for n in range(1, len(out) + 1)]
    return out, changes
