"""Evaluating codebook rules on a document: occurrences of words, groups, AND/OR/NOT, near() and seq(),
with the evidence (character spans) that justifies each match; :func:`rule_hits` gives a document's themes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline.text.normalise import normalise_text
from pipeline.text.tokenise import LEXICON_POS, Token, Tokeniser
from pipeline.themes.codebook import And, Codebook, Expr, Group, Near, Not, Or, Rule, Seq, Word
from pipeline.themes.tagging.keys import Doc, Occ, RuleKeys
from pipeline.themes.tagging.prefilter import Prefilter


class RuleMatcher:
    """Evaluates codebook expressions on documents (rule words tokenised once, rules prefiltered)."""

    def __init__(self, codebook: Codebook, tokeniser: Tokeniser, *, prefilter: bool = True):
        self.codebook = codebook
        self.tokeniser = tokeniser
        self.prefilter = prefilter
        self.rule_keys = RuleKeys(tokeniser)
        self.words = Prefilter(codebook, self.rule_keys)
        self._clear()

    def _clear(self) -> None:
        self._parts: dict[int, tuple[frozenset[Word], tuple[Expr, ...]]] = {}  # id(Or/And) → its words, the rest

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        del state["_parts"]  # keyed by object ids: this process's only
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._clear()

    def _split(self, expr: Or | And) -> tuple[frozenset[Word], tuple[Expr, ...]]:
        """The plain words among ``expr``'s arguments (decided together with one set operation) and the rest."""
        got = self._parts.get(id(expr))
        if got is None:
            got = (frozenset(a for a in expr.args if isinstance(a, Word)),
                   tuple(a for a in expr.args if not isinstance(a, Word)))
            self._parts[id(expr)] = got
        return got

    def occurrences(self, w: Word, doc: Doc) -> list[Occ]:
        """:meth:`_word`, once per word and document (a word shared by several rules is found once; kept on the
        document, so threads matching other documents never see it)."""
        got = doc.found.get(w)
        if got is None:
            got = doc.found[w] = self._word(w, doc)
        return got

    def doc(self, text: str, tokens: list[Token] | None = None, compounds: list[Token] | None = None) -> Doc:
        """``text`` prepared for matching (``tokens`` / ``compounds``: its tokens and their compounds, when
        the caller already has them), with the codebook words that can occur in it."""
        if not self.prefilter:
            return self.rule_keys.doc(text, tokens, compounds)
        doc = self.rule_keys.doc(text, tokens, compounds, wanted=self.words.lookup_keys())
        return replace(doc, present=self.words.present(doc))

    def live_rules(self, doc: Doc) -> set[int] | None:
        return self.words.live_rules(doc)

    def may_match(self, expr: Expr, doc: Doc) -> bool:
        return self.words.may_match(expr, doc)

    def _word(self, w: Word, doc: Doc) -> list[Occ]:
        if doc.present is not None and w not in doc.present:
            return []
        if w.literal:
            needle = normalise_text(w.text)
            out, pos = [], doc.text.find(needle)
            while needle and pos >= 0:
                t0 = next((i for i, t in enumerate(doc.tokens) if t.end > pos), len(doc.tokens))
                t1 = next((i for i, t in enumerate(doc.tokens) if t.start >= pos + len(needle)), len(doc.tokens))
                out.append(Occ(pos, pos + len(needle), t0, max(t1, t0 + 1)))
                pos = doc.text.find(needle, pos + 1)
            return out
        want = self.rule_keys.word_keys(w.text)
        n = len(want)
        if n == 0:
            return []
        out = []
        whole = self.rule_keys.whole(w.text)
        if n > 1:  # a multi-token word may sit inside one lexicon term (民生委員 in 民生委員・児童委員)
            out += [Occ(doc.tokens[i].start, doc.tokens[i].end, i, i + 1) for i in doc.index.get(whole, ())
                    if doc.tokens[i].pos == LEXICON_POS]
        # a compound that is a spelling variant of the word (相談先 for 相談窓口, via the lexicon)
        out += [Occ(doc.tokens[i].start, doc.tokens[j - 1].end, i, j) for i, j in doc.units.get(whole, ())]
        starts = sorted({i for k in want[0] for i in doc.index.get(k, ()) if i + n <= len(doc.tokens)})
        for i in starts:
            if not all(doc.keys[i + j] & want[j] for j in range(1, n)):
                continue
            if w.pos and not doc.tokens[i].pos.startswith(w.pos):
                continue
            t0, t1 = i, i + n
            if w.prefix:
                if doc.unit_start[i] != i:
                    continue
                t1 = max(t1, doc.unit_end[i + n - 1])
            if w.suffix:
                if doc.unit_end[i + n - 1] != i + n:
                    continue
                t0 = min(t0, doc.unit_start[i])
            out.append(Occ(doc.tokens[t0].start, doc.tokens[t1 - 1].end, t0, t1))
        return sorted(set(out))

    def evaluate(self, expr: Expr, doc: Doc) -> tuple[bool, list[Occ]]:
        """(matched, occurrences that justify the match)."""
        if isinstance(expr, Word):
            if doc.present is not None and expr not in doc.present:
                return False, []                          # most words of a rule: decided without a call
            occ = self.occurrences(expr, doc)
            return bool(occ), occ
        if not isinstance(expr, Not) and not self.words.may_match(expr, doc):
            return False, []
        if isinstance(expr, Group):
            return self._group(expr.name, doc)
        if isinstance(expr, Not):
            matched, _ = self.evaluate(expr.arg, doc)
            return not matched, []
        if isinstance(expr, Or):
            words, others = self._split(expr)
            found: set[Occ] = set()
            any_matched = False
            for w in (words if doc.present is None else words & doc.present):  # an absent word: not matched
                occ = self.occurrences(w, doc)
                if occ:
                    any_matched = True
                    found.update(occ)
            for a in others:
                matched, occ = self.evaluate(a, doc)
                if matched:
                    any_matched = True
                    found.update(occ)
            return any_matched, sorted(found)
        if isinstance(expr, And):
            words, others = self._split(expr)
            if doc.present is not None and not words <= doc.present:
                return False, []                          # a word of it cannot occur here
            found = set()
            for w in words:
                occ = self.occurrences(w, doc)
                if not occ:
                    return False, []
                found.update(occ)
            for a in others:
                matched, occ = self.evaluate(a, doc)
                if not matched:
                    return False, []
                found.update(occ)
            return True, sorted(found)
        if isinstance(expr, Near):
            return self._near(expr, doc)
        if isinstance(expr, Seq):
            return self._seq(expr, doc)
        raise TypeError(expr)

    def _group(self, name: str, doc: Doc) -> tuple[bool, list[Occ]]:
        """Every occurrence of any member; only the members whose words occur in ``doc`` are evaluated (a plain
        word: one set intersection for all of them)."""
        words, others = self.words.group_members(name)
        present = doc.present
        found: set[Occ] = set()
        for w in (words if present is None else words & present):
            found.update(self.occurrences(w, doc))
        for e, need in others:
            if present is not None and need is not None and need.isdisjoint(present):
                continue
            matched, occ = self.evaluate(e, doc)
            if matched:
                found.update(occ)
        return bool(found), sorted(found)

    def _near(self, expr: Near, doc: Doc) -> tuple[bool, list[Occ]]:
        """Every occurrence of the first term with all other terms within ``window`` tokens;
        the evidence is that occurrence and every occurrence of the others inside the window."""
        lists = [self.evaluate(a, doc)[1] for a in expr.args]
        if not all(lists):
            return False, []
        found: set[Occ] = set()
        for anchor in lists[0]:
            near = [[o for o in others if _gap(anchor, o) <= expr.window] for others in lists[1:]]
            if all(near):
                found.add(anchor)
                found.update(o for group in near for o in group)
        return bool(found), sorted(found)

    def _seq(self, expr: Seq, doc: Doc) -> tuple[bool, list[Occ]]:
        lists = [self.evaluate(a, doc)[1] for a in expr.args]
        if not all(lists):
            return False, []
        found: set[Occ] = set()
        for first in lists[0]:
            chain, cur = [first], first
            for others in lists[1:]:
                nxt = next((o for o in others if o.tok0 == cur.tok1), None)
                if nxt is None:
                    break
                chain.append(nxt)
                cur = nxt
            else:
                found.update(chain)
        return bool(found), sorted(found)



def _gap(a: Occ, b: Occ) -> int:
    """Tokens between two occurrences (0 when adjacent or overlapping)."""
    if a.tok1 <= b.tok0:
        return b.tok0 - a.tok1
    if b.tok1 <= a.tok0:
        return a.tok0 - b.tok1
    return 0


def _outermost(occs: Iterable[Occ]) -> list[Occ]:
    """Drop occurrences lying inside another one (相談 inside 相談窓口), keep text order."""
    ordered = sorted(set(occs), key=lambda o: (o.start, -o.end))
    out: list[Occ] = []
    for o in ordered:
        if out and out[-1].start <= o.start and o.end <= out[-1].end:
            continue
        out.append(o)
    return out


def _overlaps(o: Occ, blocked: Iterable[Occ]) -> bool:
    return any(o.start < b.end and b.start < o.end for b in blocked)


@dataclass(frozen=True)
class RuleHit:
    theme: str
    occurrences: tuple[Occ, ...]
    rules: tuple[str, ...]


def rule_hits(matcher: RuleMatcher, doc: Doc) -> tuple[list[RuleHit], set[str]]:
    """Theme hits of one document, and the themes whose exclusion rules fired (blocking the model)."""
    hits: list[RuleHit] = []
    excluded: set[str] = set()
    live = matcher.live_rules(doc)

    def skip(rule: Rule) -> bool:
        return id(rule) not in live if live is not None else not matcher.may_match(rule.expr, doc)

    for theme in matcher.codebook.themes:
        if live is not None:
            if live.isdisjoint(matcher.words.theme_rules(theme)):
                continue
        elif all(skip(r) for r in (*theme.rules, *theme.exclude)):
            continue
        blocked: list[Occ] = []
        block_all = False
        for ex in theme.exclude:
            if skip(ex):
                continue
            matched, occ = matcher.evaluate(ex.expr, doc)
            if matched:
                excluded.add(theme.theme_id)
                blocked += occ
                block_all = block_all or not occ
        if block_all:
            continue
        occs: set[Occ] = set()
        fired: list[str] = []
        for rule in theme.rules:
            if skip(rule):
                continue
            matched, occ = matcher.evaluate(rule.expr, doc)
            kept = [o for o in occ if not _overlaps(o, blocked)]
            if len(kept) < len(occ) and isinstance(rule.expr, And | Near | Seq):
                # a combination rule whose part was excluded does not stand on its other parts
                # (「職員が…働く場」: 働く is the staff's, so 場 alone is no evidence of employment support)
                kept = []
            if matched and kept:
                occs.update(kept)
                fired.append(rule.rule_id)
        if occs:
            hits.append(RuleHit(theme.theme_id, tuple(_outermost(occs)), tuple(fired)))
    return hits, excluded


