"""CPU seconds per period of the ``lp_allocation`` MILP (HiGHS) for one warehouse of many SKUs.

    python benchmarks/lp_allocation.py [--skus 100 1000] [--periods 30] [--tightness 0.8] [--pack 1]

Each size: a parametric lost-sales scenario (h = 1, p = 9, lead time 2) with Poisson means spread over 0.5..50,
one warehouse whose shared capacity is `tightness` x the sum of the SKUs' newsvendor levels (so it binds);
the program is solved every period of a `periods`-period simulation from the steady initial state. Prints
the variables of the last program, the CPU seconds (time.process_time) per period (mean, max), the units
the engine's proportional cut would have removed (0: the program respects the limits) and the cost per SKU
and period of lp_allocation against base-stock at the same newsvendor levels cut proportionally by the
engine, on the same demand (the allocation's own gain). One process, one thread (OPENBLAS_NUM_THREADS=1 recommended).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.base import train_data  # noqa: E402
from baselines.lp_allocation import LPAllocation  # noqa: E402
from envs import Problem, kernel  # noqa: E402
from envs.batch import PERIODS, simulate  # noqa: E402
from envs.episodes import make_episodes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--periods", type=int, default=30)
    ap.add_argument("--tightness", type=float, default=0.8)
    ap.add_argument("--pack", type=int, default=1)
    args = ap.parse_args()
    print(f"{'SKUs':>6} {'capacity':>10} {'vars':>7} {'CPU-s/period':>13} {'max':>7} {'cut':>6} "
          f"{'LP cost':>8} {'base-stock cut':>15} {'gain %':>7}")
    for n in args.skus:
        means = np.round(np.geomspace(0.5, 50.0, n), 3).tolist()
        base = Problem("lost-sales-L2-p9", demand={"mean": means}, initial_state="steady", pack_size=args.pack)
        tr = train_data(base, periods=2000)
        lvl = LPAllocation().fit(base, tr).levels
        cap = float(np.floor(args.tightness * lvl.sum()))
        pb = Problem("lost-sales-L2-p9", demand={"mean": means}, initial_state="steady", pack_size=args.pack,
                     shared={"capacity": cap})
        lp = LPAllocation().fit(pb, tr)
        eps = make_episodes(pb, "test", seed=0, n=n, periods=args.periods)
        times: list[float] = []

        def act(sim, lp=lp, times=times):
            t0 = time.process_time()
            q = lp.orders(sim.raw.sku, sim.raw.inventory_position, sim.raw.params, sim.raw.group)
            times.append(time.process_time() - t0)
            return q

        tot, _ = simulate(pb, eps, act)
        levels = lp.levels[eps.sku]  # the program's own newsvendor levels, cut proportionally by the engine
        tb, _ = simulate(pb, eps, lambda sim, lv=levels: lv, order_up_to=True)
        cost_lp = tot[:, kernel.I_COST].sum() / tot[:, PERIODS].sum()
        cost_bs = tb[:, kernel.I_COST].sum() / tb[:, PERIODS].sum()
        nvar = lp.last_size
        print(f"{n:>6} {cap:>10g} {nvar:>7} {np.mean(times):>13.4f} {np.max(times):>7.3f} "
              f"{tot[:, kernel.I_CUT].sum():>6g} {cost_lp:>8.4f} {cost_bs:>15.4f} "
              f"{100 * (cost_bs - cost_lp) / cost_bs:>7.2f}")


if __name__ == "__main__":
    main()
