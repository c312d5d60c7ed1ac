"""``python -m flows …`` is the ``kyosei`` command (for a machine where the script folder is not on PATH)."""

from flows.entry import main

if __name__ == "__main__":      # a spawned worker process imports this module again: it must not run the command
    main()
