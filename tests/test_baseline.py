"""A baseline between versions: the sample meetings' outputs (manifest aside) must match the committed list of
hashes, tests/baseline/sample_outputs.sha256 (made by tools/baseline.py after ``kyosei demo``).  A change of outputs
updates the list in the same commit, and the commit message says which files changed and why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flows.cli import EXIT_OK, main
from tests.conftest import DATA, ROOT

BASELINE = ROOT / "tests" / "baseline" / "sample_outputs.sha256"
pytestmark = [pytest.mark.integration]


def test_the_sample_meetings_outputs_match_the_committed_baseline(prefect_harness: None, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    from baseline import baseline

    monkeypatch.chdir(ROOT)                      # as make demo: the repository's models/ (the decision log)
    out = tmp_path / "out"
    assert main(["demo", "--meetings", str(DATA / "meetings"), "--out-root", str(out)]) == EXIT_OK
    expected = dict(reversed(line.split("  ", 1)) for line in BASELINE.read_text(encoding="utf-8").splitlines())
    got = dict(reversed(line.split("  ", 1)) for line in baseline(out))
    changed = sorted(f for f in expected.keys() & got.keys() if expected[f] != got[f])
    assert (changed, sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())) == ([], [], []), \
        "outputs differ from tests/baseline/sample_outputs.sha256 (tools/baseline.py makes it again)"
    assert len(got) == 63 and {f.split("/")[0] for f in got} == {"2024-05-08", "2024-05-22"}
