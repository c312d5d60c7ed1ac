"""What this meeting showed, in a few plain sentences for page 1 of the report (each with its numbers and the
part of the report that holds the details).

:func:`key_findings` reads only the :class:`~pipeline.run.result.MeetingResult`: the suggested new perspectives and
their support, the measures with the most support and those with none, the largest vote shifts between the first
and the last round, the themes most often raised and how they moved against the previous meeting of the series.
Findings with nothing to say are left out (a meeting without votes has no vote sentence).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from pipeline.run.result import MeetingResult

TOP_THEMES = 3
QUOTED = 30
"""Characters of a card title or a label quoted in a sentence (longer ones end in …)."""


@dataclass(frozen=True)
class Finding:
    """One sentence of the summary and the report part (group anchor and heading) that shows its details."""

    text: str
    anchor: str
    heading: str


def _q(text: object) -> str:
    """Quoted as Japanese quotes itself: 「…」, with the text's own 「」 as 『』."""
    s = str(text).translate(str.maketrans("「」", "『』"))
    return f"「{s if len(s) <= QUOTED else s[:QUOTED - 1] + '…'}」"


def _points(x: float) -> str:
    return f"{x:+.1f}ポイント".replace("+", "＋").replace("-", "−")


def perspective_finding(r: MeetingResult) -> Finding:
    p = r.perspectives.suggestions
    where = ("perspectives", "新たな視点(案)")
    if not len(p):
        return Finding("施策案にない視点の候補はありませんでした。", *where)
    first = p.iloc[0]
    text = (f"施策案にない視点の候補が{len(p)}件あります。支持が最も多いのは{_q(first['label'])}"
            f"（{first['theme_label']}、{int(first['support'])}件）")
    if len(p) > 1:
        second = p.iloc[1]
        text += f"、次いで{_q(second['label'])}（{int(second['support'])}件）"
    return Finding(text + "です。", *where)


def measure_findings(r: MeetingResult) -> list[Finding]:
    cov = r.matches.coverage
    where = ("measures", "施策別")
    if not len(cov):
        return []
    support = cov["cards"].astype(int) + cov["comments"].astype(int)
    out = []
    if int(support.max()) > 0:
        best = cov.loc[support.idxmax()]      # the first of equals, in the table's order
        out.append(Finding(f"裏付けが最も多い施策案は{best['measure_id']}{_q(best['measure_name'])}"
                           f"（カード{int(best['cards'])}枚・コメント{int(best['comments'])}件）です。", *where))
    bare = cov[support == 0]
    if len(bare):
        named = "、".join(f"{m}{_q(n)}" for m, n in zip(bare["measure_id"].head(3), bare["measure_name"].head(3),
                                                      strict=True))
        more = f"ほか{len(bare) - 3}件" if len(bare) > 3 else ""
        out.append(Finding(f"カードもコメントもない施策案が{len(bare)}件あります（{named}{more}）。", *where))
    return out


def vote_finding(r: MeetingResult) -> Finding | None:
    t = r.tallies
    rounds = sorted(t.round_totals)
    if len(rounds) < 2 or not len(t.card_votes):
        return None
    first, last = rounds[0], rounds[-1]
    up = t.card_votes.sort_values(["share_shift", "card_id"], ascending=[False, True], kind="mergesort").iloc[0]
    down = t.card_votes.sort_values(["share_shift", "card_id"], kind="mergesort").iloc[0]   # first card id of equals
    parts = []
    if float(up["share_shift"]) > 0:
        parts.append(f"最も支持を集めたのは{up['card_id']}{_q(up['title'])}（その回の票に占める割合"
                     f"{float(up[f'share_{first}']):.1f}% → {float(up[f'share_{last}']):.1f}%、"
                     f"{_points(float(up['share_shift']))}）")
    if float(down["share_shift"]) < 0:
        parts.append(f"最も減らしたのは{down['card_id']}{_q(down['title'])}（{float(down[f'share_{first}']):.1f}% → "
                     f"{float(down[f'share_{last}']):.1f}%、{_points(float(down['share_shift']))}）")
    if not parts:
        return None
    return Finding(f"{first}回目から{last}回目の投票で、" + "、".join(parts) + "です。", "votes", "投票結果")


def theme_findings(r: MeetingResult) -> list[Finding]:
    document_themes = set(r.document_themes)
    counts = Counter(t for v in r.themes.values() for t in v.split("|") if t and t not in document_themes)
    where = ("themes", "テーマ別")
    if not counts:
        return []
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_THEMES]
    out = [Finding("多く出たテーマは" + "、".join(f"{t}（{n}件）" for t, n in top) + "です。", *where)]
    trend = r.trend
    meetings = [c for c in trend.columns if c != "theme"]
    if len(meetings) >= 2:
        prev, now = meetings[-2], meetings[-1]
        delta = (trend[now].astype(int) - trend[prev].astype(int))
        rows = trend.assign(delta=delta)
        rows = rows[~rows["theme"].isin(document_themes)]
        rose = rows[rows["delta"] > 0].sort_values(["delta", "theme"], ascending=[False, True], kind="mergesort")
        fell = rows[rows["delta"] < 0].sort_values(["delta", "theme"], kind="mergesort")
        parts = []
        if len(rose):
            parts.append("増えたのは" + _moves(rose.head(2), prev, now))
        if len(fell):
            parts.append("減ったのは" + _moves(fell.head(2), prev, now))
        if parts:
            out.append(Finding(f"前回の会議（{prev}）と比べて、" + "、".join(parts) + "です。", *where))
    return out


def _moves(rows: pd.DataFrame, prev: str, now: str) -> str:
    return "、".join(f"{t}（{int(a)}件→{int(b)}件）" for t, a, b in zip(rows["theme"], rows[prev], rows[now],
                                                                      strict=True))


def key_findings(r: MeetingResult) -> list[Finding]:
    """The findings of page 1, most important first (see the module docstring)."""
    vote = vote_finding(r)
    return [perspective_finding(r), *measure_findings(r), *([vote] if vote else []),
            *theme_findings(r)]
