"""Beyond one machine, tested on Dask: ``kyosei run --task-runner dask`` (a 2-worker LocalCluster the run starts) and
``--task-runner dask=ADDRESS`` (a cluster already running) send the item batches to the cluster's workers — each
worker reports the tasks it computed (``tests/dask_evidence.py``, a worker preload) — and give outputs byte-identical
to the serial run."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.corpus import generate
from flows.cli import EXIT_OK, main
from tests import dask_evidence
from tests.conftest import MEASURES

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]

ITEMS, CHUNK = 1000, 400
BATCHES = math.ceil(ITEMS / CHUNK)  # 400 + 400 + 200 items


@pytest.fixture(scope="module")
def meeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(ITEMS, tmp_path_factory.mktemp("dask") / "meeting")


@pytest.fixture(scope="module")
def serial(meeting: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serial")
    assert main(["run", str(meeting), "--measures", str(MEASURES), "--out-root", str(out)]) == EXIT_OK
    return output_folder(out)


@pytest.fixture()
def evidence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Workers started inside this fixture load the evidence preload and write into the folder it yields."""
    import dask

    folder = tmp_path / "evidence"
    folder.mkdir()
    monkeypatch.setenv(dask_evidence.ENV, str(folder))
    with dask.config.set({"distributed.worker.preload": [dask_evidence.__file__]}):
        yield folder


def run_on(runner: str, meeting: Path, out: Path) -> Path:
    assert main(["run", str(meeting), "--measures", str(MEASURES), "--out-root", str(out),
                 "--task-runner", runner, "--chunk-size", str(CHUNK)]) == EXIT_OK
    return output_folder(out)


def output_folder(out_root: Path) -> Path:
    (folder,) = (p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return folder


def assert_batches_ran_on_workers(folder: Path) -> None:
    computed = dask_evidence.computed(folder)
    assert computed, "no Dask worker computed anything"
    assert os.getpid() not in computed
    batches = [key for keys in computed.values() for key in keys if key.startswith("batch_task-")]
    assert len(batches) == BATCHES and len(set(batches)) == BATCHES, computed


def assert_same_outputs(serial: Path, other: Path) -> None:
    names = sorted(p.name for p in serial.iterdir())
    assert names == sorted(p.name for p in other.iterdir())
    assert len(names) > 20
    for name in names:
        if name != "manifest.json":
            assert (serial / name).read_bytes() == (other / name).read_bytes(), name


def test_task_runner_dask_sends_the_batches_to_a_local_cluster(meeting: Path, serial: Path, evidence: Path,
                                                                 tmp_path: Path) -> None:
    out = run_on("dask", meeting, tmp_path / "dask")
    assert_batches_ran_on_workers(evidence)
    assert_same_outputs(serial, out)


def test_task_runner_dask_address_uses_a_running_cluster(meeting: Path, serial: Path, evidence: Path,
                                                          tmp_path: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        out = run_on(f"dask={cluster.scheduler_address}", meeting, tmp_path / "address")
        workers = set(cluster.scheduler_info["workers"])
    assert_batches_ran_on_workers(evidence)
    assert len(workers) == 2
    assert_same_outputs(serial, out)


