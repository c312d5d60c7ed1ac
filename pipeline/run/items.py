"""The item pass: every card and comment normalised, masked and tokenised once, and everything that needs its
tokens (keyword rows, content terms, rule evidence) taken from that one parse.

:func:`item_batch` is a plain function of its arguments, so ``map`` (:mod:`pipeline.run.parallel`) may run it in
another process; the batches are then put together in the items' order (:func:`coded_terms`, :func:`share_texts`).
"""

from __future__ import annotations

import functools
import gc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from pipeline.ingest import MeetingInputs
from pipeline.measures.matching import MeasureMatcher, TermCache, content_terms
from pipeline.perspectives import REQUEST_KIND, request_sentences
from pipeline.perspectives.coverage import citable_names, own_words
from pipeline.run.models import Models
from pipeline.run.parallel import Map, Shipped
from pipeline.schemas import Feedback, Items
from pipeline.text.normalise import normalise_text, raw_items
from pipeline.text.pii import mask_analysed
from pipeline.text.tokenise import item_terms
from pipeline.themes.tagging import EVIDENCE_COLUMNS


@dataclass(frozen=True)
class ItemBatch:
    """What one batch of items yields from a single tokenisation of each text."""

    items: pd.DataFrame                 # Items (normalised; comments masked)
    terms: pd.DataFrame                 # keyword candidate occurrences
    content: dict[str, list[str]]       # text → content terms (matching, clustering, perspectives)
    evidence: pd.DataFrame              # rule (and learned-layer) evidence
    masks: dict[str, int] = field(default_factory=dict)  # personal data masked in the comments, by type

    def __reduce__(self) -> tuple[type[ItemBatch], tuple[object, ...]]:
        # from a worker: the frames shipped (pipeline.run.parallel.Shipped), a rule or word repeated in a batch one object
        return ItemBatch, (Shipped(self.items), Shipped(self.terms), self.content, Shipped(self.evidence),
                           self.masks)


def item_batch(raw: pd.DataFrame, *, models: Models, mask: bool = False,
               own: Callable[[str], str] | None = None) -> ItemBatch:
    """Raw items (``text`` empty) → :class:`ItemBatch`: normalise each text, tokenise it once, and derive
    from those tokens the keyword rows, the content terms (what the measure similarity is computed from, in the
    main process as each batch arrives) and the theme evidence.
    With ``mask``, each comment's personal data is masked with that same parse (:func:`pipeline.text.pii.mask_analysed`);
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
    """The columns :func:`pipeline.themes.kwic.kwic_index` reads, the terms' words and items as codes (what another process is
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


@dataclass(frozen=True)
class ItemPass:
    """The item pass over a whole meeting: the items, their keyword rows (coded), rule evidence and measure
    similarity, the personal data masked in the comments, and the inputs with the comments as masked."""

    inputs: MeetingInputs
    items: pd.DataFrame
    terms: pd.DataFrame
    evidence: pd.DataFrame
    similarity: np.ndarray
    masks: dict[str, int] | None


def item_pass(inputs: MeetingInputs, models: Models, matcher: MeasureMatcher, cache: TermCache, *,
              masks: dict[str, int] | None, batch_size: int, map: Map) -> ItemPass:
    """Every card and comment through :func:`item_batch`, ``map`` over batches of ``batch_size`` (``masks``: the
    counts of the masking so far, or ``None`` when masking is off).  Each batch's content terms seed ``cache``, and
    its measure similarity is computed here as it arrives (the workers would load scikit-learn for it)."""
    masks = dict(masks) if masks is not None else None
    work = functools.partial(item_batch, models=models, mask=masks is not None,
                             own=functools.partial(own_words, measures=inputs.measures,
                                                   names=tuple(citable_names(inputs.measures))))
    item_parts: list[pd.DataFrame] = []
    term_parts: list[pd.DataFrame] = []
    evidence_parts: list[pd.DataFrame] = []
    similarity_parts: list[np.ndarray] = []
    for b in map(work, _batches(raw_items(inputs.cards, inputs.feedback), batch_size)):
        item_parts.append(b.items)
        term_parts.append(b.terms.assign(**{c: pd.Categorical(b.terms[c]) for c in TERM_WORDS
                                            if c in b.terms.columns}))  # a batch's words as codes at once
        evidence_parts.append(b.evidence)
        texts = b.items[Items.text].tolist()
        cache.seed(b.content, texts)
        similarity_parts.append(matcher.similarity(texts))
        if masks is not None:
            for kind, n in b.masks.items():
                masks[kind] += n
    items = share_texts(Items.validate(_concat(item_parts)), inputs.feedback)
    if masks is not None and inputs.feedback is not None:  # the comments as masked by the item pass (same rows)
        written = items.loc[items[Items.source] == "feedback", Items.raw_text].to_numpy()
        inputs = replace(inputs, feedback=inputs.feedback.assign(**{Feedback.text: written}))
    similarity = np.vstack(similarity_parts) if similarity_parts else np.zeros((0, len(matcher.measure_ids_)))
    return ItemPass(inputs=inputs, items=items, terms=coded_terms(term_parts, items[Items.item_id]),
                    evidence=_concat(evidence_parts, EVIDENCE_COLUMNS), similarity=similarity, masks=masks)
