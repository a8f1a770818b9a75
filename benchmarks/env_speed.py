"""Steps per CPU-second of the unwrapped Inventory-v0 env with random actions, resets included.

    python benchmarks/env_speed.py [--steps 300000] [--data ../shared/data/m5_tiny_daily.csv.gz]

Prints a table: the env on `lost-sales-L2-p9`, on the `demo` scenario, on a data scenario (the M5 subset
from ../shared/data when present, else a synthetic demand file written to a temporary folder), and a bare
Python loop of the same lost-sales arithmetic for reference; all timed with time.process_time in one run
(CPU time, since wall-clock on a shared machine swings), with the ratio to the bare loop.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs import InventoryEnv  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "m5_tiny_daily.csv.gz"


def time_env(env: InventoryEnv, steps: int, seed: int = 0) -> tuple[float, int]:
    n_actions = env.action_space.n
    actions = np.random.default_rng(seed).integers(n_actions, size=steps).tolist()
    env.reset(seed=seed)
    env.step(actions[0])  # warm-up: the first call loads the compiled kernel (numba's cache), not timed
    env.reset(seed=seed)
    resets = 0
    t0 = time.process_time()
    for a in actions:
        _, _, term, trunc, _ = env.step(a)
        if term or trunc:
            env.reset()
            resets += 1
    return steps / (time.process_time() - t0), resets


def time_bare_loop(steps: int, seed: int = 0) -> float:
    """The same period arithmetic (L = 2, lost sales, h = 1, p = 9) in plain Python, no env, no info dict."""
    rng = np.random.default_rng(seed)
    demand = rng.poisson(5.0, steps).tolist()
    actions = rng.integers(21, size=steps).tolist()
    on_hand, pipe0, pipe1, total = 10.0, 5.0, 0.0, 0.0
    t0 = time.process_time()
    for d, q in zip(demand, actions):
        pipe1 = float(q)
        sales = d if d < on_hand else on_hand
        end = on_hand - sales
        total += end + 9.0 * (d - sales)
        on_hand = end + pipe0
        pipe0, pipe1 = pipe1, 0.0
    return steps / (time.process_time() - t0)


def synthetic_data_file(folder: Path) -> Path:
    import pandas as pd

    rng = np.random.default_rng(0)
    dates = pd.date_range("2020-01-01", periods=730, freq="D")
    frames = [pd.DataFrame({"date": dates, "sku": f"S{k:03d}", "demand": rng.poisson(1 + 3 * k, dates.size)})
              for k in range(20)]
    path = folder / "synthetic_daily.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300_000)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    rows = []
    bare = time_bare_loop(args.steps)
    rows.append(("bare Python loop (same arithmetic)", bare, 0))
    env = InventoryEnv("lost-sales-L2-p9")
    rows.append(("Inventory-v0 lost-sales-L2-p9 (500-period episodes)", *time_env(env, args.steps)))
    rows.append(("Inventory-v0 demo (364-period episodes, window 7, calendar)", *time_env(InventoryEnv("demo"), args.steps)))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data if args.data.exists() else synthetic_data_file(Path(tmp))
        t0 = time.process_time()
        denv = InventoryEnv("lost-sales-L2-p9", data={"path": str(data)}, episode_length=365,
                            action={"relative": True, "step": 0.5}, observation={"demand_window": 7})
        load = time.process_time() - t0
        rows.append((f"Inventory-v0 on {data.name} (365-period train episodes)", *time_env(denv, args.steps)))
    print(f"{'env':<64} {'steps/CPU-s':>12} {'resets':>7} {'vs bare loop':>12}")
    for name, rate, resets in rows:
        print(f"{name:<64} {rate:>12,.0f} {resets:>7} {rate / bare:>12.2f}")
    print(f"(data file load + split: {load:.2f} CPU-s; {args.steps:,} steps per row)")


if __name__ == "__main__":
    main()
