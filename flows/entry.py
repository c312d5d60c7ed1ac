"""The ``kyosei`` command's entry point: Ctrl-C is handled from the first instant (while the libraries load,
before :func:`flows.cli.main` installs its own handler) with the same single line and exit code 130."""

from __future__ import annotations

import os
import signal
import sys

from flows.terminal import EXIT_INTERRUPTED, INTERRUPTED, private_stderr


def _while_loading(signum: int, frame: object) -> None:
    # nothing has started yet (no server, no output): say so and stop at once
    try:
        sys.stderr.write(INTERRUPTED + "\n")
        sys.stderr.flush()
    finally:
        os._exit(EXIT_INTERRUPTED)


def main() -> None:
    signal.signal(signal.SIGINT, _while_loading)
    from flows.warm import hand_over

    code = hand_over(sys.argv[1:])      # a waiting ``kyosei warm`` runs it (None: none, or not this command)
    if code is not None:
        sys.exit(code)
    private_stderr()
    from flows.cli import main as run

    sys.exit(run())
