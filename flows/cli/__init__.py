"""``kyosei`` command line: one module per command group, each adding its subcommands (``_add_*``) and running
them (``cmd_*``); this module builds the parser, dispatches and turns errors into one message and an exit code.

Messages are Japanese first, then English.  Errors in the inputs print one clear message and exit 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from flows.cli import common as ui
from flows.cli.check import _add_validate, cmd_validate
from flows.cli.codebook import _add_codebook, cmd_codebook
from flows.cli.common import (
    EXIT_ERROR,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_PROBLEMS,
    Parser,
    _prefect_env,
    _quiet_tracebacks,
    default_measures,
)
from flows.cli.init import _add_init, cmd_init
from flows.cli.results import (
    _add_eval,
    _add_kwic,
    _add_review,
    _add_revise,
    cmd_eval,
    cmd_kwic,
    cmd_review_apply,
    cmd_revise,
)
from flows.cli.run import (
    _add_demo,
    _add_pending,
    _add_run,
    _add_serve,
    cmd_demo,
    cmd_run,
    cmd_run_pending,
    cmd_serve,
)
from flows.outfolder import restore_interrupted
from flows.terminal import EXIT_INTERRUPTED, INTERRUPTED, private_stderr
from pipeline.errors import KyoseiError

__all__ = ["EXIT_ERROR", "EXIT_INTERNAL", "EXIT_OK", "EXIT_PROBLEMS", "default_measures", "main"]

def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="kyosei",
        description="ワークショップのカード・投票・意見を分析します / analyse workshop cards, votes and comments",
    )
    sub = p.add_subparsers(dest="command", required=True, title="コマンド (commands)", metavar="COMMAND")
    for add in (_add_init, _add_run, _add_demo, _add_pending, _add_serve, _add_validate, _add_codebook, _add_kwic, _add_review,
                _add_revise,
                _add_eval, _add_warm):
        add(sub)
    return p


def _console_encoding() -> None:
    """A Windows console in CP932 (Shift_JIS) cannot show every character kyosei prints (〜, —, ≥, a comment's
    emoji): such a character becomes 「?」 instead of stopping the program."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
        if encoding and encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _no_retries_to_a_stopped_server() -> None:
    """The run's temporary Prefect server got the Ctrl-C too (the terminal signals the whole process group): Prefect's
    client would retry reporting the crashed run to it with growing waits (70 s measured) before kyosei could say
    anything.  After a Ctrl-C nothing is worth those retries, so the client's retries are set to none (Prefect reads
    the setting at each request)."""
    settings = sys.modules.get("prefect.settings")
    if settings is None:
        return
    with contextlib.suppress(Exception):               # another Prefect version: it only waits longer
        settings.get_current_settings().client.max_retries = 0


class _Interrupt:
    """Ctrl-C: whatever was running when it came (Prefect's server stopping, a client call failing because the
    server got the signal too), the terminal gets one line and the exit code is 130."""

    def __init__(self) -> None:
        self.seen = False

    def __call__(self, signum: int, frame: object) -> None:
        if not self.seen:
            self.seen = True
            logging.disable(logging.CRITICAL)          # no Prefect ERROR lines about the crashed run
            _no_retries_to_a_stopped_server()
        raise KeyboardInterrupt

    def finish(self) -> int:
        ui.err_console.print(INTERRUPTED, markup=False, soft_wrap=True, highlight=False)
        # nothing after that line: shutdown messages of other threads and of the temporary server go nowhere
        sys.stdout.flush()
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        return EXIT_INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    interrupt = _Interrupt()
    previous = signal.signal(signal.SIGINT, interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        args = _parser().parse_args(argv)
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        _console_encoding()
        for root in _out_roots(args):
            for line in restore_interrupted(root):
                ui.err_console.print(line, markup=False, soft_wrap=True)
        commands = {"run": cmd_run, "demo": cmd_demo, "revise": cmd_revise, "validate": cmd_validate, "init": cmd_init, "codebook": cmd_codebook, "kwic": cmd_kwic, "eval": cmd_eval,
                    "review": cmd_review_apply, "run-pending": cmd_run_pending, "serve": cmd_serve,
                    "warm": cmd_warm}
        return commands[args.command](args)
    except KeyboardInterrupt:
        return interrupt.finish()
    except KyoseiError as err:
        if interrupt.seen:
            return interrupt.finish()
        ui.err_console.print("[red]エラー / Error[/]")
        ui.err_console.print(str(err), markup=False, soft_wrap=True)
        return EXIT_ERROR
    except Exception as err:
        if interrupt.seen:
            return interrupt.finish()
        if os.environ.get("KYOSEI_DEBUG"):
            raise
        ui.err_console.print("[red]内部エラー / internal error[/]")
        ui.err_console.print(f"{type(err).__name__}: {err}", markup=False)
        ui.err_console.print("出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）。"
                          "KYOSEI_DEBUG=1 をつけて再実行すると詳細が出ます。/ The output folder holds either the previous "
                          "or the finished new results; rerun with KYOSEI_DEBUG=1 for the traceback.", markup=False)
        return EXIT_INTERNAL
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _out_roots(args: argparse.Namespace) -> list[Path]:
    """The output roots a command touches (its ``--out-root``, the folder holding its ``out_dir``): what a killed
    run left there is set right before anything else (:func:`flows.meeting.restore_interrupted`)."""
    roots = [Path(args.out_root)] if getattr(args, "out_root", None) else []
    if getattr(args, "out_dir", None):
        roots.append(Path(args.out_dir).parent)
    return roots


def _add_warm(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("warm", help="ライブラリを読み込んだプロセスを待機させ、この後の kyosei run / demo を早く始めます"
                                "（Ctrl-C で終了）(keep a warm process so that later runs start sooner)")


def cmd_warm(args: argparse.Namespace) -> int:
    """Load everything a run needs, analyse the first sample meeting once (no Prefect, no output kept), then hand
    each ``kyosei run``/``demo`` started meanwhile to a forked copy (see flows/warm.py)."""
    import time

    from flows import warm

    if not warm.supported():
        ui.err_console.print("この環境では使えません（fork と Unix ソケットが必要です）/ not available here: needs fork and "
                          "Unix sockets (Linux, macOS)", markup=False, soft_wrap=True)
        return EXIT_ERROR
    t0 = time.perf_counter()
    server = warm.WarmServer(warm.socket_path(), _run_forked,
                             log=lambda s: ui.console.print(f"  {s}", markup=False, highlight=False, soft_wrap=True))
    try:
        server.check_free()
    except OSError as err:
        ui.err_console.print(f"待機できません / cannot wait: {err}", markup=False, soft_wrap=True)
        return EXIT_ERROR
    _prefect_env(False)
    import flows.meeting  # noqa: F401 (Prefect and the pipeline, loaded once)

    _quiet_tracebacks()
    _warm_up()
    if threading.active_count() != 1:
        ui.err_console.print(f"スレッドが動いているため待機できません / cannot wait: {threading.active_count()} threads "
                          "are running (a copy of this process would not be safe)", markup=False, soft_wrap=True)
        return EXIT_INTERNAL
    try:
        server.bind()
    except OSError as err:
        ui.err_console.print(f"待機できません / cannot wait: {err}", markup=False, soft_wrap=True)
        return EXIT_ERROR
    ui.console.print(f"準備できました（{time.perf_counter() - t0:.1f} 秒）。この後の kyosei run / demo はこのプロセスで動きます。"
                  f"Ctrl-C で終了します。/ ready: kyosei run and demo now start from this process; Ctrl-C stops it.\n"
                  f"  {server.path}", markup=False, highlight=False, soft_wrap=True)
    try:
        while True:
            server.serve_one()
    except KeyboardInterrupt:
        server.close()
        if server.children:
            ui.console.print(f"実行中の {len(server.children)} 件の終了を待ちます / waiting for the runs in progress",
                          markup=False, highlight=False)
            server.wait_children()
        ui.console.print("終了しました / stopped", highlight=False)
    finally:
        server.close()
    return EXIT_OK


def _warm_up() -> None:
    """One analysis of the first sample meeting, written to a temporary folder and removed: every lazy import,
    the dictionary, matplotlib's fonts and the report templates are loaded before the first real run."""
    import tempfile

    from flows.cli.run import sample_meetings
    from flows.meeting import StageClock, load, resolve, write
    from pipeline.run.analysis import analyse
    from pipeline.run.manifest import RunInfo
    from pipeline.run.settings import Settings

    samples = sample_meetings(None)
    meetings = sorted(p for p in samples.iterdir() if p.is_dir()) if samples is not None else []
    if not meetings:
        return
    with tempfile.TemporaryDirectory(prefix="kyosei-warm-") as tmp:
        config = resolve(meetings[0], Settings(out_root=Path(tmp), decisions=None))
        clock = StageClock(publish=False)
        try:
            inputs, loaded, history = load(config)
            write(analyse(inputs, loaded, history=history), RunInfo(config, "", clock.timings))
        except Exception as err:
            logging.getLogger(__name__).warning("warm-up analysis failed: %s", err)


def _run_forked(argv: list[str]) -> int:
    """A command in a copy of the warm process: as flows.entry would run it in a fresh one."""
    from flows import warm

    private_stderr()
    warm.repoint_logging()
    ui.console = Console(highlight=False)
    ui.err_console = Console(stderr=True, highlight=False)
    return main(argv)
