"""The run manifest (:data:`pipeline.run.outputs.MANIFEST`): what a run read (content hashes), with which versions and parameters, what it found
and wrote; and the *fingerprint* ``run-pending`` compares to decide whether a meeting must run again."""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.ingest import find_input_files
from pipeline.run.analysis import MATCH_THRESHOLD
from pipeline.run.outputs import MANIFEST
from pipeline.run.result import MeetingResult
from pipeline.run.settings import FILE_SETTINGS, NOT_RESULTS, Settings, options

PACKAGES = ("kyosei", "fugashi", "unidic-lite", "neologdn", "pandas", "pandera", "scikit-learn",
            "prefect", "openpyxl", "pyyaml", "jinja2")


@dataclass(frozen=True)
class RunFiles:
    """The files a run reads besides the meeting's own, resolved from its :class:`Settings` by the flow
    (``None``: not used), and the settings themselves."""

    meeting_dir: Path
    measures: Path
    codebook: Path
    lexicon: Path | None = None
    stopwords: Path | None = None
    theme_labels: Path | None = None
    decisions: Path | None = None
    codebook_layers: tuple[Path, ...] = ()
    """Codebook files merged on top of ``codebook`` (a city's ``codebook.local.yaml``), in order."""
    measures_given: bool = True
    """False when the user did not name the policy table (the sample's is used; the run warns)."""
    settings: Settings = field(default_factory=Settings)

    @property
    def out_root(self) -> Path:
        return self.settings.out_root

    def models(self) -> dict[str, Path | None]:
        return {"lexicon": self.lexicon, "stopwords": self.stopwords, "codebook": self.codebook,
                **{f"codebook_layer_{n}": p for n, p in enumerate(self.codebook_layers, start=1)},
                "theme_labels": self.theme_labels, "decisions": self.decisions}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kyosei_version() -> str:
    try:
        return metadata.version("kyosei")
    except metadata.PackageNotFoundError:
        return "unknown"


def values(settings: Settings) -> dict[str, object]:
    """The settings that are not files, as the manifest records them."""
    return {name: getattr(settings, name) for name, _, _ in options() if name not in FILE_SETTINGS}


def fingerprint(files: RunFiles) -> str:
    """SHA-256 over the content hashes of everything that determines a meeting's outputs (its input
    files, the policy table, the models), the settings that can change them (all but
    :data:`~pipeline.run.settings.NOT_RESULTS`) and the kyosei version.  ``run-pending`` reruns a meeting when this
    differs from the one in its last manifest."""
    found: dict[str, Path | None] = dict(find_input_files(files.meeting_dir))
    if (files.meeting_dir / "meeting.yaml").is_file():
        found["meeting"] = files.meeting_dir / "meeting.yaml"
    shared = {"measures": files.measures, "measures_mapping": Path(files.measures).with_suffix(".yaml"),
              **files.models()}
    parts = [(role, Path(path).name, sha256(Path(path))) for role, path in sorted({**found, **shared}.items())
             if path is not None and Path(path).is_file()]
    chosen = {k: v for k, v in values(files.settings).items() if k not in NOT_RESULTS}
    blob = json.dumps({"files": parts, "settings": chosen, "kyosei": kyosei_version()}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass(frozen=True)
class RunInfo:
    """How a run was made: its files, when it started, its stage timings (filled by the flow)."""

    files: RunFiles
    started: str
    timings: Mapping[str, float] = field(default_factory=dict)


def build_manifest(r: MeetingResult, run: RunInfo) -> dict[str, Any]:
    """The manifest of a run (``finished_at`` and ``files`` are filled in by the writer)."""
    f = run.files
    inputs = r.inputs
    return {
        "meeting_id": r.meeting_id,
        "series": inputs.series,
        "meeting": inputs.meta,
        "started_at": run.started,
        "finished_at": None,
        "versions": versions(),
        "platform": platform.platform(),
        "seed": r.seed,
        "fingerprint": fingerprint(f),
        "parameters": {
            "meeting_dir": str(f.meeting_dir), "measures": str(f.measures), "out_root": str(f.out_root),
            **{k: (str(v) if v else None) for k, v in f.models().items()}, **values(f.settings),
        },
        "review": {"decisions_in_log": r.decisions_in_log, "changes_applied": len(r.changes)},
        "pii_masks": r.masks if r.masks is not None else "off (--no-mask)",
        "clusters": {"method": r.clusters.method, "k": r.clusters.k,
                     "silhouette_by_k": {str(k): v for k, v in r.clusters.silhouette.items()},
                     "unexplained_clusters": len(r.clusters.unexplained)},
        "perspectives": {"suggestions": len(r.perspectives.suggestions), "earlier_meetings": list(r.earlier_ids)},
        "tagging": {
            "themes": list(r.theme_ids),
            "learned_layer": list(r.learned_themes) if r.learned_themes else "off (too few labels)",
            "measure_threshold": MATCH_THRESHOLD,
        },
        "inputs": {kind: {"file": path.name, "sha256": sha256(path)} for kind, path in sorted(inputs.files.items())}
        | {name: {"file": p.name, "sha256": sha256(p)} for name, p in f.models().items()
           if p and p.is_file()},
        "rows": {"files": inputs.counts, **r.row_totals},
        "outputs": {"items": len(r.tagged), "cards": int((r.tagged["source"] == "card").sum()),
                    "comments": int((r.tagged["source"] == "feedback").sum())},
        "timings_seconds": dict(run.timings),
    }


def report_summary(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The run facts shown in the report's appendix and the workbook's 概要 sheet.  No run time: the report
    stays byte-identical for the same inputs (the manifest keeps it)."""
    rows = manifest["rows"]
    return [
        ("実行記録", f"{MANIFEST.file}（実行日時・入力ファイルのハッシュ・処理時間）"),
        ("入力行 / 取込 / 除外", f"{rows['rows_in']} / {rows['rows_ok']} / {rows['rows_rejected']}"),
        ("乱数シード", str(manifest["seed"])),
        ("バージョン", ", ".join(f"{k} {v}" for k, v in manifest["versions"].items())),
    ]
