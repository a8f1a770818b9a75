"""The exact optimum of small perishable lost-sales instances and the best base-stock level's gap to it.

    python benchmarks/perishable_dp.py [--outdating-cost 4] [--penalty 9] [--issuing fifo]

Poisson(5) demand, h = 1, shelf life m >= 2 and lead time L with m + L - 1 <= 3 (the state's components; the
model of :func:`baselines.dp_optimal.solve_perishable_lost_sales`, the timing of ``envs.kernel.step_ext``).
For each instance: the optimal average cost (midpoint of the RVI gain bounds) and the bounds' distance, the
number of states, the best base-stock level S* and its exact cost (:func:`best_perishable_base_stock`, value
determination), the gap, and the CPU seconds (time.process_time) of the solve and the base-stock search.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.dp_optimal import best_perishable_base_stock, solve_perishable_lost_sales  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outdating-cost", type=float, default=4.0)
    ap.add_argument("--penalty", type=float, default=9.0)
    ap.add_argument("--issuing", choices=["fifo", "lifo"], default="fifo")
    args = ap.parse_args()
    print(f"{'m':>2} {'L':>2} {'optimum':>9} {'span':>8} {'states':>7} {'S*':>3} {'base-stock':>10} {'gap%':>6} "
          f"{'CPU s':>6}")
    # (m = 1 with L >= 1 is left out: every unit expires in the period it arrives, so under base-stock the next
    # state is S minus the current one whatever the demand, and the chain's cost depends on where it starts)
    for m, L in ((2, 1), (3, 1), (2, 2)):
        t0 = time.process_time()
        kw = dict(demand_mean=5.0, lead_time=L, shelf_life=m, holding_cost=1.0, lost_sales_penalty=args.penalty,
                  outdating_cost=args.outdating_cost, issuing=args.issuing)
        s = solve_perishable_lost_sales(**kw)
        S, c = best_perishable_base_stock(**kw)
        print(f"{m:>2} {L:>2} {s.avg_cost:>9.4f} {s.upper_bound - s.lower_bound:>8.1e} {s.n_states:>7} {S:>3} "
              f"{c:>10.4f} {100 * (c / s.avg_cost - 1):>6.2f} {time.process_time() - t0:>6.2f}")


if __name__ == "__main__":
    main()
