"""Per-SKU comparison of one policy (e.g. a trained agent) with the baselines, from an evaluate.py results.csv.

    python evaluate.py --model runs/bench/m5/ppo-m5_tiny-s0 --out runs/eval-m5
    python benchmarks/per_sku.py runs/eval-m5/results.csv [--policy ppo:ppo-m5_tiny-s0]

Prints the policy's total cost over all SKUs (the ``total_cost`` column; older files without it: the sum over
SKUs of the cost per period) and its mean per-SKU fill rate (unweighted; report.md has the demand-weighted
KPIs), the best baseline by total cost, and the share of SKUs on which the policy is cheaper
than that best baseline (and equal to it), and cheaper than every baseline. The hindsight bound
(``hindsight_base_stock``) is left out of the baselines: it sees the test window. ``--policy`` defaults to the
only policy whose name contains ':' (evaluate.py names agents ``ALGO:RUN``).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

BOUNDS = {"hindsight_base_stock"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results_csv")
    ap.add_argument("--policy")
    ap.add_argument("--tolerance", type=float, default=1e-9, help="costs closer than this count as equal")
    args = ap.parse_args()
    df = pd.read_csv(args.results_csv)
    need = {"policy", "sku", "avg_cost", "fill_rate"}
    if not need <= set(df.columns):
        sys.exit(f"error: {args.results_csv}: expected columns {sorted(need)}, found {list(df.columns)}")
    agents = sorted(p for p in df.policy.unique() if ":" in p)
    policy = args.policy or (agents[0] if len(agents) == 1 else None)
    if policy is None or policy not in set(df.policy):
        sys.exit(f"error: name the policy with --policy (policies: {', '.join(sorted(df.policy.unique()))})")
    cost = df.pivot_table(index="sku", columns="policy", values="avg_cost", aggfunc="mean")
    base = [p for p in cost.columns if p != policy and p not in BOUNDS and ":" not in p]
    col = "total_cost" if "total_cost" in df.columns else "avg_cost"
    totals = df.groupby("policy")[col].sum()
    best = totals[base].idxmin()
    fill = df.groupby("policy").fill_rate.mean()
    mine, other = cost[policy], cost[best]
    tol = args.tolerance
    what = "total cost" if col == "total_cost" else "sum of per-SKU cost/period"
    print(f"{'policy':<28} {what:>26} {'mean per-SKU fill':>17}")
    for p in (policy, best):
        print(f"{p:<28} {totals[p]:>26,.2f} {fill[p]:>17.3f}")
    n = len(cost)
    print(f"SKUs: {n}; {policy} cheaper than {best} on {(mine < other - tol).mean():.1%} "
          f"(equal on {((mine - other).abs() <= tol).mean():.1%}); cheaper than every baseline on "
          f"{(mine.lt(cost[base].min(axis=1) - tol)).mean():.1%}")


if __name__ == "__main__":
    main()
