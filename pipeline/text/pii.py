"""Personal-data masking: phone numbers, e-mail addresses, postal codes, street addresses and personal
names are replaced by placeholders ([電話番号], [メール], [郵便番号], [住所], [氏名]) before any analysis,
so no output, chart or Prefect artifact carries them.

Patterns accept full-width digits and the many dash characters transcribers type.  Names come from
UniDic's person-name tags (名詞-固有名詞-人名) and from any proper noun directly followed by an
honorific or title (さん, 様, 氏, 委員, 課長 …).  Departments and place names on their own (柏市, 福祉政策課,
社協) are not personal data and stay.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace

import pandas as pd

from pipeline.ingest import MeetingInputs
from pipeline.schemas import Cards, Feedback
from pipeline.text.normalise import normalise_text, offset_map, raw_span
from pipeline.text.tokenise import Token, Tokeniser

NAME, PHONE, EMAIL, POSTAL, ADDRESS = "[氏名]", "[電話番号]", "[メール]", "[郵便番号]", "[住所]"
MASK_TYPES = {NAME: "name", PHONE: "phone", EMAIL: "email", POSTAL: "postal_code", ADDRESS: "address"}
MASK_COUNTS = ("name", "phone", "email", "postal_code", "address")
"""The keys of a run's mask counts, in the order the manifest lists them."""

_D = r"[0-9０-９]"
_H = r"[-‐‑‒–—―−－ー]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-Ａ-Ｚａ-ｚ０-９]+[@＠][A-Za-z0-9.\-Ａ-Ｚａ-ｚ０-９]+\.[A-Za-zＡ-Ｚａ-ｚ]{2,}")
_POSTAL = re.compile(rf"(?:〒\s*{_D}{{3}}{_H}?{_D}{{4}})|(?<![0-9０-９]|{_H}){_D}{{3}}{_H}{_D}{{4}}(?![0-9０-９]|{_H})")
_PHONE = re.compile(
    rf"(?<![0-9０-９])(?:(?:\+|＋)81{_H}?\s?{_D}{{1,4}}|[0０]{_D}{{0,4}})"
    rf"(?:{_H}|\s|[(（)）])*{_D}{{1,4}}(?:{_H}|\s|[)）])*{_D}{{3,4}}(?![0-9０-９])"
)
_ADDRESS = re.compile(
    rf"(?:[^\s、。,，「」()（）]{{1,4}}[都道府県])?[^\s、。,，「」()（）0-9０-９]{{1,6}}[市区町村郡]"
    rf"[^\s、。,，「」()（）0-9０-９]{{0,8}}{_D}+(?:(?:丁目|番地|番|号|{_H}){_D}*)+"
)
HONORIFICS = frozenset({"さん", "様", "さま", "氏", "君", "くん", "ちゃん", "殿", "先生", "委員", "議員", "課長", "部長",
                        "係長", "室長", "所長", "局長", "主任", "主査", "会長", "理事長", "市長", "副市長", "町長"})


def _phone_like(m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group(0).translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    return 10 <= len(digits) <= 13


def mask_patterns(text: str, counts: Counter[str]) -> str:
    """Replace e-mail addresses, phone numbers, postal codes and street addresses (in that order)."""
    def sub(pattern: re.Pattern[str], token: str, s: str, check=None) -> str:
        def repl(m: re.Match[str]) -> str:
            if check is not None and not check(m):
                return m.group(0)
            counts[MASK_TYPES[token]] += 1
            return token
        return pattern.sub(repl, s)

    text = sub(_EMAIL, EMAIL, text)
    text = sub(_PHONE, PHONE, text, _phone_like)
    text = sub(_POSTAL, POSTAL, text)
    return sub(_ADDRESS, ADDRESS, text)


def _may_hold_name(text: str, tokeniser: Tokeniser) -> bool:
    """False only when :func:`mask_names` would find nothing: no lexicon term (parsed differently), no person-name
    token in MeCab's parse string and no proper noun before an honorific.  Most comments stop here without
    building tokens (same result; the check reads the parse as one string)."""
    if tokeniser.has_lexicon_term(text):
        return True
    parsed = tokeniser.parse_string(text)
    return "人名" in parsed or ("固有名詞" in parsed and any(h in text for h in HONORIFICS))


def name_spans(tokens: Sequence[Token]) -> list[tuple[int, int]]:
    """Character spans of personal names among ``tokens``: runs of person-name tokens, and proper nouns
    followed by an honorific."""
    spans: list[tuple[int, int, bool]] = []   # start, end, followed by an honorific
    for i, t in enumerate(tokens):
        honorific = i + 1 < len(tokens) and tokens[i + 1].surface in HONORIFICS and tokens[i + 1].start == t.end
        person = t.pos.startswith("名詞-固有名詞-人名")
        titled = t.pos.startswith("名詞-固有名詞") and honorific
        if person or titled:
            if spans and spans[-1][1] == t.start:
                spans[-1] = (spans[-1][0], t.end, honorific)
            else:
                spans.append((t.start, t.end, honorific))
    # A lone one-character "name" without an honorific is usually an ordinary word UniDic reads as a
    # given name (行, 光); a real one-character surname is caught with its honorific (林さん).
    return [(a, b) for a, b, h in spans if b - a > 1 or h]


def _replace_spans(text: str, spans: Sequence[tuple[int, int]], counts: Counter[str]) -> str:
    out, last = [], 0
    for a, b in spans:
        if a < last:   # two normalised spans mapped onto one stretch of the text as written
            continue
        out += [text[last:a], NAME]
        last = b
        counts["name"] += 1
    out.append(text[last:])
    return "".join(out)


def mask_names(text: str, tokeniser: Tokeniser, counts: Counter[str]) -> str:
    """Replace runs of person-name tokens, and proper nouns followed by an honorific, by [氏名]."""
    if not text or not _may_hold_name(text, tokeniser):
        return text
    return _replace_spans(text, name_spans(tokeniser.tokens(text)), counts)


def mask_analysed(raw: str, tokeniser: Tokeniser, counts: Counter[str]) -> tuple[str, str, list[Token]]:
    """Mask a text the analysis tokenises anyway, with that one parse: the patterns on the text as written,
    then the names found among the tokens of its normalised form, mapped back to the text as written.
    Returns ``(masked text as written, its normalised form, its tokens)``; only a text in which a name was
    replaced is normalised and parsed again (its tokens must see ``[氏名]``)."""
    written = mask_patterns(raw, counts)
    norm = normalise_text(written)
    tokens = tokeniser.tokens(norm)
    spans = name_spans(tokens)
    if not spans:
        return written, norm, tokens
    m = offset_map(written, norm)
    written = _replace_spans(written, [raw_span(m, a, b) for a, b in spans], counts)
    norm = normalise_text(written)
    return written, norm, tokeniser.tokens(norm)


def mask_text(text: str, tokeniser: Tokeniser, counts: Counter[str] | None = None) -> str:
    """Mask every kind of personal data in ``text`` (``counts`` is updated per type)."""
    c = counts if counts is not None else Counter()
    return mask_names(mask_patterns(text, c), tokeniser, c)


def _mask_column(frame: pd.DataFrame, columns: Iterable[str], tokeniser: Tokeniser,
                 counts: Counter[str]) -> pd.DataFrame:
    """Each distinct value is masked once (attribute columns repeat a few values over many rows)."""
    out = frame.copy()
    for col in columns:
        seen: dict[str, tuple[str, Counter[str]]] = {}
        values = []
        for v in out[col]:
            if isinstance(v, str) and v:
                if v not in seen:
                    found: Counter[str] = Counter()
                    seen[v] = (mask_text(v, tokeniser, found), found)
                masked, found = seen[v]
                counts.update(found)
                v = masked
            values.append(v)
        out[col] = values
    return out


def mask_inputs(inputs: MeetingInputs, tokeniser: Tokeniser, *,
                comment_text: bool = True) -> tuple[MeetingInputs, dict[str, int]]:
    """Validated inputs → the same with personal data masked in every text that reaches an output
    (comments, card titles and bodies, replies, attribute values, refused cell values); counts of masks by type.

    ``comment_text=False`` leaves the comments' own text to the analysis, which masks it with the parse it
    makes anyway (:func:`mask_analysed`)."""
    counts: Counter[str] = Counter()
    attrs = inputs.attributes
    text = [Feedback.text] if comment_text else []
    feedback = _mask_column(inputs.feedback, [*text, Feedback.reply, *attrs], tokeniser, counts) \
        if inputs.feedback is not None else None
    card_attrs = [c for c in inputs.cards.columns if c not in Cards.to_schema().columns] \
        if inputs.cards is not None else []
    cards = _mask_column(inputs.cards, [Cards.title, Cards.body, *card_attrs], tokeniser, counts) \
        if inputs.cards is not None else None
    rejects = _mask_column(inputs.rejects, ["value"], tokeniser, counts)
    masked = replace(inputs, feedback=feedback, cards=cards, rejects=rejects)
    return masked, {k: counts.get(k, 0) for k in MASK_COUNTS}
