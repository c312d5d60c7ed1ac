"""Shared fixtures: repository paths, one tokeniser per session, one Prefect harness per session."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeline.text.tokenise import Tokeniser, load_lexicon, load_stopwords

os.environ["KYOSEI_NO_WARM"] = "1"
"""No test's ``kyosei`` subprocess is handed to a developer's running ``kyosei warm`` (test_warm starts its own)."""

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
MODELS = ROOT / "pipeline" / "resources"
MEASURES = DATA / "measures.csv"
MEETING_1 = DATA / "meetings" / "2024-05-08"
MEETING_2 = DATA / "meetings" / "2024-05-22"
LOCAL_CODEBOOK = DATA / "codebook.local.yaml"
"""The sample city's layer over the field's codebook (its programme names, pillars and measure ids)."""


@pytest.fixture(scope="session")
def tokeniser() -> Tokeniser:
    """The sample city's tokeniser: the shipped lexicon plus the terms its codebook layer adds."""
    from pipeline.text.tokenise import extend_lexicon
    from pipeline.themes.load import load_codebook

    book = load_codebook(MODELS / "codebook.yaml", layers=[LOCAL_CODEBOOK])
    return Tokeniser(lexicon=extend_lexicon(load_lexicon(MODELS / "lexicon.yaml"), book.terms, book.synonyms))


@pytest.fixture(scope="session")
def stopwords() -> frozenset[str]:
    return load_stopwords(MODELS / "stopwords.txt")


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server/database for every flow test of the session."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture(scope="session")
def meeting2_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2024-05-22 sample meeting run once through the flow (fresh out-root, no decisions)."""
    from flows.meeting import meeting_flow

    out = tmp_path_factory.mktemp("out")
    return Path(meeting_flow(meeting_dir=MEETING_2, settings=sample_settings(out)))


def sample_settings(out_root: Path, **changes: object):  # -> pipeline.run.settings.Settings
    """The settings of a test run: the sample policy table, the shipped models, no decision log."""
    from pipeline.run.settings import Settings

    return Settings(**{"measures": MEASURES, "out_root": out_root, "decisions": None, **changes})


@pytest.fixture(scope="session")
def meeting2_result():  # -> pipeline.run.analysis.MeetingResult
    """The 2024-05-22 sample meeting analysed once without Prefect (shipped models, rules only)."""
    from pipeline.ingest import load_meeting
    from pipeline.run.analysis import analyse
    from tests.factories import shipped_models

    return analyse(load_meeting(MEETING_2, MEASURES), shipped_models())


@pytest.fixture
def no_prefect_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect's console handler keeps the stream pytest swaps per test; logging to it after the swap
    prints a 'Logging error' traceback that is the harness's, not kyosei's.  Runs here are checked
    through the CLI's own output, so Prefect's console handler is switched off."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    for logger in [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                          if isinstance(lg, logging.Logger))]:
        for h in list(logger.handlers):
            if isinstance(h, PrefectConsoleHandler):
                monkeypatch.setattr(h, "emit", lambda record: None)


RUN_FIXTURES = {"prefect_harness": "integration", "meeting2_run": "integration", "warm_process": "slow"}
"""A test that runs the flow is an integration test, one that starts a warm process a slow one: marked from the
fixtures it uses, so ``make test-fast`` never runs them by accident."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, mark in RUN_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, mark))


EXPECTED_SKIPS = ("is not beside this checkout", "symbolic links", "fork and Unix sockets only")
"""Skips that say nothing is missing on a CI machine: the contract checker lives beside the team's checkout only,
two tests need Unix or not Windows."""


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under ``CI=true`` (``.ci/run``) a skip other than :data:`EXPECTED_SKIPS` — a browser, LibreOffice or a font
    that could not be installed — fails the run, naming what was skipped and why (locally such tests may skip)."""
    if os.environ.get("CI") != "true" or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    unexpected = [f"{r.nodeid}: {r.longrepr[-1] if isinstance(r.longrepr, tuple) else r.longrepr}"
                  for r in skipped if not any(e in str(r.longrepr) for e in EXPECTED_SKIPS)]
    if unexpected:
        if reporter is not None:
            reporter.write_line(f"CI=true: {len(unexpected)} test(s) skipped that must run on CI (install what they "
                                "need; .ci/run tries):", red=True)
            for line in unexpected:
                reporter.write_line(f"  {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class UnmarkedMachineryError(AssertionError):
    """A test outside ``integration`` started a flow, a process, a server or a browser."""


@pytest.fixture(autouse=True)
def _markers_tell_the_truth(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """``make test-fast`` runs the tests not marked ``integration`` (nor ``slow``): such a test that starts a Prefect
    flow, a subprocess, a process (fork, multiprocessing), or binds a socket (a server) fails, naming what it started —
    the markers cannot lie."""
    if request.node.get_closest_marker("integration") or request.node.get_closest_marker("slow"):
        return
    import multiprocessing.process
    import socket
    import subprocess

    def refuse(what: str) -> Callable[..., None]:
        def started(*args: object, **kwargs: object) -> None:
            raise UnmarkedMachineryError(f"{request.node.nodeid} started {what} but is not marked integration "
                                         "(mark it, or test the plain function)")
        return started

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("a subprocess"))
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse("a process"))
    monkeypatch.setattr(os, "fork", refuse("a forked process"))
    monkeypatch.setattr(socket.socket, "bind", refuse("a server (a socket bound)"))
    monkeypatch.setattr(socket.socket, "connect", refuse("a connection (a server)"))
    flows = __import__("sys").modules.get("prefect.flows")
    if flows is not None:
        monkeypatch.setattr(flows.Flow, "__call__", refuse("a Prefect flow"))
