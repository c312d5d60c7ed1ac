"""One suggestion as an analyst reads it: a label taken from the comments, how cohesive it is, its most
representative comment, its pillar and nearest measure, the verbatim quotes.

**Label.**  Every comment of the suggestion is cut into noun phrases — nouns and compound nouns joined by
の / への / での / との / と / や / ・ (「移動手段の確保」「多言語での情報発信」「成年後見制度の利用促進」), at most
:data:`MAX_LABEL` characters.  The label is the phrase whose nouns the other comments share most (each comment
counts the share of the phrase's nouns it contains), preferring phrases of two or more nouns and phrases that
hold the theme's evidence; it is written exactly as in the comment it comes from.  When no phrase is shared
by two comments, the label is the best phrase of the most representative comment (the one nearest the
suggestion's centroid) — still a noun phrase: a label names the topic, and a person's words about themselves
(a first-person remark, a question, an exclamation) stay in the quotes under it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.text.tokenise import COMPOUND_POS, LEXICON_POS, Token, Tokeniser

MAX_LABEL = 32
SHARED_PHRASE, REQUEST_CLAUSE, TOPIC_PHRASE = "共通の語句", "代表的な要望の一節", "代表的な意見の語句"
"""How a label was chosen: a phrase the comments share; what the representative comment asks for (the object of
its request, 「…の充実が必要」 → 「…の充実」); else the noun phrase that best names the comments nearest the centroid."""
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
            if span[:1] in "「『" and not any(c in span for c in "」』"):   # an opening quote without its close
                start, span = start + 1, span[1:]
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

    A label names the topic, never a person's sentence: it is always a noun phrase as written in a comment.  The
    key phrase the comments share: among the phrases of two or more nouns, those whose nouns are all found in at
    least two members; the one holding the theme's evidence, found in the most members, is taken.  Without one,
    the noun phrase of the comments nearest the centroid that best names what they are about (holding the theme's
    evidence, found in most of them, of more nouns, from the representative comment); a first-person remark, a
    question or an exclamation stays in the quotes under the label (``item_evidence``: every theme's evidence of
    each comment, used when the suggestion's theme left none)."""
    per_item = {i: phrases(texts[i], tokeniser) for i in order}
    unit_sets = {i: {u for p in ps for u in p.units} for i, ps in per_item.items()}
    n = len(order)
    shared = _best_phrase(order, per_item, unit_sets, representative, evidence, min_nouns=2, min_holders=2)
    if shared is not None:
        return shared[0].text, SHARED_PHRASE, round(shared[1] / n, 3)
    request = _request_clause(texts[representative], (item_evidence or evidence).get(representative, ()),
                              evidence.get(representative, ()), tokeniser)
    if request is not None:
        return request, REQUEST_CLAUSE, round(1 / n, 3) if n else 0.0
    own = [p for p in per_item[representative] if any(p.start < e and s < p.end for s, e in
                                                      evidence.get(representative, ()))
           and any(u not in GENERIC for u in p.units) and p.units[0] not in GENERIC]
    if own:                                   # the representative's phrase that holds the theme's evidence
        p = max(own, key=lambda p: (len(p.units), len(p.text)))
        held = sum(all(u in unit_sets[j] for u in p.units if u not in GENERIC) for j in order)
        return p.text, TOPIC_PHRASE, round(held / n, 3) if n else 0.0
    for spans in (evidence, item_evidence or {}):
        topic = _best_phrase(order, per_item, unit_sets, representative, spans, min_nouns=1, min_holders=1)
        if topic is not None:
            return topic[0].text, TOPIC_PHRASE, round(topic[1] / n, 3) if n else 0.0
    # a comment without a noun phrase (rare: 「いいと思う」): its first words, never empty
    words = re.sub(r"\s+", " ", texts[representative]).strip()
    if len(words) > MAX_LABEL:
        cut = max((t.end for t in tokeniser.tokens(words) if t.end <= MAX_LABEL), default=MAX_LABEL)
        words = words[:cut]
    return words or representative, TOPIC_PHRASE, round(1 / n, 3) if n else 0.0


def _best_phrase(order: Sequence[str], per_item: Mapping[str, list[Phrase]], unit_sets: Mapping[str, set[str]],
                 representative: str, evidence: Mapping[str, Sequence[tuple[int, int]]], *, min_nouns: int,
                 min_holders: int) -> tuple[Phrase, int] | None:
    """The phrase of ``order``'s comments that best names them and how many comments hold all its nouns."""
    best: tuple | None = None
    chosen: tuple[Phrase, int] | None = None
    for rank, i in enumerate(order):
        spans = evidence.get(i, ())
        for p in per_item[i]:
            content = [u for u in p.units if u not in GENERIC]
            if not content or len(content) < min_nouns or p.units[0] in GENERIC or \
                    p.units[-1] in GENERIC - {"支援", "充実", "推進"}:
                continue
            holders = sum(all(u in unit_sets[j] for u in content) for j in order)
            if holders < min_holders:
                continue
            on_theme = any(p.start < e and s < p.end for s, e in spans)
            score = (on_theme, holders, len(content), i == representative, -abs(len(p.text) - 12), -rank)
            if best is None or score > best:
                best, chosen = score, (p, holders)
    return chosen


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


_REQUEST = re.compile(r"(?:ほしい|欲しい|下さい|ください|必要(?:だ|です|である|ではないか|がある)?|べき(?:だ|である|ではないか)?|"
                      r"(?:の|では)ないか|できないか|たい|望む|望みます|求める|求めます|願う|願います)"
                      r"(?:と(?:思う|思います|思います|考える|考えます|感じる|感じます))?[。.!！?？]*$")


def _request_clause(text: str, spans: Sequence[tuple[int, int]], theme_spans: Sequence[tuple[int, int]],
                    tokeniser: Tokeniser) -> str | None:
    """The object of the representative comment's request (its central clause, request ending trimmed) when the
    comment asks for something and what is left names a thing or a state (ends in a noun, an adjective or a
    quotation: 「…の充実」, 「…への支援が薄い」); None for a remark, an exclamation, a person's words about themselves,
    or a clause cut inside a verb (「…を求めることをやめ」)."""
    sentences = [s.strip() for s in re.split(r"(?<=[。！？!?])", text) if s.strip()]
    if not any(_REQUEST.search(s) for s in sentences):
        return None
    clause = central_clause(text, spans, theme_spans)
    if clause is None or clause == text.strip() or label_problem(clause, tokeniser) is not None \
            or not on_token_boundaries(clause, text, tokeniser):
        return None
    tokens = [t for t in tokeniser.tokens(clause) if not t.pos.startswith("補助記号")]
    ends_well = clause.endswith(("」", "』")) or (tokens and tokens[-1].pos.startswith(("名詞", "形容詞", "接尾辞-名詞的")))
    return clause if ends_well else None


_FIRST_PERSON = re.compile(r"^(?:私|僕|俺|自分|わたし|うち|我が家)(?:たち|達)?(?:は|が|も|の|に|を)")
_EXCLAMATION = re.compile(r"(?:[!！]|なあ|なぁ|なんて|ですね|だね|よね|だよ|ですよ|わ|ぞ)$")
_QUESTION = re.compile(r"(?:[?？]|(?:の|ん|でしょう|だろう|ます|です|ない)か|かな|かしら)$")
_WHOLE_FORMS = tuple("うくぐすつぬぶむるい")
"""The last kana of a verb or an adjective that ends a statement (終止形: 進む, ある, 薄い)."""
_WHOLE_AUXILIARIES = frozenset({"だ", "です", "ない", "ます", "ぬ", "ん", "たい", "らしい", "べし"})
LABEL_PROBLEMS = ("空", "一人称の発言", "疑問", "感嘆", "文の途中で切れている", "体験の語り")


def label_problem(label: str, tokeniser: Tokeniser) -> str | None:
    """Why ``label`` is no label an analyst can paste (one of :data:`LABEL_PROBLEMS`), or None: a label is a noun
    phrase (「移動手段の確保」) or a short statement that ends whole (「…への支援が薄い」) — never empty, a person's
    words about themselves, a question, an exclamation, a piece cut off inside a sentence (ending in a particle,
    a comma or a verb's joining form: 「…懸念事案が」, 「…を求めることをやめ」) or an account of what happened (past
    tense: 「…が起きてしまった」, 「助かりました」)."""
    text = label.strip()
    if not text.strip("「」『』()（）、。・ "):
        return LABEL_PROBLEMS[0]
    if _FIRST_PERSON.match(text.lstrip("「『")):
        return LABEL_PROBLEMS[1]
    if _QUESTION.search(text):
        return LABEL_PROBLEMS[2]
    if _EXCLAMATION.search(text):
        return LABEL_PROBLEMS[3]
    if text.endswith(("」", "』", ")", "）")):
        return None
    if text.endswith(("、", ",", "・")):
        return LABEL_PROBLEMS[4]
    tokens = [t for t in tokeniser.tokens(text) if not t.pos.startswith("補助記号")]
    if not tokens:
        return LABEL_PROBLEMS[0]
    last = tokens[-1]
    if last.pos.startswith(("助詞", "接続詞", "連体詞", "接頭辞")):
        return LABEL_PROBLEMS[4]
    if last.pos.startswith("助動詞"):
        if last.lemma == "た":                     # 「…が起きてしまった」「助かりました」: what happened to someone
            return LABEL_PROBLEMS[5]
        return None if last.surface in _WHOLE_AUXILIARIES else LABEL_PROBLEMS[4]
    if last.pos.startswith(("動詞", "形容詞")) and not last.surface.endswith(_WHOLE_FORMS):
        return LABEL_PROBLEMS[4]
    return None


def on_token_boundaries(label: str, text: str, tokeniser: Tokeniser) -> bool:
    """Whether ``label`` is found in ``text`` starting and ending where its words start and end (a label is never
    cut inside a word: not 「こころ配」 from 心配, nor 「こど」 from こども)."""
    at = text.find(label)
    if at < 0:
        return False
    tokens = tokeniser.tokens(text)
    starts = {t.start for t in tokens} | {len(text)}
    ends = {t.end for t in tokens} | {0}
    return at in starts and at + len(label) in ends


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
