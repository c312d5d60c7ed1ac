"""Tables as a 報告書 shows them: only rows and columns that carry information, categories in their natural order.

Pure: frames in, frames out (the CSV files keep every row and column)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import pandas as pd

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def without_zeros(frame: pd.DataFrame, key: str, *, keep: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str],
                                                                                       list[str]]:
    """``frame`` without the rows whose counts are all 0 and the count columns that are 0 in every row; returns
    the frame and the ``key`` values and column names left out.  Count columns are the numeric ones; ``keep``
    names columns never left out (a total)."""
    counts = [c for c in frame.columns if c != key and pd.api.types.is_numeric_dtype(frame[c])]
    if not counts or not len(frame):
        return frame, [], []
    zero_rows = (frame[counts] == 0).all(axis=1)
    kept = frame[~zero_rows]
    zero_cols = [c for c in counts if c not in keep and (kept[c] == 0).all()] if len(kept) else []
    return (kept.drop(columns=zero_cols).reset_index(drop=True), [str(v) for v in frame.loc[zero_rows, key]],
            zero_cols)


def left_out_note(rows: Sequence[str], cols: Sequence[str], what: str = "テーマ") -> str:
    """One line saying what :func:`without_zeros` left out ("" when nothing)."""
    parts = []
    if rows:
        shown = "、".join(rows[:8]) + (f" ほか{len(rows) - 8}件" if len(rows) > 8 else "")
        parts.append(f"件数がすべて0の{what}（{shown}）")
    if cols:
        parts.append(f"すべて0の列（{'、'.join(cols)}）")
    return ("と".join(parts) + "は省略しています。") if parts else ""


def natural_order(values: Sequence[str]) -> list[str]:
    """Category values in their natural order when each but a few names a number (年代 10代 < 20代 < 70代以上,
    第2回 < 第10回, 1年 < 2年; full-width digits too); values without a number (不明, 無回答) keep their order
    after them.  Other values keep the order given."""
    def number(v: str) -> float | None:
        m = _NUMBER.search(unicodedata.normalize("NFKC", v))
        return float(m.group()) if m else None

    nums = [number(v) for v in values]
    if sum(n is not None for n in nums) < max(2, len(values) - 2):
        return list(values)
    order = sorted(range(len(values)), key=lambda k: (nums[k] is None, nums[k] or 0.0, k))
    return [values[k] for k in order]


def without_empty_columns(frame: pd.DataFrame, *, keep: Sequence[str] = ()) -> pd.DataFrame:
    """``frame`` without the columns that are 0 or blank in every row (a meeting without cards has no card
    columns to show); ``keep`` names columns always shown."""
    if not len(frame):
        return frame
    empty = [c for c in frame.columns if c not in keep
             and frame[c].map(lambda v: v == 0 or (isinstance(v, str) and not v.strip())).all()]
    return frame.drop(columns=empty)
