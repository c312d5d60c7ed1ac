"""The terminal a command runs in: the one line and exit code of a Ctrl-C, and kyosei's own copy of stderr (shared
by the entry point, which handles Ctrl-C while the libraries load, and the command line)."""

from __future__ import annotations

import os
import sys

INTERRUPTED = ("中断しました。出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）/ "
               "interrupted; the output folder holds either the previous or the finished new results, never a "
               "half-written one")
EXIT_INTERRUPTED = 130


def private_stderr() -> None:
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
