"""Evaluate policies side by side: `python evaluate.py ...` = `invrl evaluate ...` (invrl/evaluate.py holds the
command)."""

import sys

from invrl.evaluate import main, parse_args  # noqa: F401  (scripts and tests call evaluate.main)

if __name__ == "__main__":
    sys.exit(main())
