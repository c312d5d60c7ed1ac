"""What a run found, in a few Japanese lines for the terminal (the report has the details)."""

from __future__ import annotations

from collections import Counter

from pipeline.run.result import MeetingResult

TOP = 3
LABEL_CHARS = 24


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def run_summary(r: MeetingResult) -> list[str]:
    """Lines: the warnings (:attr:`MeetingResult.notices`), the most frequent themes, the suggested
    perspectives, measures without support, and 「取り込めなかった行: なし」 when no row was refused."""
    counts = Counter(t for v in r.themes.values() for t in v.split("|") if t)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    lines = [f"注意: {n}" for n in r.notices]
    lines.append("多いテーマ: " + ("、".join(f"{t} {n}件" for t, n in top) if top else "なし"))
    p = r.perspectives.suggestions
    shown = [f"{pid}「{_short(label)}」（{n}件）" for pid, label, n in zip(p["perspective_id"], p["label"], p["support"],
                                                                   strict=True)][:TOP]
    lines.append(f"新たな視点(案): {len(p)}件" + (" — " + "、".join(shown) if shown else "")
                 + ("…" if len(p) > TOP else ""))
    cov = r.matches.coverage
    bare = cov[cov["status"] == "裏付けなし"]
    lines.append(f"裏付けのない施策案: {len(bare)}件"
                 + (" — " + "、".join(bare["measure_id"].head(5)) if len(bare) else "")
                 + ("…" if len(bare) > 5 else ""))
    if not len(r.inputs.rejects):
        lines.append("取り込めなかった行: なし")          # else the first notice says how many and why
    return lines
