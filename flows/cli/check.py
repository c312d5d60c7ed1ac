"""``kyosei validate``: the inputs checked, every problem printed, nothing written."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from flows.cli import common as ui
from flows.cli.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    add_setting,
    default_measures,
)
from pipeline.schemas import LABELS, VALUES


def _add_validate(sub: argparse._SubParsersAction) -> None:
    val = sub.add_parser("validate", help="入力を検査し、問題をすべて表示します（何も書きません）"
                                          "(check the inputs, print every problem, write nothing)")
    val.add_argument("meeting_dir", type=Path, help="会議フォルダ (the meeting's folder)")
    add_setting(val, "measures")
    add_setting(val, "split_cells")
    add_setting(val, "codebook", help="施策IDの紐づけを確かめます。codebook.local.yaml があれば重ねます")




def _print_mapping(c: dict) -> None:
    """One table's header row and column mapping, Japanese then English."""
    where = f"{c['file']}（{VALUES['kind'].get(str(c['kind']), c['kind'])} / {c['kind']}）"
    how = f"、{c['header_found_by']}" if c.get("header_found_by") else ""
    header = (f"見出し行 {c['header_row']}行目{how} / header row {c['header_row']}" if c["header_row"]
              else str(c.get("header_found_by") or "見出し行なし（文章から1行・1段落ずつ読みました）/ running text: "
                                                     "read line by line or paragraph by paragraph"))
    ui.console.print(f"[bold]{escape(where)}[/]: {escape(header)}", markup=True, soft_wrap=True)
    m = c.get("mapping") or {}
    for canon, header in (m.get("columns") or {}).items():
        ui.console.print(f"    {header} → {LABELS.get(canon, canon)}{'（分析しない）' if canon == 'reply' else ''} / {canon}", markup=False, soft_wrap=True)
    if m.get("questions"):
        ui.console.print(f"    設問（1行の回答をそれぞれ別のコメントに）/ questions: {m['questions']}", markup=False)
    if m.get("rounds"):
        ui.console.print(f"    回ごとの票 / votes per round: {m['rounds']}", markup=False)
    if m.get("attributes"):
        ui.console.print(f"    属性として保持 / kept as attributes: {m['attributes']}", markup=False)
    if m.get("ignored"):
        ui.console.print(f"    使わない列 / ignored: {m['ignored']}", markup=False)
    for note in m.get("notes") or []:
        ui.console.print(f"    注意 / note: {note}", markup=False, soft_wrap=True)
    if c.get("rows_below_table_skipped"):
        ui.console.print(f"    表の下の {c['rows_below_table_skipped']} 行（{c['rows_below_table_from']}行目から：合計・備考など）"
                      f"は読んでいません / {c['rows_below_table_skipped']} row(s) below the table not read",
                      markup=False)
    if c.get("cells_split"):
        ui.console.print(f"    複数の意見が書かれたセル {c['cells_split']} 個を {c['items_from_split']} 件に分けました（--keep-cells で"
                         f"分けずに読みます）/ {c['cells_split']} cell(s) holding several comments split into "
                         f"{c['items_from_split']} items", markup=False)
    if c.get("rows_not_comments"):
        ui.console.print(f"    意見ではない行 {c['rows_not_comments']} 行（見出し・会議の情報・前文）/ {c['rows_not_comments']} "
                         "line(s) that are not comments (headings, meeting details, preamble):", markup=False)
        for n in c.get("not_comments") or []:
            ui.console.print(f"      {n['row']}: {n['what'].split(' / ')[0]} 「{n['text']}」", markup=False,
                             soft_wrap=True)


def _validate_notices(args: argparse.Namespace, inputs: object) -> list[str]:
    """The same warnings a run prints and puts in the report's 概要 (without the refused rows, listed below)."""
    from pipeline.ingest.discover import find_codebook_layers
    from pipeline.report.notices import input_notices, rejected_rows
    from pipeline.themes.load import load_codebook

    layers = find_codebook_layers(args.meeting_dir)
    codebook = load_codebook(args.codebook, layers=layers) if args.codebook.is_file() else None

    skip = rejected_rows(inputs)  # type: ignore[arg-type]
    return [n for n in input_notices(inputs, codebook) if n != skip]  # type: ignore[arg-type]


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.ingest import load_meeting
    from pipeline.ingest.discover import found_beside

    measures = args.measures or default_measures(args.meeting_dir)
    given = args.measures is not None or found_beside(args.meeting_dir, measures)
    inputs = load_meeting(args.meeting_dir, measures, split_cells=args.split_cells, measures_given=given)
    table = Table(title=f"会議 {inputs.meeting_id} の入力 / inputs")
    for col in ("ファイル file", "見出し行 header", "行 rows in", "取込 ok", "除外 rejected"):
        table.add_column(col)
    for c in inputs.counts:
        table.add_row(str(c["file"]), str(c.get("header_row") or "なし"), str(c["rows_in"]), str(c["rows_ok"]),
                      str(c["rows_rejected"]))
    ui.console.print(table)
    ui.console.print("列の読み方 / how the columns were read:")
    for c in inputs.counts:
        _print_mapping(c)
    policy = inputs.policy
    if policy is not None and not policy.own_ids:
        ui.console.print(f"体系表 / policy table（{' > '.join(policy.levels)}。施策案 {len(policy.measures)} 件 = "
                         f"最も細かい階層）:", markup=False, soft_wrap=True)
        for line in policy.lines():
            ui.console.print(f"  {line}", markup=False, soft_wrap=True)
    for s in inputs.skipped:
        ui.console.print(f"  {s['file']}: 読みません / not read — {s['reason']}", markup=False)
    notices = _validate_notices(args, inputs)
    for line in notices:
        ui.console.print(f"[yellow]注意 / note:[/] {escape(line)}", soft_wrap=True)
    from pipeline.ingest.discover import unread_files

    unread = unread_files(args.meeting_dir, inputs.files)
    if unread:
        ui.console.print(f"[red]読んでいないファイルが {len(unread)} 件あります / {len(unread)} file(s) not read[/]（上の注意）",
                         soft_wrap=True)
    if len(inputs.rejects) == 0:
        if unread:
            return EXIT_PROBLEMS
        if notices:
            ui.console.print("[green]取り込めない行はありません[/]（上の注意を確かめてください）/ no rows refused; "
                          "read the notes above", soft_wrap=True)
        else:
            ui.console.print("[green]問題はありません / no problems found[/]")
        return EXIT_OK
    ui.console.print(f"[red]{len(inputs.rejects)} 行に問題があります / {len(inputs.rejects)} row(s) with problems:[/]")
    for r in inputs.rejects.itertuples(index=False):
        col = f" [{r.column}]" if r.column else ""
        ui.console.print(f"  {r.file} 行/row {r.row}{col}: {r.reason}", markup=False, soft_wrap=True)
    return EXIT_PROBLEMS
