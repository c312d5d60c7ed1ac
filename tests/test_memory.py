"""pipeline.memory: freed memory goes back to the OS where the C library can do it, and nothing happens elsewhere."""

from __future__ import annotations

import functools
import pickle
import sys

import pandas as pd
import pytest

from pipeline import memory


def test_glibc_gives_free_pages_back() -> None:
    memory._malloc_trim.cache_clear()
    expected = sys.platform.startswith("linux") and memory._malloc_trim() is not None
    assert memory.release_free_memory() is expected
    if sys.platform.startswith("linux"):
        import platform

        if platform.libc_ver()[0] == "glibc":
            assert memory.release_free_memory() is True


def test_elsewhere_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        assert memory.release_free_memory() is False
    finally:
        memory._malloc_trim.cache_clear()


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
