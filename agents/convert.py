"""Convert a run folder written before the pickle-free weights existed: write the ``.npz`` beside its SB3 zips.

    python -m agents.convert RUN_DIR --trust

Loading the zips unpickles them (which runs any code planted in them), so this asks for ``--trust``; after it,
``evaluate.py --model`` and ``python -m agents.export`` read only the ``.npz`` files (:mod:`agents.runs`).
"""

from __future__ import annotations

import argparse
import sys

from .runs import RunError, convert_run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m agents.convert", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", help="run folder written by train.py")
    ap.add_argument("--trust", action="store_true",
                    help="required: loading SB3 zips unpickles them, which runs any code planted in them")
    args = ap.parse_args(argv)
    try:
        if not args.trust:
            raise RunError(f"converting {args.run_dir} unpickles its SB3 zips, which runs whatever code they hold; "
                           "add --trust if you trust where this folder came from")
        convert_run(args.run_dir)
        return 0
    except (RunError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
