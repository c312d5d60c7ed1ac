"""The codebook's rule language, parsed into a small expression tree (in the spirit of KH Coder's coding rules):

    相談窓口 | 相談先            OR            (also: or)
    相談 & 場所                   AND           (also: and)
    !職員  /  not 職員            NOT
    ( ... )                       grouping
    near(相談, 場所, 5)           both within 5 tokens of each other (default 5), any order
    seq(相談, 窓口)               in this order, each right after the previous token
    働く/動詞                     with a part-of-speech constraint (UniDic POS prefix)
    @職員                         a synonym group defined under ``groups:``
    相談*  *窓口                  prefix / suffix of a word or compound
    "安心安全"                    literal text in the normalised comment

How a rule matches a text is :mod:`pipeline.themes.tagging`'s; what a codebook holds is
:mod:`pipeline.themes.codebook`'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_NEAR = 5

# ---------------------------------------------------------------------------------------------
# Rule AST
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    """A word (``text``) with optional POS prefix, wildcard ends, or a literal ``"..."`` string."""

    text: str
    pos: str = ""
    prefix: bool = False   # 相談*  : the word starts a token/compound
    suffix: bool = False   # *窓口  : the word ends a token/compound
    literal: bool = False  # "..."  : substring of the normalised text
    _hash: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        # hashed millions of times in a large meeting (sets of the words a document holds): once here, not per
        # lookup; pickled as its fields (a string's hash differs between processes), see __reduce__
        object.__setattr__(self, "_hash", hash((self.text, self.pos, self.prefix, self.suffix, self.literal)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Word], tuple[str, str, bool, bool, bool]]:
        return Word, (self.text, self.pos, self.prefix, self.suffix, self.literal)


@dataclass(frozen=True)
class Group:
    name: str


@dataclass(frozen=True)
class Not:
    arg: Expr


@dataclass(frozen=True)
class And:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Near:
    args: tuple[Expr, ...]
    window: int = DEFAULT_NEAR


@dataclass(frozen=True)
class Seq:
    args: tuple[Expr, ...]


Expr = Word | Group | Not | And | Or | Near | Seq


class RuleSyntaxError(ValueError):
    """A rule that cannot be parsed; ``column`` is 1-based within the rule text."""

    def __init__(self, message: str, column: int):
        super().__init__(message)
        self.column = column


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<lp>\() | (?P<rp>\)) | (?P<comma>,) |
      (?P<or>\||\bor\b|｜) | (?P<and>&|\band\b|＆) | (?P<not>!|\bnot\b|！) |
      (?P<func>near|seq)\s*\( |
      (?P<quoted>"[^"]*") |
      (?P<word>[^\s()|&!,"｜＆！]+)
    )""", re.VERBOSE)


def _lex(text: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise RuleSyntaxError(f"読めない文字があります / unexpected character {text[pos]!r}", pos + 1)
        kind = m.lastgroup or ""
        value = m.group(kind)
        start = m.start(kind) + 1
        if kind == "func":
            out.append(("func", value, start))
            out.append(("lp", "(", m.end()))
        else:
            out.append((kind, value, start))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _lex(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None or tok[0] != kind:
            where = tok[2] if tok else len(self.text) + 1
            found = tok[1] if tok else "行末 / end of rule"
            want = {"rp": ")", "lp": "(", "word": "語 / a word", "comma": ","}.get(kind, kind)
            raise RuleSyntaxError(f"「{want}」が必要ですが「{found}」があります / expected {want!r}, found {found!r}",
                                  where)
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if not self.toks:
            raise RuleSyntaxError("ルールが空です / empty rule", 1)
        expr = self.or_()
        tok = self.peek()
        if tok is not None:
            raise RuleSyntaxError(f"余分な「{tok[1]}」があります / unexpected {tok[1]!r}", tok[2])
        return expr

    def or_(self) -> Expr:
        args = [self.and_()]
        while (tok := self.peek()) and tok[0] == "or":
            self.i += 1
            args.append(self.and_())
        return args[0] if len(args) == 1 else Or(tuple(args))

    def and_(self) -> Expr:
        args = [self.not_()]
        while (tok := self.peek()) and tok[0] == "and":
            self.i += 1
            args.append(self.not_())
        return args[0] if len(args) == 1 else And(tuple(args))

    def not_(self) -> Expr:
        tok = self.peek()
        if tok and tok[0] == "not":
            self.i += 1
            return Not(self.not_())
        return self.atom()

    def atom(self) -> Expr:
        tok = self.peek()
        if tok is None:
            raise RuleSyntaxError("語が必要です / expected a word", len(self.text) + 1)
        kind, value, col = tok
        if kind == "lp":
            self.i += 1
            expr = self.or_()
            self.take("rp")
            return expr
        if kind == "func":
            self.i += 1
            self.take("lp")
            args: list[Expr] = [self.or_()]
            window = DEFAULT_NEAR
            while (t := self.peek()) and t[0] == "comma":
                self.i += 1
                nxt = self.peek()
                if value == "near" and nxt and nxt[0] == "word" and nxt[1].isdigit():
                    self.i += 1
                    window = int(nxt[1])
                    break
                args.append(self.or_())
            self.take("rp")
            if len(args) < 2:
                raise RuleSyntaxError(f"{value}() には語が2つ以上必要です / {value}() needs two or more terms", col)
            return Near(tuple(args), window) if value == "near" else Seq(tuple(args))
        if kind == "quoted":
            self.i += 1
            inner = value[1:-1]
            if not inner:
                raise RuleSyntaxError("空の \"\" です / empty quoted text", col)
            return Word(inner, literal=True)
        if kind == "word":
            self.i += 1
            return _word(value, col)
        raise RuleSyntaxError(f"ここに「{value}」は置けません / unexpected {value!r}", col)


def _word(value: str, col: int) -> Expr:
    if value.startswith("@"):
        if len(value) == 1:
            raise RuleSyntaxError("@ の後にグループ名が必要です / group name missing after @", col)
        return Group(value[1:])
    text, _, pos = value.partition("/")
    prefix, suffix = text.endswith("*"), text.startswith("*")
    text = text.strip("*")
    if not text:
        raise RuleSyntaxError("語が空です / empty word", col)
    return Word(text, pos=pos, prefix=prefix, suffix=suffix)


def parse_rule(text: str) -> Expr:
    """Parse one rule string into an expression tree; :class:`RuleSyntaxError` on mistakes."""
    return _Parser(text).parse()


def words_in(expr: Expr) -> list[Word | Group]:
    """Every word and group reference in an expression (for checks and for tokenising once)."""
    if isinstance(expr, Word | Group):
        return [expr]
    if isinstance(expr, Not):
        return words_in(expr.arg)
    return [w for a in expr.args for w in words_in(a)]

