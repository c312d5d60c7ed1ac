"""``kyosei`` command line: ``run`` and ``validate`` (more verbs arrive with their issues).

Messages are Japanese first, then English.  Errors in the inputs print one clear message and
exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.errors import KyoseiError

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def default_measures(meeting_dir: Path) -> Path:
    """The policy table used when ``--measures`` is not given.

    Looked for beside the meeting, then two levels up (``data/meetings/<id>`` → ``data/``), then
    ``data/measures.csv`` under the current folder.
    """
    for cand in (meeting_dir / "measures.csv", meeting_dir.parent.parent / "measures.csv",
                 Path("data") / "measures.csv"):
        if cand.is_file():
            return cand
    return Path("data") / "measures.csv"


def _optional(path: Path | None, what: str) -> Path | None:
    if path is None:
        return None
    if not path.is_file():
        err_console.print(f"[yellow]注意: {what} {path} がないため使いません / {what} {path} not found, not used[/]")
        return None
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kyosei",
        description="ワークショップのカード・投票・意見を分析します / analyse workshop cards, votes and comments",
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="会議を分析してレポートを書きます / analyse a meeting and write the report")
    run.add_argument("meeting_dir", type=Path, help="会議フォルダ (meeting.yaml, cards, feedback, votes)")
    run.add_argument("--measures", type=Path, help="施策一覧 CSV/XLSX（既定: data/measures.csv）")
    run.add_argument("--out-root", type=Path, default=Path("outputs"), help="出力先（既定: outputs/）")
    run.add_argument("--lexicon", type=Path, default=Path("models/lexicon.yaml"), help="ユーザー辞書 YAML")
    run.add_argument("--stopwords", type=Path, default=Path("models/stopwords.txt"), help="ストップワード")
    run.add_argument("--quiet", action="store_true", help="進行状況を表示しません（定期実行向け）")

    val = sub.add_parser("validate", help="入力を検査し、問題をすべて表示します（何も書きません）")
    val.add_argument("meeting_dir", type=Path)
    val.add_argument("--measures", type=Path)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.ingest import load_meeting

    measures = args.measures or default_measures(args.meeting_dir)
    inputs = load_meeting(args.meeting_dir, measures)
    table = Table(title=f"会議 {inputs.meeting_id} の入力 / inputs")
    for col in ("ファイル file", "行 rows in", "取込 ok", "除外 rejected"):
        table.add_column(col)
    for c in inputs.counts:
        table.add_row(str(c["file"]), str(c["rows_in"]), str(c["rows_ok"]), str(c["rows_rejected"]))
    console.print(table)
    if len(inputs.rejects) == 0:
        console.print("[green]問題はありません / no problems found[/]")
        return EXIT_OK
    console.print(f"[red]{len(inputs.rejects)} 行に問題があります / {len(inputs.rejects)} row(s) with problems:[/]")
    for r in inputs.rejects.itertuples(index=False):
        col = f" [{r.column}]" if r.column else ""
        console.print(f"  {r.file} 行/row {r.row}{col}: {r.reason}", markup=False)
    return EXIT_PROBLEMS


def cmd_run(args: argparse.Namespace) -> int:
    # No network at run time: Prefect's ephemeral server must not try to send telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if args.quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.meeting import meeting_flow
    from pipeline.ingest import load_meeting

    measures = args.measures or default_measures(args.meeting_dir)
    # Fail on unusable input before Prefect starts: one clear message, no flow-run traceback.
    load_meeting(args.meeting_dir, measures)
    if not args.quiet:
        console.print(f"分析中 / analysing: {args.meeting_dir}（施策一覧 / measures: {measures}）")
    out = meeting_flow(
        meeting_dir=args.meeting_dir,
        measures=measures,
        out_root=args.out_root,
        lexicon=_optional(args.lexicon, "ユーザー辞書 / lexicon"),
        stopwords=_optional(args.stopwords, "ストップワード / stop words"),
    )
    console.print(f"[green]完了 / done:[/] {Path(out) / 'report.html'}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "validate":
            return cmd_validate(args)
        return cmd_run(args)
    except KyoseiError as err:
        err_console.print("[red]エラー / Error[/]")
        err_console.print(str(err), markup=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err_console.print("中断しました / interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
