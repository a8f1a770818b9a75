"""CPU cost of the deploy path: ``deploy.recommend`` on 100,000 SKUs (CPU-seconds per stage, not wall time).

    python benchmarks/recommend_speed.py [--policy policy.onnx] [--skus 100000] [--repeats 3]

Without ``--policy`` a tiny PPO run of the default preset (continuous action, [64, 64] policy net: the
deployed network size; its quality does not matter for speed) is trained into a temporary folder and exported.
Synthetic inputs (seeded): a state file (on hand, in transit, 4 demand lags), an items file (demand scale,
lead time 2, MOQ, pack size) and, for the second case, a long demand history of 13 periods per SKU instead of
the lag columns. Each case runs in a fresh subprocess that imports only the deploy path (it checks that torch
is not loaded) with onnxruntime on one thread; the table shows the median over `--repeats` runs of
time.process_time() per stage: load policy, load + validate inputs, inference (observations + ONNX),
rounding (MOQ / pack) and alerts, write orders.csv; and the peak RSS of the process (VmHWM: ``ru_maxrss`` would keep this benchmark's own peak, the trained
PPO's, across fork + exec; issue 17's
target: 1 GiB on 1,000,000 SKUs, ``--skus 1000000 --repeats 1``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("load_policy", "load_validate", "inference", "rounding_alerts", "write", "total")

CHILD = """
import json, resource, sys, time
def _hwm():  # KiB: VmHWM, this process's own peak (ru_maxrss keeps the parent's peak across fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.process_time()
from deploy.recommend import run
imp = time.process_time() - t0
t = {}
df = run(*json.loads(sys.argv[1]), timings=t)
assert "torch" not in sys.modules and "stable_baselines3" not in sys.modules
t["import"] = imp
t["rows"] = len(df)
t["peak_mib"] = _hwm() / 1024
print(json.dumps(t))
"""


def make_policy(tmp: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    import train as train_cli
    from agents.export import export_run

    run = tmp / "run"
    rc = train_cli.main(["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "256", "--n-envs", "2",
                         "--run-dir", str(run), "eval_freq=256", "checkpoint_freq=0", "eval_episodes=2",
                         "eval_periods=50", "hp.n_steps=128", "hp.batch_size=128", "hp.n_epochs=1",
                         "--no-progress"])
    if rc:
        raise SystemExit("training the benchmark policy failed")
    out = tmp / "policy.onnx"
    export_run(run, out)
    return out


def make_inputs(tmp: Path, n: int, seed: int = 0) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    sku = np.array([f"SKU{i:07d}" for i in range(n)], dtype=object)
    scale = np.round(rng.lognormal(1.5, 1.0, n), 2) + 0.1
    items = pd.DataFrame({"sku": sku, "demand_scale": scale, "lead_time": 2,
                          "moq": rng.choice([0, 0, 5, 10, 24], n), "pack_size": rng.choice([1, 1, 2, 6, 12], n)})
    lags = rng.poisson(scale[:, None], (n, 13)).astype(float)
    state = pd.DataFrame({"sku": sku, "on_hand": rng.poisson(2 * scale), "in_transit_1": rng.poisson(scale)})
    plain = state.copy()
    for k in range(4):
        state[f"demand_lag_{k + 1}"] = lags[:, k]
    dates = pd.date_range("2024-01-01", periods=13, freq="D").strftime("%Y-%m-%d").to_numpy()
    hist = pd.DataFrame({"date": np.tile(dates[::-1], n), "sku": np.repeat(sku, 13), "demand": lags.reshape(-1)})
    paths = {"items": tmp / "items.csv", "state": tmp / "state.csv", "plain": tmp / "state_plain.csv",
             "history": tmp / "history.csv"}
    items.to_csv(paths["items"], index=False)
    state.to_csv(paths["state"], index=False)
    plain.to_csv(paths["plain"], index=False)
    hist.to_csv(paths["history"], index=False)
    return paths


def measure(args: list, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        p = subprocess.run([sys.executable, "-c", CHILD, json.dumps([str(a) if a is not None else None for a in args])],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
        if p.returncode:
            raise SystemExit(p.stderr)
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {k: float(np.median([r[k] for r in runs])) for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", help="an exported policy.onnx (default: train a tiny default-preset PPO run)")
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        policy = Path(args.policy) if args.policy else make_policy(tmp)
        paths = make_inputs(tmp, args.skus)
        cases = {
            "state with demand_lag_1..4": [policy, paths["state"], tmp / "orders.csv", paths["items"], None],
            "state + --history (13 periods, long table)": [policy, paths["plain"], tmp / "orders2.csv",
                                                          paths["items"], paths["history"]],
        }
        rows = {name: measure(a, args.repeats) for name, a in cases.items()}
    print(f"deploy.recommend on {args.skus:,} SKUs, CPU-seconds (median of {args.repeats} runs, onnxruntime 1 thread)")
    print()
    print("| input | import | " + " | ".join(STAGES) + " | peak RSS MiB |")
    print("|---|" + "---:|" * (len(STAGES) + 2))
    for name, t in rows.items():
        print(f"| {name} | {t['import']:.2f} | " + " | ".join(f"{t[s]:.2f}" for s in STAGES)
              + f" | {t['peak_mib']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
