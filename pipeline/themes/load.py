"""Codebook files read: a YAML file or a workbook from ``kyosei codebook export``, with the layers a city merges on
top (its ``codebook.local.yaml``); every problem with the file, line (or sheet, row and column) it is in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.themes.codebook import Codebook, Problem, parse_codebook
from pipeline.themes.codebook_excel import workbook_to_yaml

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def read_codebook_text(path: Path) -> tuple[str, list[Problem]]:
    """A codebook file's YAML text: the file itself, or a workbook (``kyosei codebook export``'s format)
    turned into YAML.  The problems are the workbook's rows that cannot be read (sheet, row, column)."""
    if path.suffix.lower() in WORKBOOK_SUFFIXES:
        return workbook_to_yaml(path)
    try:
        return path.read_text(encoding="utf-8-sig"), []
    except OSError as err:
        raise ConfigError(f"{path}: 読めません / cannot read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: UTF-8 のテキストとして読めません / not UTF-8 text") from None


def check_codebook(path: Path, *, layers: Sequence[Path] = (), measure_ids: Iterable[str] | None = None,
                   pillar_ids: Iterable[str] | None = None) -> tuple[Codebook | None, list[tuple[Path, Problem]]]:
    """Parse a codebook file (YAML or workbook) and its layers; every problem with the file it is in."""
    found: list[tuple[Path, Problem]] = []
    book: Codebook | None = None
    for n, file in enumerate([path, *layers]):
        text, problems = read_codebook_text(file)
        if not any(p.severity == "error" for p in problems):
            book, more = parse_codebook(text, source=str(file), measure_ids=measure_ids, pillar_ids=pillar_ids,
                                        base=book if n else None)
            if file.suffix.lower() in WORKBOOK_SUFFIXES:  # lines of the YAML made from it mean nothing to the reader
                more = [replace(p, where=file.name) for p in more]
            problems += more
        else:
            book = None
        found += [(file, p) for p in problems]
        if book is None:
            break
    return book, found


def load_codebook(path: Path, *, layers: Sequence[Path] = (), measure_ids: Iterable[str] | None = None,
                  pillar_ids: Iterable[str] | None = None) -> Codebook:
    """Read and parse a codebook file (YAML, or a workbook from ``kyosei codebook export``) and the layers
    merged on top of it; :class:`ConfigError` lists every error with its line (or sheet, row and column)."""
    book, problems = check_codebook(path, layers=layers, measure_ids=measure_ids, pillar_ids=pillar_ids)
    if book is None:
        errors = [f"{file}: {p}" if len(layers) else str(p) for file, p in problems if p.severity == "error"]
        where = path if not layers else ", ".join(map(str, [path, *layers]))
        raise ConfigError(f"{where}: コードブックに誤りがあります / the codebook has errors:\n" + "\n".join(errors)
                          + "\n対処 / Fix: kyosei codebook check で確認してください / run 'kyosei codebook check'")
    return book
