"""Run a scenario with a simple order-up-to rule and print its KPIs: a smoke test of a scenario or data set.

    python -m envs.simulate --scenario demo [--episodes 20] [--seed 0] [--level-periods 1.0] [KEY=VALUE ...]

The rule orders up to ``(L + 1 + level_periods) * scale`` on inventory position: mean demand over the
protection interval (lead time + one review period) plus ``level_periods`` periods of mean demand as safety
stock, ``scale`` being the SKU's mean demand. It is a transparent reference, not a tuned baseline (those live
in ``baselines/``). With ``--data FILE`` the scenario replays a demand file (``--window test`` replays every
SKU's test window once).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import kernel as K
from .inventory_env import InventoryEnv
from .scenario import ScenarioError, parse_override


def kpis(infos: list[dict]) -> dict[str, float]:
    """Average cost per period and its parts, fill rate, cycle service level, average on hand."""
    n = len(infos)
    tot = {k: sum(i[k] for i in infos) for k in ("cost", "holding_cost", "shortage_cost", "ordering_cost",
                                                  "purchase_cost", "demand", "sales", "on_hand", "order")}
    short = sum(1 for i in infos if i["lost"] > 0 or i["backordered"] > i.get("_prev_back", 0))
    return {
        "avg_cost": tot["cost"] / n,
        "holding": tot["holding_cost"] / n,
        "shortage": tot["shortage_cost"] / n,
        "ordering": tot["ordering_cost"] / n,
        "purchase": tot["purchase_cost"] / n,
        "fill_rate": tot["sales"] / tot["demand"] if tot["demand"] > 0 else float("nan"),
        "cycle_service_level": 1 - short / n,
        "avg_on_hand": tot["on_hand"] / n,
        "orders_placed": sum(1 for i in infos if i["order"] > 0) / n,
    }


def run(env: InventoryEnv, episodes: int, seed: int, level_periods: float, window: str | None) -> dict:
    infos: list[dict] = []
    pb = env.problem
    resets = []
    if window is not None:
        skus = pb.source.skus_in(window)
        resets = [{"sku": int(s), "window": window, "initial_state": "steady"} for s in skus]
    else:
        resets = [{} for _ in range(episodes)]
    for e, options in enumerate(resets):
        env.reset(seed=seed + e, options=options)
        L = int(pb.params[env.sku, K.LEAD])
        level = (L + 1 + level_periods) * float(pb.params[env.sku, K.SCALE])
        prev_back = 0.0
        while True:
            order = max(level - env.inventory_position, 0.0)
            action = _action_for(env, order)
            _, _, term, trunc, info = env.step(action)
            info["_prev_back"] = prev_back
            prev_back = info["backordered"]
            infos.append(info)
            if term or trunc:
                break
    return {"episodes": len(resets), "periods": len(infos), **kpis(infos)}


def _action_for(env: InventoryEnv, units: float):
    """The action whose order is closest to `units` (discrete modes) or the continuous action for it."""
    pb = env.problem
    mode = pb.scenario.action.mode
    if mode == "continuous":
        top = pb._cont_max[env.sku]
        return np.array([np.clip(2 * units / top - 1, -1, 1)], dtype=np.float32)
    row = pb.action_table[env.sku]
    if mode == "order_up_to":
        return int(np.argmin(np.abs(row - (env.inventory_position + units))))
    return int(np.argmin(np.abs(row - units)))


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
        env = InventoryEnv(args.scenario, **overrides)
        if args.window and not env.problem.source.replays_windows:
            raise ScenarioError("--window applies to data scenarios only")
        res = run(env, args.episodes, args.seed, args.level_periods, args.window)
    except (ScenarioError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sc = env.scenario
    print(f"scenario {sc.name}: {sc.mode}, lead time {env.problem.max_lead if env.problem.n_skus > 1 else sc.lead_time}, "
          f"{env.problem.n_skus} SKU(s); order-up-to (L + 1 + {args.level_periods:g}) x mean demand")
    print(f"{res['episodes']} episodes, {res['periods']} periods (seed {args.seed})")
    width = max(len(k) for k in res)
    for k, v in res.items():
        if k in ("episodes", "periods"):
            continue
        print(f"  {k:<{width}}  {v:10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
