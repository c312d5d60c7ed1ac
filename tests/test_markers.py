"""The markers tell the truth: in a test marked neither ``integration`` nor ``slow`` (what ``make test-fast`` runs),
starting a Prefect flow, a subprocess, a process or a server fails the test, naming what it started
(``tests/conftest.py: _markers_tell_the_truth``; its error is an ``AssertionError``).  These tests are such tests.
A flow is caught at the call when Prefect was imported before the test (here, at the top), else at the temporary
server's subprocess."""

from __future__ import annotations

import multiprocessing
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from flows.meeting import meeting_flow
from tests.conftest import MEETING_1, sample_settings


def test_a_unit_test_cannot_start_a_prefect_flow(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="test_a_unit_test_cannot_start_a_prefect_flow started a Prefect flow"):
        meeting_flow(meeting_dir=MEETING_1, settings=sample_settings(tmp_path))
    assert not list(tmp_path.iterdir())


def test_a_unit_test_cannot_start_a_subprocess_or_a_process() -> None:
    with pytest.raises(AssertionError, match="started a subprocess"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    with pytest.raises(AssertionError, match="started a process"):
        multiprocessing.get_context("spawn").Process(target=print).start()


def test_a_unit_test_cannot_start_a_server() -> None:
    with socket.socket() as s, pytest.raises(AssertionError, match="a server"):
        s.bind(("127.0.0.1", 0))


@pytest.mark.integration
def test_an_integration_test_may() -> None:
    done = subprocess.run([sys.executable, "-c", "print('ok')"], capture_output=True, text=True, check=True)
    assert done.stdout == "ok\n"
