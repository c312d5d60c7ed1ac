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


def _private_stderr() -> None:
    """Python's stderr moves to a copy of the terminal's descriptor, and descriptor 2 points at the null device.
    The temporary Prefect server that a run starts inherits descriptor 2: a Ctrl-C reaches it too (the terminal
    signals the whole process group), and whatever it prints then ("Aborted!") would come before kyosei's one
    line.  kyosei's own messages, logging and tracebacks go through ``sys.stderr`` and are unchanged."""
    try:
        copy = os.dup(2)
        stream = open(copy, "w", encoding=sys.stderr.encoding or "utf-8",  # noqa: SIM115 (lives as sys.stderr)
                      errors=sys.stderr.errors or "backslashreplace", buffering=1)
        null = os.open(os.devnull, os.O_WRONLY)
    except (OSError, AttributeError, ValueError):
        return
    sys.stderr.flush()
    sys.stderr = stream          # first, so a Ctrl-C in between still reaches the terminal
    os.dup2(null, 2)
    os.close(null)


def main() -> None:
    signal.signal(signal.SIGINT, _while_loading)
    from flows.warm import hand_over

    code = hand_over(sys.argv[1:])      # a waiting ``kyosei warm`` runs it (None: none, or not this command)
    if code is not None:
        sys.exit(code)
    _private_stderr()
    from flows.cli import main as run

    sys.exit(run())
