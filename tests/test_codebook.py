"""Codebook: the rule language parser and the checks analysts see (with line numbers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import EXIT_OK, EXIT_PROBLEMS, main
from pipeline.errors import ConfigError
from pipeline.themes.codebook import (
    CORE_THEMES,
    And,
    Group,
    Near,
    Not,
    Or,
    RuleSyntaxError,
    Seq,
    Word,
    parse_codebook,
    parse_rule,
)
from pipeline.themes.load import load_codebook
from tests.conftest import MEASURES, MODELS


@pytest.mark.parametrize(("rule", "expected"), [
    ("相談窓口", Word("相談窓口")),
    ("相談窓口 | 相談先", Or((Word("相談窓口"), Word("相談先")))),
    ("相談窓口 or 相談先", Or((Word("相談窓口"), Word("相談先")))),
    ("相談 & 場所", And((Word("相談"), Word("場所")))),
    ("相談 and 場所 | 窓口", Or((And((Word("相談"), Word("場所"))), Word("窓口")))),
    ("相談 & (場所 | 窓口)", And((Word("相談"), Or((Word("場所"), Word("窓口")))))),
    ("働く/動詞 & !@職員", And((Word("働く", pos="動詞"), Not(Group("職員"))))),
    ("not 防犯", Not(Word("防犯"))),
    ("near(相談, 場所, 3)", Near((Word("相談"), Word("場所")), 3)),
    ("near(相談, 場所)", Near((Word("相談"), Word("場所")), 5)),
    ("near(悩み | 困りごと, @場所, 5)", Near((Or((Word("悩み"), Word("困りごと"))), Group("場所")), 5)),
    ("seq(障害, と | に, なる)", Seq((Word("障害"), Or((Word("と"), Word("に"))), Word("なる")))),
    ("相談*", Word("相談", prefix=True)),
    ("*窓口", Word("窓口", suffix=True)),
    ('"安心安全"', Word("安心安全", literal=True)),
    ("相談｜窓口", Or((Word("相談"), Word("窓口")))),          # full-width bar
])
def test_parse_rule(rule: str, expected: object) -> None:
    assert parse_rule(rule) == expected


@pytest.mark.parametrize(("rule", "column"), [
    ("(相談 | 窓口", 9),
    ("相談 |", 5),
    ("相談 窓口", 4),
    ("near(相談)", 1),
    ("相談)", 3),
    ("", 1),
    ("@", 1),
    ('""', 1),
])
def test_rule_syntax_errors_name_the_column(rule: str, column: int) -> None:
    with pytest.raises(RuleSyntaxError) as err:
        parse_rule(rule)
    assert err.value.column == column


BAD = """\
groups:
  職員: [職員, スタッフ]
themes:
  - id: 相談窓口
    label: 相談窓口
    definition: 相談できる場所
    measures: [P2-1, P9-9]
    rules:
      - 相談 & (場所
  - id: 相談窓口
    label: 重複
    definition: 重複
    rules: [相談]
  - label: IDなし
    rules: [窓口]
  - id: 就労
    label: 就労
    rules:
      - 働く & !@職員たち
    color: red
"""


def test_codebook_with_mistakes_reports_each_with_its_line() -> None:
    book, problems = parse_codebook(BAD, measure_ids=["P2-1"], pillar_ids=["P2"])
    assert book is None
    got = {(p.line, p.severity) for p in problems}
    lines = {p.line: p.message for p in problems}
    assert (9, "error") in got and "相談 & (場所" in lines[9]          # unbalanced parenthesis
    assert (7, "warning") in got and "P9-9" in lines[7]                 # unknown measure
    assert (10, "error") in got and "重複" in lines[10]                 # duplicate id
    assert (14, "error") in got                                          # no id
    assert (19, "error") in got and "@職員たち" in lines[19]             # unknown group
    assert (20, "error") in got and "color" in lines[20]                # unknown key
    assert any(p.line == 16 and "definition" in p.message for p in problems)
    assert any("担い手" in p.message and p.severity == "warning" for p in problems)  # core theme missing


def test_codebook_that_is_not_yaml() -> None:
    book, problems = parse_codebook("themes: [\n  - id: x\n")
    assert book is None and problems[0].line >= 2


def test_load_codebook_raises_config_error_listing_errors(tmp_path: Path) -> None:
    path = tmp_path / "codebook.yaml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError, match="9行目"):
        load_codebook(path)


def test_shipped_codebook_is_valid_and_covers_the_report() -> None:
    book = load_codebook(MODELS / "codebook.yaml")
    ids = book.theme_ids
    assert set(CORE_THEMES) <= set(ids)
    for theme in ("居場所", "子ども・若者", "高齢者", "障害", "連携", "多様な主体", "職員の力", "参加・周知"):
        assert theme in ids
    assert all(t.definition and t.rules for t in book.themes)
    _, problems = parse_codebook((MODELS / "codebook.yaml").read_text(encoding="utf-8"),
                                 measure_ids=[f"P{p}-{m}" for p in range(1, 5) for m in range(1, 5)],
                                 pillar_ids=["P1", "P2", "P3", "P4"])
    assert problems == []


def test_cli_codebook_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["codebook", "check", str(MODELS / "codebook.yaml"), "--measures", str(MEASURES)]) == EXIT_OK
    assert "OK" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD, encoding="utf-8")
    assert main(["codebook", "check", str(bad), "--measures", str(MEASURES)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "9行目 / line 9: エラー / error" in out and "20行目" in out
