"""``kyosei warm``: a run handed to the warm process is the same run (files, messages, exit codes, Ctrl-C), and
nothing is handed over that would run differently (other Prefect settings, --verbose, a folder not private)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import warm
from tests.conftest import MEASURES, MEETING_2, ROOT

KYOSEI = str(Path(sys.executable).parent / "kyosei")
pytestmark = pytest.mark.skipif(not warm.supported(), reason="fork and Unix sockets only")


# --- plain functions -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "data/meetings/2024-05-22"], True),
    (["demo"], True),
    (["run", "m", "--quiet"], True),
    (["run", "m", "--verbose"], False),
    (["run", "m", "-v"], False),
    (["run", "m", "--verb"], False),
    (["serve"], False),
    (["warm"], False),
    (["validate", "m"], False),
    ([], False),
])
def test_only_run_and_demo_without_verbose_are_handed_over(argv: list[str], expected: bool) -> None:
    assert warm.wanted(argv) is expected


def test_prefect_settings_are_its_variables_with_kyosei_s_defaults() -> None:
    env = {"PATH": "/usr/bin", "PREFECT_API_URL": "http://127.0.0.1:4200/api", "LANG": "ja_JP.UTF-8"}
    assert warm.prefect_env(env) == {"DO_NOT_TRACK": "1", "PREFECT_API_URL": "http://127.0.0.1:4200/api",
                                     "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    assert warm.prefect_env({"PREFECT_LOGGING_LEVEL": "DEBUG"})["PREFECT_LOGGING_LEVEL"] == "DEBUG"


def test_a_settings_file_in_the_folder_changes_the_settings_stamp(tmp_path: Path) -> None:
    env = {"PREFECT_HOME": str(tmp_path / "ph"), "HOME": str(tmp_path)}
    before = warm.settings_stamp(env, tmp_path)
    assert warm.settings_stamp(dict(env), tmp_path) == before
    (tmp_path / "prefect.toml").write_text('[logging]\nlevel = "DEBUG"\n', encoding="utf-8")
    assert warm.settings_stamp(env, tmp_path) != before
    assert warm.settings_stamp({**env, "PREFECT_API_URL": "http://127.0.0.1:1/api"}, tmp_path) != \
        warm.settings_stamp(env, tmp_path)


def test_a_changed_source_file_changes_the_code_stamp(tmp_path: Path) -> None:
    for package in ("flows", "pipeline"):
        (tmp_path / package / "__pycache__").mkdir(parents=True)
        (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pipeline" / "tally.py").write_text("X = 1\n", encoding="utf-8")
    before = warm.code_stamp(tmp_path)
    assert warm.code_stamp(tmp_path) == before
    (tmp_path / "pipeline" / "__pycache__" / "tally.cpython-311.pyc").write_bytes(b"compiled")
    assert warm.code_stamp(tmp_path) == before                    # byte code is not source
    (tmp_path / "pipeline" / "tally.py").write_text("X = 22\n", encoding="utf-8")
    changed = warm.code_stamp(tmp_path)
    assert changed != before
    (tmp_path / "pipeline" / "templates").mkdir()
    (tmp_path / "pipeline" / "templates" / "page.html.j2").write_text("<p>", encoding="utf-8")
    assert warm.code_stamp(tmp_path) != changed                  # a template counts too
    assert warm.code_stamp(tmp_path) != warm.code_stamp()         # another installation


def test_a_message_and_its_descriptors_go_through_a_socket_pair(tmp_path: Path) -> None:
    a, b = socket.socketpair()
    with a, b:
        path = tmp_path / "f.txt"
        path.write_text("見本", encoding="utf-8")
        fd = os.open(path, os.O_RDONLY)
        warm._send(a, {"argv": ["run", "会議"], "n": 3}, fds=[fd])
        os.close(fd)
        message, fds = warm._receive(b, 1)
        assert message == {"argv": ["run", "会議"], "n": 3}
        assert len(fds) == 1
        assert os.read(fds[0], 100).decode("utf-8") == "見本"
        os.close(fds[0])
        warm._send(a, {"rc": 2})
        assert warm._receive(b) == ({"rc": 2}, [])
        a.close()
        assert warm._receive(b) == (None, [])            # the other side went away


def test_a_message_too_large_is_refused_and_its_descriptors_closed(tmp_path: Path) -> None:
    a, b = socket.socketpair()
    with a, b:
        fd = os.open(tmp_path, os.O_RDONLY)
        socket.send_fds(a, [warm._HEADER.pack(warm._MAX_REQUEST + 1)], [fd])
        os.close(fd)
        before = set(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
        with pytest.raises(ValueError, match="too large"):
            warm._receive(b, 1)
        if before is not None:
            assert set(os.listdir("/proc/self/fd")) <= before


@pytest.mark.integration                                 # a socket bound: a small server
def test_nothing_is_handed_to_a_socket_in_a_folder_others_can_enter(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with server:
        server.bind(str(folder / "warm.sock"))
        server.listen(1)
        server.setblocking(False)
        monkeypatch.delenv(warm.NO_WARM, raising=False)
        monkeypatch.setenv(warm.SOCKET_ENV, str(folder / "warm.sock"))
        assert warm.hand_over(["run", str(MEETING_2)]) is None
        with pytest.raises(BlockingIOError):
            server.accept()                               # never connected
        folder.chmod(0o700)
        monkeypatch.setenv(warm.NO_WARM, "1")
        assert warm.hand_over(["run", str(MEETING_2)]) is None
        with pytest.raises(BlockingIOError):
            server.accept()


@pytest.mark.integration                                 # a socket bound: a small server
def test_a_second_warm_process_on_the_same_socket_is_refused(tmp_path: Path) -> None:
    first = warm.WarmServer(tmp_path / "w" / "warm.sock", lambda argv: 0)
    first.bind()
    try:
        assert (tmp_path / "w").stat().st_mode & 0o777 == 0o700
        assert (tmp_path / "w" / "warm.sock").stat().st_mode & 0o777 == 0o600
        with pytest.raises(FileExistsError, match="already waiting"):
            warm.WarmServer(tmp_path / "w" / "warm.sock", lambda argv: 0).check_free()
    finally:
        first.close()
    assert not (tmp_path / "w" / "warm.sock").exists()
    warm.WarmServer(tmp_path / "w" / "warm.sock", lambda argv: 0).check_free()   # free again


# --- the real thing: kyosei warm, kyosei run -------------------------------------------------------------------

class Warm:
    def __init__(self, env: dict[str, str], log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.env, self.log, self.proc = env, log, proc

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def run(self, *args: str, cold: bool = False, **env: str) -> subprocess.CompletedProcess[str]:
        e = {**self.env, **env}
        if cold:
            e[warm.NO_WARM] = "1"
        return subprocess.run([KYOSEI, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=300,
                              check=False)


@pytest.fixture(scope="module")
def warm_process(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    """``kyosei warm`` on a private socket, talking to the session's Prefect server (as ``kyosei run`` does)."""
    from prefect.settings import PREFECT_API_URL

    tmp = tmp_path_factory.mktemp("warm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != warm.NO_WARM}
    env |= {"PREFECT_HOME": str(tmp / "ph"), "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", warm.SOCKET_ENV: str(tmp / "s" / "warm.sock"),
            "COLUMNS": "200"}
    log = tmp / "warm.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([KYOSEI, "warm"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while "warm.sock" not in log.read_text(encoding="utf-8"):
        assert proc.poll() is None, log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "kyosei warm did not get ready"
        time.sleep(0.2)
    yield Warm(env, log, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert "終了しました / stopped" in log.read_text(encoding="utf-8")
    assert not (tmp / "s" / "warm.sock").exists()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_run_in_the_warm_process_writes_what_a_fresh_process_writes(warm_process: Warm, tmp_path: Path) -> None:
    args = ("run", str(MEETING_2), "--measures", str(MEASURES), "--quiet")
    warm_res = warm_process.run(*args, "--out-root", str(tmp_path / "warm"))
    assert warm_res.returncode == 0, warm_res.stderr
    assert f"kyosei run {MEETING_2}" in warm_process.text()           # it was handed over
    cold_res = warm_process.run(*args, "--out-root", str(tmp_path / "cold"), cold=True)
    assert cold_res.returncode == 0, cold_res.stderr
    assert warm_process.text().count(f"kyosei run {MEETING_2}") == 1   # the cold one was not
    assert (warm_res.stdout, warm_res.stderr) == (cold_res.stdout, cold_res.stderr) == ("", "")
    warm_files, cold_files = _files(tmp_path / "warm" / MEETING_2.name), _files(tmp_path / "cold" / MEETING_2.name)
    assert sorted(warm_files) == sorted(cold_files)
    assert len(warm_files) > 30
    for name in warm_files:
        if name != "manifest.json":
            assert warm_files[name] == cold_files[name], name
    manifests = [json.loads(f["manifest.json"]) for f in (warm_files, cold_files)]
    for m in manifests:
        for key in ("started_at", "finished_at", "timings_seconds"):
            m.pop(key)
        m["parameters"].pop("out_root")
    assert manifests[0] == manifests[1]


def test_an_error_gives_the_same_message_and_exit_code(warm_process: Warm, tmp_path: Path) -> None:
    missing = tmp_path / "会議なし"
    warm_res = warm_process.run("run", str(missing), "--out-root", str(tmp_path / "o"))
    cold_res = warm_process.run("run", str(missing), "--out-root", str(tmp_path / "o"), cold=True)
    assert f"kyosei run {missing}" in warm_process.text()
    assert warm_res.returncode == cold_res.returncode == 2
    assert warm_res.stdout == cold_res.stdout
    assert warm_res.stderr == cold_res.stderr
    assert "会議フォルダが見つかりません" in warm_res.stderr


def test_other_prefect_settings_are_not_handed_over(warm_process: Warm, tmp_path: Path) -> None:
    missing = tmp_path / "別の設定"
    res = warm_process.run("run", str(missing), PREFECT_LOGGING_LEVEL="ERROR")
    assert res.returncode == 2
    assert "会議フォルダが見つかりません" in res.stderr
    log = warm_process.text()
    assert f"kyosei run {missing}" not in log
    assert "not handed over (other Prefect settings" in log


def test_ctrl_c_reaches_the_run_in_the_warm_process(warm_process: Warm, tmp_path: Path) -> None:
    proc = subprocess.Popen([KYOSEI, "run", str(MEETING_2), "--measures", str(MEASURES), "--out-root",
                             str(tmp_path / "o")], cwd=ROOT, env=warm_process.env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("分析中 / analysing")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == [
        "中断しました。出力フォルダは前回の結果か、書き終えた今回の結果のどちらかです（書きかけは残りません）/ "
        "interrupted; the output folder holds either the previous or the finished new results, never a "
        "half-written one"]
    assert "exit code 130" in warm_process.text()
    leftovers = [p.name for p in (tmp_path / "o").iterdir()] if (tmp_path / "o").exists() else []
    assert all(not name.startswith(".") for name in leftovers)             # no half-written folder
