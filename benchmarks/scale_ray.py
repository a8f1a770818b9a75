"""Serial vs Ray on this machine: the baselines on a synthetic catalogue, and a sweep of seeds (a measurement,
not a test).

    python benchmarks/scale_ray.py [--skus 100000] [--periods 365] [--chunk-skus 5000] [--ray-chunks 1000,5000]
                                   [--num-cpus 2]
                                   [--sweep-seeds 4] [--sweep-timesteps 8192] [--no-sweep]

Baselines: base_stock, capped_base_stock and ses_tuned on `--skus` synthetic daily SKUs (benchmarks/scale.py's
catalogue: two years, the last `--periods` days the test window), evaluated (1) whole, (2) in SKU chunks in
this process, (3) as Ray tasks on a local Ray with `--num-cpus` CPUs; the three results are compared bit for
bit. CPU-s: the driver's ``time.process_time`` plus, for Ray, the CPU-s each task measured itself (numba's
compilation or cache loading in a fresh worker included, Ray's own processes not). Peak RSS: the driver's
``ru_maxrss`` and the largest worker's (``ru_maxrss`` of the worker process at the end of its task; pages of
the object store it read count in it and stay mapped across its tasks: a worker's private memory, RssAnon,
is printed per run); the driver's is reset before each run (VmHWM). A 1,000,000-SKU catalogue needs ~5.8 GB for the demand matrix alone
(1e6 x 730 float64) plus the long table it is read from, more than this shared machine has to spare, so the
figures are measured at `--skus` and scaled linearly per SKU (every SKU is fitted and simulated on its own).

Sweep: `--sweep-seeds` PPO trials on lost-sales-L2-p9 of `--sweep-timesteps` steps, serial in this process vs
Ray Tune with `--num-cpus` trials at a time.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POLICIES = ["base_stock", "capped_base_stock", "ses_tuned"]


def rss_mb() -> float:
    """Peak RSS of this process since the last :func:`reset_peak` (VmHWM), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Restart the peak-RSS counter (Linux: writing 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def write_catalogue(folder: Path, n: int, days: int, seed: int = 0, block: int = 10_000) -> tuple[Path, Path]:
    """benchmarks/scale.py's synthetic catalogue (same distributions: lognormal means, 30 % intermittent,
    negative-binomial noise, weekly season; item table with lead times 1..7, costs, MOQ, packs), generated and
    written `block` SKUs at a time so that writing it never holds the whole long table."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"catalogue_{n}.parquet"
    dates = pd.date_range("2022-01-03", periods=days, freq="D").values
    week = 1 + 0.25 * np.sin(2 * np.pi * (np.arange(days) % 7) / 7)
    writer = None
    for b, a in enumerate(range(0, n, block)):
        k = min(block, n - a)
        rng = np.random.default_rng([seed, b])
        mean = np.exp(rng.normal(1.0, 1.2, k))
        p_occ = np.where(rng.random(k) < 0.3, rng.uniform(0.05, 0.5, k), 1.0)
        lam = mean[None, :] / p_occ[None, :] * week[:, None]
        demand = rng.negative_binomial(2.0, 2.0 / (2.0 + lam)) * (rng.random((days, k)) < p_occ[None, :])
        skus = np.array([f"SKU{i:07d}" for i in range(a, a + k)])
        t = pa.table({"date": np.repeat(dates, k), "sku": np.tile(skus, days),
                      "demand": demand.reshape(-1).astype(np.float64)})
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    writer.close()
    rng = np.random.default_rng([seed, 10**6])
    items = folder / f"items_{n}.csv"
    pd.DataFrame({"sku": [f"SKU{i:07d}" for i in range(n)], "lead_time": rng.integers(1, 8, n),
                  "holding_cost": np.round(rng.uniform(0.01, 0.2, n), 3),
                  "shortage_cost": np.round(rng.uniform(0.5, 5, n), 2), "order_cost": rng.choice([0, 2, 5], n),
                  "moq": rng.choice([0, 0, 5], n), "pack_size": rng.choice([1, 1, 6, 12], n)}).to_csv(items, index=False)
    return path, items


def bench_eval(args, rows: list) -> None:
    from scale import catalogue_scenario

    from baselines import cluster
    from baselines.evaluation import evaluate, make_policies
    from envs.problem import Problem

    days = 2 * args.periods
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        path, items = write_catalogue(Path(tmp), args.skus, days)
        problem = Problem("lost-sales-L2-p9", **catalogue_scenario(path, items, args.periods, days))
        print(f"catalogue of {args.skus:,} SKUs x {days} days written and loaded in {time.process_time() - t0:.1f} "
              f"CPU-s; driver peak RSS {rss_mb():,.0f} MB", flush=True)
        warm = problem.subset(np.arange(min(200, problem.n_skus)))  # numba compilation / cache, not counted
        evaluate(warm, make_policies(POLICIES, warm))
        runs = {}
        plan = [("whole", None), ("chunks", args.chunk_skus)] + [("ray", c) for c in sorted(args.ray_chunks)]
        for how, size in plan:  # Ray chunk sizes ascending: a worker's ru_maxrss is a lifetime peak
            kw = {}
            if how == "chunks":
                kw = {"chunk_skus": size}
            if how == "ray":
                cluster.connect(args.num_cpus)
                kw = {"chunk_skus": size, "map_chunks": timed_ray_map}
            TASKS.clear()
            reset_peak()
            c0, w0 = time.process_time(), time.perf_counter()
            ev = evaluate(problem, make_policies(POLICIES, problem), record=1, **kw)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            worker_cpu = sum(t.cpu_s for t in TASKS)
            worker_rss = max((t.peak_rss for t in TASKS), default=0) / 2**20
            private = max((t.private_rss for t in TASKS), default=0) / 2**20
            runs[(how, size)] = ev
            label = "baselines, whole" if how == "whole" else f"baselines, chunks of {size:,} SKUs, serial" \
                if how == "chunks" else f"baselines, Ray tasks of {size:,} SKUs ({args.num_cpus} CPUs)"
            rows.append((label, cpu + worker_cpu, wall, rss_mb(), worker_rss, len(TASKS)))
            print(_row(rows[-1]), flush=True)
            if TASKS:
                per = np.array([t.cpu_s for t in TASKS])
                print(f"  per task ({size:,} SKUs): {per.mean():.2f} CPU-s mean, {per.max():.2f} max; driver "
                      f"{cpu:.1f} CPU-s; worker private (anonymous) RSS at the end of a task: {private:,.0f} MB max",
                      flush=True)
                SHARDS[size] = list(TASKS)
        whole = runs[("whole", None)]
        same = all(np.array_equal(a.totals, b.totals) and a.description == b.description
                   for key, ev in runs.items() for a, b in zip(whole.results, ev.results))
        print(f"results bit-identical across whole / chunks / Ray: {same}")
        for r in whole.results:
            print(f"  {r.name}: avg cost {r.kpis['avg_cost']:.6f}, fit {r.fit_cpu_s:.1f} + run {r.eval_cpu_s:.1f} CPU-s")


TASKS: list = []
SHARDS: dict = {}


def timed_ray_map(problem, policies, tasks):
    from baselines.cluster import ray_map_chunks

    out = ray_map_chunks(problem, policies, tasks)
    TASKS.extend(out)
    return out


def bench_sweep(args, rows: list) -> None:
    from agents.sweep import SweepSpec, sweep

    with tempfile.TemporaryDirectory() as tmp:
        for how in ("serial", "ray"):
            reset_peak()
            spec = SweepSpec("ppo", "lost-sales-L2-p9", Path(tmp) / how, list(range(args.sweep_seeds)),
                             timesteps=args.sweep_timesteps)
            c0, w0 = time.process_time(), time.perf_counter()
            res = sweep(spec, serial=how == "serial", num_cpus=None if how == "serial" else args.num_cpus)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            trial_cpu = sum(r["cpu_s"] for r in res.rows)
            rows.append((f"sweep {args.sweep_seeds} seeds x {args.sweep_timesteps} steps, {how}",
                         cpu if how == "serial" else cpu + trial_cpu, wall, rss_mb(), None, len(res.rows)))
            print(_row(rows[-1]), f"(trials: {trial_cpu:.1f} CPU-s)", flush=True)


def _row(r) -> str:
    name, cpu, wall, drss, wrss, n = r
    w = f"{wrss:>10,.0f}" if wrss else f"{'':>10}"
    return f"{name:<52} {cpu:>9.1f} {wall:>8.1f} {drss:>10,.0f} {w} {n:>6}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--periods", type=int, default=365)
    ap.add_argument("--chunk-skus", type=int, default=5000, help="SKUs per chunk of the serial chunked run")
    ap.add_argument("--ray-chunks", type=lambda t: [int(x) for x in t.split(",")], default=[1000, 5000],
                    help="SKUs per Ray task, one run each (comma-separated)")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--sweep-seeds", type=int, default=4)
    ap.add_argument("--sweep-timesteps", type=int, default=8192)
    ap.add_argument("--no-sweep", action="store_true")
    args = ap.parse_args()
    rows: list = []
    print(f"{'run':<52} {'CPU-s':>9} {'wall s':>8} {'driver MB':>10} {'worker MB':>10} {'tasks':>6}")
    bench_eval(args, rows)
    if not args.no_sweep:
        bench_sweep(args, rows)
    print()
    print(f"{'run':<52} {'CPU-s':>9} {'wall s':>8} {'driver MB':>10} {'worker MB':>10} {'tasks':>6}")
    for r in rows:
        print(_row(r))
    for size, shards in SHARDS.items():
        per = np.array([t.cpu_s for t in shards])
        mem = max(t.peak_rss for t in shards) / 2**20
        n1m = -(-1_000_000 // size)
        cpus = 10 * args.num_cpus
        print(f"\n1,000,000 SKUs by the measured shards of {size:,} SKUs ({per.mean():.2f} CPU-s mean, "
              f"{per.max():.2f} max; worker peak RSS {mem:,.0f} MB): {n1m} tasks, {n1m * per.mean():,.0f} CPU-s of "
              f"tasks, {n1m * per.mean() / args.num_cpus / 60:.1f} min of tasks on this machine's {args.num_cpus} "
              f"CPUs, {n1m * per.mean() / cpus / 60:.1f} min on 10 such nodes ({cpus} CPUs; tasks only: the "
              f"driver's load of the catalogue, ray.put and the merge are serial and need the whole catalogue "
              f"in the driver's memory)")

if __name__ == "__main__":
    main()
