"""``kyosei eval``: the themes (and, with a ``gap`` column and a policy table, the suggested perspectives) scored
against a labelled set of comments.

Labels file (CSV/XLSX): an id column, the text, one 0/1 column per theme id (any subset of the codebook's themes;
other columns are ignored), optionally ``kind`` and ``gap`` (the missing area a comment speaks for).  Headers are
read like a comment table's (:data:`pipeline.schemas.ALIASES`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest import header_key, load_meeting, read_table
from pipeline.perspectives.records import label_problem
from pipeline.run.analysis import analyse
from pipeline.run.models import Models
from pipeline.run.settings import Settings
from pipeline.schemas import ALIASES, Feedback
from pipeline.themes.evaluate import (
    COVERED,
    errors,
    label_columns,
    perspective_scores,
    predicted_sets,
    scores,
)


@dataclass(frozen=True)
class Labelled:
    """A labelled set: the comments, their true themes (0/1 columns) and, when given, their kinds and gaps."""

    file: str
    ids: list[str]
    texts: list[str]
    kinds: list[str]
    truth: pd.DataFrame
    gaps: list[str] | None


def read_labels(path: Path, theme_ids: list[str]) -> Labelled:
    """Read a labels file; :class:`InputError` when it has no text column, no theme column or a label that is not
    0 or 1.  An empty ``gap`` cell is ``none`` (a comment about no missing area)."""
    raw = read_table(path)
    frame = raw.frame.drop(columns=["row"])
    keys = {header_key(c): c for c in frame.columns}

    def column(names: tuple[str, ...]) -> str | None:
        return next((keys[header_key(k)] for k in names if header_key(k) in keys), None)

    aliases = ALIASES["feedback"]
    text_col = column(aliases[Feedback.text])
    if text_col is None:
        raise InputError(raw.file, "本文の列がありません。", f"no text column (found {list(frame.columns)}).",
                         "text（または 意見・本文）列を入れてください。", "add a text column.")
    themes = label_columns(frame, theme_ids)
    if not themes:
        raise InputError(raw.file, "コードブックのテーマ名の列がありません。", f"no column is a theme id ({theme_ids}).",
                         "テーマIDの列（0 か 1）を入れてください。", "add 0/1 columns named by theme ids.")
    bad = [t for t in themes if not frame[t].isin(["0", "1"]).all()]
    if bad:
        raise InputError(raw.file, f"列 {bad} に 0 と 1 以外の値があります。", f"columns {bad} must be 0 or 1.",
                         "0 か 1 で入れてください。", "use 0 or 1.")
    id_col = column(("item_id", *aliases[Feedback.comment_id]))
    kind_col, gap_col = column(aliases[Feedback.kind]), column(("gap",))
    n = len(frame)
    return Labelled(file=raw.file, ids=list(frame[id_col]) if id_col else [str(i + 2) for i in range(n)],
                    texts=list(frame[text_col]), kinds=list(frame[kind_col]) if kind_col else ["その他"] * n,
                    truth=frame[themes].astype(int).reset_index(drop=True),
                    gaps=[g.strip() or COVERED for g in frame[gap_col]] if gap_col else None)


def theme_scores(labelled: Labelled, models: Models) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-theme precision, recall and F1 (with the macro rows), and every error (missed or wrong theme)."""
    predicted = predicted_sets(models.tagger.tag_texts(labelled.ids, labelled.texts), labelled.ids)
    themes = list(labelled.truth.columns)
    return (scores(labelled.truth, predicted, themes),
            errors(labelled.ids, labelled.texts, labelled.truth, predicted, themes))


def perspective_evaluation(labelled: Labelled, measures: Path,
                           models: Models) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, object]]:
    """The whole analysis on the labelled comments as one meeting (no masking) against ``measures``; its
    suggestions scored per gap (recall), per suggestion (purity) and in total."""
    if labelled.gaps is None:
        raise ValueError("the labels have no gap column")
    with tempfile.TemporaryDirectory() as tmp:
        meeting = Path(tmp) / "eval"
        meeting.mkdir()
        pd.DataFrame({"comment_id": labelled.ids, "text": labelled.texts,
                      "kind": labelled.kinds}).to_csv(meeting / "feedback.csv", index=False)
        inputs = load_meeting(meeting, measures)
    result = analyse(inputs, models, settings=Settings(mask_pii=False))
    per_gap, per_suggestion, totals = perspective_scores(dict(zip(labelled.ids, labelled.gaps, strict=True)),
                                                         result.perspectives.suggestions)
    # every label is checked as an analyst would paste it: a noun phrase or a short statement, never a fragment,
    # an exclamation, a question or a person's words about themselves
    problems = [label_problem(str(label), models.tokeniser) or "" for label in per_suggestion["label"]]
    per_suggestion = per_suggestion.assign(label_problem=problems)
    return per_gap, per_suggestion, {**totals, "label_problems": sum(bool(p) for p in problems)}
