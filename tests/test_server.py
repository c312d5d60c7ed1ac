"""Integration: a real `prefect server start` on a free loopback port, `kyosei serve` serving the
run-pending deployment, a run triggered through the API, outputs checked, processes stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DATA, MODELS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def api_json(url: str, body: bytes | None = None, *, tries: int = 20) -> dict:
    """GET (or POST ``body``) and parse JSON, retrying while a busy server answers 503 or refuses."""
    for attempt in range(tries):
        req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except OSError:
            if attempt == tries - 1:
                raise
            time.sleep(1)
    raise AssertionError("unreachable")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_scheduled_deployment_runs_against_a_real_server(tmp_path: Path) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    data = tmp_path / "data"
    shutil.copytree(DATA / "meetings" / "2024-05-08", data / "meetings" / "2024-05-08")
    shutil.copy(DATA / "measures.csv", data / "measures.csv")
    out = tmp_path / "out"
    logs = [open(tmp_path / n, "w") for n in ("server.log", "serve.log")]  # noqa: SIM115
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=logs[0], stderr=subprocess.STDOUT, start_new_session=True)
    serve = None
    try:
        wait_for(lambda: healthy(api), 150, "the Prefect server")
        serve = subprocess.Popen([str(BIN / "kyosei"), "serve", "--cron", "0 0 1 1 *", "--name", "kyosei-test",
                                  "--data-root", str(data), "--out-root", str(out),
                                  "--codebook", str(MODELS / "codebook.yaml")],
                                 cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT, start_new_session=True)

        def deployed() -> bool:
            req = urllib.request.Request(f"{api}/deployments/name/kyosei-run-pending/kyosei-test")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(deployed, 120, "the deployment to be served")
        deployment = api_json(f"{api}/deployments/name/kyosei-run-pending/kyosei-test")
        assert deployment["schedules"][0]["schedule"]["cron"] == "0 0 1 1 *"
        body = json.dumps({"state": {"type": "SCHEDULED"}}).encode()
        run_id = api_json(f"{api}/deployments/{deployment['id']}/create_flow_run", body, tries=5)["id"]

        def finished() -> bool:
            try:
                with urllib.request.urlopen(f"{api}/flow_runs/{run_id}", timeout=5) as r:
                    state = json.load(r)["state"]["type"]
            except OSError:  # a busy SQLite server may answer 503 for a moment
                return False
            assert state not in ("FAILED", "CRASHED", "CANCELLED"), (tmp_path / "serve.log").read_text()
            return state == "COMPLETED"

        wait_for(finished, 240, "the triggered flow run")
        for name in ("report.html", "tagged.csv", "manifest.json", "perspectives.csv"):
            assert (out / "2024-05-08" / name).is_file(), name
        assert "fingerprint" in json.loads((out / "2024-05-08" / "manifest.json").read_text(encoding="utf-8"))
    finally:
        if serve is not None:
            stop(serve)
        stop(server)
        for f in logs:
            f.close()
    assert server.poll() is not None and (serve is None or serve.poll() is not None)


@pytest.mark.parametrize("host", ["127.0.0.1"])
def test_serve_refuses_without_a_server(host: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    res = subprocess.run([str(BIN / "kyosei"), "serve"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 2 and "prefect server start --host 127.0.0.1" in res.stderr
    assert "Traceback" not in res.stderr
