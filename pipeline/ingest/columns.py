"""Mapping a table's headers to the canonical columns (pure)."""

from __future__ import annotations

import logging

import pandas as pd

from pipeline.errors import InputError
from pipeline.ingest.read import ROW, RawTable, header_key
from pipeline.schemas import ALIASES, HEADER_LABELS_JA, REQUIRED

log = logging.getLogger(__name__)


def label(column: str) -> str:
    ja = HEADER_LABELS_JA.get(column)
    return f"{column}（{ja}）" if ja else column


def canonical_columns(raw: RawTable, kind: str) -> pd.DataFrame:
    """Rename a raw table's headers to canonical names; fill optional missing columns with "".

    Raises :class:`InputError` naming the file and the column when a required column is missing
    or two headers mean the same column.
    """
    aliases = ALIASES[kind]
    lookup = {header_key(a): canon for canon, names in aliases.items() for a in names}
    rename: dict[str, str] = {}
    for h in raw.frame.columns:
        if h == ROW:
            continue
        canon = lookup.get(header_key(h))
        if canon is None:
            continue
        if canon in rename.values():
            other = next(k for k, v in rename.items() if v == canon)
            raise InputError(
                raw.file,
                f"列「{other}」と「{h}」がどちらも {label(canon)} を表しています。",
                f"columns '{other}' and '{h}' both mean '{canon}'.",
                "どちらか一方の列名を変えるか削除してください。",
                "rename or delete one of them.",
            )
        rename[h] = canon
    found = [c for c in raw.frame.columns if c != ROW]
    for req in REQUIRED[kind]:
        if req not in rename.values():
            accepted = "、".join(aliases[req])
            raise InputError(
                raw.file,
                f"必須の列 {label(req)} がありません。見つかった列: {found}",
                f"required column '{req}' is missing. Columns found: {found}",
                f"見出しを次のいずれかにしてください: {accepted}",
                f"name the column one of: {', '.join(aliases[req])}",
            )
    ignored = [h for h in found if h not in rename]
    if ignored:
        log.info("%s: ignoring columns %s", raw.file, ignored)
    frame = raw.frame.rename(columns=rename)
    for canon in aliases:
        if canon not in frame.columns:
            frame[canon] = ""
    return frame[[*aliases, ROW]].fillna("")


