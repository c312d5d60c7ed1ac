"""Property tests (Hypothesis): the normaliser is idempotent and total, ingest raises only our own
errors on arbitrary bytes, tokenise never fails on arbitrary text; plus the no-pickle / safe-YAML rules."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import KyoseiError
from pipeline.ingest import canonical_columns, read_table, validate_feedback
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Tokeniser
from tests.conftest import ROOT

JAPANESE = st.text(alphabet=st.sampled_from(list("あいうアイウ漢字福祉相談窓口ｱｲｳＡＢＣ１２３，．〜～ー－‐ 　\u200b\t\n")
                                             + list("K-Net N e t (16~18歳)「」、。")), max_size=60)
SETTINGS = settings(max_examples=int(os.environ.get("KYOSEI_HYPOTHESIS_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.one_of(st.text(max_size=80), JAPANESE))
def test_normalise_is_idempotent_and_total(text: str) -> None:
    once = normalise_text(text)
    assert isinstance(once, str)
    assert normalise_text(once) == once


def _walk_one_by_one(exp: str, back: list[int], norm: str, raw_len: int) -> list[int] | None:
    """The alignment walk one character at a time (before it took runs of equal characters in one step)."""
    out = [raw_len] * (len(norm) + 1)
    i = j = guessed = 0
    n, m = len(exp), len(norm)
    while j < m and i < n:
        c = exp[i]
        if c == norm[j]:
            out[j] = back[i]
            i += 1
            j += 1
        elif c.isspace() or not c.isprintable() or (i and c == exp[i - 1]):
            i += 1
        elif j + 1 < m and c == norm[j + 1]:
            out[j] = back[i]
            j += 1
            guessed += 1
        else:
            out[j] = back[i]
            i += 1
            j += 1
            guessed += 1
    guessed += m - j
    return out if guessed * 10 <= m else None


@SETTINGS
@given(JAPANESE, JAPANESE)
def test_the_alignment_walk_by_runs_is_the_walk_one_character_at_a_time(a: str, b: str) -> None:
    from pipeline.text.normalise import _walk

    for exp, norm in ((a, normalise_text(a)), (a, b), (a + b, a + normalise_text(b)), (a * 3, normalise_text(a) * 3)):
        back = list(range(len(exp)))
        assert _walk(exp, back, norm, len(exp)) == _walk_one_by_one(exp, back, norm, len(exp))


@SETTINGS
@given(st.binary(max_size=400))
def test_ingest_raises_only_our_errors_on_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory,
                                                          data: bytes) -> None:
    path = tmp_path_factory.mktemp("bytes") / "feedback.csv"
    path.write_bytes(data)
    try:
        raw = read_table(path, kind="feedback")
        v = validate_feedback(canonical_columns(raw, "feedback"), file=raw.file, card_ids=None)
    except KyoseiError:
        return
    assert raw.rows_in == len(v.ok) + len(v.rejects) + len(raw.rejects)


@SETTINGS
@given(st.one_of(st.text(max_size=120), JAPANESE))
def test_tokenise_never_fails_and_spans_hold(tokeniser: Tokeniser, text: str) -> None:
    s = normalise_text(text)
    for t in tokeniser.tokens(s):
        assert s[t.start:t.end] == t.surface
    tokeniser.terms(s)


def test_no_pickle_anywhere() -> None:
    for path in [*(ROOT / "pipeline").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(pickle|joblib|dill|cloudpickle)\b", source, re.M), path


def test_yaml_is_read_with_the_safe_loader() -> None:
    for path in [*(ROOT / "pipeline").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        assert "yaml.load(" not in source and "yaml.unsafe_load" not in source and "FullLoader" not in source, path



def test_a_yaml_file_that_asks_to_run_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    from pipeline.errors import InputError
    from pipeline.ingest import read_meeting_meta
    from pipeline.themes.load import load_codebook

    ran = tmp_path / "ran"
    attack = f'id: !!python/object/apply:os.system ["touch {ran}"]\n'
    (tmp_path / "meeting.yaml").write_text(attack, encoding="utf-8")
    with pytest.raises(InputError, match="YAML"):
        read_meeting_meta(tmp_path)
    (tmp_path / "codebook.yaml").write_text(f"themes:\n  防災:\n    {attack}", encoding="utf-8")
    with pytest.raises(KyoseiError):
        load_codebook(tmp_path / "codebook.yaml")
    assert not ran.exists()


def test_servers_bind_loopback_only() -> None:
    for path in (ROOT / "flows").rglob("*.py"):
        assert "0.0.0.0" not in path.read_text(encoding="utf-8"), path
