"""The ``kyosei`` command's entry point: Ctrl-C is handled from the first instant (while the libraries load,
before :func:`flows.cli.main` installs its own handler) with the same single line and exit code 130."""

from __future__ import annotations

import os
import signal
import sys

INTERRUPTED = ("中断しました。出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）/ "
               "interrupted; the output folder holds either the previous or the finished new results, never a "
               "half-written one")
EXIT_INTERRUPTED = 130


def _while_loading(signum: int, frame: object) -> None:
    # nothing has started yet (no server, no output): say so and stop at once
    try:
        sys.stderr.write(INTERRUPTED + "\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)


def main() -> None:
    signal.signal(signal.SIGINT, _while_loading)
    from flows.cli import main as run

    sys.exit(run())
