"""``kyosei run``, ``demo``, ``run-pending`` and ``serve``: analysing meetings (wiring to :mod:`flows.meeting`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.cli import common as ui
from flows.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PROBLEMS,
    Parser,
    _prefect_env,
    _progress,
    _quiet_tracebacks,
    absolute,
    add_settings,
    default_measures,
    settings_from_args,
)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="見本の会議（data/meetings）をすべて分析します (analyse the sample meetings)")
    demo.add_argument("--meetings", type=Path, default=None,
                      help="会議フォルダの親。既定: 実行したフォルダの data/meetings、なければ kyosei のフォルダの "
                           "data/meetings (the sample meetings' folder)")
    demo.add_argument("--out-root", type=Path, default=Path("outputs"),
                      help="出力先（既定: 実行したフォルダの outputs）(output folder)")


def sample_meetings(given: Path | None) -> Path | None:
    """The sample meetings: ``given``, else ``./data/meetings``, else those of the kyosei folder this program was
    installed from (an editable install, the offline bundle's ``kyosei/``); None when there are none."""
    if given is not None:
        return given if given.is_dir() else None
    for folder in (Path("data/meetings"), Path(__file__).resolve().parents[2] / "data" / "meetings"):
        if folder.is_dir():
            return folder
    return None


def cmd_demo(args: argparse.Namespace) -> int:
    """Every meeting folder under ``--meetings`` through ``kyosei run --quiet`` (what ``make demo`` does, for a
    machine without make), then where the reports are."""
    meetings_dir = sample_meetings(args.meetings)
    if meetings_dir is None:
        ui.err_console.print(f"{args.meetings or 'data/meetings'}: 見本の会議フォルダがありません。見本は kyosei のリポジトリ"
                             "（オフライン用のフォルダでは kyosei/）の data/meetings にあります。そのフォルダで実行するか "
                             "--meetings で指定してください / sample meetings not found: they are in data/meetings of the "
                             "kyosei repository (kyosei/ in the offline bundle); run there or give --meetings",
                             markup=False, soft_wrap=True)
        return EXIT_ERROR
    from pipeline.run.outputs import REPORT_DOCX, REPORT_HTML

    meetings = sorted(p for p in meetings_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for m in meetings:
        ui.console.print(f"分析中 / analysing: {m}", markup=False, highlight=False, soft_wrap=True)
        code = cmd_run(_run_parser().parse_args(["run", str(m), "--quiet", "--out-root", str(args.out_root)]))
        if code != EXIT_OK:
            return code
    ui.console.print("レポート / reports:", highlight=False)
    for m in meetings:
        folder = args.out_root / m.name
        ui.console.print(f"  {folder / REPORT_HTML.file}  ({folder / REPORT_DOCX.file})", markup=False, highlight=False,
                      soft_wrap=True)
    return EXIT_OK


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="会議を分析してレポートを書きます (analyse a meeting and write the report)")
    run.add_argument("meeting_dir", type=Path,
                     help="会議フォルダ。meeting.yaml, cards, feedback, votes など (the meeting's folder)")
    add_settings(run)
    run.add_argument("--quiet", action="store_true", help="エラーのほかは何も表示しません（定期実行向け）(errors only)")
    run.add_argument("--verbose", action="store_true",
                     help="Prefect のタスクごとの記録も表示します (Prefect's own lines too)")


def cmd_run(args: argparse.Namespace) -> int:
    _prefect_env(args.verbose and not args.quiet)
    from flows.meeting import run_meeting

    _quiet_tracebacks()
    settings = settings_from_args(args)
    measures = settings.measures or default_measures(args.meeting_dir)
    if not args.quiet:
        ui.console.print(f"分析中 / analysing: {args.meeting_dir}（施策一覧 / measures: {measures}）", markup=False,
                      highlight=False, soft_wrap=True)
    # The flow reads and checks the inputs (once) and takes the meeting's lock; an input problem comes back
    # as one message (see main).
    with _progress(not args.quiet):
        out = run_meeting(args.meeting_dir, settings)
    from pipeline.report.notices import mostly_refused
    from pipeline.run.outputs import MANIFEST, REPORT_DOCX, REPORT_HTML, WORKBOOK

    partial = mostly_refused(MANIFEST.load(Path(out))["rows"]["files"])
    if not args.quiet:
        done = "[yellow]書き出しました（一部だけの結果） / written (partial result):[/]" if partial else "[green]完了 / done:[/]"
        ui.console.print(f"\n{done} {Path(out) / REPORT_HTML.file}", highlight=False, soft_wrap=True)
        ui.console.print(f"  Word: {Path(out) / REPORT_DOCX.file}　Excel: {Path(out) / WORKBOOK.file}", markup=False,
                      highlight=False, soft_wrap=True)
    for line in partial:
        ui.err_console.print(f"注意 / warning: {line}", markup=False, soft_wrap=True)
    if partial:
        return EXIT_PROBLEMS
    return EXIT_OK


def _add_pending(sub: argparse._SubParsersAction) -> None:
    pend = sub.add_parser("run-pending", help="入力か設定が変わった会議だけを日付順に分析します "
                                              "(run the meetings whose inputs or settings changed)")
    pend.add_argument("data_root", type=Path, help="会議フォルダを含むデータフォルダ（例: data）(the data folder)")
    add_settings(pend)
    pend.add_argument("--quiet", action="store_true", help="エラーのほかは何も表示しません (errors only)")


def cmd_run_pending(args: argparse.Namespace) -> int:
    _prefect_env(not args.quiet)
    from flows.pending import PendingRunsFailed, run_pending_flow

    _quiet_tracebacks()

    if not args.data_root.is_dir():
        ui.err_console.print(f"{args.data_root}: データフォルダが見つかりません / data folder not found", markup=False)
        return EXIT_ERROR
    try:
        result = run_pending_flow(data_root=args.data_root, settings=settings_from_args(args))
    except PendingRunsFailed as err:
        summary = err.summary
        for mid, message in summary.failed.items():
            ui.err_console.print(f"失敗 / failed: {mid}: {message}", markup=False, soft_wrap=True)
        ui.console.print(f"実行 / ran: {summary.ran or 'なし'}　変更なし / unchanged: {summary.skipped or 'なし'}")
        return EXIT_PROBLEMS
    ui.console.print(f"実行 / ran: {result['ran'] or 'なし / none'}　変更なし / unchanged: {result['skipped'] or 'なし / none'}")
    return EXIT_OK


def _add_serve(sub: argparse._SubParsersAction) -> None:
    srv = sub.add_parser("serve", help="run-pending を定期実行する Prefect デプロイメントを起動します（要 Prefect サーバー）"
                                       "(serve run-pending on a schedule; needs a Prefect server)")
    srv.add_argument("--cron", default="0 18 * * *",
                     help="実行スケジュール（cron 形式、既定: 毎日18時）(schedule, cron syntax)")
    srv.add_argument("--data-root", type=Path, default=Path("data"),
                     help="会議フォルダを含むデータフォルダ（既定: data）(the data folder)")
    add_settings(srv)
    srv.add_argument("--name", default="kyosei-run-pending", help="デプロイメント名 (deployment name)")
    srv.add_argument("--timezone", default="Asia/Tokyo", help="スケジュールの時間帯（既定: Asia/Tokyo）(time zone)")


def cmd_serve(args: argparse.Namespace) -> int:
    _prefect_env(True)
    from prefect.settings import PREFECT_API_URL

    from flows.pending import run_pending_flow

    if not PREFECT_API_URL.value():
        ui.err_console.print(
            "Prefect サーバーが必要です。別の端末で `prefect server start --host 127.0.0.1` を起動し、"
            "PREFECT_API_URL=http://127.0.0.1:4200/api を設定してください。\n"
            "A Prefect server is needed: start `prefect server start --host 127.0.0.1` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api.", markup=False)
        return EXIT_ERROR
    ui.console.print(f"デプロイメント {args.name} を cron「{args.cron}」（{args.timezone}）で待ち受けます。Ctrl+C で終了。")
    from prefect.schedules import Cron

    run_pending_flow.serve(
        name=args.name,
        schedule=Cron(args.cron, timezone=args.timezone),
        parameters={"data_root": str(args.data_root.resolve()), "settings": absolute(settings_from_args(args))},
        description="kyosei: analyse meetings whose inputs changed (run-pending)",
        print_starting_message=False,
    )
    return EXIT_OK




def _run_parser() -> argparse.ArgumentParser:
    """A parser of ``run`` alone (``kyosei demo`` runs each sample meeting as ``kyosei run --quiet`` would)."""
    parser = Parser(prog="kyosei")
    _add_run(parser.add_subparsers(dest="command", required=True))
    return parser
