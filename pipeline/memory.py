"""Freed memory given back to the operating system between the stages of a large run.

CPython frees a large meeting's temporaries (merges, per-item lists) into the C allocator, which keeps most of them
in its heap: the process's resident memory then only grows from stage to stage, and the next stage's peak is
added on top.  glibc's ``malloc_trim(0)`` returns the free pages; Dask's workers do the same ("trim memory").
Elsewhere (macOS, Windows, musl) this does nothing.  Measured at 100,000 comments: the run's peak from 1.8 to
1.5–1.6 GiB, resident memory after the analysis from 1.6 to 1.4 GiB (README "Benchmarks").
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

_T = TypeVar("_T")


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl)
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    return getattr(_libc(), "malloc_trim", None)


MMAP_FROM = 1 << 20
"""Bytes from which glibc gives a block its own mapping, unmapped when the block is freed (:func:`map_large_blocks`)."""

_M_MMAP_THRESHOLD = -3  # malloc.h


@functools.lru_cache(maxsize=1)
def map_large_blocks() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_FROM` for this process; False where there is no way to.

    By default glibc raises the threshold (up to 32 MiB) each time a mapped block is freed, so a large run's
    buffers of a few MiB — pickles to and from the other processes, column arrays, merges — come from the heaps,
    whose freed pages stay with the process, the next stage's peak added on top.  Fixed, a block of 1 MiB or more
    is given back the moment it is freed.  Measured at 100,000 comments (pages returned at each stage's end):
    resident memory 60–90 MiB lower from the themes on (README "Benchmarks")."""
    mallopt = getattr(_libc(), "mallopt", None)
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_FROM))


def release_free_memory() -> bool:
    """Give the allocator's free pages back to the OS; False where there is no way to."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


class Shipped:
    """A frame on its way to another process: pickled with each text column as its distinct values joined into one
    string (with their lengths) and a code per row, and unpickled there as the same frame (same columns, dtypes,
    index and values; equal texts of a column one object).

    Pickling a ``str`` makes CPython keep a UTF-8 copy of it inside the object for as long as it lives; a frame's
    texts sent as they are would cost this process their size again, for the rest of the run (measured at
    100,000 comments: ≈ 60 MiB for the KWIC index's texts alone).  The joined string takes that copy and is freed.
    A value repeated down a column (a kind, a rule, a group) arrives as one object, not one per row."""

    __slots__ = ("frame",)

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def __reduce__(self) -> tuple[Callable[..., pd.DataFrame], tuple[object, ...]]:
        frame = self.frame
        if not frame.columns.is_unique:
            return _same, (frame,)
        packed: dict[object, tuple[str, np.ndarray, np.ndarray, object]] = {}
        for c in frame.columns:
            column = frame[c]
            if column.dtype == object or isinstance(column.dtype, pd.StringDtype):
                values = column.tolist()
                if set(map(type, values)) <= {str}:
                    # dicts, not pandas.factorize: pandas' string hash table caches each string's UTF-8 too
                    texts = list(dict.fromkeys(values))
                    code = {t: n for n, t in enumerate(texts)}
                    codes = np.array(list(map(code.__getitem__, values)), dtype=np.min_scalar_type(len(texts)))
                    packed[c] = ("".join(texts), np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)),
                                 codes, column.dtype)
        return _unship, (frame.drop(columns=list(packed)), list(frame.columns), packed)


def _same(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _unship(rest: pd.DataFrame, order: list[object],
            packed: dict[object, tuple[str, np.ndarray, np.ndarray, object]]) -> pd.DataFrame:
    out = rest.copy(deep=False)
    for c, (whole, lengths, codes, dtype) in packed.items():
        ends = np.cumsum(lengths)
        texts = np.empty(len(lengths), dtype=object)
        texts[:] = [whole[a:b] for a, b in zip((ends - lengths).tolist(), ends.tolist(), strict=True)]
        out[c] = pd.Series(texts[codes] if len(codes) else np.empty(0, dtype=object), index=rest.index, dtype=dtype)
    return out[order]


def _replace(value: _T, kind: type, fn: Callable[[object], object]) -> _T:
    """``value`` with each ``kind`` in it (itself, or in a tuple, list, dict or :func:`functools.partial`) replaced by
    ``fn`` of it."""
    if isinstance(value, kind):
        return fn(value)  # type: ignore[return-value]
    if isinstance(value, tuple | list):
        return type(value)(_replace(v, kind, fn) for v in value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: _replace(v, kind, fn) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, functools.partial):
        return functools.partial(value.func, *_replace(value.args, kind, fn),  # type: ignore[return-value]
                                 **_replace(value.keywords, kind, fn))
    return value


def ship(value: _T) -> _T:
    """``value`` with each frame in it (itself, or in a tuple, list, dict or :func:`functools.partial`) wrapped in
    :class:`Shipped`, for sending to another process (the receiver gets the frames themselves)."""
    return _replace(value, pd.DataFrame, Shipped)


SEND_ROWS = 25_000
"""Rows of a long frame sent to a helper process in one message (:func:`pipeline.analysis.helper_process`)."""

_RECEIVED: dict[int, list[pd.DataFrame]] = {}
"""In a helper process: the parts of frames received so far, by key, until the call that uses them."""


def receive_part(key: int, part: pd.DataFrame) -> None:
    """Keep one part of a frame sent in parts (run in the helper process, in the order the parts were sent)."""
    map_large_blocks()
    _RECEIVED.setdefault(key, []).append(part)


@dataclass(frozen=True)
class Received:
    """Stands, in a call's arguments, for the frame whose parts were sent before it under ``key``; ``categories``:
    its categorical columns, sent as their codes (a part would otherwise carry every category again)."""

    key: int
    categories: tuple[tuple[object, pd.CategoricalDtype], ...] = ()

    def frame(self, parts: list[pd.DataFrame]) -> pd.DataFrame:
        whole = pd.concat(parts) if len(parts) > 1 else parts[0]
        for column, dtype in self.categories:
            whole[column] = pd.Categorical.from_codes(whole[column].to_numpy(), dtype=dtype)
        return whole


def call_received(fn: Callable[..., _T], args: tuple[object, ...]) -> _T:
    """``fn(*args)`` in the helper process, each :class:`Received` in ``args`` (or in a tuple, list, dict or
    :func:`functools.partial` there) replaced by its frame, its parts put together."""
    map_large_blocks()
    return fn(*_replace(args, Received, lambda r: r.frame(_RECEIVED.pop(r.key))))  # type: ignore[attr-defined]


def send_ahead(value: _T, send: Callable[[int, Shipped], object], keys: Iterator[int],
               rows: int | None = None) -> _T:
    """``value`` with each frame in it (itself, or in a tuple, list, dict or :func:`functools.partial`) replaced by a
    :class:`Received`, the frame handed to ``send(key, part)`` first in shipped parts of ``rows``
    (:func:`in_parts`) under a key from ``keys``; :func:`call_received` puts them back."""
    def ahead(frame: pd.DataFrame) -> Received:
        key = next(keys)
        coded: tuple[tuple[object, pd.CategoricalDtype], ...] = ()
        if frame.columns.is_unique:
            coded = tuple((c, d) for c, d in frame.dtypes.items() if isinstance(d, pd.CategoricalDtype))
            if coded:
                frame = frame.copy(deep=False)
                for c, _ in coded:
                    frame[c] = frame[c].cat.codes
        for part in in_parts(frame, rows if frame.columns.is_unique else max(len(frame), 1)):
            send(key, part)
        return Received(key, coded)

    return _replace(value, pd.DataFrame, ahead)  # type: ignore[arg-type]


def in_parts(frame: pd.DataFrame, rows: int | None = None) -> list[Shipped]:
    """``frame`` cut into shipped parts of ``rows`` (default :data:`SEND_ROWS`): each pickled as its own message, this
    process holds one part's bytes at a time instead of the whole frame's (at 100,000 comments the KWIC task's texts
    and words, ≈ 90 MiB of bytes, made the run's peak while they were sent)."""
    size = rows or SEND_ROWS
    return [Shipped(frame.iloc[start:start + size]) for start in range(0, max(len(frame), 1), size)]
