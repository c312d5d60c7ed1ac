"""The run's machinery in one place: where work runs besides this process.

- :func:`auto_map` / :func:`process_map`: the item pass's ``map`` over a pool of spawned processes from
  :data:`PARALLEL_FROM` items (results in input order, so the outputs are byte-identical to the serial ``map``);
  the flow's Dask task runner supplies another ``map`` with the same contract.
- :func:`side_process` / :func:`helper_process`: one second process for work that can run beside the analysis (the
  KWIC index) and beside the writing (the long CSV tables, the workbook), between :data:`PARALLEL_FROM` /
  :data:`WORKBOOK_PROCESS_FROM` and :data:`SIDE_PROCESS_UNTIL` items; :func:`inline` computes the same value at once.
- :class:`Shipped` and :func:`send_ahead`: frames pickled compactly (texts as one string and codes) and sent in parts.

The analysis itself (:mod:`pipeline.run.analysis`) only receives a ``map`` and a ``side``; what they cost and buy is in
``docs/benchmarks.md``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.pool import AsyncResult, Pool

_T = TypeVar("_T")
Map = Callable[[Callable[[pd.DataFrame], Any], Iterable[pd.DataFrame]], Iterable[Any]]
"""``map(fn, batches)``: the builtin, :func:`process_map` or the flow's task runner; results in input order."""

PARALLEL_FROM = 5000
"""Items from which :func:`auto_map` spreads the item batches over the machine's cores."""

SIDE_PROCESS_UNTIL = 250_000
"""Items up to which the KWIC index (:func:`side_process`) and the writer's long tables and workbook
(:mod:`pipeline.run.writers`) are made by a second process; above, by this one.  A second process holds its own copy of
what it is sent (the KWIC index's inputs ≈ 2 KiB a comment, the writer's ≈ 1 KiB) beside this process's largest
stages: at 1,000,000 comments all the run's processes together reached 6.8 GiB, where this one alone stays under 5.5
GiB.  Memory before speed for the largest consultations (the KWIC index then costs ≈ 1 minute a million comments)."""


WORKBOOK_PROCESS_FROM = 5_000
"""Items from which (to :data:`SIDE_PROCESS_UNTIL`) the long tables' files (KWIC) and then the workbook are written by
a second process while this one draws the charts and writes the other files (on two cores the two then take the
time of the longer)."""

_T_co = TypeVar("_T_co", covariant=True)

_WORKER_FN: Callable[[pd.DataFrame], Any] | None = None


def _set_worker_fn(fn: Callable[[pd.DataFrame], Any]) -> None:
    global _WORKER_FN
    _WORKER_FN = fn


def _call_worker_fn(batch: pd.DataFrame) -> Any:
    assert _WORKER_FN is not None
    return _WORKER_FN(batch)


def process_map(workers: int) -> Map:
    """``map`` over a pool of ``workers`` processes (spawned: safe beside the threads of a Prefect run, and the
    same on Windows); results in input order, so the outputs are byte-identical to the serial run.  ``fn`` (the
    models and their caches) goes to each worker once, when it starts; each task carries only its batch."""
    def run(fn: Callable[[pd.DataFrame], Any], batches: Iterable[pd.DataFrame]) -> Iterator[Any]:
        # a generator: each result is taken (and its words coded) as it comes, never every batch at once
        with spawn_pool(workers, initializer=_set_worker_fn, initargs=(fn,)) as pool:
            yield from pool.map(_call_worker_fn, (Shipped(b) for b in batches))
    return run


def spawn_pool(workers: int, *, initializer: Callable[..., object] | None = None,
               initargs: tuple[object, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes (the item pass)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=initializer,
                               initargs=initargs)


def auto_map(n_items: int, cpus: int | None = None) -> Map:
    """The builtin ``map`` for a meeting below :data:`PARALLEL_FROM` items or on one core, else
    :func:`process_map` over the cores (at most 4: the item pass is the part that scales)."""
    import os

    cores = cpus if cpus is not None else (os.cpu_count() or 1)
    return map if n_items < PARALLEL_FROM or cores < 2 else process_map(min(cores, 4))


class Side(Protocol):
    """Runs ``fn(*args)`` beside the analysis; ``.result()`` of what it returns gives the value (a
    :class:`concurrent.futures.Future` or anything with that method)."""

    def __call__(self, fn: Callable[..., _T], /, *args: object) -> _Done[_T]: ...


class _Done(Protocol[_T_co]):
    def result(self) -> _T_co: ...


class _Now(Generic[_T]):
    """A value computed at once (:func:`inline`)."""

    def __init__(self, value: _T):
        self.value = value

    def result(self) -> _T:
        return self.value


def inline(fn: Callable[..., _T], /, *args: object) -> _Now[_T]:
    """The default :class:`Side`: ``fn(*args)`` computed at once, in this process."""
    return _Now(fn(*args))


class _Later(Generic[_T]):
    """A value a second process is computing (:func:`helper_process`)."""

    def __init__(self, job: AsyncResult[_T]):
        self.job = job

    def result(self) -> _T:
        return self.job.get()


class _Helper:
    """One spawned process that exists while calls are running: started by the first call, told to end as soon as
    every call sent has finished (its libraries and its copy of the arguments — ≈ 150 MiB at 100,000 comments — are
    not kept through the rest of the run, and nobody waits for it to end), started again by a later call; with
    ``keep``, it ends when :meth:`stop` is called.

    The values arrive here as they are computed (the pool's own thread receives them), so a value taken late costs
    no waiting and no second process."""

    def __init__(self, *, keep: bool = False) -> None:
        import threading

        self.keep = keep
        self.pool: Pool | None = None
        self.running = 0
        self.ended: list[Pool] = []
        self.lock = threading.Lock()
        self.keys = itertools.count()

    def submit(self, fn: Callable[..., _T], /, *args: object) -> _Later[_T]:
        import multiprocessing

        with self.lock:
            if self.pool is None:
                self.pool = multiprocessing.get_context("spawn").Pool(1)
            pool = self.pool
            self.running += 1

        def send(key: int, part: Shipped) -> None:
            pool.apply_async(receive_part, (key, part))

        # one worker: the frames' parts arrive before the call, in order
        return _Later(pool.apply_async(call_received, (fn, send_ahead(args, send, self.keys, SEND_ROWS)),
                                       callback=self._finished, error_callback=self._finished))

    def _finished(self, _: object) -> None:
        """A call has finished (run by the pool's result thread): the last one running lets the process end."""
        with self.lock:
            self.running -= 1
            if not self.running and self.pool is not None and not self.keep:
                self.pool.close()
                self.ended.append(self.pool)
                self.pool = None

    def stop(self, *, now: bool = False) -> None:
        """Let the process end (``now``: end it, calls and all) and wait for every process started."""
        with self.lock:
            pools, self.ended = [*self.ended, *([self.pool] if self.pool is not None else [])], []
            self.pool = None
        for pool in pools:
            if now:
                pool.terminate()
            else:
                pool.close()
            pool.join()


@contextmanager
def helper_process(*, keep: bool = False) -> Iterator[Side]:
    """A :class:`Side` backed by a spawned process (:class:`_Helper`): ``fn(*args)`` computed there, calls in the
    order given; the process ends once every call sent has finished (``keep``: when the block ends — for calls sent
    a while apart, which would otherwise each start a process).

    A :mod:`multiprocessing` pool, not a :class:`~concurrent.futures.ProcessPoolExecutor`: the executor keeps a
    task's arguments until its result is back, the pool drops them once sent (at 100,000 comments the KWIC task's
    columns — a copy of 2.3 million keyword rows' codes among them, ≈ 40 MiB — held through the clustering).  Each
    frame in the arguments goes ahead on its own, in parts of :data:`~pipeline.run.parallel.SEND_ROWS` rows, each its own
    message (:func:`~pipeline.run.parallel.send_ahead`), put together there before the call: this process holds one part's
    bytes at a time, not all the arguments' (≈ 90 MiB for the KWIC task at 100,000 comments).  Leaving the block
    normally waits for the calls sent; on an error the process is stopped."""
    helper = _Helper(keep=keep)
    try:
        yield helper.submit
    except BaseException:
        helper.stop(now=True)
        raise
    helper.stop()


@contextmanager
def side_process(n_items: int, cpus: int | None = None) -> Iterator[Side]:
    """A :class:`Side` for a meeting of ``n_items``: from :data:`PARALLEL_FROM` items to :data:`SIDE_PROCESS_UNTIL` on a
    machine of two cores or more, a second process (:func:`helper_process`) that works while this one matches and clusters the items and
    counts the keywords (the KWIC index, 6 % of a 100,000-comment run's time otherwise), then ends; else
    :func:`inline`.  The value is the same either way (a pure function of its arguments)."""
    import os

    cores = cpus if cpus is not None else (os.cpu_count() or 1)
    if not PARALLEL_FROM <= n_items <= SIDE_PROCESS_UNTIL or cores < 2:
        yield inline
        return
    with helper_process() as side:
        yield side


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


SEND_ROWS = 25_000
"""Rows of a long frame sent to a helper process in one message (:func:`helper_process`)."""

_RECEIVED: dict[int, list[pd.DataFrame]] = {}
"""In a helper process: the parts of frames received so far, by key, until the call that uses them."""


def receive_part(key: int, part: pd.DataFrame) -> None:
    """Keep one part of a frame sent in parts (run in the helper process, in the order the parts were sent)."""
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
