"""The exact lost-sales optimum on Zipkin's (2008) 16 instances, with CPU time per solve.

    python benchmarks/dp_table.py [--tol 1e-6] [--lead-times 1 2 3 4] [--penalties 4 9 19 39]

Poisson(5) demand, h = 1, lead time L = 1..4, lost-sales penalty p in {4, 9, 19, 39}. For each instance:
the optimal average cost from :func:`baselines.dp_optimal.solve_lost_sales` (midpoint of the RVI gain
bounds), Zipkin's published optimum where known, their difference, the truncation B (cap on the inventory
position after ordering), the number of states, RVI iterations, the final span (gain bracket), the largest
order-up-to level the optimal policy uses, Morton's bound S_bar, the best base-stock level S* and its exact
cost (:func:`best_base_stock`), and the CPU seconds of the solve (time.process_time, all threads of this
process; the machine is shared, so CPU time rather than wall-clock).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.dp_optimal import ZIPKIN_OPTIMA, best_base_stock, morton_bound, solve_lost_sales  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--lead-times", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--penalties", type=float, nargs="+", default=[4, 9, 19, 39])
    args = ap.parse_args()

    head = (f"{'L':>2} {'p':>3} {'optimum':>9} {'Zipkin':>7} {'diff':>8} {'B':>3} {'states':>7} {'iter':>4} "
            f"{'span':>8} {'upto':>4} {'S_bar':>5} {'S*':>3} {'base-stock':>10} {'gap%':>5} {'CPU s':>7}")
    print(head)
    print("-" * len(head))
    total = 0.0
    for L in args.lead_times:
        for p in args.penalties:
            t0 = time.process_time()
            sol = solve_lost_sales(5.0, L, 1.0, p, tol=args.tol)
            cpu = time.process_time() - t0
            total += cpu
            s_star, bs_cost = best_base_stock(5.0, L, 1.0, p)
            ref = ZIPKIN_OPTIMA.get((L, int(p)))
            ref_s = f"{ref:7.4f}" if ref is not None else f"{'-':>7}"
            diff_s = f"{sol.avg_cost - ref:+8.5f}" if ref is not None else f"{'-':>8}"
            gap = 100.0 * (bs_cost / sol.avg_cost - 1.0)
            print(f"{L:>2} {p:>3g} {sol.avg_cost:9.5f} {ref_s} {diff_s} {sol.max_on_hand:>3} {sol.n_states:>7} "
                  f"{sol.iterations:>4} {sol.span:8.1e} {sol.max_order_up_to:>4} {morton_bound(5.0, L, 1.0, p):>5} "
                  f"{s_star:>3} {bs_cost:10.5f} {gap:5.2f} {cpu:7.2f}", flush=True)
    print(f"total CPU seconds of the solves: {total:.2f}")


if __name__ == "__main__":
    main()
