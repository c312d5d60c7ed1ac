"""run-pending: content fingerprints, date order, idempotence, one failure does not stop the others."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flows.pending import PendingRunsFailed, run_pending, run_pending_flow
from pipeline.run.settings import Settings
from tests.conftest import DATA, LOCAL_CODEBOOK, MODELS

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_harness")]


def settings(**changes: object) -> Settings:
    return Settings(**{"decisions": None, **changes})


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA / "meetings", root / "meetings")
    shutil.copy(DATA / "measures.csv", root / "measures.csv")
    shutil.copy(LOCAL_CODEBOOK, root / LOCAL_CODEBOOK.name)
    return root


def test_runs_changed_meetings_in_date_order_and_is_idempotent(data_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_pending(data_root, out, settings())
    assert first.ran == ["2024-05-08", "2024-05-22"] and not first.failed
    man = json.loads((out / "2024-05-22" / "manifest.json").read_text(encoding="utf-8"))
    assert man["perspectives"]["earlier_meetings"] == ["2024-05-08"]          # ran after the first meeting
    second = run_pending(data_root, out, settings())
    assert second.ran == [] and second.skipped == ["2024-05-08", "2024-05-22"]

    feedback = data_root / "meetings" / "2024-05-22" / "feedback.csv"
    os.utime(feedback, (1, 1))                                                 # a timestamp is not a change
    assert run_pending(data_root, out, settings()).ran == []
    with feedback.open("a", encoding="utf-8") as f:
        f.write("F29,就労支援の窓口を増やしてほしい,追加すべき視点,,\n")
    third = run_pending(data_root, out, settings())
    assert third.ran == ["2024-05-22"] and third.skipped == ["2024-05-08"]
    # a setting that changes the outputs reruns every meeting (and is in the manifest); one that cannot, none
    fourth = run_pending(data_root, out, settings(network_words=30, network_mst=True))
    assert fourth.ran == ["2024-05-08", "2024-05-22"]
    params = json.loads((out / "2024-05-22" / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    assert params["network_words"] == 30 and params["network_mst"] is True and params["network_edges"] == 60
    assert run_pending(data_root, out, settings(network_words=30, network_mst=True, chunk_size=100)).ran == []


def test_one_failing_meeting_does_not_stop_the_others(data_root: Path, tmp_path: Path) -> None:
    broken = data_root / "meetings" / "2024-06-05"
    broken.mkdir()
    (broken / "feedback.csv").write_text("ID,種別\nF1,感想\n", encoding="utf-8")      # no text column
    out = tmp_path / "out"
    summary = run_pending(data_root, out, settings())
    assert summary.ran == ["2024-05-08", "2024-05-22"]
    assert list(summary.failed) == ["2024-06-05"] and "text" in summary.failed["2024-06-05"]
    with pytest.raises(PendingRunsFailed, match="2024-06-05"):
        run_pending_flow(data_root=data_root, settings=settings(out_root=tmp_path / "out2",
                                                                codebook=MODELS / "codebook.yaml"))


def test_cli_reports_failures_with_a_non_zero_exit(data_root: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from flows.cli import EXIT_PROBLEMS, main

    (data_root / "meetings" / "2024-06-05").mkdir()
    (data_root / "meetings" / "2024-06-05" / "feedback.csv").write_bytes(b"")
    code = main(["run-pending", str(data_root), "--out-root", str(tmp_path / "out"), "--quiet",
                 "--codebook", str(MODELS / "codebook.yaml")])
    cap = capsys.readouterr()
    assert code == EXIT_PROBLEMS and "2024-06-05" in cap.err and "2024-05-22" in cap.out
