"""Shared builders for test data: item tables, copies of the sample meeting, the loaded models."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.run.models import Models, load_models
from pipeline.schemas import Items
from pipeline.text.normalise import normalise_text, raw_items
from pipeline.themes.codebook import Codebook
from pipeline.themes.kwic import CONTEXT, TOP_KEYWORDS, kwic_index, kwic_lines
from tests.conftest import LOCAL_CODEBOOK, MEETING_2, MODELS


def items(rows: Sequence[tuple[str, str, str]], *, source: str | None = None, group: str = "") -> pd.DataFrame:
    """An :class:`Items` table from ``(item_id, kind, raw text)`` rows; ``source`` defaults to ``card`` for
    the kind カード and ``feedback`` otherwise; ``text`` is the normalised raw text."""
    return pd.DataFrame({
        Items.item_id: [r[0] for r in rows],
        Items.source: [source or ("card" if r[1] in ("card", "カード") else "feedback") for r in rows],
        Items.kind: [("カード" if r[1] == "card" else r[1]) for r in rows],
        Items.group: group, Items.card_id: "",
        Items.raw_text: [r[2] for r in rows], Items.text: [normalise_text(r[2]) for r in rows],
    }, columns=list(Items.to_schema().columns))


def meeting_copy(tmp_path: Path, source: Path = MEETING_2, **replace: Path | bytes | str) -> Path:
    """A copy of a sample meeting with some files replaced (file name → corpus file, bytes or text)."""
    m = tmp_path / "m"
    shutil.copytree(source, m)
    shutil.copy(LOCAL_CODEBOOK, m / LOCAL_CODEBOOK.name)  # the sample city's codebook layer comes along
    for name, content in replace.items():
        target = m / name.replace("_", ".", 1) if "." not in name else m / name
        for old in m.glob(target.stem + ".*"):
            if old.name != "meeting.yaml" or target.name == "meeting.yaml":
                old.unlink()
        if isinstance(content, Path):
            shutil.copy(content, target)
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    return m


NEW_COMMENT = "F99,移動販売の車が来なくなって買い物に困っている,感想,,\n"
"""A comment the sample meetings do not have (a feedback.csv row): appended, it changes every table a run writes."""


def add_new_comment(meeting: Path) -> None:
    """Append :data:`NEW_COMMENT` to the meeting's feedback.csv."""
    with (meeting / "feedback.csv").open("a", encoding="utf-8") as f:
        f.write(NEW_COMMENT)


def shipped_models(*, codebook: Path = MODELS / "codebook.yaml",
                   layers: Sequence[Path] = (LOCAL_CODEBOOK,)) -> Models:
    """The shipped lexicon, stop words and codebook with the sample city's layer, rules only (no analyst
    labels); ``layers=()`` for the field's codebook alone."""
    return load_models(codebook=codebook, lexicon=MODELS / "lexicon.yaml", stopwords=MODELS / "stopwords.txt",
                       codebook_layers=layers)


def codebook_content(book: Codebook) -> dict[str, Any]:
    """What a codebook says, without where it was read from (file, lines): two codebooks with equal content
    tag every text alike.  Used to check that a workbook round trip or a layer changes nothing it should not."""
    return {
        "groups": {k: list(v) for k, v in book.groups.items()},
        "themes": [{"id": t.theme_id, "label": t.label, "definition": t.definition, "gap": t.gap, "kind": t.kind,
                    "pillars": list(t.pillars), "measures": list(t.measures), "related": list(t.related),
                    "rules": [(r.rule_id, r.text) for r in t.rules],
                    "exclude": [(r.rule_id, r.text) for r in t.exclude]} for t in book.themes],
        "terms": list(book.terms),
        "synonyms": {k: list(v) for k, v in book.synonyms.items()},
    }


def kwic_table(items: pd.DataFrame, terms: pd.DataFrame, evidence: pd.DataFrame, *,
               top_keywords: int = TOP_KEYWORDS, width: int = CONTEXT) -> pd.DataFrame:
    """Every KWIC line at once (:func:`kwic_index` then :func:`kwic_lines`)."""
    return kwic_lines(kwic_index(items, terms, evidence, top_keywords=top_keywords), items, width=width)


def normalised_items(cards: pd.DataFrame | None, feedback: pd.DataFrame | None) -> pd.DataFrame:
    """Validated :class:`Cards` and :class:`Feedback` in → :class:`Items` out (cards first)."""
    return normalise_items(raw_items(cards, feedback))


def codebook_to_data(book: Codebook) -> dict[str, Any]:
    """A codebook's content in :func:`codebook_yaml`'s shape (for writing a merged codebook as one file)."""
    return {
        "groups": {k: list(v) for k, v in book.groups.items()},
        "lexicon": {"terms": list(book.terms), "synonyms": {k: list(v) for k, v in book.synonyms.items()}},
        "themes": [{"id": t.theme_id, "label": t.label, "kind": t.kind, "definition": t.definition, "gap": t.gap,
                    "pillars": list(t.pillars), "measures": list(t.measures), "related": list(t.related),
                    "rules": [r.text for r in t.rules], "exclude": [r.text for r in t.exclude]}
                   for t in book.themes],
    }


def normalise_items(raw: pd.DataFrame) -> pd.DataFrame:
    """Items from :func:`raw_items` → the same with ``text`` = the normalised ``raw_text``."""
    out = raw.copy()
    out[Items.text] = [normalise_text(t) for t in raw[Items.raw_text]]
    return Items.validate(out.astype(str))
