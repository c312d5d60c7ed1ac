"""Score kyosei on the real comments of ../shared/realset (the development yardstick), re-created outside the
repository (see ../shared/realset/README.md; never commit their text).

    make realset                                   # TEXTS=/tmp/realset/texts.tsv REALSET=../shared/realset
    python tools/realset_eval.py --texts /tmp/realset/texts.tsv --realset ../shared/realset [--no-model] [--errors]

Rows the recipe marks ``skip`` (their theme can only be known from their page) are left out; the rest go to
``kyosei eval`` as they are (per-theme precision, recall and F1; with the realset's policy table, the suggested
perspectives per missing area: recall, purity, the share of covered comments cited).  The filtered copy is written
to a temporary folder outside the repository and removed afterwards.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from pathlib import Path


def filtered(texts: Path, recipe: Path, out: Path) -> int:
    """Copy ``texts`` to ``out`` without the recipe's skipped rows; returns the rows kept."""
    with recipe.open(encoding="utf-8") as f:
        skip = {r["id"] for r in csv.DictReader(f, delimiter="\t") if r.get("skip") == "1"}
    with texts.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "text" not in rows[0]:
        raise SystemExit(f"{texts}: not the re-created texts (id, text, labels); see ../shared/realset/README.md")
    kept = [r for r in rows if r["id"] not in skip and r["text"]]
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(kept)
    return len(kept)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=Path, default=Path("/tmp/realset/texts.tsv"))
    ap.add_argument("--realset", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realset")
    ap.add_argument("--no-model", action="store_true", help="rules only (no learned layer)")
    ap.add_argument("--errors", action="store_true", help="list the errors too (stays on the terminal)")
    ap.add_argument("--folds", action="store_true",
                    help="as a city would live it: the labels of one half (odd / even ids) train the learned layer, the "
                         "other half is scored with and without it, both ways round")
    ap.add_argument("--codebook", type=Path, help="another codebook (e.g. an earlier version, to see what learning adds "
                                                  "to weaker rules)")
    args = ap.parse_args(argv)
    if not args.texts.is_file():
        raise SystemExit(f"{args.texts}: not found — re-create it first (../shared/realset/README.md)")
    from flows.cli import main as kyosei

    with tempfile.TemporaryDirectory() as tmp:
        labels = Path(tmp) / "realset.tsv"
        n = filtered(args.texts, args.realset / "recipe.tsv", labels)
        print(f"real comments scored: {n}", flush=True)
        extra = ["--codebook", str(args.codebook)] if args.codebook else []
        if args.folds:
            return folds(labels, Path(tmp), kyosei, extra)
        cmd = ["eval", str(labels), "--measures", str(args.realset / "measures.csv"), *extra]
        cmd += ["--no-model"] if args.no_model else []
        cmd += ["--errors"] if args.errors else []
        return kyosei(cmd)


THEMES = ("相談窓口", "担い手", "防災", "就労")


def folds(labels: Path, tmp: Path, kyosei, extra: list[str]) -> int:
    """Two folds by id parity: each half's labels (long form: text, theme, 0/1) train the learned layer that tags the
    other half; ``kyosei eval`` prints rules alone, then rules + the layer, for each fold."""
    with labels.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for name, keep in (("odd ids train, even scored", 1), ("even ids train, odd scored", 0)):
        train = [r for r in rows if int(r["id"][1:]) % 2 == keep]
        test = [r for r in rows if int(r["id"][1:]) % 2 != keep]
        long = tmp / "train.csv"
        with long.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["meeting_id", "item_id", "text", "theme", "label"])
            w.writerows(["real", r["id"], r["text"], t, r[t]] for r in train for t in THEMES)
        scored = tmp / "test.tsv"
        with scored.open("w", encoding="utf-8", newline="") as f:
            w2 = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
            w2.writeheader()
            w2.writerows(test)
        print(f"== {name}: {len(train)} labels, {len(test)} scored", flush=True)
        kyosei(["eval", str(scored), "--no-model", *extra])
        kyosei(["eval", str(scored), "--theme-labels", str(long), *extra])
    return 0


if __name__ == "__main__":
    sys.exit(main())
