"""One suggestion as an analyst reads it: a label taken from the comments, how cohesive it is, its most
representative comment, its pillar and nearest measure, the verbatim quotes.

**Label.**  Every comment of the suggestion is cut into noun phrases — nouns and compound nouns joined by
の / への / での / との / と / や / ・ (「移動手段の確保」「多言語での情報発信」「成年後見制度の利用促進」), at most
:data:`MAX_LABEL` characters.  The label is the phrase whose nouns the other comments share most (each comment
counts the share of the phrase's nouns it contains), preferring phrases of two or more nouns and phrases that
hold the theme's evidence; it is written exactly as in the comment it comes from.  When no phrase is shared
by two comments, the label is the best phrase of the most representative comment (the one nearest the
suggestion's centroid) — a clause of that comment, not a list of keywords.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.text.tokenise import COMPOUND_POS, LEXICON_POS, Token, Tokeniser

MAX_LABEL = 32
MAX_QUOTES = 20
CONNECTORS = frozenset({"の", "への", "での", "との", "と", "や", "・", "、", "のための", "に関する", "による", "という",
                        "などの", "等の"})
_QUOTES = str.maketrans("", "", "「」『』")
GENERIC = frozenset({"支援", "視点", "必要", "福祉", "地域", "事業", "施策案", "施策", "柱", "取り組み", "取組",
                     "体制", "活動", "計画", "部分", "方", "目", "話", "場", "機会", "こと", "もの", "ため", "よう",
                     "人", "方々", "中", "今後", "現在", "充実", "推進", "検討", "対応", "必要性", "意見", "市"})


@dataclass(frozen=True)
class Phrase:
    text: str
    units: tuple[str, ...]
    start: int
    end: int


def _units(tokens: list[Token], compounds: list[Token], canonical) -> list[tuple[str, int, int]]:
    """Noun units of a text (compound nouns whole): canonical form and span."""
    out = []
    for t in compounds:
        noun = t.pos in (COMPOUND_POS, LEXICON_POS) or (t.pos.startswith("名詞") and not t.pos.startswith(
            ("名詞-普通名詞-副詞可能", "名詞-数詞")))
        if not noun or (len(t.surface) < 2 and not re.match(r"[\u4e00-\u9fff]", t.surface)):
            continue
        if re.fullmatch(r"[ぁ-ゖ]+", t.surface) and len(t.surface) <= 3:
            continue
        out.append((canonical(t.surface), t.start, t.end))
    return out


def phrases(text: str, tokeniser: Tokeniser) -> list[Phrase]:
    """Noun phrases of ``text`` (see the module docstring), each as written in the text."""
    toks = tokeniser.tokens(text)
    units = _units(toks, tokeniser.compounds(toks), tokeniser.lexicon.canonical)
    out: list[Phrase] = []
    for i in range(len(units)):
        for j in range(i, min(i + 4, len(units))):
            if j > i and text[units[j - 1][2]:units[j][1]].translate(_QUOTES) not in CONNECTORS:
                break
            start, end = units[i][1], units[j][2]
            if text[start - 1:start] in "「『" and start > 0:
                start -= 1
            if text[end:end + 1] in "」』" and text[start:end].count("「") + text[start:end].count("『") > \
                    text[start:end].count("」") + text[start:end].count("』"):
                end += 1
            span = text[start:end]
            if len(span) > MAX_LABEL:
                break
            keys = tuple(u[0] for u in units[i:j + 1])
            if all(k in GENERIC for k in keys):
                continue
            out.append(Phrase(span, keys, start, end))
    return out


def choose_label(texts: Mapping[str, str], order: Sequence[str], representative: str, tokeniser: Tokeniser,
                 evidence: Mapping[str, Sequence[tuple[int, int]]],
                 item_evidence: Mapping[str, Sequence[tuple[int, int]]] | None = None) -> tuple[str, str, float]:
    """(label, how it was chosen, share of the suggestion's comments that hold all the label's nouns).

    The key phrase the comments share: among the phrases of two or more nouns of every member, those whose
    nouns are all found in at least two members; the one holding the theme's evidence, found in the most
    members, is taken as written.  Without one, the central clause of the most representative comment."""
    per_item = {i: phrases(texts[i], tokeniser) for i in order}
    unit_sets = {i: {u for p in ps for u in p.units} for i, ps in per_item.items()}
    n = len(order)
    best: tuple | None = None
    chosen: Phrase | None = None
    for rank, i in enumerate(order):
        spans = evidence.get(i, ())
        for p in per_item[i]:
            content = [u for u in p.units if u not in GENERIC]
            if len(content) < 2 or p.units[0] in GENERIC or p.units[-1] in GENERIC - {"支援", "充実", "推進"}:
                continue
            holders = sum(all(u in unit_sets[j] for u in content) for j in order)
            if holders < 2:
                continue
            on_theme = any(p.start < e and s < p.end for s, e in spans)
            score = (on_theme, holders, len(content), i == representative, -abs(len(p.text) - 12), -rank)
            if best is None or score > best:
                best, chosen = score, p
    if chosen is not None and best is not None:
        return chosen.text, "共通の語句", round(best[1] / n, 3)
    share = round(1 / n, 3) if n else 0.0
    label = central_clause(texts[representative], (item_evidence or evidence).get(representative, ()),
                           evidence.get(representative, ()))
    if label is None:
        own = [p for p in per_item[representative] if any(p.start < e and s < p.end for s, e in
                                                          evidence.get(representative, ()))]
        own = own or [p for p in per_item[representative] if any(u not in GENERIC for u in p.units)]
        label = max(own, key=lambda p: (len(p.units), len(p.text))).text if own else \
            _trim(texts[representative])[:MAX_LABEL]
    return label, "代表的な意見の一節", share


_ENDINGS = re.compile(r"(?:を?(?:進めて|考えて|作って|つくって|設けて|増やして|広げて|検討して)?(?:て|で)?(?:ほしい|欲しい|下さい|ください)|"
                      r"が?必要(?:だ|です|である|ではないか|がある)?|べき(?:だ|である|ではないか)?|と思う|と思います|"
                      r"と感じる|のではないか|ではないか|できないか|でならない|が心配だ|か心配だ|心配だ|"
                      r"(?:てい)?る?(?:ように)?(?:見える|思える))[。.!！?？]*$")


_DANGLING = re.compile(r"(?:があると|があれば|であれば|ならば|のに|ので|から|けれど|けど|として|(?<=[\u4e00-\u9fff])して|"
                       r"(?<!こ)と|が|を|は|も|に|で|へ|や)$")


def _trim(text: str) -> str:
    """A clause without its request ending (…してほしい, …が必要だ, …と思う) or a dangling particle."""
    out = text.strip()
    while True:
        cut = _DANGLING.sub("", _ENDINGS.sub("", out).strip("、,・ "))
        if cut == out or len(cut) < 6:
            return cut if len(cut) >= 6 else out
        out = cut


def central_clause(text: str, spans: Sequence[tuple[int, int]] = (),
                   theme_spans: Sequence[tuple[int, int]] = ()) -> str | None:
    """The first sentence of a comment that holds evidence of its themes (``spans``) and fits in
    :data:`MAX_LABEL` characters once its request ending is trimmed; else, in the sentence holding most evidence
    of the suggestion's theme (``theme_spans``), the part between commas that holds it; None when none fits."""
    sentences = [(m.start(), m.group()) for m in re.finditer(r"[^。！？!?]+", text)] or [(0, text)]
    for start, sentence in sentences:
        core = _trim(sentence)
        if core.strip("、,・ 　") and len(core) <= MAX_LABEL and (not spans or any(start <= a < start + len(sentence) for a, _ in spans)):
            return core
    spans = theme_spans or spans
    start, sentence = max(sentences, key=lambda s: (sum(s[0] <= a < s[0] + len(s[1]) for a, _ in spans), -s[0]))
    parts, offset = [], start
    for piece in re.split(r"(?<=、)", sentence):
        if piece.strip("、 "):  # a comment ending in 「、」 leaves an empty piece after it: never a label
            parts.append((offset, piece))
        offset += len(piece)
    if not parts:
        return None
    hits = [k for k, (o, piece) in enumerate(parts) if any(o <= a < o + len(piece) for a, _ in spans)]
    lo = hi = hits[0] if hits else len(parts) - 1
    while True:
        grown = False
        if hi + 1 < len(parts) and len(_trim("".join(p for _, p in parts[lo:hi + 2]))) <= MAX_LABEL:
            hi, grown = hi + 1, True
        if lo > 0 and len(_trim("".join(p for _, p in parts[lo - 1:hi + 1]))) <= MAX_LABEL:
            lo, grown = lo - 1, True
        if not grown:
            break
    piece = _trim("".join(p for _, p in parts[lo:hi + 1]))
    return piece if 0 < len(piece) <= MAX_LABEL else None


def cohesion(x, rows: Sequence[int]) -> tuple[float, int]:
    """Mean cosine similarity of the rows of ``x`` (L2-normalised TF-IDF) with their centroid, and the row
    nearest the centroid (the most representative)."""
    if not rows:
        return 0.0, -1
    sub = x[list(rows)]
    centroid = np.asarray(sub.mean(axis=0)).ravel()
    norm = float(np.linalg.norm(centroid))
    if norm == 0:
        return 0.0, rows[0]
    sims = np.asarray(sub @ (centroid / norm)).ravel()
    return round(float(sims.mean()), 3), rows[int(np.argmax(sims))]


def quotes(members: Sequence[str], raw: Mapping[str, str]) -> str:
    """Verbatim quotes of the first supporting items (a spreadsheet cell holds at most 32,767 characters)."""
    shown = " / ".join(f"[{i}] {raw[i]}" for i in members[:MAX_QUOTES])
    more = f" / …ほか {len(members) - MAX_QUOTES} 件（item_ids 参照）" if len(members) > MAX_QUOTES else ""
    return (shown[:30000] + more) if len(shown) > 30000 else shown + more
