"""Train a PPO, DQN-family or HDPO agent: `python train.py ...` = `invrl train ...` (invrl/train.py holds the
command; `python train.py export ...` and `python train.py sweep ...` stay as aliases of `invrl export` and
`invrl sweep`)."""

import sys

from invrl.train import main, parse_args  # noqa: F401  (scripts and tests call train.main)

if __name__ == "__main__":
    sys.exit(main())
