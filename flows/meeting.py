"""Prefect flow for one meeting: wiring only.

    load (inputs, models, history)  ──▶  pipeline.run.analysis.analyse  ──▶  write into a temporary folder,
    swap it in  ──▶  Prefect artifacts

The analysis and every output live in :mod:`pipeline`; this module adds the tasks (retries on I/O only),
the run lock, the atomic folder swap, progress reporting and the artifacts.  With a Dask task runner the
analysis' batches go to the workers through ``map``; everything else is the same code path.
"""

# No "from __future__ import annotations" here: Prefect builds the flow\'s parameter model from these
# annotations in the process a deployment runs in, where a string "Settings" cannot be resolved.
import json
import logging
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NONE as NO_CACHE

from flows.outfolder import run_lock, settle, swap_in
from pipeline.errors import KyoseiError
from pipeline.ingest import MeetingInputs, load_meeting, meeting_id_for, policy_for, read_meeting_meta
from pipeline.ingest.discover import find_codebook_layers
from pipeline.report.summary import run_summary
from pipeline.run import analysis, outputs
from pipeline.run.history import load_history
from pipeline.run.items import ItemBatch
from pipeline.run.manifest import RunFiles, RunInfo, build_manifest
from pipeline.run.models import Models, load_models
from pipeline.run.parallel import auto_map, side_process
from pipeline.run.result import History, MeetingResult
from pipeline.run.settings import Settings, shipped
from pipeline.run.writers import write_csv, write_outputs
from pipeline.safety import current_umask

RunConfig = RunFiles
"""What the flow reads, resolved from its settings (:func:`resolve`)."""
DEFAULTS = Settings()

STAGE_LABELS = {"ingest": "入力の読み込み", **analysis.STAGES, "report": "レポートの書き出し"}
progress_log = logging.getLogger("kyosei.progress")


def _only_io_errors(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a task only when it failed on the file system, never on bad input."""
    try:
        state.result()
    except KyoseiError:
        return False
    except OSError:
        return True
    except Exception:
        return False
    return False


class StageClock:
    """Times the stages; reports progress on the ``kyosei.progress`` logger (the CLI prints
    one line per stage) and, inside a flow run, as a Prefect progress artifact."""

    def __init__(self, *, publish: bool):
        self.timings: dict[str, float] = {}
        self.publish = publish
        self.artifact: Any = None
        self.t0 = time.perf_counter()

    def done(self, stage: str, detail: str = "", *, items: int | None = None) -> None:
        """``stage`` finished; ``detail``: what it found, one short Japanese line (``items``: the meeting's
        number of cards and comments, once known)."""
        self.timings[stage] = round(time.perf_counter() - self.t0, 3)
        n, total = list(STAGE_LABELS).index(stage) + 1, len(STAGE_LABELS)
        progress_log.info("%d/%d %s", n, total, STAGE_LABELS[stage],
                          extra={"kyosei_step": n, "kyosei_total": total, "kyosei_label": STAGE_LABELS[stage],
                                 "kyosei_items": items, "kyosei_detail": detail,
                                 "kyosei_seconds": self.timings[stage]})
        if self.publish:
            pct = round(100 * n / total, 1)
            if self.artifact is None:
                self.artifact = create_progress_artifact(pct, description="kyosei: 分析の進み具合 / progress")
            else:
                update_progress_artifact(self.artifact, pct)
        self.t0 = time.perf_counter()


def ingest_line(inputs: MeetingInputs) -> str:
    """「入力 152 行（取込 150、除外 2）、ファイル 4」 for the terminal."""
    counts = list(inputs.counts)
    total = {k: sum(int(c.get(k, 0)) for c in counts) for k in ("rows_in", "rows_ok", "rows_rejected")}
    return (f"{total['rows_in']} 行（取込 {total['rows_ok']}、除外 {total['rows_rejected']}）、"
            f"ファイル {len(counts)}")


class NothingUsableError(KyoseiError):
    """Every card and comment of the meeting was refused: there is nothing to analyse."""


def refuse_if_nothing_usable(inputs: MeetingInputs, out_root: Path) -> None:
    """A meeting with no usable card or comment stops here with the reasons, and its refused rows are written
    beside the meeting's output folder (``OUT_ROOT/<id>.`` + the refused-rows file name; the output folder itself, and an
    earlier run's outputs in it, are left as they are)."""
    if any(f is not None and len(f) for f in (inputs.cards, inputs.feedback)):
        return
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / f"{inputs.meeting_id}.{outputs.REJECTS.file}"
    write_csv(inputs.rejects, path)
    rows = sum(int(c.get("rows_in", 0)) for c in inputs.counts if c.get("kind") != "measures")
    reasons = Counter(str(r) for r in inputs.rejects["reason"]).most_common(3)
    why = "\n".join(f"  - {r}（{n} 行）" for r, n in reasons) or "  - カード・意見の表が見つかりません / no table of cards or comments found"
    raise NothingUsableError(
        f"{inputs.meeting_id}: 使えるカード・意見が1件もありません（入力 {rows} 行をすべて除外）。分析していません。\n"
        f"{inputs.meeting_id}: no usable card or comment (all {rows} input rows refused); nothing was analysed.\n"
        f"主な理由 / main reasons:\n{why}\n"
        f"除外した行の一覧 / refused rows: {path}\n"
        "対処 / Fix: kyosei validate で確かめ、表を直してから実行してください / check with kyosei validate, fix the "
        "tables and run again.")


def load(config: RunConfig) -> tuple[MeetingInputs, Models, History]:
    """Read the meeting, the models and the history (plain function; the flow wraps it in a task)."""
    inputs = load_meeting(config.meeting_dir, config.measures, split_cells=config.settings.split_cells,
                          measures_given=config.measures_given)
    refuse_if_nothing_usable(inputs, config.out_root)
    history = load_history(config.out_root, inputs.meeting_id, str(inputs.meta.get("date", "")), config.decisions,
                           series=inputs.series)
    models = load_models(codebook=config.codebook, lexicon=config.lexicon, stopwords=config.stopwords,
                         theme_labels=config.theme_labels, decisions=history.decisions,
                         codebook_layers=config.codebook_layers)
    return inputs, models, history


def write(result: MeetingResult, run: RunInfo) -> tuple[Path, str]:
    """Write every output into a temporary folder beside the final one, then swap it in; returns the
    folder and the report's Markdown."""
    out_root = run.files.out_root
    out_root.mkdir(parents=True, exist_ok=True)
    final = out_root / result.meeting_id
    tmp = Path(tempfile.mkdtemp(prefix=f".{result.meeting_id}.tmp-", dir=out_root))
    try:
        # mkdtemp makes the folder private (0700); the outputs are for colleagues on a shared drive too, so the
        # folder follows the user's umask like every file written into it
        tmp.chmod(0o777 & ~current_umask())
        markdown = write_outputs(result, tmp, build_manifest(result, run))
        swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final, markdown


@task(name="load", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=_only_io_errors)
def load_task(config: RunConfig) -> tuple[MeetingInputs, Models, History]:
    return load(config)


@task(name="item-batch", cache_policy=NO_CACHE)
def batch_task(fn: Any, batch: pd.DataFrame) -> ItemBatch:
    return fn(batch)


def task_runner_map(fn: Any, batches: Iterable[pd.DataFrame]) -> list[ItemBatch]:
    """``map`` through the flow's task runner: every batch submitted, results in input order."""
    futures = [batch_task.submit(fn, b) for b in batches]
    return [f.result() for f in futures]


@task(name="write", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1, retry_condition_fn=_only_io_errors)
def write_task(result: MeetingResult, run: RunInfo) -> tuple[Path, str]:
    return write(result, run)


def artifact_key(meeting_id: str) -> str:
    """The meeting's part of a Prefect artifact key (lowercase ASCII letters, digits, dashes): the id itself when
    it is already such a key (2024-05-22), else its ASCII letters and digits and a short hash of the whole id
    (第3回連携会議（7月） → ``3-7-`` + 8 hex digits), so two meetings never share a key."""
    import hashlib

    ascii_part = re.sub(r"[^a-z0-9]+", "-", meeting_id.lower()).strip("-")
    if ascii_part == meeting_id:
        return ascii_part
    digest = hashlib.sha256(meeting_id.encode("utf-8")).hexdigest()[:8]
    return f"{ascii_part[:40]}-{digest}".strip("-")


def publish_artifacts(result: MeetingResult, final: Path) -> None:
    """The run's summary, a link to the report and the tables :mod:`pipeline.run.outputs` marks as artifacts."""
    key = artifact_key(result.meeting_id)
    summary = "\n".join([f"# {result.title}", "", *(f"- {line}" for line in run_summary(result)), "",
                          f"レポート: {final / outputs.REPORT_HTML.file}（Word: {outputs.REPORT_DOCX.file}）"])
    create_markdown_artifact(key=f"kyosei-{key}-summary", markdown=summary,
                             description=f"kyosei: what meeting {result.meeting_id} showed (the report has the rest)")
    create_link_artifact(key=f"kyosei-{key}-report", link=(final / outputs.REPORT_HTML.file).resolve().as_uri(),
                         link_text=f"kyosei report {result.meeting_id}", description="self-contained HTML report")
    for spec, frame in outputs.tables(result):
        if spec.artifact and len(frame):
            create_table_artifact(key=f"kyosei-{key}-{spec.artifact}",
                                  table=json.loads(spec.artifact_view(frame).to_json(orient="records", force_ascii=False)),
                                  description=f"{spec.file}, meeting {result.meeting_id}")


def resolve(meeting_dir: Path, settings: Settings, data_root: Path | None = None) -> RunFiles:
    """The files a run of ``meeting_dir`` reads: the named ones, else the policy table found beside the meeting
    (:func:`pipeline.ingest.policy_for`), the shipped models (:func:`pipeline.run.settings.shipped`) and the
    ``codebook.local.yaml`` files found beside the meeting (unless ``local_codebook`` is off) before the named
    layers.  A named optional model file that does not exist is not used (the CLI warns first)."""
    from pipeline.ingest.discover import found_beside

    def optional(path: Path | None, name: str) -> Path | None:
        path = path if path is not None else shipped(name)
        return path if path.is_file() else None

    for path in settings.codebook_layers:
        if not Path(path).is_file():
            raise KyoseiError(f"{path}: コードブックの追加分が見つかりません / codebook layer not found")
    found = find_codebook_layers(meeting_dir, data_root) if settings.local_codebook else []
    layers = (*found, *(Path(p) for p in settings.codebook_layers
                        if all(Path(p).resolve() != f.resolve() for f in found)))
    measures = settings.measures if settings.measures is not None else policy_for(meeting_dir, data_root)
    return RunFiles(meeting_dir=meeting_dir, measures=measures,
                    codebook=settings.codebook if settings.codebook is not None else shipped("codebook.yaml"),
                    lexicon=optional(settings.lexicon, "lexicon.yaml"),
                    stopwords=optional(settings.stopwords, "stopwords.txt"),
                    theme_labels=optional(settings.theme_labels, "theme_labels.csv"),
                    decisions=settings.decisions, codebook_layers=layers,
                    measures_given=settings.measures is not None or found_beside(meeting_dir, measures, data_root),
                    settings=settings)


def task_runner(spec: str) -> Any:
    """``serial`` → None; ``dask`` → a 2-worker LocalCluster on 127.0.0.1; ``dask=ADDRESS`` → that cluster."""
    if spec == "serial":
        return None
    kind, _, address = spec.partition("=")
    if kind != "dask":
        raise KyoseiError(f"--task-runner「{spec}」は使えません（serial, dask, dask=ADDRESS）/ "
                          f"unknown task runner {spec!r}; use serial, dask or dask=tcp://host:8786")
    from prefect_dask import DaskTaskRunner

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True,
                                          "host": "127.0.0.1", "dashboard_address": None})


def run_meeting(meeting_dir: Path, settings: Settings = DEFAULTS, data_root: Path | None = None) -> str:
    """:func:`meeting_flow` with the task runner the settings name."""
    runner = task_runner(settings.task_runner)
    flow_ = meeting_flow if runner is None else meeting_flow.with_options(task_runner=runner)
    return flow_(meeting_dir=meeting_dir, settings=settings, data_root=data_root)


@flow(name="kyosei-meeting", log_prints=False)
def meeting_flow(meeting_dir: Path, settings: Settings = DEFAULTS, data_root: Path | None = None) -> str:
    """Analyse one meeting folder and write ``settings.out_root/<meeting_id>/``; returns that folder.

    With a task runner other than ``serial`` (:func:`run_meeting`) the analysis' item batches of
    ``settings.chunk_size`` items go to the flow's task runner; the outputs are byte-identical to the serial run."""
    config = resolve(Path(meeting_dir), settings, Path(data_root) if data_root else None)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    clock = StageClock(publish=True)
    # The lock comes first: a second run of the same meeting stops at once, before reading anything but the id
    # (meeting.yaml's, else the folder's name), instead of analysing in vain.
    meeting_id = meeting_id_for(config.meeting_dir, read_meeting_meta(config.meeting_dir))
    with run_lock(config.out_root, meeting_id):
        for line in settle(config.out_root, meeting_id):
            get_run_logger().warning(line)
        inputs, models, history = load_task(config)
        n_items = sum(len(f) for f in (inputs.cards, inputs.feedback) if f is not None)
        clock.done("ingest", ingest_line(inputs), items=n_items)
        distributed = settings.task_runner != "serial"
        with side_process(n_items) as side:
            result = analysis.analyse(inputs, models, history=history, settings=settings, side=side,
                                      batch_size=settings.chunk_size if distributed else analysis.TEXT_BATCH,
                                      map=task_runner_map if distributed else auto_map(n_items),
                                      on_stage=clock.done)
        # the result holds what the writing needs (the comments masked): the inputs as read and the models are
        # let go before it
        del inputs, models, history
        final, _ = write_task(result, RunInfo(config, started, clock.timings))
    clock.done("report", f"{sum(1 for _ in final.iterdir())} ファイル → {final}")
    publish_artifacts(result, final)
    progress_log.info("summary", extra={"kyosei_summary": run_summary(result)})
    return str(final)
