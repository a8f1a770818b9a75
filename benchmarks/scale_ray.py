"""Serial vs Ray on this machine: the baselines on a synthetic catalogue, and a sweep of seeds (a measurement,
not a test).

    python benchmarks/scale_ray.py [--skus 100000] [--periods 365] [--chunk-skus 5000] [--ray-chunks 1000,5000]
                                   [--num-cpus 2] [--runs whole,chunks,ray] [--compact] [--check N]
                                   [--sweep-seeds 4] [--sweep-timesteps 8192] [--no-sweep]
    python benchmarks/scale_ray.py --skus 1000000 --compact --runs ray,chunks --ray-chunks 5000 --no-sweep

Baselines: base_stock, capped_base_stock and ses_tuned on `--skus` synthetic daily SKUs (benchmarks/scale.py's
catalogue: two years, the last `--periods` days the test window), evaluated (`--runs`, in that order) whole, in
SKU chunks in this process (progress every 10 % of the chunks), and as Ray tasks on a local Ray with
`--num-cpus` CPUs; the results are compared bit for bit. CPU-s: the driver's ``time.process_time`` plus, for
Ray, the CPU-s each task measured itself (numba's compilation or cache loading in a fresh worker included, Ray's
own processes not). Peak RSS: the driver's (VmHWM, reset before each run; pages of the object store the
driver wrote count in it) and the largest worker's (``ru_maxrss`` of the worker process at the end of its
task; pages of the object store it read count in it and stay mapped across its tasks: a worker's private
memory, RssAnon, is printed per run).

The catalogue is written as a long Parquet file and loaded (``envs.data.load_demand``), or with `--compact`
built in memory as the loader's matrix in float32 (whole numbers: exact; 2.9 GB for 1,000,000 SKUs x 730
days, where loading the 730 M-row file would need ~100 GB) and given to ``Problem(..., demand_data=)``;
`--check N` first shows on N SKUs that the compact catalogue in chunks gives the file's whole evaluation bit
for bit. 1,000,000 SKUs: `--runs ray,chunks` (the whole evaluation needs every trace and fit at once); the
chunked driver holds no traces (``baselines.evaluation.outline_episodes``).

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


def catalogue_blocks(n: int, days: int, seed: int = 0, block: int = 10_000):
    """benchmarks/scale.py's synthetic catalogue (same distributions: lognormal means, 30 % intermittent,
    negative-binomial noise, weekly season), `block` SKUs at a time: (first SKU, demand [days, k] int64)."""
    week = 1 + 0.25 * np.sin(2 * np.pi * (np.arange(days) % 7) / 7)
    for b, a in enumerate(range(0, n, block)):
        k = min(block, n - a)
        rng = np.random.default_rng([seed, b])
        mean = np.exp(rng.normal(1.0, 1.2, k))
        p_occ = np.where(rng.random(k) < 0.3, rng.uniform(0.05, 0.5, k), 1.0)
        lam = mean[None, :] / p_occ[None, :] * week[:, None]
        yield a, rng.negative_binomial(2.0, 2.0 / (2.0 + lam)) * (rng.random((days, k)) < p_occ[None, :])


def sku_names(a: int, b: int) -> np.ndarray:
    return np.array([f"SKU{i:07d}" for i in range(a, b)], dtype=object)


def write_items(folder: Path, n: int, seed: int = 0) -> Path:
    """The item table: lead times 1..7, costs, MOQ, packs."""
    import pandas as pd

    rng = np.random.default_rng([seed, 10**6])
    items = folder / f"items_{n}.csv"
    pd.DataFrame({"sku": sku_names(0, n), "lead_time": rng.integers(1, 8, n),
                  "holding_cost": np.round(rng.uniform(0.01, 0.2, n), 3),
                  "shortage_cost": np.round(rng.uniform(0.5, 5, n), 2), "order_cost": rng.choice([0, 2, 5], n),
                  "moq": rng.choice([0, 0, 5], n), "pack_size": rng.choice([1, 1, 6, 12], n)}).to_csv(items, index=False)
    return items


def write_catalogue(folder: Path, n: int, days: int, seed: int = 0, block: int = 10_000) -> tuple[Path, Path]:
    """The catalogue as a long Parquet table date,sku,demand (written a block at a time, never holding the
    whole long table) and its item table."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"catalogue_{n}.parquet"
    dates = pd.date_range("2022-01-03", periods=days, freq="D").values
    writer = None
    for a, demand in catalogue_blocks(n, days, seed, block):
        k = demand.shape[1]
        t = pa.table({"date": np.repeat(dates, k), "sku": np.tile(sku_names(a, a + k).astype(str), days),
                      "demand": demand.reshape(-1).astype(np.float64)})
        writer = writer or pq.ParquetWriter(path, t.schema)
        writer.write_table(t)
    writer.close()
    return path, write_items(folder, n, seed)


def compact_catalogue(folder: Path, n: int, days: int, seed: int = 0, block: int = 10_000):
    """The same catalogue built in memory as the loader's [SKU, period] matrix, in float32 (whole numbers:
    exact; every read of :class:`envs.demand.HistoricalDemand` is float64, so the results are those of the
    file: ``--check``): 4 bytes per SKU-period, 2.9 GB for 1,000,000 SKUs x 730 days, where loading the long
    file (730 M rows) would need ~100 GB. Returns the DemandData and the item table's path."""
    import pandas as pd

    from envs.data import DemandData

    matrix = np.empty((n, days), dtype=np.float32)
    for a, demand in catalogue_blocks(n, days, seed, block):
        matrix[a:a + demand.shape[1]] = demand.T
    dates = pd.date_range("2022-01-03", periods=days, freq="D").values.astype("datetime64[D]")
    data = DemandData(path=f"<synthetic catalogue of {n:,} SKUs in memory>", skus=sku_names(0, n), dates=dates,
                      freq="D", demand=matrix, first=np.zeros(n, dtype=np.int64),
                      last=np.full(n, days - 1, dtype=np.int64))
    return data, write_items(folder, n, seed)


def load_problem(folder: Path, n: int, periods: int, compact: bool):
    from scale import catalogue_scenario

    from envs.problem import Problem

    days = 2 * periods
    if compact:
        data, items = compact_catalogue(folder, n, days)
        return Problem("lost-sales-L2-p9", demand_data=data,
                       **catalogue_scenario(Path(data.path), items, periods, days))
    path, items = write_catalogue(folder, n, days)
    return Problem("lost-sales-L2-p9", **catalogue_scenario(path, items, periods, days))


def check_compact(n: int, periods: int) -> bool:
    """The compact in-memory catalogue evaluated in chunks gives the file's whole evaluation, bit for bit."""
    from baselines.evaluation import evaluate, make_policies

    with tempfile.TemporaryDirectory() as tmp:
        evs = [evaluate(pb, make_policies(POLICIES, pb), record=2, chunk_skus=chunk)
               for pb, chunk in ((load_problem(Path(tmp), n, periods, False), None),
                                 (load_problem(Path(tmp), n, periods, True), max(1, n // 3)))]
    return all(np.array_equal(a.totals, b.totals) and a.description == b.description and a.kpis == b.kpis
               for a, b in zip(evs[0].results, evs[1].results))


def bench_eval(args, rows: list) -> None:
    from baselines import cluster
    from baselines.evaluation import evaluate, make_policies

    days = 2 * args.periods
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        problem = load_problem(Path(tmp), args.skus, args.periods, args.compact)
        how_built = ("built in memory (float32 matrix)" if args.compact else "written and loaded")
        print(f"catalogue of {args.skus:,} SKUs x {days} days {how_built} in {time.process_time() - t0:.1f} "
              f"CPU-s; driver peak RSS {rss_mb():,.0f} MB", flush=True)
        warm = problem.subset(np.arange(min(200, problem.n_skus)))  # numba compilation / cache, not counted
        evaluate(warm, make_policies(POLICIES, warm))
        runs = {}
        plan = []
        for how in args.runs:  # in the order given
            plan += [("whole", None)] if how == "whole" else [("chunks", args.chunk_skus)] if how == "chunks" \
                else [("ray", c) for c in sorted(args.ray_chunks)]
        for how, size in plan:  # Ray chunk sizes ascending: a worker's ru_maxrss is a lifetime peak
            kw = {}
            if how == "chunks":
                kw = {"chunk_skus": size, "map_chunks": timed_serial_map}
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
            if len(runs) > 1:  # keep the first run's results only (1,000,000 SKUs: 0.3 GB of totals a run)
                first = next(iter(runs.values()))
                same = all(np.array_equal(a.totals, b.totals) and a.description == b.description
                           for a, b in zip(first.results, ev.results))
                print(f"  results bit-identical to the {next(iter(runs))[0]} run: {same}", flush=True)
                SAME.append(same)
                runs.pop((how, size))
            del ev
        print(f"results bit-identical across {' / '.join(h for h, _ in plan)}: {all(SAME)}")
        for r in next(iter(runs.values())).results:
            print(f"  {r.name}: avg cost {r.kpis['avg_cost']:.6f}, fit {r.fit_cpu_s:.1f} + run {r.eval_cpu_s:.1f} CPU-s")


SAME: list = []
TASKS: list = []
SHARDS: dict = {}


def timed_serial_map(problem, policies, tasks):
    """baselines.evaluation.serial_map_chunks, printing its progress every 10 % of the chunks (CPU-s so far,
    the driver's peak RSS): a long run stopped early still says what its chunks cost."""
    from baselines.evaluation import evaluate_chunk

    out, c0, step = [], time.process_time(), max(1, len(tasks) // 10)
    for i, t in enumerate(tasks):
        out.append(evaluate_chunk(problem, policies, t))
        if (i + 1) % step == 0:
            print(f"  serial chunks: {i + 1}/{len(tasks)} in {time.process_time() - c0:.1f} CPU-s, driver peak RSS "
                  f"{rss_mb():,.0f} MB", flush=True)
    return out


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
    ap.add_argument("--runs", type=lambda t: t.split(","), default=["whole", "chunks", "ray"],
                    help="which evaluations, in this order: whole,chunks,ray (1,000,000 SKUs: chunks,ray; whole needs the "
                         "whole catalogue's traces and fits at once)")
    ap.add_argument("--compact", action="store_true",
                    help="build the catalogue in memory as a float32 matrix instead of writing and loading the "
                         "file (what makes 1,000,000 SKUs fit; same results: --check)")
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="first check on N SKUs that the compact catalogue gives the file's results bit for bit")
    args = ap.parse_args()
    if not args.runs or set(args.runs) - {"whole", "chunks", "ray"}:
        ap.error(f"--runs {','.join(args.runs)}: expected names among whole, chunks, ray")
    if args.check:
        print(f"compact catalogue = the file's, bit for bit, on {args.check:,} SKUs: "
              f"{check_compact(args.check, args.periods)}", flush=True)
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
