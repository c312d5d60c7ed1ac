"""Mapping a table's headers to the canonical columns (pure).

In this order: an explicit mapping from ``meeting.yaml`` (``columns: {feedback: {text: ご意見の概要}}``); the
exact aliases of :data:`pipeline.schemas.ALIASES`; the words in a header (ご意見の概要 / 意見の要旨 / 自由記述 →
the text, 市の考え方 / 回答 / 対応 → the city's reply, 該当箇所 / ページ → the section, No. / 通し番号 → the id,
1回目 / 第2回 / R1 → a round of a wide vote table); finally the values themselves (the free-text column: long,
varied texts that are not dates, numbers or short categories).  Every other column is kept as an attribute
(年代, 地区, 記入者の所属 …), except timestamps and empty columns, which are listed as ignored.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.read import ROW, RawTable, header_key
from pipeline.schemas import ALIASES, LABELS, REQUIRED, Cards, Feedback, Votes

log = logging.getLogger(__name__)

QUESTION = "question"
SECTION = "section"
REPLY = "reply"
"""Extra feedback columns: the survey question a comment answers, the part of the plan it is about, and the
city's reply (市の考え方) — shown beside the comment, never analysed as one."""


_BRACKETS = re.compile(r"[()（）\[\]［］【】「」『』〈〉<>《》{}｛｝]")
_KANJI_DIGITS = str.maketrans("一二三四五六七八九", "123456789")
_WIDE_ROUND = re.compile(r"(?:第)?(\d+)回目?(?:の)?(?:投票|票数?|ブロック数?|ブロック)?(?:数)?|(?:r|round|ラウンド)(\d+)")


def clean_header(header: str) -> str:
    """A header as its words are compared: NFKC, lower case, no spaces, no brackets (their words kept)."""
    return _BRACKETS.sub("", header_key(header))


def wide_round(header: str) -> int | None:
    """The round a header of a wide vote table stands for (1回目, 第2回, ２回目の票数, R1, round 2), else None."""
    m = _WIDE_ROUND.fullmatch(clean_header(header).translate(_KANJI_DIGITS))
    if not m:
        return None
    n = int(m.group(1) or m.group(2))
    return n if n >= 1 else None


PERSONAL_WORDS = ("メール", "mail", "氏名", "名前", "ふりがな", "フリガナ", "電話", "住所", "連絡先", "生年月日")
"""Header words of a column of personal data (a form's メール and 名前, a 連絡先): such a column is never read,
neither as a question nor as an attribute, and its values reach no output."""


def _has(key: str, words: Sequence[str]) -> bool:
    return any(w in key for w in words)


def sense(header: str) -> str | None:
    """What a header's words say the column is, whatever the table: ``id``, ``card_id``, ``text``, ``reply``,
    ``section``, ``kind``, ``group``, ``timestamp``, ``round``, ``blocks``, ``voter``, ``department``,
    ``title``, ``measure_ids``, ``round:N`` (a wide vote column), ``personal`` (a name, an e-mail address,
    a telephone number: never read) — or None."""
    k = clean_header(header)
    if not k:
        return None
    n = wide_round(header)
    if n is not None:
        return f"round:{n}"
    if _has(k, ("タイムスタンプ", "日時", "日付", "年月日", "提出日", "受付日", "timestamp", "date", "時刻")):
        return "timestamp"
    if _has(k, ("投票者", "voter")):
        return "voter"
    if _has(k, PERSONAL_WORDS) or k.endswith(("者", "者名")) or k in ("name", "fullname", "tel", "phone"):
        return "personal"
    card = _has(k, ("カード", "card", "付箋番号"))
    if k in ("no", "no.", "№", "#", "id", "番号", "連番", "項番") or k.endswith(("番号", "id", "no", "no.", "ナンバー")):
        return "card_id" if card else "id"
    if _has(k, ("考え方", "回答", "対応", "見解", "反映", "返答", "方針")) and not _has(k, ("回答者", "施策", "日")):
        return "reply"
    if _has(k, ("該当", "ページ", "頁", "箇所", "章", "節", "項目")) or k in ("p", "p.", "page"):
        return "section"
    if _has(k, ("種別", "区分", "分類", "種類", "kind", "category", "カテゴリ")):
        return "kind"
    if _has(k, ("班", "グループ", "テーブル", "group")):
        return "group"
    if card:
        return "title" if _has(k, ("名", "タイトル", "title")) else "card_id"
    if _has(k, ("投票者", "voter")):
        return "voter"
    if _has(k, ("票数", "ブロック", "blocks", "votes")) or k == "票":
        return "blocks"
    if k in ("回", "投票回", "ラウンド", "round"):
        return "round"
    if _has(k, ("部署", "担当課", "所属", "課名", "部局", "department")):
        return "department"
    if _has(k, ("事業名", "タイトル", "title")):
        return "title"
    if "施策" in k:
        return "measure_ids"
    if "者" in k:
        return None
    if _has(k, ("意見", "内容", "概要", "要旨", "記述", "コメント", "付箋", "ふせん", "本文", "感想", "困りごと",
                "困っている", "提案", "要望", "気づき", "自由", "text", "comment", "記入", "声")):
        return "text"
    return None


# How each role uses a sense (a sense a role does not use makes the column an attribute).
ROLE_SENSES: dict[str, dict[str, str]] = {
    "feedback": {"id": Feedback.comment_id, "text": Feedback.text, "kind": Feedback.kind, "card_id": Feedback.card_id,
                 "group": Feedback.group, "section": SECTION, "reply": REPLY},
    "cards": {"card_id": Cards.card_id, "id": Cards.card_id, "department": Cards.department, "title": Cards.title,
              "text": Cards.body, "measure_ids": Cards.measure_ids, "group": Cards.group},
    "votes": {"card_id": Votes.card_id, "id": Votes.card_id, "round": Votes.round, "blocks": Votes.blocks,
              "voter": Votes.voter, "group": Votes.group},
    "measures": {},
}


def label(column: str) -> str:
    ja = LABELS.get(column)
    return f"{column}（{ja}）" if ja else column


# ---------------------------------------------------------------------------------------------
# Values: is a column free text, a short category, dates, numbers, empty?
# ---------------------------------------------------------------------------------------------

_DATE = re.compile(r"\d{4}[-/年.]\d{1,2}[-/月.]\d{1,2}")
_NUMBER = re.compile(r"[+-]?[\d,]+(?:\.\d+)?%?")


_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[a-z]{2,}", re.IGNORECASE)
_PHONE = re.compile(r"0\d{1,4}[-‐ー－(（]\d{1,4}[-‐ー－)）]\d{3,4}")
_PLACE_END = ("町", "区", "市", "村", "丁目", "地区", "学区", "台", "番地", "代", "歳", "才")


def looks_personal(values: Sequence[str]) -> bool:
    """Whether a short-valued column holds personal data: e-mail addresses or telephone numbers, or one short
    name-like value per person (at least five, nearly all different, no digits, not places or ages, with 様 /
    さん or a space between family and given name in some)."""
    vals = [unicodedata.normalize("NFKC", v).strip() for v in values[:300] if v and v.strip()]
    if not vals:
        return False
    if sum(bool(_EMAIL.search(v) or _PHONE.search(v)) for v in vals) >= 0.5 * len(vals):
        return True
    if len(vals) < 5 or len(set(vals)) < 0.9 * len(vals):
        return False
    namelike = [v for v in vals if len(v) <= 12 and not re.search(r"[\d。、!?！？]", v) and not v.endswith(_PLACE_END)]
    honorific = sum(v.endswith(("様", "さん", "氏")) or " " in v for v in namelike)
    return len(namelike) >= 0.9 * len(vals) and honorific >= 0.3 * len(vals)


def value_kind(values: Sequence[str]) -> str:
    """``empty``, ``date``, ``number``, ``free_text`` (long and varied) or ``category``."""
    vals = [unicodedata.normalize("NFKC", v).strip() for v in values[:300] if v and v.strip()]
    if not vals:
        return "empty"
    if sum(bool(_DATE.match(v)) for v in vals) >= 0.8 * len(vals):
        return "date"
    if sum(bool(_NUMBER.fullmatch(v)) for v in vals) >= 0.8 * len(vals):
        return "number"
    mean_len = sum(len(v) for v in vals) / len(vals)
    distinct = len(set(vals)) / len(vals)
    if mean_len >= 12 and (distinct >= 0.6 or len(vals) <= 2):
        return "free_text"
    return "category"


# ---------------------------------------------------------------------------------------------
# The mapping of one table
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMap:
    """How one table's columns were read: canonical column → header, the free-text columns (several: a survey's
    questions), a wide vote table's round columns, attributes kept, columns ignored, and notes for the
    analyst (Japanese / English)."""

    role: str
    columns: Mapping[str, str]
    texts: tuple[str, ...] = ()
    rounds: Mapping[int, str] = field(default_factory=dict)
    attributes: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def describe(self) -> dict[str, object]:
        """The mapping as recorded in the run's manifest and shown by ``kyosei validate``."""
        out: dict[str, object] = {"role": self.role, "columns": dict(self.columns)}
        if len(self.texts) > 1:
            out["questions"] = list(self.texts)
        if self.rounds:
            out["rounds"] = {str(k): v for k, v in sorted(self.rounds.items())}
        out["attributes"] = list(self.attributes)
        out["ignored"] = list(self.ignored)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _error_missing(raw: RawTable, what: str, names: Sequence[str], found: Sequence[str]) -> InputError:
    return InputError(
        raw.file,
        f"meeting.yaml の columns で指定された列 {list(names)}（{what}）が見つかりません。見つかった列: {list(found)}",
        f"meeting.yaml names column(s) {list(names)} ({what}) that are not in the table. Columns found: {list(found)}",
        "meeting.yaml の列名を見出しと同じにしてください。",
        "use the headers exactly as they appear in the file.",
    )


def _explicit(raw: RawTable, role: str, spec: Mapping[str, object], found: list[str]) -> tuple[dict, list, list, list]:
    """meeting.yaml's mapping for this table: canonical column → header (``text`` may list several)."""
    columns: dict[str, str] = {}
    texts: list[str] = []
    attributes: list[str] = []
    ignored: list[str] = []
    canon_names = {**{c: c for c in ALIASES[role]}, "id": ROLE_SENSES[role].get("id", ""),
                   **({SECTION: SECTION, REPLY: REPLY} if role == "feedback" else {})}
    for key, value in spec.items():
        if key == "header_row":
            continue
        names = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        missing = [n for n in names if n not in found]
        if missing:
            raise _error_missing(raw, key, missing, found)
        if key in ("attributes", "ignore"):
            (attributes if key == "attributes" else ignored).extend(names)
        elif key == "rounds" and role == "votes":
            columns.update({f"round:{n}": h for n, h in enumerate(names, start=1)})
        elif key in ("text", "body") and role in ("feedback", "cards") and len(names) > 1:
            texts.extend(names)
        elif canon_names.get(key):
            columns[canon_names[key]] = names[0]
            if canon_names[key] == Feedback.text and role == "feedback":
                texts.append(names[0])
        else:
            raise InputError(raw.file, f"meeting.yaml の columns の項目「{key}」は使えません。",
                             f"unknown key {key!r} under columns in meeting.yaml.",
                             f"使える項目: {sorted(k for k, v in canon_names.items() if v)} と attributes, ignore",
                             f"use one of {sorted(k for k, v in canon_names.items() if v)}, attributes, ignore")
    return columns, texts, attributes, ignored


def map_columns(raw: RawTable, role: str, explicit: Mapping[str, object] | None = None) -> ColumnMap:
    """Decide what each column of ``raw`` is, as a table of ``role`` (see the module docstring).

    Raises :class:`InputError` naming the file when a required column cannot be found, when two headers are
    the same alias of one column, or when ``explicit`` names a column the table does not have."""
    found = [c for c in raw.frame.columns if c != ROW]
    columns, texts, attributes, ignored = _explicit(raw, role, explicit or {}, found)
    notes: list[str] = []
    taken = set(columns.values()) | set(texts) | set(attributes) | set(ignored)
    _exact_aliases(raw, role, explicit or {}, found, columns, taken)
    values = {h: value_kind(list(raw.frame[h])) for h in found}
    rounds: dict[int, str] = {int(k.split(":")[1]): columns.pop(k) for k in list(columns) if k.startswith("round:")}
    word_texts = _header_words(raw, role, found, values, columns, rounds, taken, ignored)
    if role == "feedback":
        texts = _feedback_texts(raw, found, values, columns, texts, word_texts, taken, notes)
    if role == "votes" and rounds:
        _check_wide_votes(raw, columns, rounds, notes)
    for h in found:                                            # everything else
        if h in taken:
            continue
        if role in ("feedback", "cards") and values[h] not in ("empty",) and sense(h) != "timestamp":
            if looks_personal(list(raw.frame[h])):
                ignored.append(h)
                notes.append(f"列「{h}」の値は人の名前・メールアドレス・電話番号のようなので、読まずに除きました（必要なら "
                             f"meeting.yaml の columns で attributes に指定） / column '{h}' looks like names, e-mail "
                             "addresses or telephone numbers: left out (name it under attributes in meeting.yaml if "
                             "it is not)")
                continue
            attributes.append(h)
        else:
            ignored.append(h)
    personal = [h for h in found if h in ignored and sense(h) == "personal"]
    if personal:
        notes.append(f"個人情報の列 {personal} は読みません（どの出力にも出しません）/ personal-data column(s) "
                     f"{personal} are not read (and appear in no output)")
    if role == "feedback" and len(texts) > 1:
        notes.append(f"自由記述の列が {len(texts)} つあるため、それぞれの回答を別のコメントにしました（question 列に列名）/ "
                     f"{len(texts)} free-text columns: each answer is a comment, its column in 'question'")
    _check_required(raw, role, columns, rounds, found)
    _check_required(raw, role, columns, rounds, found)
    return ColumnMap(role, columns, tuple(texts), rounds, tuple(attributes), tuple(ignored), tuple(notes))


def _exact_aliases(raw: RawTable, role: str, explicit: Mapping[str, object], found: list[str],
                   columns: dict[str, str], taken: set[str]) -> None:
    """Headers that are an alias of a column (``ID``, ``意見`` …) named as that column (into ``columns``)."""
    lookup = {header_key(a): canon for canon, names in ALIASES[role].items() for a in names}
    for h in found:                                            # exact aliases
        canon = lookup.get(header_key(h))
        if canon is None or h in taken:
            continue
        if canon in columns:
            if columns[canon] in taken and explicit and canon in explicit:
                continue
            raise InputError(
                raw.file,
                f"列「{columns[canon]}」と「{h}」がどちらも {label(canon)} を表しています。",
                f"columns '{columns[canon]}' and '{h}' both mean '{canon}'.",
                "どちらか一方の列名を変えるか削除してください。",
                "rename or delete one of them.",
            )
        columns[canon] = h
        taken.add(h)


def _header_words(raw: RawTable, role: str, found: list[str], values: Mapping[str, str], columns: dict[str, str],
                  rounds: dict[int, str], taken: set[str], ignored: list[str]) -> list[str]:
    """Columns recognised by the words in their header (:func:`sense`); returns the headers that say they hold
    a comment's text."""
    senses = ROLE_SENSES[role]
    word_texts: list[str] = []
    for h in found:                                            # words in the header
        if h in taken:
            continue
        what = sense(h)
        if what is None:
            continue
        if what.startswith("round:") and role == "votes":
            n = int(what.split(":")[1])
            if n in rounds:
                raise InputError(raw.file, f"列「{rounds[n]}」と「{h}」がどちらも{n}回目の票です。",
                                 f"columns '{rounds[n]}' and '{h}' are both round {n}.",
                                 "どちらかの列名を変えてください。", "rename one of them.")
            rounds[n] = h
            taken.add(h)
        elif what in ("timestamp", "personal"):
            ignored.append(h)
            taken.add(h)
        elif what == "text" and role == "feedback" and Feedback.text not in columns:
            if values[h] in ("free_text", "category"):
                word_texts.append(h)
                taken.add(h)
        elif what in senses and senses[what] not in columns:
            columns[senses[what]] = h
            taken.add(h)
    return word_texts


def _feedback_texts(raw: RawTable, found: list[str], values: Mapping[str, str], columns: dict[str, str],
                    texts: list[str], word_texts: list[str], taken: set[str], notes: list[str]) -> list[str]:
    """The comment text column(s): named, said by a header's words, else the free-text columns by their values;
    several free-text columns are the questions of a survey."""
    if Feedback.text in columns:
        texts = texts or [columns[Feedback.text]]
    elif word_texts:
        texts = [h for h in word_texts if values[h] == "free_text"] or word_texts[:1]
    if not texts:                                          # the values: the free-text column(s)
        free = [h for h in found if h not in taken and values[h] == "free_text"]
        if free:
            texts = sorted(free, key=lambda h: -_mean_len(raw.frame[h]))[:1] if len(free) == 1 else free
            notes.append(f"本文の列名が見つからないため、長い文章の列 {texts} を本文としました / no header names "
                         f"the text; the free-text column(s) {texts} were taken as the text")
    elif Feedback.text not in columns:
        more = [h for h in found if h not in taken and values[h] == "free_text"]
        texts = [*texts, *more]
    for h in texts:
        taken.add(h)
    if texts:
        columns[Feedback.text] = texts[0]
    # free-text columns beside the text become further questions of a survey
    if Feedback.text in columns and len(texts) == 1:
        extra = [h for h in found if h not in taken and values[h] == "free_text" and sense(h) == "text"]
        texts += extra
        taken.update(extra)
    return texts


def _check_wide_votes(raw: RawTable, columns: dict[str, str], rounds: Mapping[int, str], notes: list[str]) -> None:
    """A vote table with a column per round must not also have a round or blocks column."""
    if Votes.round in columns:
        raise InputError(raw.file,
                         f"回の列「{columns[Votes.round]}」と回ごとの列 {sorted(rounds.values())} が両方あります。",
                         f"both a round column '{columns[Votes.round]}' and per-round columns "
                         f"{sorted(rounds.values())}: the table's shape is ambiguous.",
                         "縦長（カードID・回・票数）か横長（カードID・1回目・2回目）のどちらかにしてください。",
                         "use either a long table (card, round, blocks) or a wide one (card, 1回目, 2回目).")
    if Votes.blocks in columns:
        raise InputError(raw.file, f"票数の列「{columns[Votes.blocks]}」と回ごとの列 {sorted(rounds.values())} "
                                   "が両方あります。",
                         f"both a blocks column '{columns[Votes.blocks]}' and per-round columns: ambiguous.",
                         "回ごとの列だけにしてください。", "keep only the per-round columns.")
    notes.append(f"回ごとの列 {[rounds[k] for k in sorted(rounds)]} を票数として読みました / per-round columns "
                 "read as blocks")


def _mean_len(values: pd.Series) -> float:
    vals = [v for v in values if v and v.strip()]
    return sum(len(v) for v in vals) / len(vals) if vals else 0.0


def _check_required(raw: RawTable, role: str, columns: Mapping[str, str], rounds: Mapping[int, str],
                    found: Sequence[str]) -> None:
    for req in REQUIRED[role]:
        if req in columns or (role == "votes" and req == Votes.round and rounds):
            continue
        accepted = "、".join(ALIASES[role][req])
        hint_ja = "（自由記述の列が見つかりません）" if req == Feedback.text else ""
        raise InputError(
            raw.file,
            f"必須の列 {label(req)} がありません{hint_ja}。見つかった列: {list(found)}",
            f"required column '{req}' is missing. Columns found: {list(found)}",
            f"見出しを次のいずれかにするか、meeting.yaml の columns で指定してください: {accepted}",
            f"name the column one of: {', '.join(ALIASES[role][req])} (or map it in meeting.yaml under columns)",
        )


def classify(raw: RawTable) -> str | None:
    """What a table of a workbook or file with no telling name holds: ``votes`` (a card column and a round
    column or per-round columns), ``cards`` (a card column and a title, department or measure column),
    ``feedback`` (a text column, by its header or its values), or None."""
    senses = {h: sense(h) for h in raw.frame.columns if h != ROW}
    exact = {header_key(a): (role, canon) for role in ("cards", "feedback", "votes")
             for canon, names in ALIASES[role].items() for a in names}
    has = set(senses.values())
    for h in senses:
        if header_key(h) in exact:
            _, canon = exact[header_key(h)]
            has.add({"card_id": "card_id", "text": "text", "round": "round", "title": "title",
                     "department": "department", "measure_ids": "measure_ids", "body": "text"}.get(canon, canon))
    rounds = any(s and s.startswith("round:") for s in senses.values())
    card = "card_id" in has or "id" in has
    if card and ("round" in has or rounds):
        return "votes"
    if "card_id" in has and has & {"title", "department", "measure_ids"}:
        return "cards"
    if "text" in has or any(value_kind(list(raw.frame[h])) == "free_text" for h in senses):
        return "feedback"
    return None


def canonical_frame(raw: RawTable, cmap: ColumnMap) -> pd.DataFrame:
    """The table under canonical names (optional columns filled with ""), in the long shape the validators
    read: one row per comment (a survey row with several free-text answers gives one row per answer, with
    ``question`` naming the column) and one row per card and round of a wide vote table.  Attributes follow
    the canonical columns under their own headers."""
    role = cmap.role
    frame = raw.frame
    base = list(ALIASES[role])
    out = pd.DataFrame({c: (frame[cmap.columns[c]] if c in cmap.columns else "") for c in base}, index=frame.index)
    if role == "feedback":
        for c in (SECTION, REPLY):
            out[c] = frame[cmap.columns[c]] if c in cmap.columns else ""
        out[QUESTION] = ""
    for a in cmap.attributes:
        out[a if a not in out.columns else f"{a}（属性）"] = frame[a]
    out[ROW] = frame[ROW]
    out = out.fillna("")
    if role == "feedback" and len(cmap.texts) > 1:
        parts = []
        for n, h in enumerate(cmap.texts, start=1):
            part = out.copy()
            part[Feedback.text] = frame[h].fillna("")
            part[QUESTION] = h
            part["_q"] = n
            parts.append(part)
        both = pd.concat(parts).sort_index(kind="mergesort")
        answered = both[Feedback.text].str.strip() != ""
        # a row with no answer at all stays once (with an empty text), so it is refused with its row number
        silent = ~both[ROW].isin(both.loc[answered, ROW]) & (both["_q"] == 1)
        return both[answered | silent].reset_index(drop=True)
    if role == "votes" and cmap.rounds:
        parts = []
        for n in sorted(cmap.rounds):
            part = out.copy()
            part[Votes.round] = str(n)
            part[Votes.blocks] = frame[cmap.rounds[n]].fillna("")
            parts.append(part)
        long = pd.concat(parts).sort_index(kind="mergesort")
        # an empty cell is no block for that card in that round
        return long[long[Votes.blocks].str.strip() != ""].reset_index(drop=True)
    return out.reset_index(drop=True)


def canonical_columns(raw: RawTable, kind: str, explicit: Mapping[str, object] | None = None) -> pd.DataFrame:
    """Rename a raw table's headers to canonical names (:func:`map_columns`, then :func:`canonical_frame`)."""
    return canonical_frame(raw, map_columns(raw, kind, explicit))
