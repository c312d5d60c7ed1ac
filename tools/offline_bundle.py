"""Offline bundle: every wheel kyosei needs, for Windows x64 and Linux x64 (Python 3.11 / 3.12), in one folder
that can be carried onto a closed network (LGWAN), with the sample data, the models and install scripts.

On a PC with internet access (only Python and pip needed; run from the kyosei folder):

    python tools/offline_bundle.py kyosei-offline                 # all four targets
    python tools/offline_bundle.py kyosei-offline --targets windows-3.12
    python tools/offline_bundle.py --check windows-3.11 windows-3.12 linux-3.12   # resolve only, no download

On the closed network: ``install.ps1`` (Windows) or ``install.sh`` (Linux) in the bundle creates ``.venv`` and
installs from ``wheels/`` with ``pip --no-index``; then ``kyosei demo`` in ``kyosei/`` analyses the samples.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS: dict[str, tuple[list[str], str]] = {
    "windows-3.11": (["win_amd64"], "3.11"),
    "windows-3.12": (["win_amd64"], "3.12"),
    "linux-3.11": (["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"], "3.11"),
    "linux-3.12": (["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"], "3.12"),
}
SOURCE_ONLY = ("unidic-lite",)
"""Dependencies published only as a source archive: built here once into a pure-Python wheel (any platform)."""
SHIPPED = ("data", "models", "docs", "README.md")
"""What the bundle's ``kyosei/`` folder holds besides the wheels: the sample meetings, the models, the docs."""

INSTALL_PS1 = """# kyosei: install from this folder without a network (Windows PowerShell)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
py -3 -m venv .venv
.venv\\Scripts\\python -m pip install --no-index --find-links wheels kyosei
Write-Host "OK. 次のコマンドで見本を分析します / run the samples:"
Write-Host "  cd kyosei; ..\\.venv\\Scripts\\kyosei demo"
"""
INSTALL_SH = """#!/bin/sh
# kyosei: install from this folder without a network (Linux)
set -e
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --no-index --find-links wheels kyosei
echo "OK. 次のコマンドで見本を分析します / run the samples:  cd kyosei && ../.venv/bin/kyosei demo"
"""


def requirements() -> list[str]:
    """The project's dependencies as pyproject.toml lists them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return list(project["dependencies"])


def _name(requirement: str) -> str:
    return requirement.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def _target_args(target: str) -> list[str]:
    platforms, python = TARGETS[target]
    return ["--only-binary=:all:", *(a for p in platforms for a in ("--platform", p)), "--python-version", python,
            "--implementation", "cp"]


def binary_requirements() -> list[str]:
    return [r for r in requirements() if _name(r) not in SOURCE_ONLY]


def check(targets: list[str]) -> None:
    """Resolve every dependency as a binary wheel for each target (package metadata only, nothing installed)."""
    for target in targets:
        print(f"== {target}: resolving", flush=True)
        _pip("install", "--dry-run", "--quiet", "--ignore-installed", "--target", str(ROOT / ".bundle-check"),
             *_target_args(target), *binary_requirements())
    shutil.rmtree(ROOT / ".bundle-check", ignore_errors=True)


def bundle(folder: Path, targets: list[str]) -> None:
    wheels = folder / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for target in targets:
        print(f"== {target}: downloading wheels", flush=True)
        _pip("download", "--quiet", "--dest", str(wheels), *_target_args(target), *binary_requirements())
    sources = [r for r in requirements() if _name(r) in SOURCE_ONLY]
    print("== building pure-Python wheels of source-only dependencies and of kyosei", flush=True)
    if sources:
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *sources)
    _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(ROOT))
    project = folder / "kyosei"
    for name in SHIPPED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        elif src.is_file():
            project.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, project / name)
    (folder / "install.ps1").write_text(INSTALL_PS1, encoding="utf-8-sig", newline="\r\n")
    (folder / "install.sh").write_text(INSTALL_SH, encoding="utf-8", newline="\n")
    (folder / "install.sh").chmod(0o755)
    print(f"bundle ready: {folder} ({sum(1 for _ in wheels.glob('*.whl'))} wheels)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, help="the bundle folder to write")
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=sorted(TARGETS))
    parser.add_argument("--check", nargs="+", choices=sorted(TARGETS), metavar="TARGET",
                        help="only resolve the wheels for these targets (no download)")
    args = parser.parse_args(argv)
    if args.check:
        check(args.check)
        return 0
    if args.folder is None:
        parser.error("give the bundle folder (or --check TARGET …)")
    bundle(args.folder, args.targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
