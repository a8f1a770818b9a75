"""Deploy parity of an exported learned forecaster on real data: recommend vs the simulator.

    OPENBLAS_NUM_THREADS=1 python benchmarks/learned_deploy.py [--baseline gru_quantile] [--config configs/m5_tiny.yaml]
        [--covariates '{price: level, snap: flag, event: flag}'] [--out-dir /tmp/learned_deploy]

Exports ``--baseline`` (``agents.export``: fitted on train + val) from the scenario with the known covariates,
fits the same rule in-process and simulates the test window; then writes the demand history before the test
window, a state file (every SKU with history there, nothing on hand) and runs ``deploy.recommend`` for the first
test date with ``--covariates`` = the data file. Prints the largest relative and absolute difference between the
recommended order and the simulator's first order-up-to level, and recommend's CPU-s per stage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default="gru_quantile")
    ap.add_argument("--config", default=str(ROOT / "configs" / "m5_tiny.yaml"))
    ap.add_argument("--covariates", default="{price: level, snap: flag, event: flag}")
    ap.add_argument("--out-dir", default="/tmp/learned_deploy")
    args = ap.parse_args()
    import numpy as np
    import pandas as pd
    import torch
    import yaml

    torch.set_num_threads(1)
    from agents.export import main as export_main
    from baselines.base import fit_window, train_data
    from baselines.evaluation import make_policies
    from deploy.recommend import run
    from envs.batch import simulate
    from envs.episodes import make_episodes
    from envs.problem import Problem

    tmp = Path(args.out_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    out = tmp / (f"{args.baseline}.onnx" if args.baseline.startswith("gru") else f"{args.baseline}.json")
    over = [f"data.covariates={args.covariates}"] if args.covariates else []
    t0 = time.process_time()
    if export_main(["--baseline", args.baseline, "--scenario", args.config, *over, "--out", str(out)]) != 0:
        sys.exit(2)
    print(f"export: {time.process_time() - t0:.1f} CPU-s")
    kw = {"data.covariates": yaml.safe_load(args.covariates)} if args.covariates else {}
    pb = Problem(args.config, **kw)
    (pol,) = make_policies([args.baseline], pb)
    pol.fit(pb, train_data(pb, window=fit_window(pb, "test")))
    eps = make_episodes(pb, "test")
    first = []

    def act(sim):
        x = pol.act(None, sim.raw).copy()
        if not first:
            first.append(x)
        return x

    pol.start(eps)
    simulate(pb, eps, act, order_up_to=True)
    data = Path(pb.source.data.path)
    start = str(pb.source.data.dates[pb.source.windows.test[0]])
    df = pd.read_csv(data)
    hist = df[df["date"] < start]
    hist.to_csv(tmp / "history.csv", index=False)
    names = np.array([pb.sku_name(int(i)) for i in eps.sku])
    has = np.isin(names, hist["sku"].unique())
    pd.DataFrame({"sku": names[has], "on_hand": 0.0}).to_csv(tmp / "state.csv", index=False)
    timings: dict[str, float] = {}
    orders = run(out, tmp / "state.csv", tmp / "orders.csv", history=tmp / "history.csv", date=start,
                 covariates=data if args.covariates else None, timings=timings)
    a = orders["requested_qty"].to_numpy()
    b = np.maximum(first[0], 0.0)[has]
    print(f"{args.baseline} on {start}: {has.sum()} SKUs with history (of {len(names)}); recommend vs simulator: max "
          f"relative difference {np.max(np.abs(a - b) / np.maximum(b, 1e-9)):.3g}, max absolute "
          f"{np.max(np.abs(a - b)):.3g} units")
    print("recommend CPU-s: " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()))


if __name__ == "__main__":
    main()
