"""Warnings a reader must see before trusting a run (refused rows, unread columns and sheets, the sample's policy
table used by default, codebook links to measures the policy table does not have): short Japanese lines for the
terminal, the report's 概要 and ``kyosei validate``."""

from __future__ import annotations

from collections import Counter

from pipeline.ingest import MeetingInputs
from pipeline.run import outputs
from pipeline.schemas import Measures
from pipeline.themes.codebook import Codebook

DRAFT_COLUMNS = ("change", "evidence")
"""The columns ``kyosei revise`` adds to a policy table: expected when a draft is given back, never a warning."""
SHOWN = 5
"""Names listed in one line before 「…」."""


def _names(values: list[str]) -> str:
    return "、".join(f"「{v}」" for v in values[:SHOWN]) + ("…" if len(values) > SHOWN else "")


def rejected_rows(inputs: MeetingInputs) -> str:
    """「取り込めなかった行が 3 行あります（全 40 行中。主な理由: …）。一覧は …」 (the refused-rows file), or "" when none."""
    rejects = inputs.rejects
    if not len(rejects):
        return ""
    total = sum(int(c.get("rows_in", 0)) for c in inputs.counts)
    refused = sum(int(c.get("rows_rejected", 0)) for c in inputs.counts)
    reasons = Counter(str(r).split(" / ")[0] for r in rejects["reason"]).most_common(2)
    why = "、".join(f"{r}（{n}件）" for r, n in reasons)
    return (f"取り込めなかった行が {refused} 行あります（全 {total} 行中。主な理由: {why}）。"
            f"一覧は {_files()[0]}。")


def mostly_refused(counts: list[dict[str, object]]) -> list[str]:
    """One line per table of which more than half of the rows were refused: such a run covers only part of the
    meeting and must not look finished (``kyosei run`` exits 1)."""
    out = []
    for c in counts:
        rows_in, refused = int(c.get("rows_in", 0) or 0), int(c.get("rows_rejected", 0) or 0)  # type: ignore[call-overload]
        if rows_in and refused * 2 > rows_in:
            out.append(f"{c['file']} の {rows_in} 行のうち {refused} 行を取り込めませんでした（半分を超えています）。この結果は"
                       "会議の一部だけのものです。kyosei validate で理由を確かめ、表を直してから実行し直してください。")
    return out


def _files() -> tuple[str, str]:
    return outputs.REJECTS.file, outputs.THEME_LINKS.file


def input_notices(inputs: MeetingInputs, codebook: Codebook | None = None) -> list[str]:
    """Every warning about what the run did not use or assumed, in reading order."""
    out = mostly_refused(inputs.counts)
    line = rejected_rows(inputs)
    if line:
        out.append(line)
    for c in inputs.counts:
        ignored = [str(v) for v in (c.get("mapping") or {}).get("ignored", [])  # type: ignore[union-attr]
                   if not (c.get("kind") == "measures" and v in DRAFT_COLUMNS)]
        if ignored:
            out.append(f"{c['file']} の列 {_names([str(v) for v in ignored])} は使っていません"
                       "（日時・空の列など。使うときは meeting.yaml の columns で指定してください）。")
    for c in inputs.counts:
        out += [str(n).split(" / ")[0] for n in c.get("notices", [])]  # type: ignore[union-attr]
    for s in inputs.skipped:
        out.append(f"{s.get('file', '')} は読み込んでいません（{str(s.get('reason', '')).split(' / ')[0]}）。")
    missing = [what for key, what in (("title", "会議名"), ("date", "開催日")) if not inputs.meta.get(key)]
    if missing:
        out.append(f"{'と'.join(missing)}が見つかりませんでした（表題の行・ファイル名・シート名にもありません）。"
                   f"会議フォルダの meeting.yaml に「title: 第3回 ○○会議」「date: 2024-07-01」のように書いてください。")
    found = [what for key, what in (("title", "会議名"), ("date", "開催日")) if key in inputs.meta.get("found", "")]
    if found:
        values = "　".join(inputs.meta[k] for k in ("title", "date") if k in inputs.meta.get("found", ""))
        out.append(f"{'と'.join(found)}はファイルの表題・ファイル名から読み取りました（{values}）。"
                   "違うときは meeting.yaml に書いてください。")
    if inputs.measures_default:
        out.append(f"施策一覧を指定していないため、見本の施策一覧 {inputs.files.get('measures', '')} を使いました。"
                   "自分の市の施策一覧は --measures で指定してください（施策別・新たな視点はこの表に対する結果です）。")
    if codebook is not None:
        known = set(inputs.measures[Measures.measure_id])
        linked = sorted({m for t in codebook.themes for m in t.measures})
        unknown = [m for m in linked if m not in known]
        if unknown:
            out.append(f"コードブックがテーマと紐づけている施策ID {len(unknown)} 個（{'、'.join(unknown[:SHOWN])}"
                       f"{'…' if len(unknown) > SHOWN else ''}）がこの施策一覧にありません。テーマと施策案の対応は"
                       f"施策案の文章から読み取りました（{_files()[1]}）。")
    return out
