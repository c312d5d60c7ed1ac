"""pipeline.run.parallel: the item pass's map over processes, the second process beside the analysis and the
writer, frames shipped and sent in parts; the schemas load without dask's dataframe module."""

from __future__ import annotations

import functools
import pickle
import sys

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import load_meeting
from pipeline.run import parallel
from pipeline.run.models import Models
from tests.conftest import MEASURES, MEETING_2
from tests.factories import shipped_models


@pytest.fixture(scope="module")
def models() -> Models:
    return shipped_models()


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"text": pd.array(["高齢者の見守りが必要", "", "子ども食堂\ud800を"], dtype="str"),
                         "n": [3, 1, 2],
                         "theme": pd.Categorical(["見守り", "居場所", "見守り"]),
                         "mixed": ["あ", None, "う"],
                         "plain": pd.Series(["い", "ろ", "は"], dtype=object)}, index=[10, 11, 12])


def test_a_shipped_frame_arrives_as_the_same_frame() -> None:

    frame = _frame()
    back = pickle.loads(pickle.dumps(parallel.Shipped(frame)))
    pd.testing.assert_frame_equal(back, frame)
    assert list(back.columns) == ["text", "n", "theme", "mixed", "plain"] and back.index.tolist() == [10, 11, 12]
    empty = pd.DataFrame({"text": pd.Series([], dtype="str"), "n": pd.Series([], dtype="int64")})
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(parallel.Shipped(empty))), empty)
    kinds = pd.DataFrame({"kind": pd.array(["".join(["要", "望"]), "意見", "".join(["要", "望"])], dtype="str")})
    back = pickle.loads(pickle.dumps(parallel.Shipped(kinds)))["kind"].tolist()
    assert back == ["要望", "意見", "要望"] and back[0] is back[2]  # a value repeated down a column: one object
    twice = pd.DataFrame([["a", "b"]], columns=["x", "x"])  # repeated column names: sent as they are
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(parallel.Shipped(twice))), twice)


def test_shipping_leaves_no_utf8_copy_in_the_strings() -> None:
    """Pickling a str makes CPython keep its UTF-8 bytes in the object (``sys.getsizeof`` counts them); a shipped
    frame's texts are sent joined, so its own strings stay the size they were."""

    texts = ["".join(["地域の見守り活動", str(n)]) for n in range(3)]  # built at run time: no cached copy yet
    sizes = [sys.getsizeof(t) for t in texts]
    frame = pd.DataFrame({"text": pd.array(texts, dtype="str")})
    pickle.dumps(parallel.Shipped(frame))
    assert [sys.getsizeof(t) for t in frame["text"].tolist()] == sizes
    pickle.dumps(frame)  # the plain frame: each string now holds its UTF-8 bytes too
    assert [sys.getsizeof(t) for t in frame["text"].tolist()] == [s + len(t.encode()) + 1
                                                                   for s, t in zip(sizes, texts, strict=True)]


def test_frames_sent_ahead_in_parts_are_put_together_again_for_the_call() -> None:
    """send_ahead hands each frame (top level, in a list, a dict, a partial) to ``send`` as shipped parts of ``rows``
    under a new key and leaves a Received in its place; receive_part keeps the parts and call_received puts them
    together for the call (the same frames), then forgets them; an empty frame is one empty part."""
    import itertools

    from pipeline.run.parallel import Received, call_received, in_parts, receive_part, send_ahead

    frame = pd.DataFrame({"item_id": ["F01", "F02", "F03", "F04", "F05"],
                          "text": ["見守りが必要", "移動の支援", "見守りが必要", "", "居場所がほしい"],
                          "kind": pd.Categorical(["意見", "質問", "意見", "意見", "要望"]),
                          "start": np.array([0, 3, 5, 8, 13], dtype="int32")})
    assert [len(p.frame) for p in in_parts(frame, 2)] == [2, 2, 1]
    messages: list[tuple[int, int]] = []

    def send(key: int, part: parallel.Shipped) -> None:
        messages.append((key, len(part.frame)))
        receive_part(key, pickle.loads(pickle.dumps(part)))  # as the helper process gets it

    args = send_ahead((frame, [("表", frame.head(1))], {"k": frame.iloc[:0]}, functools.partial(len, frame), "文"),
                      send, itertools.count(), 2)
    assert messages == [(0, 2), (0, 2), (0, 1), (1, 1), (2, 0), (3, 2), (3, 2), (3, 1)]
    assert isinstance(args[0], Received) and args[4] == "文"
    got = call_received(lambda *a: a, pickle.loads(pickle.dumps(args)))
    pd.testing.assert_frame_equal(got[0], frame)
    pd.testing.assert_frame_equal(got[1][0][1], frame.head(1))
    assert list(got[2]["k"].columns) == list(frame.columns) and len(got[2]["k"]) == 0
    assert got[3]() == 5 and got[4] == "文" and parallel._RECEIVED == {}
    # a categorical column goes as its codes (no part carries the categories), its dtype with the call; a missing
    # value and an unused category come back as they were
    coded = frame.assign(kind=pd.Categorical(["意見", None, "意見", "要望", "要望"], categories=["意見", "要望", "質問"]),
                         item_id=frame["item_id"].astype("category"))
    sent: list[parallel.Shipped] = []
    marker = send_ahead(coded, lambda key, part: sent.append(part), itertools.count(9), 2)
    assert marker.key == 9 and [c for c, _ in marker.categories] == ["item_id", "kind"]
    assert all(part.frame["kind"].dtype == "int8" for part in sent)
    for part in sent:
        receive_part(9, pickle.loads(pickle.dumps(part)))
    pd.testing.assert_frame_equal(call_received(lambda f: f, (marker,)), coded)


@pytest.mark.slow
def test_the_schemas_load_without_dask_dataframe_and_leave_it_importable() -> None:
    """pandera would import dask.dataframe for each process that loads the schemas (pipeline/_pandera.py)."""
    import subprocess

    probe = (
        "import importlib, sys\n"
        "import pipeline.schemas, pipeline.run.outputs\n"
        "import pandera.typing.dask as d\n"
        "print('dask.dataframe' in sys.modules, d.DASK_INSTALLED, pipeline.schemas.Items.item_id)\n"
        "try:\n"
        "    importlib.import_module('dask.dataframe')\n"
        "    print('imported')\n"
        "except ImportError as e:\n"
        "    print('halted' in str(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False False item_id"    # not loaded while pandera looked; pandera takes dask as absent
    assert out[1] in ("imported", "False")     # later tried as usual (without pyarrow it fails on its own import)


def test_large_meetings_use_the_cores_and_small_ones_stay_in_process() -> None:
    from pipeline.run.parallel import PARALLEL_FROM, SIDE_PROCESS_UNTIL, auto_map, inline, side_process

    assert auto_map(PARALLEL_FROM - 1, cpus=8) is map
    assert auto_map(PARALLEL_FROM, cpus=1) is map
    assert auto_map(PARALLEL_FROM, cpus=2) is not map
    assert auto_map(SIDE_PROCESS_UNTIL + 1, cpus=2) is not map   # the item pass: on every core at any size
    # the KWIC index beside: not for small meetings, nor for the largest (a second copy of its inputs)
    for n, cpus in ((PARALLEL_FROM - 1, 8), (PARALLEL_FROM, 1), (SIDE_PROCESS_UNTIL + 1, 8)):
        with side_process(n, cpus=cpus) as side:
            assert side is inline
    assert inline(divmod, 17, 5).result() == (3, 2)


@pytest.mark.slow
def test_a_second_process_computes_the_same_value() -> None:
    from pipeline.run.parallel import PARALLEL_FROM, inline, side_process

    frame = pd.DataFrame({"item_id": ["F01", "F02"], "text": pd.array(["見守りが必要", "移動の支援"], dtype="str")})
    with side_process(PARALLEL_FROM, cpus=2) as side:
        assert side is not inline
        quotient, same, failed = side(divmod, 17, 5), side(pd.DataFrame.equals, frame, frame.copy()), side(divmod, 1, 0)
        assert quotient.result() == (3, 2)
        assert same.result() is True  # frames arrive as frames
        with pytest.raises(ZeroDivisionError):
            failed.result()


@pytest.mark.slow
def test_the_second_process_lives_while_a_call_runs() -> None:
    """Calls sent while one runs share its process; once every call has finished the process ends by itself (its
    memory given back, whether or not the values have been taken), and a later call starts another."""
    import os
    import time

    import psutil

    from pipeline.run.parallel import PARALLEL_FROM, side_process

    with side_process(PARALLEL_FROM, cpus=2) as side:
        slow, second = side(time.sleep, 1), side(os.getpid)   # the second is sent while the first still runs
        pid = second.result()
        assert pid != os.getpid()
        process = psutil.Process(pid)

        def ended() -> bool:
            try:
                return process.status() == psutil.STATUS_ZOMBIE  # exited, not yet waited for
            except psutil.NoSuchProcess:
                return True

        deadline = time.monotonic() + 60
        while not ended() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended()                                      # the first value not taken yet: ended all the same
        assert slow.result() is None
        again = side(os.getpid).result()
        assert again not in (pid, os.getpid())
    assert not psutil.pid_exists(again)                         # the block waits for every process it started


@pytest.mark.slow
def test_a_kept_second_process_serves_calls_sent_apart() -> None:
    """``keep``: calls sent after the earlier ones have finished still go to the one process, which ends with the
    block (the writer's: the long tables first, the workbook once the charts are drawn)."""
    import os

    import psutil

    from pipeline.run.parallel import helper_process

    with helper_process(keep=True) as side:
        pid = side(os.getpid).result()
        assert pid != os.getpid()
        assert side(os.getpid).result() == pid and side(os.getpid).result() == pid
    assert not psutil.pid_exists(pid)


@pytest.mark.slow
def test_frames_go_to_the_second_process_ahead_of_the_call_in_parts(monkeypatch) -> None:
    """Each frame in a call's arguments (also inside a list) is sent before the call, in parts of SEND_ROWS rows,
    each its own message; the function gets the frames themselves again (index, dtypes, values)."""
    monkeypatch.setattr(parallel, "SEND_ROWS", 2)
    sent: list[int] = []
    real = parallel.in_parts

    def spy(frame: pd.DataFrame, rows: int | None = None):
        parts = real(frame, rows)
        sent.extend(len(p.frame) for p in parts)
        return parts

    monkeypatch.setattr(parallel, "in_parts", spy)
    frame = pd.DataFrame({"item_id": ["F01", "F02", "F03", "F04", "F05"],
                          "text": ["見守りが必要", "移動の支援", "見守りが必要", "", "居場所がほしい"],
                          "kind": pd.Categorical(["意見", "質問", "意見", "意見", "要望"]),
                          "start": np.array([0, 3, 5, 8, 13], dtype="int32")}, index=[10, 11, 12, 13, 14])
    with parallel.side_process(parallel.PARALLEL_FROM, cpus=2) as side:  # values taken last: one process
        together = side(pd.concat, [frame])
        assert sent == [2, 2, 1]
        same = side(pd.DataFrame.equals, frame, frame.copy())
        assert sent == [2, 2, 1] * 3
        short = side(pd.DataFrame.equals, frame.head(2), frame.head(2).copy())
        assert sent == [2, 2, 1] * 3 + [2, 2]
        plain = side(divmod, 17, 5)
        assert len(sent) == 11  # no frame: nothing ahead
        pd.testing.assert_frame_equal(together.result(), frame)
        assert same.result() is True and short.result() is True and plain.result() == (3, 2)


def _modules_after(batch: pd.DataFrame, *, fn) -> tuple[object, list[str]]:
    """``fn(batch)`` and the top-level modules loaded by then (run in a worker)."""
    import sys

    return fn(batch), sorted({name.split(".")[0] for name in sys.modules})


@pytest.mark.slow
def test_the_workers_give_the_batch_of_one_process_without_loading_scikit_learn(models: Models) -> None:
    """The item pass's workers get the models and return each batch as item_batch gives it in this process; the
    measure similarity is computed here, so a worker never loads scikit-learn or SciPy (≈ 70 MiB each)."""
    import functools

    from pipeline.run import items
    from pipeline.text.normalise import raw_items

    inputs = load_meeting(MEETING_2, MEASURES)
    assert models.tagger.model is None  # the shipped models: rules only (a learned layer would need scikit-learn)
    batch = raw_items(inputs.cards, inputs.feedback).iloc[30:42].reset_index(drop=True)
    fn = functools.partial(items.item_batch, models=models, mask=True)
    [(got, loaded)] = list(parallel.process_map(1)(functools.partial(_modules_after, fn=fn), [batch]))
    assert "pandas" in loaded and "fugashi" in loaded
    assert "sklearn" not in loaded and "scipy" not in loaded
    want = fn(batch)
    assert len(want.items) == 12
    for name in ("items", "terms", "evidence"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))
    assert got.content == want.content and got.masks == want.masks
