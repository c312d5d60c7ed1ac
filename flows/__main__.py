"""``python -m flows …`` is the ``kyosei`` command (for a machine where the script folder is not on PATH)."""

from flows.entry import main

main()
