"""Every baseline against the exact optimum on Zipkin's (2008) 16 lost-sales instances.

    python benchmarks/zipkin.py [--episodes 200] [--periods 1000] [--seed 0] [--policies all]
                                [--lead-times 1 2 3 4] [--penalties 4 9 19 39] [--markdown]

Poisson(5) demand, h = 1, K = c = 0, lead time L = 1..4, lost-sales penalty p in {4, 9, 19, 39}
(the built-in scenarios ``lost-sales-L{L}-p{p}``). For each instance:

* the exact optimal long-run average cost (relative value iteration, :mod:`baselines.dp_optimal`) and
  Zipkin's published value where the paper gives it;
* the best base-stock level S* and its exact cost (stationary distribution of the base-stock chain);
* every baseline of ``evaluate.py``, fitted on the scenario's own simulated training demand and simulated on
  the same ``--episodes`` x ``--periods`` demand traces (common random numbers, 100 warm-up periods
  dropped), with its average cost and its gap (%) to the optimal policy simulated on the same traces.

The first table is per instance (the "gap %" after the exact base-stock cost is exact; "gap % (CRN)" is the
best simulated baseline against dp_optimal on the same traces); the second gives each policy's gap on every
instance, sorted by the sum of its gaps.
CPU seconds (time.process_time) of the whole run are printed at the end. Simulation noise: the 95 %
half-width of each policy's cost is about 0.01-0.03 at the defaults (printed per instance for the best
simulated baseline); differences between policies are measured more precisely than that, because all
policies see the same demand.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # statsmodels fits of the forecast baselines
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.dp_optimal import ZIPKIN_OPTIMA, best_base_stock, solve_lost_sales  # noqa: E402
from baselines.evaluation import evaluate, make_policies  # noqa: E402
from envs import Problem  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--periods", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--policies", default="all")
    ap.add_argument("--lead-times", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--penalties", type=int, nargs="+", default=[4, 9, 19, 39])
    ap.add_argument("--markdown", action="store_true", help="print markdown tables (for the README)")
    args = ap.parse_args()
    md = args.markdown
    t_start = time.process_time()

    rows, gaps, names = [], {}, []
    for L in args.lead_times:
        for p in args.penalties:
            inst = f"L{L} p{p}"
            sol = solve_lost_sales(5.0, L, 1.0, float(p))
            s_star, bs_exact = best_base_stock(5.0, L, 1.0, float(p))
            pb = Problem(f"lost-sales-L{L}-p{p}")
            ev = evaluate(pb, make_policies(args.policies, pb), episodes=args.episodes, periods=args.periods,
                          seed=args.seed, record=0)
            sim = {r.name: r.kpis for r in ev.results}
            # gaps against the optimal policy simulated on the same traces (common random numbers cancel most
            # of the simulation noise); against the exact optimum when dp_optimal is not among the policies
            ref = sim["dp_optimal"]["avg_cost"] if "dp_optimal" in sim else sol.avg_cost
            for name in sim:
                if name not in names:
                    names.append(name)
                gaps.setdefault(name, {})[inst] = 100.0 * (sim[name]["avg_cost"] / ref - 1.0)
            rivals = {n: k for n, k in sim.items() if n != "dp_optimal"}
            best = min(rivals, key=lambda n: rivals[n]["avg_cost"])
            rows.append((L, p, sol.avg_cost, ZIPKIN_OPTIMA.get((L, p)), s_star, bs_exact,
                         sim.get("base_stock", {}).get("avg_cost"), sim.get("capped_base_stock", {}).get("avg_cost"),
                         sim.get("dp_optimal", {}).get("avg_cost"), best, rivals[best]["avg_cost"],
                         rivals[best]["avg_cost_ci95"], gaps[best][inst]))
            print(f"# {inst} done ({time.process_time() - t_start:.0f} CPU-s)", file=sys.stderr, flush=True)

    def fmt(x, spec=".4f"):
        return "-" if x is None else format(x, spec)

    head = ["L", "p", "optimum", "Zipkin", "S*", "base-stock exact", "gap %", "base_stock sim",
            "capped sim", "dp_optimal sim", "best baseline (sim)", "its cost", "+-95%", "gap % (CRN)"]
    body = []
    for L, p, opt, ref, s, bs, bs_sim, cap, dp_sim, best, best_cost, ci, gap in rows:
        body.append([str(L), str(p), fmt(opt), fmt(ref), str(s), fmt(bs), fmt(100 * (bs / opt - 1), ".2f"),
                     fmt(bs_sim), fmt(cap), fmt(dp_sim), best, fmt(best_cost), fmt(ci, ".3f"), fmt(gap, ".2f")])
    print(_table(head, body, md))
    print()
    insts = [f"L{r[0]} p{r[1]}" for r in rows]
    head2 = ["policy: gap to optimal policy on the same traces, %"] + insts
    order = sorted(names, key=lambda n: sum(gaps[n].get(i, 0.0) for i in insts))
    body2 = [[n] + [fmt(gaps[n].get(i), ".1f") for i in insts] for n in order]
    print(_table(head2, body2, md))
    print(f"\n{len(rows)} instances, {args.episodes} episodes x {args.periods} periods per policy; "
          f"total {time.process_time() - t_start:.1f} CPU-s")


def _table(head: list[str], body: list[list[str]], md: bool) -> str:
    if md:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    w = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w[i]) for i, h in enumerate(head)), "  ".join("-" * x for x in w)]
    lines += ["  ".join(c.rjust(w[i]) for i, c in enumerate(r)) for r in body]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
