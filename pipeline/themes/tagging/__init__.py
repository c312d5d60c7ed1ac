"""Theme tagging: codebook rules with evidence spans, plus an optional learned layer.

:class:`Tagger` is the only entry point: ``Tagger.build(codebook, tokeniser, labels)`` then ``tag(items)``
(:class:`~pipeline.schemas.Items` in, one evidence row per item × theme out, columns
:data:`EVIDENCE_COLUMNS`) or ``tag_texts(ids, texts)``.  Every evidence term is the exact text at its span
in the normalised comment.  Inside:

- :mod:`~pipeline.themes.tagging.keys` — what tokens and rule words answer to; a document prepared for matching;
- :mod:`~pipeline.themes.tagging.prefilter` — the codebook words a document can contain, hence the rules to try;
- :mod:`~pipeline.themes.tagging.evaluator` — rule evaluation with evidence, a document's theme hits;
- :mod:`~pipeline.themes.tagging.learned` — the learned layer and the analysts' label file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.schemas import Evidence, Items, columns
from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import Token, Tokeniser
from pipeline.themes.codebook import Codebook
from pipeline.themes.tagging.evaluator import RuleMatcher, rule_hits
from pipeline.themes.tagging.keys import Occ
from pipeline.themes.tagging.learned import (
    THEME_LABEL_COLUMNS,
    ThemeClassifier,
    labels_from_long,
    load_theme_labels,
    train_model,
)

EVIDENCE_COLUMNS = columns(Evidence)

__all__ = ["EVIDENCE_COLUMNS", "THEME_LABEL_COLUMNS", "Tagger", "ThemeClassifier", "labels_from_long",
           "load_theme_labels", "rule_score", "themes_by_item", "train_model"]


def _evidence_row(item_id: str, theme: str, text: str, occs: Sequence[Occ], source: str, score: float) -> dict:
    return {
        "item_id": item_id,
        "theme": theme,
        "terms": "|".join(text[o.start:o.end] for o in occs),
        "spans": "|".join(f"{o.start}-{o.end}" for o in occs),
        "source": source,
        "score": round(score, 3),
    }


def rule_score(n_occurrences: int) -> float:
    """1 occurrence → 0.5, 2 → 0.75, 3 → 0.875 …: more independent evidence, more confidence."""
    return 1.0 - 0.5 ** n_occurrences


def themes_by_item(evidence: pd.DataFrame, codebook: Codebook | None = None) -> dict[str, str]:
    """item id → theme ids joined by ``|``, highest score first (codebook order on ties)."""
    order = {t: i for i, t in enumerate(codebook.theme_ids)} if codebook else {}
    by_item: dict[str, list[tuple[str, float]]] = {}  # items in order of first appearance
    for item_id, theme, score in zip(evidence["item_id"].tolist(), evidence["theme"].tolist(),
                                     evidence["score"].tolist(), strict=True):
        by_item.setdefault(str(item_id), []).append((theme, score))
    return {item_id: "|".join(t for t, _ in sorted(ts, key=lambda ts: (-ts[1], order.get(ts[0], 0), ts[0])))
            for item_id, ts in by_item.items()}





@dataclass(frozen=True)
class Tagger:
    """Codebook + tokeniser + optional learned layer.  One :class:`RuleMatcher` per tagger keeps the rule
    caches across calls (dropped when the tagger is pickled for another process)."""

    codebook: Codebook
    tokeniser: Tokeniser
    model: ThemeClassifier | None = None
    matcher: RuleMatcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", RuleMatcher(self.codebook, self.tokeniser))

    @classmethod
    def build(cls, codebook: Codebook, tokeniser: Tokeniser, labels_path: Path | None = None,
              *, extra_labels: pd.DataFrame | None = None, classifier: ThemeClassifier | None = None) -> Tagger:
        """Train the learned layer from ``labels_path`` plus ``extra_labels`` (the analysts' review
        decisions) when they hold enough labels; else rules only."""
        frames = [load_theme_labels(labels_path)] if labels_path is not None else []
        if extra_labels is not None and len(extra_labels):
            frames.append(extra_labels)
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls(codebook, tokeniser, None)
        labels = pd.concat(frames, ignore_index=True)[["text", "theme", "label"]]
        rules_only = cls(codebook, tokeniser, None)
        return cls(codebook, tokeniser, train_model(labels, codebook, classifier=classifier, rules=rules_only.rule_themes))

    def rule_themes(self, texts: Sequence[str]) -> list[set[str]]:
        """The themes the codebook's rules alone find in each normalised text."""
        return [{h.theme for h in rule_hits(self.matcher, self.matcher.doc(t, None, None))[0]} for t in texts]

    def tag(self, items: pd.DataFrame, *, tokens: Sequence[list[Token]] | None = None,
            compounds: Sequence[list[Token]] | None = None) -> pd.DataFrame:
        """:class:`Items` in → evidence rows (:data:`EVIDENCE_COLUMNS`), items in input order, themes in
        codebook order.  ``source`` is ``rule:<rule ids>`` or ``model``; the model adds only themes the
        rules missed and never a theme whose exclusion rule fired in the item.  ``tokens`` and
        ``compounds`` (one list per item, from this tagger's tokeniser) save computing them again."""
        model, order = self.model, {t: i for i, t in enumerate(self.codebook.theme_ids)}
        texts = list(items[Items.text])
        probs = model.predict_proba(texts) if model is not None and model.themes_ else None
        rows: list[dict] = []
        toks: Sequence[list[Token] | None] = tokens if tokens is not None else [None] * len(texts)
        comps: Sequence[list[Token] | None] = compounds if compounds is not None else [None] * len(texts)
        for n, (item_id, text, tk, cp) in enumerate(zip(items[Items.item_id], texts, toks, comps, strict=True)):
            hits, excluded = rule_hits(self.matcher, self.matcher.doc(text, tk, cp))
            found = {h.theme for h in hits}
            item_rows = [_evidence_row(item_id, h.theme, text, h.occurrences, "rule:" + "+".join(h.rules),
                                       rule_score(len(h.occurrences))) for h in hits]
            if probs is not None and model is not None:
                for theme in model.themes_:
                    p = float(probs.loc[n, theme])
                    below = p < model.thresholds_.get(theme, model.threshold)
                    if theme in found or theme in excluded or below or theme not in order:
                        continue
                    item_rows.append(_evidence_row(item_id, theme, text, model.evidence(text, theme), "model", p))
            rows += sorted(item_rows, key=lambda r: order.get(r["theme"], len(order)))
        return pd.DataFrame(rows, columns=EVIDENCE_COLUMNS)

    def tag_texts(self, ids: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
        """Plain texts → item id → themes (``|``-joined, best first); used by ``kyosei eval``."""
        items = pd.DataFrame({
            Items.item_id: list(ids), Items.source: "feedback", Items.kind: "その他", Items.group: "",
            Items.card_id: "", Items.raw_text: list(texts), Items.text: [normalise_text(t) for t in texts],
        })
        return themes_by_item(self.tag(items), self.codebook)
