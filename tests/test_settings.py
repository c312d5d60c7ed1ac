"""The run's settings, declared once (pipeline.run.settings): every one changes the rerun fingerprint unless it is
listed as unable to change the outputs; the command line, the manifest and run-pending are derived from it."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from flows.cli.common import add_settings, settings_from_args
from flows.meeting import resolve
from pipeline.run.manifest import fingerprint, values
from pipeline.run.settings import FILE_SETTINGS, NOT_RESULTS, Settings, options, shipped
from tests.conftest import DATA, LOCAL_CODEBOOK, MEASURES

CANNOT_CHANGE_RESULTS = {"out_root", "task_runner", "chunk_size"}
"""Where the outputs go and where the item batches run (byte-identical outputs, checked by tests/test_dask.py)."""


@pytest.fixture
def meeting(tmp_path: Path) -> Path:
    """A copy of the sample data folder: the meeting, its policy table and the city's codebook layer."""
    root = tmp_path / "data"
    shutil.copytree(DATA / "meetings" / "2024-05-22", root / "meetings" / "2024-05-22")
    shutil.copy(MEASURES, root / "measures.csv")
    shutil.copy(LOCAL_CODEBOOK, root / LOCAL_CODEBOOK.name)
    return root / "meetings" / "2024-05-22"


def _edited(source: Path, target: Path) -> Path:
    """A copy of ``source`` with one more line: the same file name, other content."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes() + b"\n# changed\n" if source.suffix == ".yaml"
                       else source.read_bytes() + b"\n")
    return target


def _changed(name: str, default: object, tmp: Path) -> object:
    files = {"measures": MEASURES, "codebook": shipped("codebook.yaml"), "lexicon": shipped("lexicon.yaml"),
             "stopwords": shipped("stopwords.txt"), "theme_labels": shipped("theme_labels.csv")}
    if name in files:
        return _edited(files[name], tmp / "changed" / files[name].name)
    if name == "codebook_layers":
        return (_edited(LOCAL_CODEBOOK, tmp / "layer" / "extra.yaml"),)
    if name == "decisions":
        path = tmp / "decisions.csv"
        path.write_text("meeting_id,item_id,kind,suggestion,decision,correction,note,text,timestamp\n",
                        encoding="utf-8")
        return path
    if name == "out_root":
        return tmp / "elsewhere"
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    if name == "task_runner":
        return "dask"
    raise AssertionError(f"no changed value for the setting {name}: add one here")


def test_every_setting_changes_the_fingerprint_unless_it_cannot_change_the_outputs(meeting: Path,
                                                                                   tmp_path: Path) -> None:
    base = Settings(measures=meeting.parents[1] / "measures.csv")
    before = fingerprint(resolve(meeting, base))
    assert fingerprint(resolve(meeting, base)) == before  # the same settings and files: the same fingerprint
    assert set(NOT_RESULTS) == CANNOT_CHANGE_RESULTS
    for name, default, _ in options():
        if name == "measures":
            default = base.measures
        changed = replace(base, **{name: _changed(name, default, tmp_path)})
        after = fingerprint(resolve(meeting, changed))
        if name in CANNOT_CHANGE_RESULTS:
            assert after == before, name
        else:
            assert after != before, name


def test_a_file_setting_is_its_content_not_its_path(meeting: Path, tmp_path: Path) -> None:
    base = Settings(measures=meeting.parents[1] / "measures.csv")
    moved = tmp_path / "elsewhere" / "measures.csv"
    moved.parent.mkdir()
    shutil.copy(MEASURES, moved)
    assert fingerprint(resolve(meeting, replace(base, measures=moved))) == fingerprint(resolve(meeting, base))


def test_the_command_line_offers_every_setting_with_help_and_gives_it_back() -> None:
    parser = argparse.ArgumentParser()
    add_settings(parser)
    flags = {a.dest: a for a in parser._actions if a.dest != "help"}
    assert set(flags) == {name for name, _, _ in options()}
    assert all(a.help and "(" in a.help for a in flags.values())  # Japanese, English in parentheses
    assert settings_from_args(parser.parse_args([])) == Settings()
    given = settings_from_args(parser.parse_args(
        ["--no-mask", "--network-words", "30", "--network-mst", "--codebook-layer", "a.yaml", "--codebook-layer",
         "b.yaml", "--seed", "0", "--task-runner", "dask", "--out-root", "out"]))
    assert given == Settings(mask_pii=False, network_words=30, network_mst=True, out_root=Path("out"),
                             codebook_layers=(Path("a.yaml"), Path("b.yaml")), task_runner="dask")


def test_a_number_setting_refuses_what_is_not_a_whole_number(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_settings(parser)
    for bad in (["--network-words", "0"], ["--network-edges", "x"], ["--seed", "-1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
        assert "整数" in capsys.readouterr().err


def test_the_manifest_records_every_setting_that_is_not_a_file() -> None:
    recorded = values(Settings(network_words=30))
    assert set(recorded) == {name for name, _, _ in options()} - set(FILE_SETTINGS)
    assert recorded["network_words"] == 30 and recorded["network_mst"] is False and recorded["seed"] == 0


def test_the_shipped_models_are_package_data() -> None:
    for name in ("codebook.yaml", "lexicon.yaml", "stopwords.txt", "theme_labels.csv"):
        assert shipped(name).is_file(), name
    files = resolve(Path("no-such-meeting"), Settings(measures=MEASURES))
    assert files.codebook == shipped("codebook.yaml") and files.lexicon == shipped("lexicon.yaml")
