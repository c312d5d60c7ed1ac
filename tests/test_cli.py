"""Command line: validate prints every problem and writes nothing; errors are one clear message."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, default_measures, main
from tests.conftest import MEASURES, MEETING_2


def test_validate_clean_meeting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(MEETING_2), "--measures", str(MEASURES)]) == EXIT_OK
    assert "問題はありません" in capsys.readouterr().out


def test_validate_lists_every_problem_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "m"
    shutil.copytree(MEETING_2, m)
    with (m / "votes.csv").open("a", encoding="utf-8") as f:
        f.write("C99,1,1,P01,A\nC01,1,-2,P02,A\n")
    before = sorted(p.name for p in m.iterdir())
    assert main(["validate", str(m), "--measures", str(MEASURES)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "votes.csv 行/row 74 [card_id]" in out and "C99" in out
    assert "votes.csv 行/row 75 [blocks]" in out
    assert sorted(p.name for p in m.iterdir()) == before


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness", "no_prefect_console")
def test_missing_column_is_one_message_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "m"
    m.mkdir()
    (m / "feedback.csv").write_text("ID,種別\nF1,感想\n", encoding="utf-8")
    assert main(["run", str(m), "--measures", str(MEASURES), "--out-root", str(tmp_path / "out")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "feedback.csv" in err and "text" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_default_measures_found_two_levels_up() -> None:
    assert default_measures(MEETING_2).resolve() == MEASURES.resolve()


@pytest.mark.slow
@pytest.mark.integration
def test_failure_inside_the_flow_prints_no_traceback(tmp_path: Path) -> None:
    """A real terminal run (subprocess, Prefect's own logging) whose flow fails on a broken decision log."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "decisions.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
    res = subprocess.run([str(Path(sys.executable).parent / "kyosei"), "run", str(MEETING_2), "--measures",
                          str(MEASURES), "--out-root", str(tmp_path / "out"), "--decisions", str(bad)],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 2
    assert "missing columns" in res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert not (tmp_path / "out" / "2024-05-22").exists()
