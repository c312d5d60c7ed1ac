"""A meeting's output folder as a unit: the lock held for a whole run, the swap of a finished temporary folder into
place, and setting right what a killed run left (Prefect-free, so that every command can call it first).

Promise: whenever a run is stopped (Ctrl-C, a crash, the machine switched off), ``OUT_ROOT/<meeting id>/`` holds the
previous complete outputs or the new complete outputs; in the one instant where it can be missing — between the two
renames of :func:`swap_in` — the previous outputs wait in ``OUT_ROOT/.<meeting id>.old`` and the next kyosei command
that touches the out-root puts them back first (:func:`restore_interrupted`), and says so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import KyoseiError


class RunLockedError(KyoseiError):
    """Another run of the same meeting holds the lock."""


@contextlib.contextmanager
def run_lock(out_root: Path, meeting_id: str) -> Iterator[None]:
    """Hold ``OUT_ROOT/.<meeting_id>.lock`` for the whole run; a second run of the same meeting fails at
    once with a clear message.  The OS releases the lock if the process dies, so it never goes stale.  A run that
    fails in an out-root it made (bad input, before any output) takes the lock file and the out-root away again
    when nothing else was put there: a refused run leaves nothing behind."""
    fresh = not out_root.exists()
    out_root.mkdir(parents=True, exist_ok=True)
    path = out_root / f".{meeting_id}.lock"
    fh = path.open("a+")
    try:
        try:
            if os.name == "nt":  # pragma: no cover - Windows analysts' machines
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunLockedError(
                f"{path}: 会議 {meeting_id} は別の実行が処理中です。終わってからもう一度実行してください。\n"
                f"{path}: another run of meeting {meeting_id} is in progress; run again when it has finished."
            ) from None
        try:
            yield
        except BaseException:
            if fresh and [p.name for p in out_root.iterdir()] == [path.name]:
                fh.close()                                   # Windows removes no open file
                with contextlib.suppress(OSError):
                    path.unlink()
                    out_root.rmdir()
            raise
    finally:
        fh.close()


def remove_stale_temporaries(out_root: Path, meeting_id: str) -> None:
    """Temporary folders left by a run that was killed (the lock guarantees none is in use)."""
    for tmp in out_root.glob(f".{meeting_id}.tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _rename(src: Path, dst: Path) -> None:
    """One rename of the swap (a seam for the fault-injection tests; ``os.replace`` works on folders on Windows too
    when ``dst`` does not exist)."""
    os.replace(src, dst)


def swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` with renames, keeping the old folder until the new one is in.  Interrupted between
    the two renames (Ctrl-C, an error), the old folder is renamed back before the exception goes on.  Killed there,
    the meeting's folder is missing and ``.<id>.old`` holds the previous outputs: :func:`restore_interrupted` puts
    them back before the next command touches the out-root."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    try:
        if final.exists():
            _rename(final, old)
        _rename(tmp, final)
    except BaseException:
        if old.is_dir() and not final.exists():
            _rename(old, final)
        raise
    if old.exists():
        shutil.rmtree(old)


def restore_interrupted(out_root: Path) -> list[str]:
    """What a killed run left in ``out_root``, set right (each meeting under its lock; a meeting whose run is in
    progress is left to that run): a meeting folder missing beside its ``.<id>.old`` gets the previous outputs back;
    an ``.old`` beside a complete new folder and the temporary folders of killed runs are removed.  Returns one line
    per meeting restored (Japanese / English)."""
    if not out_root.is_dir():
        return []
    names = {p.name[1:-4] for p in out_root.glob(".*.old")}
    names |= {p.name[1:p.name.index(".tmp-")] for p in out_root.glob(".*.tmp-*")}
    restored = []
    for meeting_id in sorted(n for n in names if n):
        try:
            with run_lock(out_root, meeting_id):
                restored += settle(out_root, meeting_id)
        except RunLockedError:
            continue
    return restored


def settle(out_root: Path, meeting_id: str) -> list[str]:
    """:func:`restore_interrupted` for one meeting whose lock the caller holds."""
    old, final = out_root / f".{meeting_id}.old", out_root / meeting_id
    said = []
    if old.is_dir() and not final.exists():
        _rename(old, final)
        said.append(f"{final}: 前の実行が出力の入れ替えの途中で止まっていたため、その前の結果を戻しました / a run was "
                    "stopped while swapping its outputs in; the previous outputs are back")
    elif old.exists():
        shutil.rmtree(old, ignore_errors=True)
    remove_stale_temporaries(out_root, meeting_id)
    return said
