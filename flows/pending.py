"""Runs after each meeting: find meetings whose inputs changed since their last successful run (content
hashes, never timestamps), run them in date order, and serve that as a scheduled Prefect deployment.

A meeting's *fingerprint* is the SHA-256 of the content hashes of its input files, the policy table,
the codebook, lexicon, stop words, analyst labels and decisions, every setting that can change the outputs
(:mod:`pipeline.run.settings`) and the kyosei version; the meeting flow writes it to the run's manifest.  A meeting is pending when no successful run
wrote the same fingerprint.  ``run-pending`` is idempotent: a second call finds nothing to do.
"""

# No "from __future__ import annotations" here: Prefect builds the flow\'s parameter model from these
# annotations in the process a deployment runs in, where a string "Settings" cannot be resolved.
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from prefect import flow

from flows.meeting import DEFAULTS, resolve, run_meeting
from flows.outfolder import restore_interrupted
from pipeline.errors import KyoseiError
from pipeline.ingest import discover_meetings, meeting_id_for, read_meeting_meta
from pipeline.run.manifest import fingerprint
from pipeline.run.outputs import MANIFEST
from pipeline.run.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PendingSummary:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class PendingRunsFailed(KyoseiError):
    """Some meetings failed; the others ran.  ``summary`` says which."""

    def __init__(self, summary: PendingSummary):
        self.summary = summary
        names = "、".join(f"{k}（{v.splitlines()[0]}）" for k, v in summary.failed.items())
        super().__init__(f"失敗した会議があります / some meetings failed: {names}\n"
                         f"実行した会議 / ran: {summary.ran or 'なし'}")


def _date_key(meeting_dir: Path) -> tuple[str, str]:
    try:
        meta = read_meeting_meta(meeting_dir)
        mid = meeting_id_for(meeting_dir, meta)
        return str(meta.get("date") or mid), mid
    except KyoseiError:
        return meeting_dir.name, meeting_dir.name


def last_fingerprint(out_root: Path, meeting_id: str) -> str | None:
    try:
        return MANIFEST.load(out_root / meeting_id).get("fingerprint")
    except (OSError, ValueError):
        return None


def run_pending(data_root: Path, out_root: Path, settings: Settings) -> PendingSummary:
    """Run every pending meeting (date order); one failure does not stop the others.  What a killed run left in
    ``out_root`` is set right first (a scheduled run has no command line to do it)."""
    for line in restore_interrupted(out_root):
        logging.getLogger(__name__).warning(line)
    summary = PendingSummary()
    for meeting_dir in sorted(discover_meetings(data_root), key=_date_key):
        label = meeting_dir.name
        try:
            meta = read_meeting_meta(meeting_dir)
            meeting_id = meeting_id_for(meeting_dir, meta)
            label = meeting_id
            files = resolve(meeting_dir, replace(settings, out_root=out_root), data_root)
            if last_fingerprint(out_root, meeting_id) == fingerprint(files):
                summary.skipped.append(meeting_id)
                continue
            run_meeting(meeting_dir, replace(settings, measures=files.measures, out_root=out_root), data_root)
            summary.ran.append(meeting_id)
        except Exception as err:  # one meeting's failure must not stop the others
            summary.failed[label] = str(err) or type(err).__name__
    return summary


@flow(name="kyosei-run-pending", log_prints=False)
def run_pending_flow(data_root: Path, settings: Settings = DEFAULTS) -> dict[str, object]:
    """Scheduled entry point: run the meetings whose inputs or settings changed (into ``settings.out_root``); fail
    (after running the others) if any meeting failed, naming it."""
    summary = run_pending(Path(data_root), settings.out_root, settings)
    if summary.failed:
        raise PendingRunsFailed(summary)
    return {"ran": summary.ran, "skipped": summary.skipped}
