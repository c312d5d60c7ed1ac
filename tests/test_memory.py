"""pipeline.run.parallel: freed memory goes back to the OS where the C library can do it, and nothing happens elsewhere;
frames go to another process in parts; the schemas load without dask's dataframe module."""

from __future__ import annotations

import functools
import pickle
import sys

import numpy as np
import pandas as pd
import pytest


def test_glibc_gives_free_pages_back_and_maps_large_blocks() -> None:
    memory._libc.cache_clear()
    memory.map_large_blocks.cache_clear()
    expected = sys.platform.startswith("linux") and memory._malloc_trim() is not None
    assert memory.release_free_memory() is expected
    assert memory.map_large_blocks() is expected
    assert memory.map_large_blocks() is expected  # once per process: cached
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert memory.release_free_memory() is True and memory.map_large_blocks() is True


def test_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._libc.cache_clear()
    memory.map_large_blocks.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        assert memory.release_free_memory() is False
        assert memory.map_large_blocks() is False
    finally:
        memory._libc.cache_clear()
        memory.map_large_blocks.cache_clear()


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"text": pd.array(["高齢者の見守りが必要", "", "子ども食堂\ud800を"], dtype="str"),
                         "n": [3, 1, 2],
                         "theme": pd.Categorical(["見守り", "居場所", "見守り"]),
                         "mixed": ["あ", None, "う"],
                         "plain": pd.Series(["い", "ろ", "は"], dtype=object)}, index=[10, 11, 12])


def test_a_shipped_frame_arrives_as_the_same_frame() -> None:

    frame = _frame()
    back = pickle.loads(pickle.dumps(memory.Shipped(frame)))
    pd.testing.assert_frame_equal(back, frame)
    assert list(back.columns) == ["text", "n", "theme", "mixed", "plain"] and back.index.tolist() == [10, 11, 12]
    empty = pd.DataFrame({"text": pd.Series([], dtype="str"), "n": pd.Series([], dtype="int64")})
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(memory.Shipped(empty))), empty)
    kinds = pd.DataFrame({"kind": pd.array(["".join(["要", "望"]), "意見", "".join(["要", "望"])], dtype="str")})
    back = pickle.loads(pickle.dumps(memory.Shipped(kinds)))["kind"].tolist()
    assert back == ["要望", "意見", "要望"] and back[0] is back[2]  # a value repeated down a column: one object
    twice = pd.DataFrame([["a", "b"]], columns=["x", "x"])  # repeated column names: sent as they are
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(memory.Shipped(twice))), twice)


def test_shipping_leaves_no_utf8_copy_in_the_strings() -> None:
    """Pickling a str makes CPython keep its UTF-8 bytes in the object (``sys.getsizeof`` counts them); a shipped
    frame's texts are sent joined, so its own strings stay the size they were."""

    texts = ["".join(["地域の見守り活動", str(n)]) for n in range(3)]  # built at run time: no cached copy yet
    sizes = [sys.getsizeof(t) for t in texts]
    frame = pd.DataFrame({"text": pd.array(texts, dtype="str")})
    pickle.dumps(memory.Shipped(frame))
    assert [sys.getsizeof(t) for t in frame["text"].tolist()] == sizes
    pickle.dumps(frame)  # the plain frame: each string now holds its UTF-8 bytes too
    assert [sys.getsizeof(t) for t in frame["text"].tolist()] == [s + len(t.encode()) + 1
                                                                   for s, t in zip(sizes, texts, strict=True)]


def test_ship_wraps_the_frames_wherever_they_are() -> None:

    frame = _frame()
    args = (frame, [frame, 2], {"k": frame}, functools.partial(len, frame), "x")
    shipped = memory.ship(args)
    assert isinstance(shipped[0], memory.Shipped) and isinstance(shipped[1][0], memory.Shipped)
    assert shipped[1][1] == 2 and isinstance(shipped[2]["k"], memory.Shipped) and shipped[4] == "x"
    assert isinstance(shipped[3].args[0], memory.Shipped) and shipped[3].func is len
    back = pickle.loads(pickle.dumps(shipped))
    pd.testing.assert_frame_equal(back[0], frame)
    pd.testing.assert_frame_equal(back[2]["k"], frame)
    assert back[3]() == 3


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

    def send(key: int, part: memory.Shipped) -> None:
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
    assert got[3]() == 5 and got[4] == "文" and memory._RECEIVED == {}
    # a categorical column goes as its codes (no part carries the categories), its dtype with the call; a missing
    # value and an unused category come back as they were
    coded = frame.assign(kind=pd.Categorical(["意見", None, "意見", "要望", "要望"], categories=["意見", "要望", "質問"]),
                         item_id=frame["item_id"].astype("category"))
    sent: list[memory.Shipped] = []
    marker = send_ahead(coded, lambda key, part: sent.append(part), itertools.count(9), 2)
    assert marker.key == 9 and [c for c, _ in marker.categories] == ["item_id", "kind"]
    assert all(part.frame["kind"].dtype == "int8" for part in sent)
    for part in sent:
        receive_part(9, pickle.loads(pickle.dumps(part)))
    pd.testing.assert_frame_equal(call_received(lambda f: f, (marker,)), coded)


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
