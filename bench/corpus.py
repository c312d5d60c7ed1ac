"""Deterministic benchmark corpus: a meeting folder of N items resampled and perturbed from the sample
meetings (comments of every kind, the 40 cards, two rounds of votes).

    python -m bench.corpus 10000 /tmp/bench-10k
"""

from __future__ import annotations

import csv
import random
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "meetings"
PREFIXES = ["", "", "", "個人的には、", "グループで話して、", "前回も出たが、", "正直なところ、", "改めて、"]
SUFFIXES = ["", "", "", "と思う。", "ではないか。", "と感じた。", "ことが大切だ。", "という意見が多かった。"]
SWAPS = [("子ども", "子供"), ("障害", "障がい"), ("相談窓口", "相談先"), ("引きこもり", "ひきこもり"),
         ("、", "，"), ("K-Net", "K - N e t"), ("地域", "地区"), ("支援", "サポート")]
SENTENCE = re.compile(r"(?<=[。！？])")


def _comments() -> list[tuple[str, str]]:
    rows = []
    for meeting in sorted(SAMPLE.iterdir()):
        with (meeting / "feedback.csv").open(encoding="utf-8") as f:
            rows += [(r["text"], r["kind"]) for r in csv.DictReader(f)]
    return rows


def perturb(text: str, rng: random.Random) -> str:
    for a, b in SWAPS:
        if a in text and rng.random() < 0.3:
            text = text.replace(a, b, 1)
    return rng.choice(PREFIXES) + text.rstrip("。") + rng.choice(SUFFIXES)


def _sentences(pool: list[tuple[str, str]]) -> list[str]:
    return [s + "。" for text, _ in pool for s in SENTENCE.split(text) if len(s) >= 8]


def compose(text: str, sentences: list[str], rng: random.Random) -> str:
    """A new comment: ``text`` perturbed, followed by one or two sentences of other comments,
    so that nearly every generated text is distinct (the pipeline gains nothing from repeated texts)."""
    extra = rng.sample(sentences, k=rng.choice((1, 1, 2)))
    return "".join(perturb(s, rng).rstrip("。") + "。" for s in [text, *extra])


def generate(n_items: int, folder: Path, *, seed: int = 0) -> Path:
    """Write ``folder`` (a meeting: cards.csv, feedback.csv, votes.csv, meeting.yaml) with ``n_items``
    cards + comments; returns the folder.  Same ``n_items`` and ``seed`` → same bytes."""
    rng = random.Random(seed)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copy(SAMPLE / "2024-05-22" / "cards.csv", folder / "cards.csv")
    (folder / "meeting.yaml").write_text(f'id: "bench-{n_items}"\ndate: "2025-01-01"\ntitle: ベンチマーク {n_items}件\n',
                                         encoding="utf-8")
    pool = _comments()
    sentences = _sentences(pool)
    n_comments = max(0, n_items - 40)
    groups = [f"G{g:03d}" for g in range(max(1, n_comments // 8))]
    with (folder / "feedback.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["comment_id", "text", "kind", "card_id", "group"])
        for i in range(n_comments):
            text, kind = rng.choice(pool)
            w.writerow([f"F{i + 1:07d}", compose(text, sentences, rng), kind, "", rng.choice(groups)])
    cards = [f"C{c:02d}" for c in range(1, 41)]
    weights = [rng.random() ** 3 for _ in cards]
    voters = max(1, n_comments // 4)
    with (folder / "votes.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["card_id", "round", "blocks", "voter", "group"])
        for v in range(voters):
            picks = rng.choices(cards, weights=weights, k=4)
            for rnd, chosen in ((1, picks[:3]), (2, picks[3:])):
                for c in chosen:
                    w.writerow([c, rnd, 1, f"P{v:06d}", ""])
    return folder


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
