"""The pictures of docs/guide.md, taken from the current report of the 22 May sample meeting.

    .venv/bin/kyosei demo --out-root /tmp/guide-out
    .venv/bin/python tools/guide_pictures.py /tmp/guide-out/2024-05-22

Screenshots of report.html (Debian's chromium driven by Playwright, as the browser tests do; no download) for the
parts the guide explains: page 1 (概要), the suggested perspectives, the votes and the measures.  Written to
``docs/guide-*.png``; run again whenever the report changes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
PARTS = {"summary": "guide-summary.png", "perspectives": "guide-perspectives.png", "votes": "guide-votes.png",
         "measures": "guide-measures.png"}
"""Report part (HTML section id) → picture file."""
HEIGHT = 900
"""Pixels of each part shown (its beginning: the heading, the notes and the first rows)."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path, help="a run's output folder (outputs/2024-05-22)")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium がありません（Debian: apt-get install chromium）/ no chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1100, "height": HEIGHT}, device_scale_factor=1)
        page.goto((args.out_dir / "report.html").resolve().as_uri())
        page.wait_for_load_state("load")
        for part, file in PARTS.items():
            box = page.locator(f"section#{part}").bounding_box()
            if box is None:
                raise SystemExit(f"report.html has no part {part!r}")
            page.screenshot(path=str(DOCS / file), full_page=True,
                            clip={"x": box["x"], "y": box["y"], "width": box["width"],
                                  "height": min(box["height"], HEIGHT)})
            print(DOCS / file)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
