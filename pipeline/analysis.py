"""The meeting analysis: one function, :func:`analyse`, from validated inputs to one frozen result.

    inputs ──mask cards, replies, attributes──▶ raw items ──map(item_batch)──▶ items (comments masked), keyword
                  rows, content terms, rule evidence, measure similarity         (one tokenisation per item)
           ──────────▶ tallies
    evidence + decisions ──▶ themes ──▶ measure scores, matches, coverage ──▶ clusters ──▶ perspectives
    everything ──▶ MeetingResult (every table computed once; pipeline.outputs says where each one goes)

Only :func:`item_batch` touches one text at a time; ``analyse`` hands batches of items to ``map`` (the
builtin by default; a Dask- or process-pool-backed map from the flow), so the serial and distributed runs
are one code path with byte-identical results.  Nothing here reads files, logs to the terminal or knows
about Prefect: the flow reads the inputs and models, calls ``analyse`` and writes the result.
"""

from __future__ import annotations

import functools
import gc
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pipeline import tally
from pipeline.clustering import ItemClusterer, cluster_ids, cluster_table
from pipeline.ingest import MeetingInputs
from pipeline.kwic import kwic_index
from pipeline.matching import MatchResult, MeasureMatcher, TermCache, content_terms, match_items
from pipeline.memory import (
    SEND_ROWS,
    Shipped,
    call_received,
    map_large_blocks,
    receive_part,
    release_free_memory,
    send_ahead,
)
from pipeline.models import Models
from pipeline.network import TOP_EDGES, TOP_TERMS, cooccurrence
from pipeline.normalise import normalise_text, raw_items
from pipeline.notices import input_notices
from pipeline.perspectives import (
    REQUEST_KIND,
    EarlierMeeting,
    PerspectiveResult,
    ThemeLinks,
    is_empty_answer,
    request_sentences,
    suggest_perspectives,
    theme_links,
    theme_trend,
)
from pipeline.perspectives.coverage import citable_names, own_words
from pipeline.pii import mask_analysed, mask_inputs
from pipeline.review import (
    LOG_COLUMNS,
    Change,
    apply_perspective_decisions,
    apply_theme_decisions,
    changes_frame,
    latest,
    link_changes,
    link_overrides,
    review_rows,
)
from pipeline.revision import accepted, accepted_card_links, gap_closure, revise_measures, shared_keywords
from pipeline.schemas import FEEDBACK_KINDS, Cards, Feedback, Items, Measures
from pipeline.tables import tagged_table, top_keywords
from pipeline.tagging import EVIDENCE_COLUMNS, themes_by_item
from pipeline.tokenise import item_terms

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.pool import AsyncResult, Pool

TEXT_BATCH = 2000
"""Items per batch of :func:`item_batch` (their tokens are dropped after each batch)."""

MATCH_THRESHOLD = 0.3
"""Minimum measure score for a comment to count as supporting a measure (see pipeline.matching)."""

STAGES: dict[str, str] = {
    "items": "個人情報のマスク・正規化・形態素解析・ルール照合", "tally": "投票の集計",
    "themes": "テーマの確定（判定の反映）", "match": "施策案との照合", "perspectives": "クラスタと新たな視点",
}
"""The analysis stages in order, with the label the progress bar shows (reported through ``on_stage``)."""

Map = Callable[[Callable[[pd.DataFrame], "ItemBatch"], Iterable[pd.DataFrame]], Iterable["ItemBatch"]]

PARALLEL_FROM = 5000
"""Items from which :func:`auto_map` spreads the item batches over the machine's cores."""

SIDE_PROCESS_UNTIL = 250_000
"""Items up to which the KWIC index (:func:`side_process`) and the writer's long tables and workbook
(:mod:`pipeline.writers`) are made by a second process; above, by this one.  A second process holds its own copy of
what it is sent (the KWIC index's inputs ≈ 2 KiB a comment, the writer's ≈ 1 KiB) beside this process's largest
stages: at 1,000,000 comments all the run's processes together reached 6.8 GiB, where this one alone stays under 5.5
GiB.  Memory before speed for the largest consultations (the KWIC index then costs ≈ 1 minute a million comments)."""


_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)

_WORKER_FN: Callable[[pd.DataFrame], ItemBatch] | None = None


def _set_worker_fn(fn: Callable[[pd.DataFrame], ItemBatch]) -> None:
    global _WORKER_FN
    map_large_blocks()
    _WORKER_FN = fn


def _call_worker_fn(batch: pd.DataFrame) -> ItemBatch:
    assert _WORKER_FN is not None
    return _WORKER_FN(batch)


def process_map(workers: int) -> Map:
    """``map`` over a pool of ``workers`` processes (spawned: safe beside the threads of a Prefect run, and the
    same on Windows); results in input order, so the outputs are byte-identical to the serial run.  ``fn`` (the
    models and their caches) goes to each worker once, when it starts; each task carries only its batch."""
    def run(fn: Callable[[pd.DataFrame], ItemBatch], batches: Iterable[pd.DataFrame]) -> Iterator[ItemBatch]:
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
    frame in the arguments goes ahead on its own, in parts of :data:`~pipeline.memory.SEND_ROWS` rows, each its own
    message (:func:`~pipeline.memory.send_ahead`), put together there before the call: this process holds one part's
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


@dataclass(frozen=True)
class History:
    """What earlier runs left: the analysts' decision log and earlier meetings' outputs."""

    decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LOG_COLUMNS))
    earlier: tuple[EarlierMeeting, ...] = ()
    notes: tuple[str, ...] = ()
    """Folders of the out-root that could not be read as earlier meetings (skipped)."""


@dataclass(frozen=True)
class Options:
    mask_pii: bool = True
    seed: int = 0
    batch_size: int = TEXT_BATCH
    network_words: int = TOP_TERMS
    """Words considered for the co-occurrence network (the most frequent ones)."""
    network_edges: int = TOP_EDGES
    """Strongest word pairs drawn."""
    network_mst: bool = False
    """Draw only the maximum spanning forest of those pairs."""


@dataclass(frozen=True)
class Tallies:
    """Every count of cards and votes (each frame empty, without columns, when its input is absent)."""

    card_votes: pd.DataFrame
    measure_votes: pd.DataFrame
    pillar_votes: pd.DataFrame
    department_votes: pd.DataFrame
    cards_per_measure: pd.DataFrame
    unlinked_cards: pd.DataFrame
    comments_per_kind: pd.DataFrame
    round_totals: Mapping[int, int]
    voters: Mapping[int, int]


@dataclass(frozen=True)
class Clusters:
    """Clusters of all items (``K…``) and of the items no theme or measure explains (``U…``)."""

    table: pd.DataFrame
    cluster_of: dict[str, str]
    unexplained: pd.DataFrame
    method: str
    k: int
    silhouette: Mapping[int, float]


@dataclass(frozen=True)
class MeetingResult:
    """Everything one meeting's analysis produced; :mod:`pipeline.outputs` declares what is written."""

    inputs: MeetingInputs               # validated, personal data masked
    masks: dict[str, int] | None        # masks by type, None when masking is off
    items: pd.DataFrame                 # Items: cards and comments, normalised
    terms: pd.DataFrame                 # keyword candidates, one row per occurrence
    evidence: pd.DataFrame              # one row per item × theme (decisions applied)
    themes: dict[str, str]              # item id → themes, best first, |-joined
    tallies: Tallies
    matches: MatchResult
    clusters: Clusters
    perspectives: PerspectiveResult
    keywords: pd.DataFrame
    tagged: pd.DataFrame
    theme_by_kind: pd.DataFrame
    theme_by_pillar: pd.DataFrame
    theme_by_attribute: pd.DataFrame    # attribute, value, theme, items (empty without attributes)
    replies: pd.DataFrame               # comments beside the city's replies (empty without replies)
    trend: pd.DataFrame
    network_nodes: pd.DataFrame
    network_edges: pd.DataFrame
    links: ThemeLinks                   # which measures cover which themes (codebook or the table's own text)
    changes: pd.DataFrame               # what the analysts' earlier decisions changed in this run
    review: pd.DataFrame                # the レビュー sheet's rows
    decisions_in_log: int
    earlier_ids: tuple[str, ...]
    theme_ids: tuple[str, ...]
    theme_definitions: pd.DataFrame
    learned_themes: tuple[str, ...]
    seed: int
    options: Options = Options()
    revision: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The measures the accepted perspectives would add or change (:func:`pipeline.revision.revise_measures`,
    changed rows only; empty without accepted perspectives)."""
    gaps: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Perspectives accepted at earlier meetings of the series, and whether this meeting shows them closed."""
    kwic: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Words in context, compact (:func:`pipeline.kwic.kwic_index`): every occurrence of the evidence words and top
    keywords; :func:`pipeline.kwic.kwic_lines` cuts the lines."""
    codebook_files: tuple[str, ...] = ()
    """The codebook file and the layers merged on top of it, as given."""
    notices: tuple[str, ...] = ()
    """Warnings for the reader (:mod:`pipeline.notices`): rows refused, columns and sheets not read, the default
    policy table, codebook links to unknown measures, earlier output folders skipped."""

    @property
    def meeting_id(self) -> str:
        return self.inputs.meeting_id

    @property
    def title(self) -> str:
        return str(self.inputs.meta.get("title") or self.inputs.meeting_id)

    @property
    def date(self) -> str:
        return str(self.inputs.meta.get("date") or "")

    @property
    def row_totals(self) -> dict[str, int]:
        counts = self.inputs.counts
        return {k: sum(int(c[k]) for c in counts) for k in ("rows_in", "rows_ok", "rows_rejected")}  # type: ignore[call-overload]


# ---------------------------------------------------------------------------------------------
# One batch of items: everything that needs a text's tokens
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemBatch:
    """What one batch of items yields from a single tokenisation of each text."""

    items: pd.DataFrame                 # Items (normalised; comments masked)
    terms: pd.DataFrame                 # keyword candidate occurrences
    content: dict[str, list[str]]       # text → content terms (matching, clustering, perspectives)
    evidence: pd.DataFrame              # rule (and learned-layer) evidence
    masks: dict[str, int] = field(default_factory=dict)  # personal data masked in the comments, by type

    def __reduce__(self) -> tuple[type[ItemBatch], tuple[object, ...]]:
        # from a worker: the frames shipped (pipeline.memory.Shipped), a rule or word repeated in a batch one object
        return ItemBatch, (Shipped(self.items), Shipped(self.terms), self.content, Shipped(self.evidence),
                           self.masks)


def item_batch(raw: pd.DataFrame, *, models: Models, mask: bool = False,
               own: Callable[[str], str] | None = None) -> ItemBatch:
    """Raw items (``text`` empty) → :class:`ItemBatch`: normalise each text, tokenise it once, and derive
    from those tokens the keyword rows, the content terms (what the measure similarity is computed from, in the
    main process as each batch arrives) and the theme evidence.
    With ``mask``, each comment's personal data is masked with that same parse (:func:`pipeline.pii.mask_analysed`);
    cards come masked already.  ``own``: the text the perspectives stage matches instead (the comment without the
    measure names it quotes, :func:`pipeline.perspectives.coverage.own_words`) — its content terms are computed here
    too, where it differs.

    A plain function of its arguments, so ``map`` may run it in another process."""
    with without_cycle_collection():
        return _item_batch(raw, models=models, mask=mask, own=own)


@contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: the item pass builds millions of small tuples and lists (tokens, keys,
    rows) that form no reference cycles and are freed by reference counting, and the collector would otherwise
    scan them again and again (measured: 40 % of the tokeniser's time).  Restored afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _item_batch(raw: pd.DataFrame, *, models: Models, mask: bool, own: Callable[[str], str] | None) -> ItemBatch:
    tok, stop = models.tokeniser, models.stopwords
    counts: Counter[str] = Counter()
    written, texts, tokens = [], [], []
    for source, text in zip(raw[Items.source].tolist(), raw[Items.raw_text].tolist(), strict=True):
        if mask and source == "feedback":
            text, norm, tk = mask_analysed(text, tok, counts)
        else:
            norm = normalise_text(text)
            tk = tok.tokens(norm)
        written.append(text)
        texts.append(norm)
        tokens.append(tk)
    items = Items.validate(raw.assign(**{Items.raw_text: written, Items.text: texts}).astype(str))
    comps = [tok.compounds(tk) for tk in tokens]
    terms = item_terms(items, tokeniser=tok, stopwords=stop, tokens=tokens, compounds=comps)
    content = {text: content_terms(tok, text, stop, tokens=tk, compounds=cp)
               for text, tk, cp in zip(texts, tokens, comps, strict=True)}
    # the perspectives stage matches each comment without the measure names it quotes, and the sentences of a
    # request on their own: their terms are computed here too, on every core (the same function of the same string,
    # so the same terms)
    for text, kind in zip(texts, raw[Items.kind].tolist(), strict=True):
        mine = own(text) if own is not None else text
        if mine not in content:
            content[mine] = content_terms(tok, mine, stop)
        if kind == REQUEST_KIND:
            parts = request_sentences(mine)
            if len(parts) > 1:
                for part in parts:
                    if part not in content:
                        content[part] = content_terms(tok, part, stop)
    shared = models.tagger.tokeniser.lexicon == tok.lexicon  # the rules see the same tokens
    evidence = models.tagger.tag(items, tokens=tokens if shared else None, compounds=comps if shared else None)
    return ItemBatch(items, terms, content, evidence, dict(counts))


TERM_WORDS = ("term", "surface", "pos")


def coded_terms(parts: list[pd.DataFrame], item_ids: pd.Series) -> pd.DataFrame:
    """The batches' keyword rows as one table of codes: ``item_id`` categorical over the items (in their order),
    ``term``/``surface``/``pos`` categorical, ``start``/``end`` int32 — small integer codes instead of a pointer per
    cell (a 1,000,000-comment meeting has ~23 million rows).  ``parts`` is emptied as it is read."""
    ids = pd.Index(item_ids.astype(str))
    rows = [ids.get_indexer(p["item_id"].astype(str)).astype("int32") if "item_id" in p.columns else None
            for p in parts] if ids.is_unique else [None]
    if not parts or any(r is None or (r < 0).any() for r in rows):
        out = _concat(parts)  # never from the item pass: the rows as they are
        parts.clear()
        return out
    coded: list[pd.DataFrame] = []
    for codes in rows:
        part = parts.pop(0)
        coded.append(part.assign(item_id=codes,
                                 **{c: pd.Categorical(part[c]) for c in TERM_WORDS if c in part.columns}))
        del part
    words = {c: union_categoricals([p[c] for p in coded], sort_categories=True) for c in TERM_WORDS
             if c in coded[0].columns}
    codes = np.concatenate([p["item_id"].to_numpy() for p in coded])
    out = pd.concat([p.drop(columns=["item_id", *words]) for p in coded], ignore_index=True)
    out.insert(0, "item_id", pd.Categorical.from_codes(codes, categories=ids))
    for n, c in enumerate(TERM_WORDS, start=1):
        if c in words:
            out.insert(n, c, words.pop(c))
    return out.astype({c: "int32" for c in ("start", "end") if c in out.columns})


def share_texts(items: pd.DataFrame, feedback: pd.DataFrame | None) -> pd.DataFrame:
    """The items with each text that equals one already held being that one object: a comment the masking left as it
    was is the input's own string, a normalised text equal to the text as written is that string (the values are
    the same; a 100,000-comment meeting keeps ≈ 50 MiB less, the caller holding the inputs anyway)."""
    raw = items[Items.raw_text].tolist()
    if feedback is not None and Feedback.text in feedback.columns:
        rows = np.flatnonzero((items[Items.source] == "feedback").to_numpy(bool))
        if len(rows) == len(feedback):
            for row, given in zip(rows.tolist(), feedback[Feedback.text].tolist(), strict=True):
                if raw[row] == given:
                    raw[row] = given
    norm = [r if r == t else t for r, t in zip(raw, items[Items.text].tolist(), strict=True)]
    return items.assign(**{Items.raw_text: pd.array(raw, dtype=items[Items.raw_text].dtype),
                           Items.text: pd.array(norm, dtype=items[Items.text].dtype)})


def kwic_inputs(items: pd.DataFrame, terms: pd.DataFrame,
                evidence: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The columns :func:`pipeline.kwic.kwic_index` reads, the terms' words and items as codes (what another process is
    sent: 20,000 generated comments pickle to 19 MiB instead of 36 for the whole frames)."""
    def only(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
        return frame[[c for c in columns if c in frame.columns]]

    words = only(terms, ["item_id", "term", "start", "end", "stopword"])
    ids = items[Items.item_id].astype(str)
    coded = isinstance(words["item_id"].dtype, pd.CategoricalDtype) if "item_id" in words.columns else True
    if not coded and ids.is_unique:
        words = words.assign(item_id=pd.Categorical(words["item_id"].astype(str), categories=ids))
    if "term" in words.columns and not isinstance(words["term"].dtype, pd.CategoricalDtype):
        words = words.assign(term=words["term"].astype("category"))
    if {"start", "end"} <= set(words.columns) and len(items[Items.text]) and \
            int(items[Items.text].str.len().max()) < 2**31:
        words = words.astype({"start": "int32", "end": "int32"})
    texts = only(items, [Items.item_id, Items.raw_text, Items.text])
    if {Items.raw_text, Items.text} <= set(texts.columns):
        # an item written as normalised needs no alignment, nor its text: sent empty (kwic_index skips both alike)
        same = (texts[Items.raw_text] == texts[Items.text]).to_numpy(bool)
        texts = texts.assign(**{c: texts[c].where(~same, "") for c in (Items.raw_text, Items.text)})
    return texts, words, only(evidence, ["item_id", "theme", "terms", "spans"])


def _batches(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for i in range(0, max(len(frame), 1), size):
        yield frame.iloc[i:i + size].reset_index(drop=True)


def _concat(frames: Sequence[pd.DataFrame], columns: Sequence[str] | None = None) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=list(columns or []))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# Tables computed from the stages
# ---------------------------------------------------------------------------------------------


def tally_meeting(inputs: MeetingInputs) -> Tallies:
    """Validated inputs → :class:`Tallies`."""
    empty = pd.DataFrame()
    votes, cards, measures = inputs.votes, inputs.cards, inputs.measures
    has_votes = votes is not None and len(votes) > 0
    with_cards = has_votes and cards is not None
    cards_frame = cards if cards is not None else pd.DataFrame(columns=list(Cards.to_schema().columns))
    return Tallies(
        card_votes=tally.card_votes(votes, cards) if has_votes else empty,
        measure_votes=tally.measure_votes(votes, cards_frame, measures) if with_cards else empty,
        pillar_votes=tally.pillar_votes(votes, cards_frame, measures) if with_cards else empty,
        department_votes=tally.department_votes(votes, cards_frame) if with_cards else empty,
        cards_per_measure=tally.cards_per_measure(cards, measures) if cards is not None else empty,
        unlinked_cards=tally.unlinked_cards(cards) if cards is not None else empty,
        comments_per_kind=tally.comments_per_kind(inputs.feedback) if inputs.feedback is not None else empty,
        round_totals=tally.round_totals(votes) if has_votes else {},
        voters=tally.voters_per_round(votes) if has_votes else {},
    )


def theme_by_kind(items: pd.DataFrame, themes: Mapping[str, str], theme_ids: Sequence[str]) -> pd.DataFrame:
    """Items per theme (rows, codebook order) and kind (columns: カード, then the comment kinds)."""
    present = list(dict.fromkeys(items[Items.kind]))
    kinds = [k for k in ["カード", *FEEDBACK_KINDS] if k in present] + [k for k in present
                                                                     if k not in ("カード", *FEEDBACK_KINDS)]
    counts = {t: dict.fromkeys(kinds, 0) for t in theme_ids}
    for item_id, kind in zip(items[Items.item_id].tolist(), items[Items.kind].tolist(), strict=True):
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t in counts:
                counts[t][kind] += 1
    out = pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *kinds])
    out["total"] = out[kinds].sum(axis=1).astype("int64")
    return out


def theme_by_pillar(items: pd.DataFrame, themes: Mapping[str, str], measures_by_item: Mapping[str, str],
                    measures: pd.DataFrame, theme_ids: Sequence[str]) -> pd.DataFrame:
    """Items per theme and pillar (through the item's measures; ``(なし)`` when it matches none)."""
    pillar_of = dict(zip(measures[Measures.measure_id], measures[Measures.pillar_id], strict=True))
    pillars = [*dict.fromkeys(measures[Measures.pillar_id]), tally.NO_PILLAR]
    counts = {t: dict.fromkeys(pillars, 0) for t in theme_ids}
    for item_id in items[Items.item_id].tolist():
        ps = {pillar_of[m] for m in filter(None, measures_by_item.get(item_id, "").split("|")) if m in pillar_of}
        for t in filter(None, themes.get(item_id, "").split("|")):
            if t not in counts:
                continue
            for p in ps or {tally.NO_PILLAR}:
                counts[t][p] += 1
    return pd.DataFrame([{"theme": t, **c} for t, c in counts.items()], columns=["theme", *pillars])


MAX_ATTRIBUTE_VALUES = 30
"""An attribute with more distinct values (free answers, names) is not cross-tabulated."""


def attribute_columns(items: pd.DataFrame) -> list[str]:
    """The items' attribute columns with a value somewhere, and ``question`` when there are several."""
    known = set(Items.to_schema().columns)
    attrs = [c for c in items.columns if c not in known and (items[c].astype(str).str.strip() != "").any()]
    if items[Items.question].nunique() > 1:
        attrs = [Items.question, *attrs]
    return attrs


def theme_by_attribute(items: pd.DataFrame, themes: Mapping[str, str], theme_ids: Sequence[str]) -> pd.DataFrame:
    """Comments per attribute value (年代, 地区, 記入者の所属, a survey's question …) and theme: one row per
    attribute, value and theme with at least one comment (values with no theme are counted under ``(なし)``).
    Attributes of more than :data:`MAX_ATTRIBUTE_VALUES` values are left out."""
    rows = []
    order = {t: i for i, t in enumerate(theme_ids)}
    for attr in attribute_columns(items):
        values = items[attr].astype(str).str.strip()
        if values.nunique() > MAX_ATTRIBUTE_VALUES:
            continue
        counts: dict[tuple[str, str], int] = {}
        for item_id, value in zip(items[Items.item_id].tolist(), values.tolist(), strict=True):
            for t in [t for t in themes.get(item_id, "").split("|") if t] or ["(なし)"]:
                counts[(value or "(空欄)", t)] = counts.get((value or "(空欄)", t), 0) + 1
        value_order = {v: n for n, v in enumerate(dict.fromkeys(v or "(空欄)" for v in values))}
        for (value, t), n in sorted(counts.items(), key=lambda kv: (value_order[kv[0][0]],
                                                                    order.get(kv[0][1], len(order)))):
            rows.append({"attribute": attr, "value": value, "theme": t, "items": n})
    return pd.DataFrame(rows, columns=["attribute", "value", "theme", "items"])


def replies_table(items: pd.DataFrame, themes: Mapping[str, str]) -> pd.DataFrame:
    """Each comment (as written) beside the city's reply, with its section and themes; empty when no comment
    has a reply.  The reply is shown, never analysed."""
    fb = items[items[Items.source] == "feedback"]
    columns = ["item_id", "section", "text", "reply", "themes"]
    if not (fb[Items.reply].str.strip() != "").any():
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({"item_id": fb[Items.item_id], "section": fb[Items.section], "text": fb[Items.raw_text],
                         "reply": fb[Items.reply], "themes": [themes.get(i, "") for i in fb[Items.item_id]]},
                        columns=columns).reset_index(drop=True)


def cluster_meeting(items: pd.DataFrame, themes: Mapping[str, str], matches: MatchResult, *,
                    terms: Callable[[str], list[str]], random_state: int = 0) -> Clusters:
    """Items → clusters (all items as ``K…``, unexplained items as ``U…``)."""
    ids, texts, raw = items[Items.item_id].tolist(), items[Items.text].tolist(), items[Items.raw_text].tolist()
    model = ItemClusterer(analyzer=terms, random_state=random_state).fit(texts)
    table = cluster_table("all", ids, texts, model, prefix="K", originals=raw)
    loose = [n for n, i in enumerate(ids) if not themes.get(i) and not matches.measures_by_item.get(i)]
    u_ids, u_texts = [ids[n] for n in loose], [texts[n] for n in loose]
    unexplained = pd.DataFrame(columns=table.columns)
    if len(u_ids) >= 3:
        umodel = ItemClusterer(analyzer=terms, random_state=random_state).fit(u_texts)
        unexplained = cluster_table("unexplained", u_ids, u_texts, umodel, prefix="U",
                                    originals=[raw[n] for n in loose])
    return Clusters(table=table, cluster_of=cluster_ids(ids, model, prefix="K"), unexplained=unexplained,
                    method=model.method_, k=model.k_, silhouette=model.silhouette_)


# ---------------------------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------------------------


def loop_tables(inputs: MeetingInputs, items: pd.DataFrame, themes: Mapping[str, str], suggestions: pd.DataFrame,
                links: ThemeLinks, history: History, terms: Callable[[str], list[str]]) -> tuple[pd.DataFrame,
                                                                                              pd.DataFrame]:
    """The 見直し案 (changed measures only) and the earlier accepted perspectives' closure (see
    :mod:`pipeline.revision`)."""
    texts = dict(zip(items[Items.item_id].tolist(), items[Items.text].tolist(), strict=True))
    cards = items.loc[items[Items.source] == "card", Items.item_id]
    draft = revise_measures(inputs.measures, suggestions, history.decisions, inputs.meeting_id, texts=texts,
                            keywords_for=lambda ts: shared_keywords(terms, ts),
                            card_links=accepted_card_links(history.decisions, inputs.meeting_id, cards))
    earlier = [(e.meeting_id, str(rec["label"]), str(rec["main_theme"]), str(rec["item_ids"]))
               for e in history.earlier if len(e.perspectives)
               for rec, _, _ in accepted(e.perspectives, history.decisions, e.meeting_id)]
    gaps = gap_closure(earlier, themes, links.coverage, set(suggestions["main_theme"]))
    return draft[draft["change"] != ""].reset_index(drop=True), gaps


def analyse(inputs: MeetingInputs, models: Models, *, history: History = History(),
            options: Options = Options(), map: Map = map, side: Side = inline,
            on_stage: Callable[[str, str], None] = lambda stage, detail: None) -> MeetingResult:
    """Validated :class:`MeetingInputs` + loaded :class:`Models` → :class:`MeetingResult`.

    ``map(fn, batches)`` runs :func:`item_batch` over batches of items (results in order); ``side(fn, *args)``
    computes the KWIC index once the themes are final, beside the matching, the clustering and the keyword tables
    (:func:`side_process`; taken before the perspectives); ``on_stage`` is called with each name of :data:`STAGES` as it completes and
    a short Japanese line of what it found (for the terminal: 「152 件」「新たな視点 6 件」).

    Native code (BLAS, OpenMP: the clustering's) runs on one thread: with several, the order of a sum depends on the
    machine's cores and a tie may fall the other way (a cluster's representative); one core is the second
    process's anyway (threads spinning for it made the clustering 70 % slower)."""
    map_large_blocks()
    import scipy.linalg  # noqa: F401  (the native libraries loaded before they are limited: a limit binds those loaded)
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _analyse(inputs, models, history=history, options=options, map=map, side=side, on_stage=on_stage)


def _analyse(inputs: MeetingInputs, models: Models, *, history: History, options: Options, map: Map, side: Side,
             on_stage: Callable[[str, str], None]) -> MeetingResult:
    masks: dict[str, int] | None = None
    if options.mask_pii:  # all but the comments' text, which the item pass masks with its own parse
        inputs, masks = mask_inputs(inputs, models.tokeniser, comment_text=False)
    release_free_memory()  # what reading and validating the files freed

    codebook = models.codebook
    cache = TermCache(models.tokeniser, models.stopwords)
    matcher = MeasureMatcher(tokeniser=models.tokeniser, stopwords=models.stopwords, threshold=MATCH_THRESHOLD,
                             terms=cache).fit(inputs.measures)
    work = functools.partial(item_batch, models=models, mask=options.mask_pii,
                             own=functools.partial(own_words, measures=inputs.measures,
                                                   names=tuple(citable_names(inputs.measures))))
    item_parts: list[pd.DataFrame] = []
    term_parts: list[pd.DataFrame] = []
    evidence_parts: list[pd.DataFrame] = []
    similarity_parts: list[np.ndarray] = []
    for b in map(work, _batches(raw_items(inputs.cards, inputs.feedback), options.batch_size)):
        item_parts.append(b.items)
        term_parts.append(b.terms.assign(**{c: pd.Categorical(b.terms[c]) for c in TERM_WORDS
                                            if c in b.terms.columns}))  # a batch's words as codes at once
        evidence_parts.append(b.evidence)
        texts = b.items[Items.text].tolist()
        cache.seed(b.content, texts)
        # here, not in the workers (they would load scikit-learn and SciPy, ≈ 70 MiB each, for it): the terms are
        # known, this process waits for the next batch anyway
        similarity_parts.append(matcher.similarity(texts))
        del texts
        if masks is not None:
            for kind, n in b.masks.items():
                masks[kind] += n
        del b
    items = share_texts(Items.validate(_concat(item_parts)), inputs.feedback)
    del item_parts
    if masks is not None and inputs.feedback is not None:  # the comments as masked by the item pass (same rows)
        written = items.loc[items[Items.source] == "feedback", Items.raw_text].to_numpy()
        inputs = replace(inputs, feedback=inputs.feedback.assign(**{Feedback.text: written}))
    similarity = np.vstack(similarity_parts) if similarity_parts else np.zeros((0, len(matcher.measure_ids_)))
    raw_evidence = _concat(evidence_parts, EVIDENCE_COLUMNS)
    del similarity_parts, evidence_parts
    terms = coded_terms(term_parts, items[Items.item_id])
    release_free_memory()
    on_stage("items", f"{len(items)} 件（カード {int((items[Items.source] == 'card').sum())}、"
                      f"コメント {int((items[Items.source] == 'feedback').sum())}）、"
                      + (f"個人情報 {sum(masks.values())} 箇所を伏せました" if masks is not None
                         else "個人情報は伏せていません（--no-mask）"))

    tallies = tally_meeting(inputs)
    on_stage("tally", "、".join(f"{n}回目 {b} 票" for n, b in tallies.round_totals.items()) or "投票なし")

    mine = latest(history.decisions, inputs.meeting_id)
    changes: list[Change] = []
    evidence = raw_evidence
    if len(mine):
        evidence, theme_changes = apply_theme_decisions(raw_evidence, mine, codebook.theme_ids)
        changes += theme_changes
    themes = themes_by_item(evidence, codebook)
    kwic_job = side(kwic_index, *kwic_inputs(items, terms, evidence))
    on_stage("themes", f"テーマのある件数 {sum(1 for i in items[Items.item_id] if themes.get(i))} / {len(items)}")

    overrides = link_overrides(mine) if len(mine) else None
    if overrides is not None:
        changes += link_changes(overrides)
    ids = items[Items.item_id].tolist()
    links = theme_links(inputs.measures, codebook, models.tagger.tag_texts)
    scores = matcher.combine(similarity, [[t for t in themes.get(i, "").split("|") if t] for i in ids],
                             links.matching)
    del similarity
    matches = match_items(items, themes, inputs.measures, inputs.cards, matcher=matcher, codebook=codebook,
                          measure_votes=tallies.measure_votes if len(tallies.measure_votes) else None,
                          overrides=overrides, scores=scores)
    release_free_memory()
    on_stage("match", f"施策案に合う {sum(1 for v in matches.measures_by_item.values() if v)} 件、"
                      f"裏付けのない施策案 {int((matches.coverage['status'] == '裏付けなし').sum())}")

    answered = items[[not (s == "feedback" and is_empty_answer(t))
                      for s, t in zip(items[Items.source].tolist(), items[Items.text].tolist(), strict=True)]]
    clusters = cluster_meeting(answered, themes, matches, terms=cache, random_state=options.seed)
    # the keyword tables next, while the KWIC index is finished beside them; the index is then taken before the
    # perspectives (its process ends: the two stages' memory never adds up — at 1,000,000 comments they would pass
    # 6 GiB together)
    nodes, edges = cooccurrence(terms, top_terms=options.network_words, top_edges=options.network_edges,
                                mst=options.network_mst)
    keywords = top_keywords(items, terms, n=10)
    kwic = kwic_job.result()
    del kwic_job
    release_free_memory()
    votes: dict[str, int] = {}
    if len(tallies.card_votes):
        votes = dict(zip(tallies.card_votes[Cards.card_id], tallies.card_votes["total"], strict=True))
    perspectives = suggest_perspectives(items, themes, evidence=evidence, measures=inputs.measures,
                                        cards=inputs.cards, card_votes=votes, matcher=matcher, codebook=codebook,
                                        links=links, tokeniser=models.tokeniser, stopwords=models.stopwords,
                                        earlier=history.earlier, terms=cache, random_state=options.seed,
                                        unexplained_clusters=[str(m).split("|") for m in
                                                              clusters.unexplained["item_ids"]])
    if len(mine):
        table, perspective_changes = apply_perspective_decisions(perspectives.suggestions, mine)
        perspectives = replace(perspectives, suggestions=table)
        changes += perspective_changes
    on_stage("perspectives", f"クラスタ {clusters.k}、新たな視点 {len(perspectives.suggestions)} 件")
    release_free_memory()

    revision, gaps = loop_tables(inputs, items, themes, perspectives.suggestions, links, history, cache)
    supporting = {i for ids_ in perspectives.suggestions["item_ids"] for i in ids_.split("|")}
    tagged = tagged_table(items, themes=themes, measures=matches.measures_by_item, clusters=clusters.cluster_of,
                          new_perspective={i: 1 for i in supporting})
    tagger = models.tagger
    review = review_rows(inputs.meeting_id, items, evidence, matches.measures_by_item, matches.suggestions,
                         perspectives.suggestions, previous=history.decisions, coded=True)
    release_free_memory()
    return MeetingResult(
        inputs=inputs, masks=masks, items=items, terms=terms, evidence=evidence, themes=themes, tallies=tallies,
        matches=matches, clusters=clusters, perspectives=perspectives,
        keywords=keywords,
        tagged=tagged,
        theme_by_kind=theme_by_kind(items, themes, codebook.theme_ids),
        theme_by_pillar=theme_by_pillar(items, themes, matches.measures_by_item, inputs.measures,
                                        codebook.theme_ids),
        theme_by_attribute=theme_by_attribute(items[items[Items.source] == "feedback"], themes, codebook.theme_ids),
        replies=replies_table(items, themes),
        trend=theme_trend(inputs.meeting_id, themes, history.earlier, codebook.theme_ids),
        network_nodes=nodes, network_edges=edges, links=links,
        changes=changes_frame(changes),
        review=review,
        decisions_in_log=len(history.decisions),
        earlier_ids=tuple(e.meeting_id for e in history.earlier),
        theme_ids=tuple(codebook.theme_ids),
        theme_definitions=pd.DataFrame([(t.theme_id, t.definition) for t in codebook.themes],
                                       columns=["theme", "definition"]),
        learned_themes=tuple(tagger.model.themes_) if tagger.model is not None else (),
        seed=options.seed,
        options=options,
        notices=(*input_notices(inputs, codebook), *history.notes),
        revision=revision, gaps=gaps,
        kwic=kwic,
        codebook_files=(codebook.source, *codebook.layers),
    )
