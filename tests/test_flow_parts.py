"""The flow's plain parts, without running a flow: artifact keys, the stage clock, the task runner named on the
command line, which meeting folders a data root holds (unit tests; ``make test-fast`` runs them)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.cli import EXIT_ERROR, main
from flows.meeting import artifact_key
from pipeline.ingest import discover_meetings as discover
from tests.conftest import DATA, MEASURES, MEETING_1


@pytest.fixture()
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA / "meetings", root / "meetings")
    return root


def test_artifact_keys_are_safe_for_prefect_and_unique() -> None:
    assert artifact_key("2024-05-22") == "2024-05-22"                # unchanged for ids that are keys already
    keys = {artifact_key(m) for m in ("第3回連携会議（7月）", "第3回 連携会議 (7月)", "第4回連携会議（7月）")}
    assert len(keys) == 3
    assert all(k and set(k) <= set("abcdefghijklmnopqrstuvwxyz0123456789-") for k in keys)


def test_stage_clock_reports_every_stage(caplog: pytest.LogCaptureFixture) -> None:
    from flows.meeting import STAGE_LABELS, StageClock

    clock = StageClock(publish=False)
    with caplog.at_level("INFO", logger="kyosei.progress"):
        for stage in STAGE_LABELS:
            clock.done(stage)
    assert [r.getMessage() for r in caplog.records] == [f"{n}/7 {label}" for n, label in
                                                        enumerate(STAGE_LABELS.values(), start=1)]
    assert list(clock.timings) == list(STAGE_LABELS)


def test_unknown_task_runner_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(MEETING_1), "--measures", str(MEASURES), "--out-root", str(tmp_path),
                 "--task-runner", "ray"])
    assert code == EXIT_ERROR and "--task-runner" in capsys.readouterr().err


def test_links_out_of_the_data_root_are_not_followed(data_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(DATA / "meetings" / "2024-05-08", outside)
    (data_root / "meetings" / "linked").symlink_to(outside, target_is_directory=True)
    assert [d.name for d in discover(data_root)] == ["2024-05-08", "2024-05-22"]
