"""Run a scenario with a simple order-up-to rule and print its KPIs: a smoke test of a scenario or data set.

    python -m envs.simulate --scenario demo [--episodes 20] [--seed 0] [--level-periods 1.0] [KEY=VALUE ...]

The rule orders up to ``(L + 1 + level_periods) * scale`` units on inventory position: mean demand over the
protection interval (lead time + one review period) plus ``level_periods`` periods of mean demand as safety
stock, ``scale`` being the SKU's mean demand. It is a transparent reference, not a tuned baseline (those live
in ``baselines/``). With ``--data FILE`` the scenario replays a demand file (``--window test`` replays every
SKU's test window once). The episodes, the rollout and the KPIs are the evaluator's (:func:`envs.episodes.make_episodes`,
:func:`envs.batch.simulate`, :mod:`envs.kpis`).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import kernel
from .batch import PERIODS, simulate
from .episodes import make_episodes
from .kpis import kpis_from_totals
from .problem import Problem
from .scenario import ScenarioError, parse_override


def run(problem: Problem, episodes: int, seed: int, level_periods: float, window: str | None) -> dict:
    """The order-up-to rule on `episodes` episodes of the problem (data: random train episodes, or every SKU's
    `window` once from the steady state), through the one rollout function and the one KPI table."""
    if window is not None:
        eps = make_episodes(problem, window, replay=True)
        initial = "steady"
    else:
        split = problem.scenario.data.window if problem.source.replays_windows else "train"
        rng = np.random.default_rng(seed)
        skus = None
        if problem.source.replays_windows:  # random SKUs, as the env draws them
            pool = problem.source.skus_in(split)
            skus = pool[rng.integers(pool.size, size=episodes)]
        eps = make_episodes(problem, split, rng=rng, n=episodes, skus=skus)
        initial = problem.scenario.initial_state
    p = problem.params[eps.sku]
    level = (p[:, kernel.LEAD] + 1 + level_periods) * p[:, kernel.SCALE]
    totals, _ = simulate(problem, eps, lambda sim: level, initial_state=initial, seed=seed, order_up_to=True)
    k = kpis_from_totals(totals, ci=False)
    out = {"episodes": eps.n, "periods": int(totals[:, PERIODS].sum())}
    out.update({name: k[name] for name in ("avg_cost", "holding", "shortage", "ordering", "purchase", "fill_rate",
                                           "cycle_service_level", "avg_on_hand", "orders")})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m envs.simulate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="demo", help="built-in name or YAML path (default: demo)")
    ap.add_argument("--data", help="demand file (date,sku,demand) to replay instead of the scenario's demand")
    ap.add_argument("--items", help="item table with per-SKU parameters")
    ap.add_argument("--window", choices=["train", "val", "test"],
                    help="data only: replay this window of every SKU once (default: random train episodes)")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--level-periods", type=float, default=1.0,
                    help="safety stock of the order-up-to rule, in periods of mean demand (default 1)")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="scenario field overrides, e.g. lead_time=3")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error("--episodes must be >= 1")
    try:
        overrides = dict(parse_override(o) for o in args.overrides)
        if args.data:
            overrides["data.path"] = args.data
            if args.items:
                overrides["data.items"] = args.items
        elif args.items:
            raise ScenarioError("--items needs --data")
        problem = Problem(args.scenario, **overrides)
        if args.window and not problem.source.replays_windows:
            raise ScenarioError("--window applies to data scenarios only")
        res = run(problem, args.episodes, args.seed, args.level_periods, args.window)
    except (ScenarioError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sc = problem.scenario
    print(f"scenario {sc.name}: {sc.mode}, lead time {problem.max_lead if problem.n_skus > 1 else sc.lead_time}, "
          f"{problem.n_skus} SKU(s); order-up-to (L + 1 + {args.level_periods:g}) x mean demand")
    print(f"{res['episodes']} episodes, {res['periods']} periods (seed {args.seed})")
    width = max(len(k) for k in res)
    for k, v in res.items():
        if k in ("episodes", "periods"):
            continue
        print(f"  {k:<{width}}  {v:10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
