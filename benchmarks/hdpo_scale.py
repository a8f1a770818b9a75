"""HDPO on a large catalogue: peak memory and CPU-s per 1M SKU-periods of training.

    python benchmarks/hdpo_scale.py [--skus 10000] [--days 730] [--steps 40]

Builds :func:`benchmarks.scale.synthetic_catalogue` (daily demand of smooth, erratic and intermittent SKUs with a
weekly season; per-SKU lead times 1..7, holding / shortage / order costs, MOQ and pack sizes) in a temporary
folder, trains ``invrl train --algo hdpo`` on it (the HDPO ``default`` preset; ``--steps`` gradient steps of
hp.batch x (hp.warmup + hp.periods) SKU-periods) and prints one table: the CPU-s of the whole run and of its
gradient steps, the gradient steps' CPU-s per 1M simulated SKU-periods, and the process's peak RSS
(``resource.getrusage``, the same number as ``/usr/bin/time -v``'s "Maximum resident set size").
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=730, help="days of history (the last 20 %% are the test window)")
    ap.add_argument("--steps", type=int, default=40, help="gradient steps")
    args = ap.parse_args()

    import yaml
    from scale import synthetic_catalogue

    from invrl import train as train_cli

    batch, periods = 1024, 80  # the default preset's hp.batch x (hp.warmup + hp.periods)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.process_time()
        path, items = synthetic_catalogue(tmp, args.skus, args.days)
        t_data = time.process_time() - t0
        scenario = tmp / "catalogue.yaml"
        scenario.write_text(yaml.safe_dump({"name": f"catalogue-{args.skus}", "mode": "lost_sales",
                                            "data": {"path": str(path), "items": str(items)}}))
        run = tmp / "run"
        steps = args.steps * batch * periods
        t1 = time.process_time()
        rc = train_cli.main(["--algo", "hdpo", "--scenario", str(scenario), "--run-dir", str(run), "--no-progress",
                             "--timesteps", str(steps), f"eval_freq={steps}", "checkpoint_freq=0"])
        t_run = time.process_time() - t1
        if rc != 0:
            raise SystemExit(f"training failed (exit {rc})")
        grad = None
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        acc = EventAccumulator(str(run / "tb"))
        acc.Reload()
        if "time/gradient_cpu_s" in acc.Tags()["scalars"]:
            grad = acc.Scalars("time/gradient_cpu_s")[-1].value
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    rows = [("SKUs x days", f"{args.skus:,} x {args.days}"), ("catalogue built (CPU-s)", f"{t_data:.1f}"),
            ("training run (CPU-s, all of it)", f"{t_run:.1f}"),
            ("gradient steps (CPU-s)", "-" if grad is None else f"{grad:.1f}"),
            ("SKU-periods simulated in training", f"{steps:,}"),
            ("gradient CPU-s per 1M SKU-periods", "-" if grad is None else f"{grad / steps * 1e6:.2f}"),
            ("peak RSS of the process (MiB)", f"{peak:,.0f}")]
    w = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{w}} | value |\n|{'-' * (w + 2)}|-------|")
    for k, v in rows:
        print(f"| {k:<{w}} | {v} |")


if __name__ == "__main__":
    main()
