"""Output safety: spreadsheet-formula neutralisation for every CSV/XLSX cell we write."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (OWASP CSV-injection advice).

    ``"=SUM(A1)"`` → ``"'=SUM(A1)"``; ordinary text is unchanged.
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are formula-safe (numbers are left as numbers)."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = _safe_categories(out[col])
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            values = out[col]
            # one pass over the cells first: most start with no formula character and are left as they are (a
            # number, a list, a missing value: never a formula)
            risky = np.fromiter((isinstance(v, str) and v.startswith(FORMULA_PREFIXES) for v in values.to_numpy(object)),
                                dtype=bool, count=len(values))
            if risky.any():
                out.loc[risky, col] = values[risky].map(neutralise_formula)
    return out


def _safe_categories(values: pd.Series) -> pd.Series:
    """A categorical column made formula-safe through its categories (each distinct value checked once: a
    million-line table of a few hundred words); as text when a neutralised value would equal another one."""
    cats = values.cat.categories
    if not (cats.dtype == object or pd.api.types.is_string_dtype(cats)):
        return values
    given = cats.tolist()  # plain objects: iterating the index itself boxes each value (slow for 100,000 ids)
    safe = [neutralise_formula(c) if isinstance(c, str) else c for c in given]
    if safe == given:
        return values
    if len(set(safe)) == len(safe):
        return values.cat.rename_categories(safe)
    return values.astype(object).map(lambda v: neutralise_formula(v) if isinstance(v, str) else v)


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back): files written for colleagues on a
    shared drive get the permissions the user's other files get."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
