"""Beyond one machine: the chunked stages through prefect-dask's DaskTaskRunner (a 2-worker LocalCluster)
give byte-identical outputs to the serial run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.corpus import generate
from flows.meeting import meeting_flow
from tests.conftest import MEASURES, sample_settings

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


def test_dask_run_matches_the_serial_run(tmp_path: Path) -> None:
    from prefect_dask import DaskTaskRunner

    meeting = generate(2000, tmp_path / "meeting")
    serial = Path(meeting_flow(meeting_dir=meeting, settings=sample_settings(tmp_path / "serial")))
    runner = DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True,
                                            "host": "127.0.0.1", "dashboard_address": None})
    dask = Path(meeting_flow.with_options(task_runner=runner)(
        meeting_dir=meeting, settings=sample_settings(tmp_path / "dask", task_runner="dask", chunk_size=400)))
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in dask.iterdir())
    assert len(names) > 20
    for name in names:
        if name != "manifest.json":
            assert (serial / name).read_bytes() == (dask / name).read_bytes(), name


def test_unknown_task_runner_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import EXIT_ERROR, main
    from tests.conftest import MEETING_1

    code = main(["run", str(MEETING_1), "--measures", str(MEASURES), "--out-root", str(tmp_path),
                 "--task-runner", "ray"])
    assert code == EXIT_ERROR and "--task-runner" in capsys.readouterr().err
