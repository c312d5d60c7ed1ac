"""What earlier runs left for this one: the analysts' decision log and earlier meetings' outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline import outputs
from pipeline.analysis import History
from pipeline.perspectives import EarlierMeeting
from pipeline.review import LOG_COLUMNS, load_decisions


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def earlier_meetings(out_root: Path, meeting_id: str, date: str) -> list[EarlierMeeting]:
    """Outputs of meetings held before this one (by meeting date, else by id) found under ``out_root``."""
    found: list[EarlierMeeting] = []
    if not out_root.is_dir():
        return found
    me = (date or meeting_id, meeting_id)
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        man_path, tagged_path = folder / outputs.MANIFEST.file, folder / outputs.TAGGED.file
        if folder.name == meeting_id or not man_path.is_file() or not tagged_path.is_file():
            continue
        try:
            man = json.loads(man_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        mid = str(man.get("meeting_id") or folder.name)
        when = str((man.get("meeting") or {}).get("date") or mid)
        if mid == meeting_id or (when, mid) >= me:
            continue
        persp_path = folder / outputs.PERSPECTIVES.file
        persp = _read(persp_path) if persp_path.is_file() else pd.DataFrame()
        found.append(EarlierMeeting(mid, when, _read(tagged_path), persp))
    return found


def load_history(out_root: Path, meeting_id: str, date: str, decisions: Path | None) -> History:
    """The decision log (empty without one) and the earlier meetings under ``out_root``."""
    log = load_decisions(decisions) if decisions else pd.DataFrame(columns=LOG_COLUMNS)
    return History(decisions=log, earlier=tuple(earlier_meetings(out_root, meeting_id, date)))
