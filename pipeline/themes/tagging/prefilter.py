"""Prefilter: before any rule is evaluated, find the codebook words that can occur in a document, and so the
rules that may match it.

A word's occurrences come only from tokens whose keys include one of its first token's keys, from a lexicon
term or compound equal to the whole word, or (literal) from the text.  So one pass over the document's keys
finds the words that can occur; a rule none of whose trigger words occurs is false without being evaluated.
This changes no result: it only skips evaluations that would find nothing (tests/test_tagging.py compares
with and without).
"""

from __future__ import annotations

from pipeline.text.normalise import normalise_text
from pipeline.themes.codebook import Codebook, Expr, Group, Not, Or, Theme, Word, parse_rule, words_in
from pipeline.themes.tagging.keys import Doc, RuleKeys


class Prefilter:
    """Trigger words of every codebook expression and an index from words to rules.

    Caches are keyed by ``id`` of the codebook's expressions and rules, which the codebook keeps alive; they
    are dropped when the object is pickled (another process has other ids)."""

    def __init__(self, codebook: Codebook, rule_keys: RuleKeys):
        self.codebook = codebook
        self.rule_keys = rule_keys
        self._clear()

    def _clear(self) -> None:
        self._group_cache: dict[str, list[Expr]] = {}
        self._triggers: dict[int, tuple[Expr, frozenset[Word] | None]] = {}
        self._rule_index: tuple[dict[Word, list[int]], list[int]] | None = None
        self._lookup: tuple[dict[str, list[Word]], dict[str, list[Word]], list[tuple[str, Word]]] | None = None
        self._lookup_keys: frozenset[str] | None = None
        self._members: dict[str, tuple[frozenset[Word], list[tuple[Expr, frozenset[Word] | None]]]] = {}
        self._theme_rules: dict[str, frozenset[int]] = {}

    def __getstate__(self) -> dict[str, object]:
        return {"codebook": self.codebook, "rule_keys": self.rule_keys}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clear()

    def group_exprs(self, text: str) -> list[Expr]:
        exprs = self._group_cache.get(text)
        if exprs is None:
            exprs = self._group_cache[text] = [parse_rule(text)]
        return exprs

    def theme_rules(self, theme: Theme) -> frozenset[int]:
        """``id`` of each rule and exclusion of ``theme`` (a theme none of whose rules is live is skipped at once)."""
        got = self._theme_rules.get(theme.theme_id)
        if got is None:
            got = self._theme_rules[theme.theme_id] = frozenset(id(r) for r in (*theme.rules, *theme.exclude))
        return got

    def group_members(self, name: str) -> tuple[frozenset[Word], list[tuple[Expr, frozenset[Word] | None]]]:
        """A group's members: its plain words, and its other expressions with their trigger words."""
        got = self._members.get(name)
        if got is None:
            exprs = [e for m in self.codebook.groups.get(name, ()) for e in self.group_exprs(m)]
            got = self._members[name] = (frozenset(e for e in exprs if isinstance(e, Word)),
                                         [(e, self.triggers(e)) for e in exprs if not isinstance(e, Word)])
        return got

    def _word_lookup(self) -> tuple[dict[str, list[Word]], dict[str, list[Word]], list[tuple[str, Word]]]:
        if self._lookup is None:
            by_key: dict[str, list[Word]] = {}
            by_unit: dict[str, list[Word]] = {}
            literals: list[tuple[str, Word]] = []
            for w in self._all_words():
                if w.literal:
                    needle = normalise_text(w.text)
                    if needle:
                        literals.append((needle, w))
                    continue
                want = self.rule_keys.word_keys(w.text)
                if not want:
                    continue
                whole = self.rule_keys.whole(w.text)
                for k in want[0] | ({whole} if len(want) > 1 else set()):
                    by_key.setdefault(k, []).append(w)
                by_unit.setdefault(whole, []).append(w)
            self._lookup = (by_key, by_unit, literals)
        return self._lookup

    def _all_words(self) -> list[Word]:
        seen: dict[Word, None] = {}
        todo: list[Expr] = [r.expr for t in self.codebook.themes for r in (*t.rules, *t.exclude)]
        todo += [e for members in self.codebook.groups.values() for m in members for e in self.group_exprs(m)]
        for expr in todo:
            for w in words_in(expr):
                if isinstance(w, Word):
                    seen.setdefault(w, None)
        return list(seen)

    def lookup_keys(self) -> frozenset[str]:
        """Every match key a codebook word looks up in a document's index (its first token's keys, and the whole
        word for a word of several tokens): a document need not index any other key."""
        if self._lookup_keys is None:
            self._lookup_keys = frozenset(self._word_lookup()[0])
        return self._lookup_keys

    def present(self, doc: Doc) -> frozenset[Word]:
        """The codebook words that can occur in ``doc``."""
        text, index, units = doc.text, doc.index, doc.units
        by_key, by_unit, literals = self._word_lookup()
        found: set[Word] = set()
        for k in index:
            found.update(by_key.get(k, ()))
        for u in units:
            found.update(by_unit.get(u, ()))
        found.update(w for needle, w in literals if needle in text)
        return frozenset(found)

    def triggers(self, expr: Expr) -> frozenset[Word] | None:
        """Words one of which must occur for ``expr`` to match; ``None`` when it can match without
        any (a NOT)."""
        got = self._triggers.get(id(expr))
        if got is None:
            got = self._triggers[id(expr)] = (expr, self._compute_triggers(expr, frozenset()))
        return got[1]

    def _compute_triggers(self, expr: Expr, visiting: frozenset[str]) -> frozenset[Word] | None:
        if isinstance(expr, Word):
            return frozenset({expr})
        if isinstance(expr, Not):
            return None
        if isinstance(expr, Group):
            if expr.name in visiting:
                return None
            parts = [self._compute_triggers(e, visiting | {expr.name})
                     for m in self.codebook.groups.get(expr.name, ()) for e in self.group_exprs(m)]
            return None if any(p is None for p in parts) else frozenset().union(*parts)
        sub = [self._compute_triggers(a, visiting) for a in expr.args]
        if isinstance(expr, Or):
            return None if any(p is None for p in sub) else frozenset().union(*sub)
        # And, Near, Seq: every argument must match, so the most selective one decides.
        known = [p for p in sub if p is not None]
        return min(known, key=len) if known else None

    def live_rules(self, doc: Doc) -> set[int] | None:
        """``id`` of every codebook rule (and exclusion) that may match ``doc``, found from its words
        instead of asking each rule; ``None`` when the document has no prefilter."""
        if doc.present is None:
            return None
        if self._rule_index is None:
            by_word: dict[Word, list[int]] = {}
            always: list[int] = []
            for theme in self.codebook.themes:
                for rule in (*theme.rules, *theme.exclude):
                    need = self.triggers(rule.expr)
                    if need is None:
                        always.append(id(rule))
                    for w in need or ():
                        by_word.setdefault(w, []).append(id(rule))
            self._rule_index = (by_word, always)
        by_word, always = self._rule_index
        live = set(always)
        for w in doc.present:
            live.update(by_word.get(w, ()))
        return live

    def may_match(self, expr: Expr, doc: Doc) -> bool:
        """False only when ``expr`` certainly does not match ``doc``."""
        if doc.present is None:
            return True
        need = self.triggers(expr)
        return need is None or not need.isdisjoint(doc.present)

