"""A Dask worker preload for the tests (never used by kyosei itself): every worker that loads it writes the key of
each task it computed to ``$KYOSEI_DASK_EVIDENCE/<worker pid>.txt``, one line per task — evidence from the workers'
side that a run's batches were computed on the cluster and not in the process that started the run.

Loaded by a worker when ``distributed.worker.preload`` names this file (dask's config, handed by a nanny to the worker
process it starts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

ENV = "KYOSEI_DASK_EVIDENCE"


class TaskEvidence(WorkerPlugin):
    """Appends ``<key>`` to the worker's file each time one of its tasks finishes computing."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / f"{os.getpid()}.txt"

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if start == "executing" and finish == "memory":
            with self.file.open("a", encoding="utf-8") as f:
                f.write(f"{key}\n")


async def dask_setup(worker: Any) -> None:
    folder = os.environ.get(ENV)
    if folder:
        await worker.plugin_add(TaskEvidence(Path(folder)), name="kyosei-test-evidence")


def computed(folder: Path) -> dict[int, list[str]]:
    """Worker pid → the keys of the tasks it computed."""
    return {int(p.stem): p.read_text(encoding="utf-8").split() for p in sorted(folder.glob("*.txt"))}
