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
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import pandas as pd

_T = TypeVar("_T")


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return getattr(libc, "malloc_trim", None)


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


def ship(value: _T) -> _T:
    """``value`` with each frame in it (itself, or in a tuple, list, dict or :func:`functools.partial`) wrapped in
    :class:`Shipped`, for sending to another process (the receiver gets the frames themselves)."""
    if isinstance(value, pd.DataFrame):
        return Shipped(value)  # type: ignore[return-value]
    if isinstance(value, tuple | list):
        return type(value)(ship(v) for v in value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: ship(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, functools.partial):
        return functools.partial(value.func, *ship(value.args), **ship(value.keywords))  # type: ignore[return-value]
    return value
