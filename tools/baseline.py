"""The sample meetings' outputs as a baseline between versions: one line per file (SHA-256, then
``<meeting id>/<file>``), manifest.json aside (it holds the run's times).

    .venv/bin/kyosei demo --out-root /tmp/baseline-out          # from the repository's folder, as make demo
    .venv/bin/python tools/baseline.py /tmp/baseline-out > tests/baseline/sample_outputs.sha256

``tests/test_baseline.py`` runs the demo and compares with the committed list; a change of outputs updates the list
in the same commit, and the commit says which files changed and why.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

SKIPPED = frozenset({"manifest.json"})


def baseline(out_root: Path) -> list[str]:
    """``<sha256>  <meeting id>/<file>`` for every output file of every meeting folder of ``out_root``, sorted."""
    lines = []
    for folder in sorted(p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.name not in SKIPPED:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                lines.append(f"{digest}  {path.relative_to(out_root).as_posix()}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        raise SystemExit(__doc__)
    print("\n".join(baseline(Path(args[0]))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
