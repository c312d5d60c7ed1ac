"""The offline bundle (tools/offline_bundle.py): every wheel for this Python and Linux, installed into a fresh
venv with ``pip --no-index`` and no pip configuration (nothing else to download from), runs the demo; every
dependency resolves as a binary wheel for Windows x64 (Python 3.11 and 3.12) and Linux on Python 3.12.

Preparing the bundle needs PyPI (it is done on a PC with internet access); the install does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOOL = ROOT / "tools" / "offline_bundle.py"


def test_every_windows_wheel_resolves() -> None:
    subprocess.run([sys.executable, str(TOOL), "--check", "windows-3.11", "windows-3.12", "linux-3.12"],
                   check=True, timeout=600, capture_output=True)


def test_linux_bundle_installs_without_a_network_and_runs_the_demo(tmp_path: Path) -> None:
    target = f"linux-{sys.version_info.major}.{sys.version_info.minor}"
    bundle = tmp_path / "kyosei-offline"
    subprocess.run([sys.executable, str(TOOL), str(bundle), "--targets", target], check=True, timeout=900,
                   capture_output=True)
    assert (bundle / "install.ps1").read_text(encoding="utf-8-sig").count("--no-index") == 1
    offline = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PREFECT_", "VIRTUAL_ENV"))}
    offline |= {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PREFECT_HOME": str(tmp_path / "ph"),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
    subprocess.run([sys.executable, "-m", "venv", str(bundle / ".venv")], check=True, timeout=300)
    pip = [str(bundle / ".venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
           "--find-links", str(bundle / "wheels"), "kyosei"]
    subprocess.run(pip, check=True, timeout=900, env=offline, capture_output=True)
    demo = subprocess.run([str(bundle / ".venv" / "bin" / "kyosei"), "demo"], cwd=bundle / "kyosei", env=offline,
                          capture_output=True, text=True, timeout=600, check=False)
    assert demo.returncode == 0, demo.stderr
    for meeting in ("2024-05-08", "2024-05-22"):
        folder = bundle / "kyosei" / "outputs" / meeting
        assert (folder / "report.html").is_file() and (folder / "report.docx").is_file()
