"""Fit cost of the forecast models: statsmodels per series (what ``holt_winters`` and ``arima`` fitted before their
batched fits, and the reference of their tests), Nixtla's statsforecast per series, and the project's batched
Holt-Winters and ARIMA fits of all series at once, with what fitting every eligible SKU of the 10,000-SKU scale
catalogue costs, in CPU-seconds.

    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_libraries.py [--skus 10000] [--periods 365] [--sample 40]
    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_libraries.py --accuracy [--sample 40] [configs/m5_tiny.yaml ...]

The series are the training windows of the synthetic catalogue of ``benchmarks/scale.py`` (the same draws):
the first ``--periods`` days of each SKU, the last ``model_periods`` = 300 of them fitted, as
``baselines.forecast._ModelPolicy`` fits them. ``--sample`` SKUs of each class are timed (time.process_time,
one BLAS thread): smooth / erratic SKUs (ADI < 1.32, the ones Holt-Winters and ARIMA would fit) for the
Holt-Winters / ETS and ARIMA fits, intermittent ones (ADI >= 1.32) for statsforecast's intermittent models.
The last column extrapolates the mean to every SKU of that class in the catalogue: the CPU-s to fit them all
once (a tuned and an untuned policy share a fit). The batched rows fit every smooth SKU of the catalogue in
one call each (``baselines.forecast_models.fit_holt_winters_batch`` / ``fit_arima_batch``, compiled before
the timing) and report the measured total and its mean per series; the ARIMA row also prints how close the
batched fit is to statsmodels' on the sampled series (the order chosen, the AIC). statsforecast is optional (``pip install statsforecast``);
without it only the statsmodels rows are printed. Also prints the CPU-s of importing statsforecast.

``--accuracy``: the batched ARIMA fit against statsmodels' on real data (the first ``--sample`` smooth/erratic
SKUs of each scenario, default m5_tiny, carparts and man_weekly, the last 300 training periods as the policy
fits them): the order chosen, the AIC of each order (batched - statsmodels: below 0 where the batched fit
found the higher likelihood), |phi| and |theta| differences, and the one-step forecasts of the chosen model
through the policy's Kalman engine against statsmodels' fitted values (RMS difference / standard deviation of
the series, from the second period on), with the CPU-s of both fits.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scale import synthetic_demand  # noqa: E402

from baselines.forecast import ADI_CUT  # noqa: E402
from baselines.forecast_models import (  # noqa: E402
    ARIMA_ORDERS,
    _fit_arima,
    _fit_holt_winters,
    _one_blas_thread,
    fit_arima_batch,
    fit_holt_winters_batch,
)

MODEL_PERIODS = 300
SEASON = 7


def import_cpu_s(module: str) -> float | None:
    """CPU-s (user + sys of a fresh interpreter) of `import module`, minus that of an empty interpreter."""
    def run(code: str) -> float:
        t = subprocess.run([sys.executable, "-c", f"import os, resource; {code}; r = resource.getrusage("
                            "resource.RUSAGE_SELF); print(r.ru_utime + r.ru_stime)"],
                           capture_output=True, text=True, check=True)
        return float(t.stdout.strip().splitlines()[-1])

    try:
        return run(f"import {module}") - run("pass")
    except subprocess.CalledProcessError:
        return None


def timed(fit, series: list[np.ndarray]) -> float:
    """Mean CPU-ms per series of fit(y)."""
    with _one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.process_time()
        for y in series:
            fit(y)
        return 1000 * (time.process_time() - t0) / max(len(series), 1)


def real_series(config: str, sample: int) -> list[np.ndarray]:
    """The last MODEL_PERIODS training periods of the first `sample` smooth/erratic SKUs of a data scenario (at
    least 24 training periods, as ``baselines.forecast._ModelPolicy`` selects them)."""
    from baselines.base import train_data
    from envs.problem import Problem

    out = []
    for d in train_data(Problem(config)).demand:
        d = np.asarray(d, dtype=np.float64)
        hits = int((d > 0).sum())
        if len(d) >= 24 and hits and len(d) / hits < ADI_CUT:
            out.append(np.ascontiguousarray(d[-MODEL_PERIODS:]))
    return out[:sample]


def one_step(rec: dict, y: np.ndarray) -> np.ndarray:
    """One-step forecasts of y by the policy's Kalman engine from the record's prior."""
    from baselines.forecast_engines import _KalmanEngine

    eng = _KalmanEngine(rec["T"][None], rec["Z"][None], rec["RQR"][None], [rec["d"]], [rec["H"]], rec["a"][None],
                        rec["P"][None])
    out = np.empty(y.shape[0])
    for t, v in enumerate(y):
        out[t] = eng.forecast(1)[0, 0]
        eng.update(np.array([v]))
    return out


def accuracy(configs: list[str], sample: int) -> None:
    fit_arima_batch(np.arange(20.0).reshape(10, 2) % 3, [0, 0], [10, 10])  # numba: compile or load the cache
    for config in configs:
        ys = real_series(config, sample)
        nobs = np.array([y.shape[0] for y in ys])
        Y = np.zeros((int(nobs.max()), len(ys)))
        for j, y in enumerate(ys):
            Y[: y.shape[0], j] = y
        first = np.zeros(len(ys), dtype=np.int64)
        t0 = time.process_time()
        best = fit_arima_batch(Y, first, nobs)
        t_batch = time.process_time() - t0
        t0 = time.process_time()
        with _one_blas_thread():
            ref = [_fit_arima(y) for y in ys]
        t_sm = time.process_time() - t0
        both = [j for j in range(len(ys)) if best[j] is not None and ref[j] is not None]
        same = sum(best[j]["order"] == ref[j][0]["order"] for j in both)
        rel = [np.sqrt(np.mean((one_step(best[j], ys[j])[1:] - ref[j][1][1:]) ** 2)) / max(ys[j].std(), 1e-9)
               for j in both]
        print(f"{Path(config).stem}: {len(ys)} series of {int(nobs.min())}-{int(nobs.max())} periods; batched fit "
              f"{1000 * t_batch / len(ys):.2f} CPU-ms a series, statsmodels {1000 * t_sm / len(ys):.1f}; the same "
              f"order for {same} of {len(both)}; one-step forecasts RMS diff / sd: median {np.median(rel):.1e}, "
              f"max {np.max(rel):.1e}")
        for order in ARIMA_ORDERS:
            mine = fit_arima_batch(Y, first, nobs, (order,))
            with _one_blas_thread():
                theirs = [_fit_arima(y, (order,)) for y in ys]
            rows = []
            for j in range(len(ys)):
                if mine[j] is None or theirs[j] is None:
                    continue
                r = theirs[j][0]
                p, d, _ = order[0]
                phi = r["T"][d, d] if p else 0.0  # the AR coefficient and theta sit in the matrices
                theta = r["RQR"][d, d + 1] / r["RQR"][d, d]
                rows.append((mine[j]["aic"] - r["aic"], abs(mine[j]["phi"] - phi), abs(mine[j]["theta"] - theta)))
            a = np.array(rows)
            print(f"  {order[0]}{'+mean' if order[1] == 'c' else ''}: AIC batched - statsmodels median "
                  f"{np.median(a[:, 0]):+.1e} (min {a[:, 0].min():+.3f}, max {a[:, 0].max():+.3f}); |d phi| median "
                  f"{np.median(a[:, 1]):.1e} max {a[:, 1].max():.2g}; |d theta| median {np.median(a[:, 2]):.1e} "
                  f"max {a[:, 2].max():.2g}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--periods", type=int, default=365)
    ap.add_argument("--sample", type=int, default=40)
    ap.add_argument("--accuracy", action="store_true", help="the batched ARIMA fit against statsmodels' on real data")
    ap.add_argument("configs", nargs="*", default=[str(ROOT / "configs" / f"{c}.yaml")
                                                   for c in ("m5_tiny", "carparts", "man_weekly")])
    args = ap.parse_args()
    if args.accuracy:
        accuracy(args.configs, args.sample)
        return
    demand, _ = synthetic_demand(args.skus, 2 * args.periods)
    train = demand[: args.periods].astype(np.float64)
    adi = train.shape[0] / np.maximum((train > 0).sum(axis=0), 1)
    smooth = np.flatnonzero(adi < ADI_CUT)
    lumpy = np.flatnonzero(adi >= ADI_CUT)
    pick = {"smooth": smooth[: args.sample], "intermittent": lumpy[: args.sample]}
    count = {"smooth": smooth.size, "intermittent": lumpy.size}
    series = {k: [np.ascontiguousarray(train[-MODEL_PERIODS:, i]) for i in v] for k, v in pick.items()}
    print(f"catalogue: {args.skus:,} SKUs, training window {args.periods} days, fitted on the last {MODEL_PERIODS}; "
          f"{count['smooth']:,} smooth/erratic (ADI < {ADI_CUT}), {count['intermittent']:,} intermittent")
    rows = [
        ("statsmodels", "ExponentialSmoothing: damped/none x season 7 (holt_winters)", "smooth",
         lambda y: _fit_holt_winters(y, SEASON)),
        ("statsmodels", "ARIMA (1,0,1)c / (0,1,1) / (1,1,1), lowest AIC (arima)", "smooth", _fit_arima),
    ]
    try:
        from statsforecast.models import (
            ADIDA,
            ARIMA,
            IMAPA,
            TSB,
            AutoARIMA,
            AutoETS,
            CrostonOptimized,
            CrostonSBA,
        )
    except ImportError:
        print("statsforecast is not installed: statsmodels only (pip install statsforecast)")
    else:
        rows += [
            ("statsforecast", "AutoETS(season_length=7), model ZZZ", "smooth",
             lambda y: AutoETS(season_length=SEASON).fit(y)),
            ("statsforecast", "AutoETS(season_length=7), model AAA (damped or not)", "smooth",
             lambda y: AutoETS(season_length=SEASON, model="AAA").fit(y)),
            ("statsforecast", "AutoETS(season_length=1), model ZZN", "smooth",
             lambda y: AutoETS(season_length=1, model="ZZN").fit(y)),
            ("statsforecast", "ARIMA (1,0,1)+mean / (0,1,1) / (1,1,1), each fitted", "smooth",
             lambda y: [ARIMA(order=o, include_mean=t == "c").fit(y) for o, t in ARIMA_ORDERS]),
            ("statsforecast", "AutoARIMA(season_length=1)", "smooth", lambda y: AutoARIMA(season_length=1).fit(y)),
            ("statsforecast", "AutoARIMA(season_length=7)", "smooth",
             lambda y: AutoARIMA(season_length=SEASON).fit(y)),
            ("statsforecast", "CrostonOptimized", "intermittent", lambda y: CrostonOptimized().fit(y)),
            ("statsforecast", "CrostonSBA", "intermittent", lambda y: CrostonSBA().fit(y)),
            ("statsforecast", "TSB(alpha_d=0.1, alpha_p=0.1)", "intermittent",
             lambda y: TSB(alpha_d=0.1, alpha_p=0.1).fit(y)),
            ("statsforecast", "ADIDA", "intermittent", lambda y: ADIDA().fit(y)),
            ("statsforecast", "IMAPA", "intermittent", lambda y: IMAPA().fit(y)),
        ]
        imp = import_cpu_s("statsforecast.models")
        if imp is not None:
            print(f"import statsforecast.models: {imp:.2f} CPU-s (a fresh interpreter, less an empty one)")
        for _, _, cls, fit in rows[2:]:  # first calls outside the timing (lazy imports, caches)
            fit(series[cls][0])
    print(f"{'library':<14} {'model':<62} {'SKUs':<13} {'ms/series':>9} {'all SKUs of the class, CPU-s':>29}")
    for lib, label, cls, fit in rows:
        ms = timed(fit, series[cls])
        print(f"{lib:<14} {label:<62} {cls:<13} {ms:>9.2f} {ms * count[cls] / 1000:>29.1f}", flush=True)
    Y = np.ascontiguousarray(train[-MODEL_PERIODS:, smooth])
    first, nobs, burn = (np.full(smooth.size, v, dtype=np.int64) for v in (0, MODEL_PERIODS, 6))
    fit_holt_winters_batch(Y[:, :2], first[:2], nobs[:2], burn[:2], SEASON)  # numba: compile or load the cache
    t0 = time.process_time()
    fit_holt_winters_batch(Y, first, nobs, burn, SEASON)
    total = time.process_time() - t0
    print(f"{'invrl':<14} {'fit_holt_winters_batch, season 7 (holt_winters, all at once)':<62} {'smooth':<13} "
          f"{1000 * total / max(smooth.size, 1):>9.2f} {total:>29.1f}")
    fit_arima_batch(Y[:, :2], first[:2], nobs[:2])  # numba: compile or load the cache
    t0 = time.process_time()
    recs = fit_arima_batch(Y, first, nobs)
    total = time.process_time() - t0
    print(f"{'invrl':<14} {'fit_arima_batch, the three orders (arima, all at once)':<62} {'smooth':<13} "
          f"{1000 * total / max(smooth.size, 1):>9.2f} {total:>29.1f}")
    same, gap = 0, []
    with _one_blas_thread():
        for i, y in zip(pick["smooth"], series["smooth"], strict=True):
            ref = _fit_arima(y)
            mine = recs[int(np.searchsorted(smooth, i))]
            if ref is None or mine is None:
                continue
            same += ref[0]["order"] == mine["order"]
            gap.append(mine["aic"] - ref[0]["aic"])
    gap = np.array(gap)
    print(f"  batched ARIMA against statsmodels on the {len(pick['smooth'])} sampled series: the same order for "
          f"{same}, AIC (batched - statsmodels) median {np.median(gap):+.2g}, min {gap.min():+.3g}, max {gap.max():+.3g}")


if __name__ == "__main__":
    main()
