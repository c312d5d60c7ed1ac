"""The models a run uses, loaded once: tokeniser (with the user lexicon), stop words, codebook and the
theme tagger (rules, plus the learned layer when there are enough analyst labels)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.review import training_labels
from pipeline.text.tokenise import Lexicon, Tokeniser, extend_lexicon, load_lexicon, load_stopwords
from pipeline.themes.codebook import Codebook
from pipeline.themes.load import load_codebook
from pipeline.themes.tagging import Tagger


@dataclass(frozen=True)
class Models:
    """Everything :func:`pipeline.run.analysis.analyse` needs besides the meeting's inputs."""

    tokeniser: Tokeniser
    stopwords: frozenset[str]
    codebook: Codebook
    tagger: Tagger


def load_models(*, codebook: Path, lexicon: Path | None = None, stopwords: Path | None = None,
                theme_labels: Path | None = None, decisions: pd.DataFrame | None = None,
                measure_ids: list[str] | None = None, codebook_layers: Sequence[Path] = ()) -> Models:
    """Read the model files (a ``None`` path means: not used).  The learned layer trains on
    ``theme_labels`` plus the theme decisions in the ``decisions`` log.  ``measure_ids`` (the policy
    table's) lets the codebook check its links.  ``codebook_layers`` are merged on top of the codebook (a
    city's own programme names over the field's themes); the lexicon terms and synonyms the codebook carries
    are added to the user lexicon."""
    book = load_codebook(codebook, layers=codebook_layers, measure_ids=measure_ids)
    lex = extend_lexicon(load_lexicon(lexicon) if lexicon else Lexicon(), book.terms, book.synonyms,
                         file=str(codebook))
    tokeniser = Tokeniser(lexicon=lex)
    stop = load_stopwords(stopwords) if stopwords else frozenset()
    extra = training_labels(decisions) if decisions is not None and len(decisions) else None
    tagger = Tagger.build(book, tokeniser, theme_labels, extra_labels=extra)
    return Models(tokeniser=tokeniser, stopwords=stop, codebook=book, tagger=tagger)
