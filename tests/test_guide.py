"""docs/guide.md (利用の手引き): every command of its ``sh`` blocks works as written, in order, on the sample data
(the PowerShell blocks need Windows or an installer and are not run here); its pictures are there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "guide.md"


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S)


def test_the_guide_is_japanese_and_first_in_the_readme() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert text.startswith("# kyosei 利用の手引き")
    japanese = len(re.findall(r"[\u3040-\u30ff\u4e00-\u9fff]", text))
    assert japanese > len(re.findall(r"[A-Za-z]", text))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("docs/guide.md") < readme.index("## Quick start")
    for picture in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (GUIDE.parent / picture).is_file(), picture
        assert (GUIDE.parent / picture).read_bytes().startswith(b"\x89PNG")


@pytest.mark.integration
def test_every_command_of_the_guide_works_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "data", tmp_path / "data", ignore=shutil.ignore_patterns("eval"))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONIOENCODING": "utf-8"}
    commands = [line for block in blocks("sh") for line in block.splitlines() if line.strip()]
    assert len(commands) >= 10 and all(c.startswith(("kyosei ", "cp ")) for c in commands)
    makes = {"kyosei init": "福祉計画/data/meetings/第1回", "kyosei run 福祉計画": "outputs/第1回/report.docx",
             "kyosei codebook import": "福祉計画/codebook.yaml", "kyosei revise": "outputs/第1回/measures_draft.xlsx"}
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, timeout=300,
                              check=False)
        assert done.returncode == 0, (command, done.stdout.decode()[-2000:], done.stderr.decode()[-2000:])
        for start, made in makes.items():
            if command.startswith(start):
                assert (tmp_path / made).exists(), (command, made)
    out = {c: subprocess.run(["bash", "-c", c], cwd=tmp_path, env=env, capture_output=True, timeout=300,
                             check=False).stdout.decode() for c in commands if c.startswith("kyosei kwic")}
    assert all("相談" in text for text in out.values()) and out
