"""Command line: validate prints every problem and writes nothing; errors are one clear message."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, default_measures, main
from tests.conftest import MEASURES, MEETING_2


def test_validate_clean_meeting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(MEETING_2), "--measures", str(MEASURES)]) == EXIT_OK
    assert "問題はありません" in capsys.readouterr().out


def test_validate_lists_every_problem_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "m"
    shutil.copytree(MEETING_2, m)
    with (m / "votes.csv").open("a", encoding="utf-8") as f:
        f.write("C99,1,1,P01,A\nC01,1,-2,P02,A\n")
    before = sorted(p.name for p in m.iterdir())
    assert main(["validate", str(m), "--measures", str(MEASURES)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "votes.csv 行/row 74 [card_id]" in out and "C99" in out
    assert "votes.csv 行/row 75 [blocks]" in out
    assert sorted(p.name for p in m.iterdir()) == before


@pytest.mark.integration
@pytest.mark.usefixtures("prefect_harness", "no_prefect_console")
def test_missing_column_is_one_message_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = tmp_path / "m"
    m.mkdir()
    (m / "feedback.csv").write_text("ID,種別\nF1,感想\n", encoding="utf-8")
    assert main(["run", str(m), "--measures", str(MEASURES), "--out-root", str(tmp_path / "out")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "feedback.csv" in err and "text" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_default_measures_found_two_levels_up() -> None:
    assert default_measures(MEETING_2).resolve() == MEASURES.resolve()


@pytest.mark.slow
@pytest.mark.integration
def test_failure_inside_the_flow_prints_no_traceback(tmp_path: Path) -> None:
    """A real terminal run (subprocess, Prefect's own logging) whose flow fails on a broken decision log."""
    import os
    import subprocess
    import sys

    bad = tmp_path / "decisions.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
    res = subprocess.run([str(Path(sys.executable).parent / "kyosei"), "run", str(MEETING_2), "--measures",
                          str(MEASURES), "--out-root", str(tmp_path / "out"), "--decisions", str(bad)],
                         env=env, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 2
    assert "missing columns" in res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert not (tmp_path / "out" / "2024-05-22").exists()


def _kyosei(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kyosei run`` on the sample meeting in a real terminal-like subprocess (fresh Prefect home)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90", "COLUMNS": "200"}
    return subprocess.run([str(Path(sys.executable).parent / "kyosei"), "run", str(MEETING_2), "--measures",
                           str(MEASURES), "--out-root", str(tmp_path / "out"), *args],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.integration
def test_terminal_tells_the_story(tmp_path: Path) -> None:
    res = _kyosei(tmp_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    stages = [line for line in lines if re.match(r"^\d/7 ", line)]
    assert [s.split("　")[0] for s in stages] == [
        "1/7 入力の読み込み", "2/7 個人情報のマスク・正規化・形態素解析・ルール照合", "3/7 投票の集計",
        "4/7 テーマの確定（判定の反映）", "5/7 施策案との照合", "6/7 クラスタと新たな視点", "7/7 レポートの書き出し"]
    assert all(re.search(r"　\d+\.\d 秒$", s) for s in stages)                 # each with its time
    assert "152 行（取込 152、除外 0）" in stages[0]                           # 12 measures + 40 cards + 28 + 72
    assert "68 件（カード 40、コメント 28）、個人情報 0 箇所を伏せました" in stages[1]
    assert "1回目 54 票、2回目 18 票" in stages[2]
    assert re.search(r"新たな視点 \d+ 件", stages[5])
    text = res.stdout
    assert "多いテーマ: 相談窓口" in text and "新たな視点(案):" in text and "取り込めなかった行: なし" in text
    assert "report.docx" in text and "report.xlsx" in text and "report.html" in text
    assert res.stderr == ""
    assert "Finished in state" not in text and "prefect" not in text.lower()


@pytest.mark.integration
def test_quiet_is_silent_and_verbose_shows_prefect(tmp_path: Path) -> None:
    quiet = _kyosei(tmp_path / "q", "--quiet")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    verbose = _kyosei(tmp_path / "v", "--verbose")
    assert verbose.returncode == 0
    assert "Finished in state Completed()" in verbose.stdout + verbose.stderr
    assert "1/7 入力の読み込み" in verbose.stdout


def test_python_m_flows_runs_the_command_only_as_the_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned worker of the item pool imports the parent's main module as __mp_main__: it must not start a
    second run."""
    import runpy

    import flows.entry

    calls: list[str] = []
    monkeypatch.setattr(flows.entry, "main", lambda: calls.append("run"))
    runpy.run_module("flows.__main__", run_name="__mp_main__")
    assert calls == []
    runpy.run_module("flows.__main__", run_name="__main__")
    assert calls == ["run"]


@pytest.mark.slow
@pytest.mark.integration
def test_the_installed_command_works_from_any_folder(tmp_path: Path) -> None:
    """As a new user would: a copy of a sample meeting and its policy table in a folder outside the repository,
    ``kyosei run`` started there writes ./outputs/<meeting>/ with the shipped models (package data)."""
    work = tmp_path / "福祉政策課"
    shutil.copytree(MEETING_2, work / "第2回 連携会議")
    shutil.copy(MEASURES, work / "体系表.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "ph"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "KYOSEI_NO_WARM": "1",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90"}
    kyosei = str(Path(sys.executable).parent / "kyosei")
    res = subprocess.run([kyosei, "run", "第2回 連携会議", "--measures", "体系表.csv"], cwd=work, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == EXIT_OK, res.stderr
    out = work / "outputs" / "2024-05-22"                     # the id from meeting.yaml, under ./outputs
    assert (out / "report.html").is_file() and (out / "tagged.csv").is_file()
    assert "読めません" not in res.stderr and "注意" not in res.stderr
    import json

    params = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["parameters"]
    assert Path(params["codebook"]).name == "codebook.yaml" and Path(params["codebook"]).is_file()
    assert Path(params["lexicon"]).is_file() and Path(params["stopwords"]).is_file()
    demo = subprocess.run([kyosei, "demo", "--meetings", "nowhere"], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert demo.returncode == EXIT_ERROR and "data/meetings" in demo.stderr


def test_help_is_japanese_and_every_option_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    """usage, section titles, -h and argparse's own errors in Japanese (English in parentheses); every option and
    argument of every command has a help text."""
    import argparse

    from flows.cli import _parser

    def walk(parser: argparse.ArgumentParser, name: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for choice, sub in action.choices.items():
                    if not helps.get(choice) or "(" not in helps[choice]:
                        missing.append(f"{name} {choice}")
                    missing += walk(sub, f"{name} {choice}")
            elif not action.help or "(" not in action.help:
                missing.append(f"{name} {action.option_strings or action.dest}")
        return missing

    assert walk(_parser(), "kyosei") == []
    with pytest.raises(SystemExit):
        main(["run", "-h"])
    out = capsys.readouterr().out
    assert out.startswith("使い方 (usage): kyosei run ") and "オプション (options):" in out
    assert "この説明を表示して終わります" in out and "show this help message" not in out
    with pytest.raises(SystemExit) as stop:
        main(["run"])
    assert stop.value.code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "エラー (error): 必要な引数がありません (the following arguments are required): meeting_dir" in err
