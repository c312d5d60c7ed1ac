"""Normalise Japanese text: ``str -> str`` rules, each with keyword-only options and a test table.

``normalise_text`` chains them: control characters out, Japanese commas kept Japanese, digit
hyphens protected, neologdn (``tilde="normalize"`` so ``16〜18歳`` keeps its range), NFKC, and a rule
for letters spaced out by PDF extraction (``K - N e t`` → ``K-Net``).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence

import neologdn
import pandas as pd

from pipeline.schemas import Cards, Feedback, Items

_INVISIBLE = re.compile(r"[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff\u00ad]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_WS = re.compile(r"[\t\n\r\f\v\u3000 ]+")


def strip_invisible(text: str, *, keep_newlines: bool = False) -> str:
    """Remove zero-width and control characters; turn line breaks and tabs into one space."""
    text = _INVISIBLE.sub("", text)
    if keep_newlines:
        text = re.sub(r"\r\n?", "\n", text)
        text = _CONTROL.sub(" ", text.replace("\n", "\x00")).replace("\x00", "\n")
        return re.sub(r"[ \t\u3000]+", " ", text)
    return _WS.sub(" ", _CONTROL.sub(" ", text))


_ALNUM = r"[0-9０-９A-Za-zＡ-Ｚａ-ｚ]"
_DASHES = "‐‑‒–—―−－"
_ALNUM_DASH = re.compile(rf"(?<={_ALNUM})[{_DASHES}](?={_ALNUM})")


def protect_digit_hyphens(text: str) -> str:
    """Dashes between digits or Latin letters become ASCII '-'.

    neologdn would otherwise read them as a long vowel mark: '０１２－３４' → '012ー34',
    'Ｋ－Ｎｅｔ' → 'KーNet'.
    """
    return _ALNUM_DASH.sub("-", text)


_FULL_STOP = re.compile(r"．(?![0-9０-９])")


def japanese_punctuation(text: str) -> str:
    """Full-width comma/period used as Japanese punctuation (公用文 style) become 、 and 。.

    NFKC would otherwise turn '，' into ',' and split a Japanese sentence like English.
    A full stop followed by a digit ('１．５') is a decimal point and stays.
    """
    return _FULL_STOP.sub("。", text.replace("，", "、"))


_JA = r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヵヶ]"
_ASCII_COMMA_JA = re.compile(rf"(?<={_JA}),\s*|,\s*(?={_JA})")


def ascii_comma_in_japanese(text: str) -> str:
    """A ',' next to Japanese characters is a Japanese comma: '福祉,子ども' → '福祉、子ども'."""
    return _ASCII_COMMA_JA.sub("、", text)


_SPACED = re.compile(r"(?<![A-Za-z0-9])[A-Za-z](?: (?:[-&・.] )?[A-Za-z]){2,}(?![A-Za-z0-9])")


def join_spaced_letters(text: str, *, min_letters: int = 3) -> str:
    """Re-join Latin letters that PDF extraction spaced out: 'K - N e t' → 'K-Net'.

    Only runs of at least ``min_letters`` single letters separated by single spaces are joined,
    so words ('I am a pen', 'NPO 等') are left alone.  Japanese letters spaced out ('レ ゴ') are
    joined by neologdn already.
    """

    def glue(m: re.Match[str]) -> str:
        s = m.group(0)
        if sum(c.isalpha() for c in s) < min_letters:
            return s
        return s.replace(" ", "")

    return _SPACED.sub(glue, text)


def normalise_text(text: str, *, tilde: str = "normalize", repeat: int | None = None) -> str:
    """The full normaliser used for analysis and outputs.

    ``tilde`` is passed to neologdn (``"normalize"`` keeps ranges such as ``16~18歳``);
    ``repeat`` optionally limits repeated characters (``すごーーい`` → ``すごーい``).
    """
    if not text:
        return ""
    # The rules feed each other (NFKC turns '¨' into ' ̈', whose space neologdn then removes), so apply
    # them until nothing changes: the result is idempotent.  Real text settles after one pass.
    s = text
    for _ in range(5):
        before = s
        s = strip_invisible(s)
        s = japanese_punctuation(s)
        s = protect_digit_hyphens(s)
        s = neologdn.normalize(s, tilde=tilde, **({"repeat": repeat} if repeat else {}))
        s = unicodedata.normalize("NFKC", s)
        s = join_spaced_letters(s)
        s = ascii_comma_in_japanese(s)
        s = s.strip()
        if s == before:
            break
    return s


# ---------------------------------------------------------------------------------------------
# Positions: from the normalised text back to the text as written
# ---------------------------------------------------------------------------------------------


class _CharNFKC(dict[str, str]):
    """Each character's NFKC form, computed once (a meeting's texts use a few thousand characters)."""

    def __missing__(self, c: str) -> str:
        self[c] = unicodedata.normalize("NFKC", c)
        return self[c]


_NFKC = _CharNFKC()


def offset_map(raw: str, norm: str) -> list[int]:
    """For each position ``0..len(norm)`` of the normalised text, the position in the raw text it came from.

    Each raw character is NFKC-normalised on its own (so ``㈱`` → ``(株)`` maps back to one character); when
    that equals ``norm`` the map is direct, otherwise the two are aligned (spaces removed, repeated marks
    folded, punctuation changed by normalisation) and positions between aligned blocks follow the last one."""
    if len(raw) == len(norm) and unicodedata.normalize("NFKC", raw) == norm:
        return list(range(len(raw) + 1))  # each character normalised on its own, in place (the usual case)
    parts = [_NFKC[c] for c in raw]
    exp = "".join(parts)
    if len(exp) == len(raw):
        back: list[int] = list(range(len(raw)))
    else:
        back = [j for j, p in enumerate(parts) for _ in p]
    if exp == norm:
        return [*back, len(raw)]
    walked = _walk(exp, back, norm, len(raw))
    if walked is not None:
        return walked
    out = [-1] * (len(norm) + 1)
    matcher = difflib.SequenceMatcher(None, exp, norm, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            out[b + k] = back[a + k]
    last = 0
    for i in range(len(norm)):
        if out[i] < 0:
            out[i] = min(last, len(raw))
        else:
            last = out[i] + 1
    out[len(norm)] = len(raw)
    return out


def _walk(exp: str, back: Sequence[int], norm: str, raw_len: int) -> list[int] | None:
    """Align by walking both texts once, the way normalisation changes a text: a space, an invisible or a repeated
    character dropped, a character replaced, rarely one inserted.  ``None`` when more than a tenth of the
    normalised text had to be guessed (then :func:`offset_map` aligns with difflib)."""
    out = [raw_len] * (len(norm) + 1)
    i = j = guessed = 0
    n, m = len(exp), len(norm)
    while j < m and i < n:
        c = exp[i]
        if c == norm[j]:
            k = _same_run(exp, i, norm, j)  # the characters that agree, in one step (most of a text)
            out[j:j + k] = back[i:i + k]
            i += k
            j += k
        elif c.isspace() or not c.isprintable() or (i and c == exp[i - 1]):
            i += 1
        elif j + 1 < m and c == norm[j + 1]:
            out[j] = back[i]
            j += 1
            guessed += 1
        else:
            out[j] = back[i]
            i += 1
            j += 1
            guessed += 1
    guessed += m - j
    return out if guessed * 10 <= m else None


def _same_run(a: str, i: int, b: str, j: int) -> int:
    """How many characters ``a[i:]`` and ``b[j:]`` have in common at their start (both at least one long and
    starting alike): a binary search on slices, compared in C."""
    lo, hi = 1, min(len(a) - i, len(b) - j)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[i:i + mid] == b[j:j + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def raw_span(m: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """A span of the normalised text as a span of the raw text, through an :func:`offset_map`."""
    a = m[min(start, len(m) - 1)]
    return a, (m[end - 1] + 1 if end > start else a)


def card_text(title: str, body: str) -> str:
    """A card's analysable text: title and body as one sentence pair."""
    title, body = title.strip(), body.strip()
    if title and body:
        return f"{title}。{body}" if not re.search(r"[。.!?！？]$", title) else f"{title}{body}"
    return title or body


def _attributes(frame: pd.DataFrame | None, model: type) -> list[str]:
    if frame is None:
        return []
    known = set(model.to_schema().columns)
    return [c for c in frame.columns if c not in known]


def raw_items(cards: pd.DataFrame | None, feedback: pd.DataFrame | None) -> pd.DataFrame:
    """Validated :class:`Cards` and :class:`Feedback` in → :class:`Items` with ``text`` still empty
    (cards first; cards get ``kind`` = ``"カード"`` and the text of :func:`card_text`).  The comments'
    section, reply and question and every attribute column (of cards or comments) come along."""
    attrs = list(dict.fromkeys([*_attributes(cards, Cards), *_attributes(feedback, Feedback)]))
    columns = [*Items.to_schema().columns, *attrs]

    def part(frame: pd.DataFrame, named: dict[str, object]) -> pd.DataFrame:
        # column by column (a value as the row's own object: 5, not "5.0"; a missing one empty)
        given = {c: frame[c].astype(object).to_numpy() if c in frame.columns else "" for c in attrs}
        return pd.DataFrame({**named, **{a: given[a] for a in attrs}}, index=range(len(frame)), columns=columns,
                            dtype="object")

    def col(frame: pd.DataFrame, name: str) -> object:
        return frame[name].astype(object).to_numpy() if name in frame.columns else ""

    parts: list[pd.DataFrame] = []
    if cards is not None:
        parts.append(part(cards, {
            Items.item_id: col(cards, Cards.card_id), Items.source: "card", Items.kind: "カード",
            Items.group: col(cards, Cards.group), Items.card_id: col(cards, Cards.card_id),
            Items.raw_text: [card_text(t, b) for t, b in zip(cards[Cards.title], cards[Cards.body], strict=True)],
            Items.text: "", Items.section: "", Items.reply: "", Items.question: ""}))
    if feedback is not None:
        parts.append(part(feedback, {
            Items.item_id: col(feedback, Feedback.comment_id), Items.source: "feedback",
            Items.kind: col(feedback, Feedback.kind), Items.group: col(feedback, Feedback.group),
            Items.card_id: col(feedback, Feedback.card_id), Items.raw_text: col(feedback, Feedback.text),
            Items.text: "", Items.section: col(feedback, Feedback.section), Items.reply: col(feedback, Feedback.reply),
            Items.question: col(feedback, Feedback.question)}))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns, dtype="object")
    return rows.fillna("").astype(str)


