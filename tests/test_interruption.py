"""Outputs survive any interruption: a run killed at each step of the swap (a process that dies, no clean-up) leaves
the previous or the new complete outputs, or the next kyosei command on that out-root puts the previous ones back
first and says so; no temporary folder is left for good.

The kill is real: a child process runs ``kyosei run`` with the swap's rename (``flows.outfolder._rename``) replaced by
one that calls ``os._exit`` before or after its N-th call.  Unit tests drive :func:`restore_interrupted` on folders
laid out as a killed run leaves them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from flows.outfolder import restore_interrupted, run_lock, settle, swap_in
from tests.conftest import LOCAL_CODEBOOK, MEASURES, MEETING_2
from tests.factories import add_new_comment

KILLER = """
import os, sys
import flows.outfolder as f
step, when = int(sys.argv[1]), sys.argv[2]
real, calls = f._rename, [0]
def dying(src, dst):
    calls[0] += 1
    if calls[0] == step and when == "before":
        os._exit(9)
    real(src, dst)
    if calls[0] == step and when == "after":
        os._exit(9)
f._rename = dying
from flows.cli import main
sys.exit(main(sys.argv[3:]))
"""


def complete(folder: Path) -> bool:
    """A whole output folder: its manifest lists files that are all there."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    return all((folder / name).is_file() for name in json.loads(manifest.read_text(encoding="utf-8"))["files"])


def layout(root: Path, *names: str) -> None:
    for name in names:
        (root / name).mkdir(parents=True)
        (root / name / "manifest.json").write_text(json.dumps({"files": ["manifest.json"], "which": name}),
                                                     encoding="utf-8")


def which(folder: Path) -> str:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["which"]


# --- restoring, on folders as a killed run leaves them ----------------------------------------------------------

def test_killed_between_the_two_renames_the_previous_outputs_come_back(tmp_path: Path) -> None:
    layout(tmp_path, ".m1.old", ".m1.tmp-abc")                      # m1 renamed away, the new one not yet in
    said = restore_interrupted(tmp_path)
    assert which(tmp_path / "m1") == ".m1.old"                       # the previous outputs, whole
    assert said == [f"{tmp_path / 'm1'}: 前の実行が出力の入れ替えの途中で止まっていたため、その前の結果を戻しました / "
                    "a run was stopped while swapping its outputs in; the previous outputs are back"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m1.lock", "m1"]


def test_killed_after_the_new_folder_was_in_the_old_one_goes(tmp_path: Path) -> None:
    layout(tmp_path, "m1", ".m1.old")
    assert restore_interrupted(tmp_path) == []
    assert which(tmp_path / "m1") == "m1" and not (tmp_path / ".m1.old").exists()


def test_killed_while_writing_only_the_temporary_folder_goes(tmp_path: Path) -> None:
    layout(tmp_path, "m1", ".m1.tmp-x1", ".第3回 連携会議.tmp-y2")
    assert restore_interrupted(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["m1"]


def test_a_meeting_whose_run_is_in_progress_is_left_to_that_run(tmp_path: Path) -> None:
    layout(tmp_path, ".m1.old", ".m2.old")
    with run_lock(tmp_path, "m1"):                                   # a live run of m1, mid-swap
        said = restore_interrupted(tmp_path)
    assert (tmp_path / ".m1.old").is_dir() and not (tmp_path / "m1").exists()
    assert which(tmp_path / "m2") == ".m2.old" and len(said) == 1
    assert restore_interrupted(tmp_path / "nowhere") == []


def test_the_swap_keeps_the_old_folder_until_the_new_one_is_in(tmp_path: Path) -> None:
    layout(tmp_path, "m1", ".m1.tmp-1")
    swap_in(tmp_path / ".m1.tmp-1", tmp_path / "m1")
    assert which(tmp_path / "m1") == ".m1.tmp-1" and sorted(p.name for p in tmp_path.iterdir()) == ["m1"]
    layout(tmp_path, ".m1.tmp-2")
    with run_lock(tmp_path, "m1"):
        assert settle(tmp_path, "m1") == []                          # nothing to set right: the tmp goes
    assert not (tmp_path / ".m1.tmp-2").exists()


def test_interrupted_between_the_two_renames_the_old_folder_is_put_back_at_once(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or any exception) between the renames: the swap renames the old folder back before it goes on."""
    import flows.outfolder

    layout(tmp_path, "m1", ".m1.tmp-1")
    real, calls = flows.outfolder._rename, [0]

    def interrupted(src: Path, dst: Path) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(flows.outfolder, "_rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        swap_in(tmp_path / ".m1.tmp-1", tmp_path / "m1")
    assert calls[0] == 3 and which(tmp_path / "m1") == "m1"                  # the third: the rename back
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m1.tmp-1", "m1"]   # the caller removes its tmp


HOLDER = """
import sys
from pathlib import Path
from flows.outfolder import run_lock
with run_lock(Path(sys.argv[1]), "m1"):
    print("held", flush=True)
    sys.stdin.read()                                                # until killed
"""


@pytest.mark.integration
def test_a_killed_holder_releases_the_lock(tmp_path: Path) -> None:
    """The lock is the OS's (flock / msvcrt): a run killed while holding it never leaves it taken."""
    from flows.outfolder import RunLockedError

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match="another run of meeting m1"), run_lock(tmp_path, "m1"):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=60)
    assert holder.returncode == -signal.SIGKILL
    with run_lock(tmp_path, "m1"):                                   # free again, though the file is still there
        assert (tmp_path / ".m1.lock").exists()


# --- a real kill at each step of a real run ------------------------------------------------------------------

def kyosei(args: list[str], *, step: int = 0, when: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command in its own process group; output through files (a killed run's helpers — the temporary Prefect
    server — would hold pipes open), and the whole group killed afterwards (nothing outlives the test)."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    cmd = [sys.executable, "-c", KILLER, str(step), when, *args] if step else \
        [sys.executable, "-m", "flows", *args]
    out, err = cwd / f"stdout-{step}{when}.txt", cwd / f"stderr-{step}{when}.txt"
    with out.open("w", encoding="utf-8") as o, err.open("w", encoding="utf-8") as e:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=o, stderr=e, start_new_session=True)
        try:
            code = proc.wait(timeout=300)
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(cmd, code, out.read_text(encoding="utf-8"), err.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A meeting run once into an out-root (the previous outputs every kill below must not lose)."""
    base = tmp_path_factory.mktemp("interrupt")
    meeting = base / "m1"
    shutil.copytree(MEETING_2, meeting)
    shutil.copy(LOCAL_CODEBOOK, meeting / LOCAL_CODEBOOK.name)
    (meeting / "meeting.yaml").write_text("title: 連携会議\ndate: 2024-05-22\n", encoding="utf-8")
    out = base / "out"
    done = kyosei(["run", str(meeting), "--measures", str(MEASURES), "--out-root", str(out), "--quiet"], cwd=base)
    assert done.returncode == 0, done.stderr
    return meeting, out


@pytest.mark.integration
@pytest.mark.parametrize(("step", "when", "gone_before_next_command"), [
    (1, "before", False),     # killed before the old folder is renamed away: it is still in place
    (2, "before", True),      # between the two renames: the meeting folder is missing until the next command
    (2, "after", False),      # the new folder is in, the old one not yet removed
])
def test_a_run_killed_at_each_step_of_the_swap_loses_nothing(first_run: tuple[Path, Path], tmp_path: Path,
                                                            step: int, when: str,
                                                            gone_before_next_command: bool) -> None:
    meeting, template = first_run
    out = tmp_path / "out"
    shutil.copytree(template, out)
    before = (out / "m1" / "manifest.json").read_bytes()
    add_new_comment(meeting)
    try:
        killed = kyosei(["run", str(meeting), "--measures", str(MEASURES), "--out-root", str(out), "--quiet"],
                        step=step, when=when, cwd=tmp_path)
    finally:
        shutil.copy(MEETING_2 / "feedback.csv", meeting / "feedback.csv")
    assert killed.returncode == 9
    assert (out / "m1").exists() is not gone_before_next_command
    # the next command that touches the out-root (here: a KWIC look-up) sets it right first, and says so
    after = kyosei(["kwic", str(out / "m1"), "相談"], cwd=tmp_path)
    assert after.returncode == 0, after.stderr
    assert ("その前の結果を戻しました" in after.stderr) is gone_before_next_command
    assert complete(out / "m1")
    new = "F99" in (out / "m1" / "tagged.csv").read_text(encoding="utf-8-sig")
    assert new is (step == 2 and when == "after")                    # previous outputs unless the new ones were in
    if not new:
        assert (out / "m1" / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir() if not p.name.endswith(".lock")) == ["m1"]   # no temporary left
