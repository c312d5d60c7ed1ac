"""What earlier runs left for this one: the analysts' decision log and earlier meetings' outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.perspectives import EarlierMeeting
from pipeline.review import LOG_COLUMNS, load_decisions
from pipeline.run import outputs
from pipeline.run.result import History

EARLIER_COLUMNS = ("item_id", "source", "kind", "text", "themes")
"""Columns an earlier meeting's tagged table must have to be used."""


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _earlier(folder: Path) -> tuple[EarlierMeeting | None, str, str]:
    """(the meeting, its series, "") or (None, "", why it cannot be used) for one folder of the out-root."""
    man_path, tagged_path = folder / outputs.MANIFEST.file, folder / outputs.TAGGED.file
    if not man_path.is_file() or not tagged_path.is_file():
        return None, "", f"kyosei の出力ではありません（{outputs.MANIFEST.file} か {outputs.TAGGED.file} がない）"
    try:
        man = json.loads(man_path.read_text(encoding="utf-8"))
        tagged = _read(tagged_path)
        persp_path = folder / outputs.PERSPECTIVES.file
        persp = _read(persp_path) if persp_path.is_file() else pd.DataFrame()
    except pd.errors.EmptyDataError:
        return None, "", "壊れているか古い形式です（空のファイルがある）"
    except (ValueError, OSError, UnicodeDecodeError) as err:
        return None, "", f"読めません（{type(err).__name__}）"
    missing = [c for c in EARLIER_COLUMNS if c not in tagged.columns]
    if not isinstance(man, dict) or missing:
        return None, "", f"壊れているか古い形式です（{outputs.TAGGED.file} に {', '.join(missing) or '必要な列'} がない）"
    if len(persp) and not {"main_theme", "label"} <= set(persp.columns):
        persp = pd.DataFrame()
    mid = str(man.get("meeting_id") or folder.name)
    when = str((man.get("meeting") or {}).get("date") or mid)
    return EarlierMeeting(mid, when, tagged, persp), str(man.get("series") or ""), ""


def earlier_meetings(out_root: Path, meeting_id: str, date: str,
                     series: str | None = None) -> tuple[list[EarlierMeeting], list[str]]:
    """Outputs of meetings of the same ``series`` held before this one (by meeting date, else by id) under
    ``out_root`` (``series=None``: every series), and a note for each folder that could not be used (empty,
    broken, not kyosei's) — such a folder is skipped, never an error."""
    found: list[EarlierMeeting] = []
    notes: list[str] = []
    if not out_root.is_dir():
        return found, notes
    me = (date or meeting_id, meeting_id)
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name == meeting_id:
            continue
        meeting, its_series, why = _earlier(folder)
        if meeting is None:
            notes.append(f"{folder}: 以前の会議として使いませんでした — {why}")
            continue
        if meeting.meeting_id == meeting_id or (meeting.date, meeting.meeting_id) >= me:
            continue
        if series is not None and its_series != series:
            continue
        found.append(meeting)
    return found, notes


def load_history(out_root: Path, meeting_id: str, date: str, decisions: Path | None,
                 series: str | None = None) -> History:
    """The decision log (empty without one) and the earlier meetings of the series under ``out_root``."""
    log = load_decisions(decisions) if decisions else pd.DataFrame(columns=LOG_COLUMNS)
    earlier, notes = earlier_meetings(out_root, meeting_id, date, series)
    return History(decisions=log, earlier=tuple(earlier), notes=tuple(notes))
