"""Scale benchmark: the single env, the vectorised env and every baseline on a 10,000-SKU catalogue, in CPU-seconds.

    python benchmarks/scale.py [--skus 10000] [--periods 365] [--sizes 256,1024,4096,16384,100000]
                               [--skip-baselines | --baselines-only | --learned-only]

All figures are measured with time.process_time in one run (CPU time: wall-clock on a shared machine swings),
so the ratio of the vectorised to the single env is printed from the same run.

1. ``Inventory-v0`` (unwrapped, lost-sales-L2-p9, 500-period episodes, random actions, resets included):
   steps per CPU-second.
2. The vectorised env (``envs.vector.InventoryVecEnv``, the SB3 ``VecEnv`` PPO uses; lost-sales-L2-p9, L = 2)
   at several N: SKU-steps per CPU-second with random actions, episode resets (drawing 500 periods of Poisson
   demand for every slot, by inversion: ``envs.vector.InverseCDFDemand``) included; also the same without the
   episode draws, the same with numpy's Poisson sampler (``sampler="per_episode"``), the gymnasium
   ``VectorInventoryEnv`` front end, and the replay of the 10,000-SKU data set.
3. Every baseline of ``baselines.evaluation`` but the learned forecasters (section 4) on a synthetic catalogue of
   ``--skus`` SKUs (daily demand, two years: the last ``--periods`` days are the test window replayed by
   ``evaluate``), fit and run CPU-seconds per policy, all timed on the full catalogue in one ``evaluate`` call.
   ``holt_winters`` and ``arima`` (+ ``_tuned``) fit a model for every smooth/erratic SKU (batched numba fits,
   ``baselines.forecast_models``); the number of SKUs with a model is printed after their rows.
   ``--baselines-only`` runs this section alone (``--policies a,b`` a few of them, ``--max-fits N`` with the
   models of the N largest SKUs only); the table ends with each policy's test cost per SKU-period.
4. The learned forecasters (``lgbm_quantile``, ``gru_quantile`` and their tuned variants, :mod:`baselines.learned`)
   on the same catalogue, each in a fresh process: fit and run CPU-s, the process's resident memory with the
   catalogue loaded and its peak during the fit and the evaluation (VmHWM, reset after loading; Linux).
   ``--learned-only`` runs this section alone.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from env_speed import time_env  # noqa: E402

from envs import InventoryEnv  # noqa: E402
from envs.vector import InventoryVecEnv, VectorInventoryEnv  # noqa: E402

MODEL_FORECASTERS = ("holt_winters", "holt_winters_tuned", "arima", "arima_tuned")
"""The forecasters with a fitted model per SKU (their CPU-s are also summed apart)."""


def time_vec(venv, steps: int, seed: int = 0, gym_api: bool = False) -> tuple[float, float]:
    """SKU-steps per CPU-second over `steps` steps (resets included) and the CPU-s spent drawing new episodes."""
    n = venv.num_envs
    core = venv if gym_api else venv.venv
    acts = np.random.default_rng(seed).integers(core.single_action_space.n, size=(16, n))
    if gym_api:
        venv.reset(seed=seed)
    else:
        venv.seed(seed)
        venv.reset()
    spent = [0.0]
    start = core._start

    def timed_start(*args):
        t0 = time.process_time()
        start(*args)
        spent[0] += time.process_time() - t0

    core._start = timed_start
    t0 = time.process_time()
    for k in range(steps):
        venv.step(acts[k % 16])
    total = time.process_time() - t0
    core._start = start
    return n * steps / total, spent[0] / total


def synthetic_demand(n: int, days: int, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    """Daily demand [days, n] of n SKUs (smooth, erratic and intermittent SKUs, weekly season), and the
    generator, positioned for the item table of :func:`synthetic_catalogue`."""
    rng = np.random.default_rng(seed)
    mean = np.exp(rng.normal(1.0, 1.2, n))  # median ~2.7 units/day, a long tail
    p_occ = np.where(rng.random(n) < 0.3, rng.uniform(0.05, 0.5, n), 1.0)  # 30 % intermittent
    week = 1 + 0.25 * np.sin(2 * np.pi * (np.arange(days) % 7) / 7)
    lam = mean[None, :] / p_occ[None, :] * week[:, None]
    r = 2.0
    demand = rng.negative_binomial(r, r / (r + lam)) * (rng.random((days, n)) < p_occ[None, :])
    return demand, rng


def synthetic_catalogue(folder: Path, n: int, days: int, seed: int = 0) -> tuple[Path, Path]:
    """:func:`synthetic_demand` as Parquet, and an item table with per-SKU lead times (1..7 days) and costs."""
    import pandas as pd

    demand, rng = synthetic_demand(n, days, seed)
    dates = pd.date_range("2022-01-03", periods=days, freq="D")
    skus = np.array([f"SKU{i:05d}" for i in range(n)])
    long = pd.DataFrame({"date": np.repeat(dates.values, n), "sku": np.tile(skus, days),
                         "demand": demand.reshape(-1).astype(np.float64)})
    path = folder / f"catalogue_{n}.parquet"
    long.to_parquet(path, index=False)
    items = folder / f"items_{n}.csv"
    pd.DataFrame({"sku": skus, "lead_time": rng.integers(1, 8, n), "holding_cost": np.round(rng.uniform(0.01, 0.2, n), 3),
                  "shortage_cost": np.round(rng.uniform(0.5, 5, n), 2), "order_cost": rng.choice([0, 2, 5], n),
                  "moq": rng.choice([0, 0, 5], n), "pack_size": rng.choice([1, 1, 6, 12], n)}).to_csv(items, index=False)
    return path, items


def catalogue_scenario(path: Path, items: Path, periods: int, days: int) -> dict:
    test = periods / days
    return {"data": {"path": str(path), "items": str(items), "train": 1 - test, "test": test}}


def bench_baselines(folder: Path, n: int, periods: int, rows: list, names: str = "all",
                    max_fits: int | None = None) -> float:
    from baselines.base import train_data
    from baselines.evaluation import applicable, evaluate, known_policies, make_policies
    from envs.problem import Problem

    days = 2 * periods
    t0 = time.process_time()
    path, items = synthetic_catalogue(folder, n, days)
    t1 = time.process_time()
    problem = Problem("lost-sales-L2-p9", **catalogue_scenario(path, items, periods, days))
    t2 = time.process_time()
    train = train_data(problem)
    t3 = time.process_time()
    print(f"catalogue: {n:,} SKUs x {days} days written in {t1 - t0:.1f} CPU-s, loaded (Problem) in "
          f"{t2 - t1:.1f} CPU-s, training data in {t3 - t2:.1f} CPU-s", flush=True)
    # warm-up: every policy once on a small catalogue, so that numba's compilation (done once after an install
    # or a source change, then cached on disk) is not counted as fitting
    path_w, items_w = synthetic_catalogue(folder, 40, days, seed=1)
    small = Problem("lost-sales-L2-p9", **catalogue_scenario(path_w, items_w, periods, days))
    t0 = time.process_time()
    evaluate(small, make_policies([m for m in known_policies() if m not in LEARNED and applicable(small, m)], small),
             record=0)
    print(f"warm-up (all policies on 40 SKUs: numba compilation or loading its cache): "
          f"{time.process_time() - t0:.1f} CPU-s", flush=True)
    pols = [p for p in make_policies(names, problem) if p.name not in LEARNED]  # section 4 times them
    for p in pols:
        if max_fits is not None and hasattr(p, "max_fits"):
            p.max_fits = max_fits
    t0 = time.process_time()
    ev = evaluate(problem, pols, record=0, train=train)
    total = time.process_time() - t0
    fitrun = 0.0
    for r in ev.results:
        rows.append((r.name, r.fit_cpu_s, r.eval_cpu_s, r.kpis["avg_cost"]))
        fitrun += r.fit_cpu_s + r.eval_cpu_s
        print(f"  {r.name:<28} fit {r.fit_cpu_s:8.2f}  run {r.eval_cpu_s:7.2f} CPU-s", flush=True)
    print(f"  (evaluate() overhead besides fit + run: {total - fitrun:.2f} CPU-s: episodes, KPIs)")
    from baselines.forecast import ADI_CUT

    nobs = np.array([len(d) for d in train.demand])
    hits = np.array([(np.asarray(d) > 0).sum() for d in train.demand])
    eligible = int(np.count_nonzero((hits > 0) & (nobs >= 24) & (nobs < ADI_CUT * np.maximum(hits, 1))))
    for p in pols:
        if p.name in MODEL_FORECASTERS:
            print(f"  {p.name}: a model for {p.n_models:,} of the {eligible:,} smooth/erratic SKUs "
                  f"(ADI < {ADI_CUT}, >= 24 training periods); SES for the rest")
    return total


LEARNED = ("lgbm_quantile", "lgbm_quantile_tuned", "gru_quantile", "gru_quantile_tuned")


def _vm(key: str) -> int:
    """A VmXXX line of /proc/self/status in bytes (0 where unknown)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _learned_child(path: str, items: str, periods: int, days: int, name: str) -> tuple:
    """One learned rule fitted and evaluated in this (fresh) process: fit and run CPU-s, cost, RSS with the
    catalogue loaded, peak RSS during the fit and evaluation."""
    import torch

    torch.set_num_threads(1)
    from baselines.evaluation import evaluate, make_policies
    from envs.problem import Problem

    problem = Problem("lost-sales-L2-p9", **catalogue_scenario(Path(path), Path(items), periods, days))
    pols = make_policies([name], problem)
    import lightgbm  # noqa: F401  (loaded before the baseline RSS, like torch)

    before = _vm("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    ev = evaluate(problem, pols, record=0)
    r = ev.results[0]
    return r.fit_cpu_s, r.eval_cpu_s, r.kpis["avg_cost"], before, _vm("VmHWM"), pols[0].describe()


def bench_learned(folder: Path, n: int, periods: int) -> None:
    import multiprocessing as mp

    days = 2 * periods
    path, items = folder / f"catalogue_{n}.parquet", folder / f"items_{n}.csv"
    if not path.exists():
        path, items = synthetic_catalogue(folder, n, days)
    print(f"\nlearned forecasters on {n:,} SKUs x {periods} test periods ({days} days; fitted on the first "
          f"{days - periods}), each in a fresh process:")
    print(f"{'policy':<22} {'fit CPU-s':>10} {'run CPU-s':>10} {'cost':>9} {'RSS loaded':>11} {'peak RSS':>9}")
    ctx = mp.get_context("spawn")
    for name in LEARNED:
        with ctx.Pool(1) as pool:
            fit, run, cost, before, peak, text = pool.apply(_learned_child, (str(path), str(items), periods, days,
                                                                             name))
        print(f"{name:<22} {fit:>10.1f} {run:>10.1f} {cost:>9.4f} {before / 2**20:>8.0f} MiB {peak / 2**20:>5.0f} MiB"
              , flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--periods", type=int, default=365)
    ap.add_argument("--sizes", default="256,1024,4096,16384,100000")
    ap.add_argument("--single-steps", type=int, default=300_000)
    ap.add_argument("--sku-steps", type=float, default=2e7, help="SKU-steps per vectorised measurement (>= 1000 steps)")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--baselines-only", action="store_true", help="only the classical baselines' section (3.)")
    ap.add_argument("--policies", default="all", help="with --baselines-only: the policies timed (default all)")
    ap.add_argument("--max-fits", type=int, help="with --baselines-only: fit holt_winters / arima for the N largest "
                                                   "smooth/erratic SKUs only (default every one)")
    ap.add_argument("--learned-only", action="store_true", help="only the learned forecasters' section (4.)")
    args = ap.parse_args()
    if args.learned_only:
        with tempfile.TemporaryDirectory() as tmp:
            bench_learned(Path(tmp), args.skus, args.periods)
        return
    rows: list = []
    if args.baselines_only:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"baselines on {args.skus:,} SKUs x {args.periods} periods (baselines.evaluation.evaluate, "
                  "test window of a synthetic daily catalogue):", flush=True)
            overhead = bench_baselines(Path(tmp), args.skus, args.periods, rows, args.policies, args.max_fits)
        summary(rows, overhead)
        return

    print(f"{'simulator':<62} {'N':>7} {'SKU-steps/CPU-s':>16} {'vs single':>9} {'in resets':>9}")
    single, _ = time_env(InventoryEnv("lost-sales-L2-p9"), args.single_steps)
    print(f"{'Inventory-v0 (single env), lost-sales-L2-p9':<62} {1:>7} {single:>16,.0f} {1:>9.1f} {'':>9}", flush=True)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    for n in sizes:
        steps = max(1000, int(args.sku_steps / n))
        rate, share = time_vec(InventoryVecEnv("lost-sales-L2-p9", n), steps)
        print(f"{'InventoryVecEnv (SB3 VecEnv), lost-sales-L2-p9, ' + str(steps) + ' steps':<62} {n:>7} "
              f"{rate:>16,.0f} {rate / single:>9.1f} {share:>9.0%}", flush=True)
        if n == 4096:
            no_draw = rate / (1 - share)
            print(f"{'  the same, episode draws left out':<62} {n:>7} {no_draw:>16,.0f} "
                  f"{no_draw / single:>9.1f} {'':>9}", flush=True)
            venv = InventoryVecEnv("lost-sales-L2-p9", n)
            venv.venv.sampler = "per_episode"  # numpy's Poisson sampler, as before the inversion sampler
            r_np, s_np = time_vec(venv, steps)
            print(f"{'  the same with numpy Poisson draws (sampler=per_episode)':<62} {n:>7} {r_np:>16,.0f} "
                  f"{r_np / single:>9.1f} {s_np:>9.0%}", flush=True)
            rate, share = time_vec(VectorInventoryEnv(n, "lost-sales-L2-p9"), steps, gym_api=True)
            print(f"{'VectorInventoryEnv (gymnasium VectorEnv), same':<62} {n:>7} {rate:>16,.0f} "
                  f"{rate / single:>9.1f} {share:>9.0%}", flush=True)
    if args.skip_baselines:
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"\nbaselines on {args.skus:,} SKUs x {args.periods} periods (baselines.evaluation.evaluate, "
              "test window of a synthetic daily catalogue):", flush=True)
        overhead = bench_baselines(folder, args.skus, args.periods, rows)
        # the vectorised env replaying the same catalogue (data scenario: no demand sampling)
        path = folder / f"catalogue_{args.skus}.parquet"
        days = 2 * args.periods
        kw = catalogue_scenario(path, folder / f"items_{args.skus}.csv", args.periods, days)
        kw["data"]["window"] = "test"
        venv = InventoryVecEnv("lost-sales-L2-p9", None, action={"relative": True, "step": 0.5}, **kw)
        rate, share = time_vec(venv, args.periods * 3)
        print(f"\nInventoryVecEnv replaying the test window of all {venv.num_envs:,} SKUs (lead times 1..7, item "
              f"table): {rate:,.0f} SKU-steps/CPU-s ({share:.0%} in episode resets)")
        bench_learned(folder, args.skus, args.periods)
    summary(rows, overhead)


def summary(rows: list, overhead: float) -> None:
    """The per-policy table of section 3 and its totals."""
    print(f"\n{'policy':<28} {'fit CPU-s':>10} {'run CPU-s':>10} {'total':>8} {'cost':>9}")
    for name, fit, run, cost in rows:
        print(f"{name:<28} {fit:>10.2f} {run:>10.2f} {fit + run:>8.2f} {cost:>9.4f}")
    models = sum(f + r for name, f, r, _ in rows if name in MODEL_FORECASTERS)
    grand = sum(f + r for _, f, r, _ in rows)
    print(f"{'all policies but ' + '/'.join(MODEL_FORECASTERS[::2]):<28} {'':>10} {'':>10} {grand - models:>8.2f}")
    print(f"{'holt_winters / arima (+ tuned)':<28} {'':>10} {'':>10} {models:>8.2f}")
    print(f"{f'all {len(rows)} policies':<28} {'':>10} {'':>10} {grand:>8.2f}")
    print(f"(one evaluate() call for all policies: {overhead:.2f} CPU-s in all)")


if __name__ == "__main__":
    main()
