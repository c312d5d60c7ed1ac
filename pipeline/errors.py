"""Error types the CLI turns into one clear message (never a traceback)."""

from __future__ import annotations


class KyoseiError(Exception):
    """Base class: ``str(err)`` is a complete, bilingual message for the user."""


class InputError(KyoseiError):
    """An input file or folder cannot be used at all (unreadable, missing column, wrong type).

    The message names the file, what was expected, what was found and how to fix it.
    """

    def __init__(self, file: str, problem_ja: str, problem_en: str, fix_ja: str = "", fix_en: str = ""):
        self.file = file
        self.problem_ja = problem_ja
        self.problem_en = problem_en
        lines = [f"{file}: {problem_ja}", f"{file}: {problem_en}"]
        if fix_ja or fix_en:
            lines.append(f"対処 / Fix: {fix_ja} / {fix_en}".strip(" /"))
        super().__init__("\n".join(lines))


class ConfigError(KyoseiError):
    """A configuration file (lexicon, stop words, codebook) is malformed."""
