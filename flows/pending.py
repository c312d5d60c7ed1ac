"""Runs after each meeting: find meetings whose inputs changed since their last successful run (content
hashes, never timestamps), run them in date order, and serve that as a scheduled Prefect deployment.

A meeting's *fingerprint* is the SHA-256 of the content hashes of its input files, the policy table,
the codebook, lexicon, stop words, analyst labels and decisions, the masking option and the kyosei
version; the meeting flow writes it to the run's manifest.  A meeting is pending when no successful run
wrote the same fingerprint.  ``run-pending`` is idempotent: a second call finds nothing to do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from prefect import flow

from flows.meeting import meeting_flow
from pipeline.errors import KyoseiError
from pipeline.ingest import discover_meetings, find_measures, meeting_id_for, read_meeting_meta
from pipeline.ingest.discover import find_codebook_layers
from pipeline.manifest import RunFiles, fingerprint
from pipeline.outputs import MANIFEST

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    """Shared options of the runs (paths relative to the current folder unless absolute)."""

    measures: Path | None = None
    lexicon: Path | None = Path("models/lexicon.yaml")
    stopwords: Path | None = Path("models/stopwords.txt")
    codebook: Path = Path("models/codebook.yaml")
    theme_labels: Path | None = Path("models/theme_labels.csv")
    decisions: Path | None = Path("models/review_decisions.csv")
    mask_pii: bool = True


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
    path = out_root / meeting_id / MANIFEST.file
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return None


def run_pending(data_root: Path, out_root: Path, settings: Settings) -> PendingSummary:
    """Run every pending meeting (date order); one failure does not stop the others."""
    summary = PendingSummary()
    for meeting_dir in sorted(discover_meetings(data_root), key=_date_key):
        label = meeting_dir.name
        try:
            meta = read_meeting_meta(meeting_dir)
            meeting_id = meeting_id_for(meeting_dir, meta)
            label = meeting_id
            measures = settings.measures or find_measures(meeting_dir, data_root)
            layers = tuple(find_codebook_layers(meeting_dir, data_root))
            files = RunFiles(meeting_dir=meeting_dir, measures=measures, out_root=out_root, codebook_layers=layers,
                             **{k: v for k, v in asdict(settings).items() if k != "measures"})
            print_ = fingerprint(files)
            if last_fingerprint(out_root, meeting_id) == print_:
                summary.skipped.append(meeting_id)
                continue
            meeting_flow(meeting_dir=meeting_dir, measures=measures, out_root=out_root,
                         lexicon=settings.lexicon, stopwords=settings.stopwords, codebook=settings.codebook,
                         theme_labels=settings.theme_labels, decisions=settings.decisions,
                         mask_pii=settings.mask_pii, codebook_layers=list(layers))
            summary.ran.append(meeting_id)
        except Exception as err:  # one meeting's failure must not stop the others
            summary.failed[label] = str(err) or type(err).__name__
    return summary


@flow(name="kyosei-run-pending", log_prints=False)
def run_pending_flow(data_root: Path, out_root: Path = Path("outputs"), measures: Path | None = None,
                     codebook: Path = Path("models/codebook.yaml"), mask_pii: bool = True) -> dict[str, object]:
    """Scheduled entry point: run the meetings whose inputs changed; fail (after running the others) if any
    meeting failed, naming it."""
    settings = Settings(measures=Path(measures) if measures else None, codebook=Path(codebook), mask_pii=mask_pii)
    summary = run_pending(Path(data_root), Path(out_root), settings)
    if summary.failed:
        raise PendingRunsFailed(summary)
    return {"ran": summary.ran, "skipped": summary.skipped}
