"""Fit cost of the forecast models: statsmodels per series (what ``holt_winters`` and ``arima`` fitted before their
batched fits, and the reference of their tests), Nixtla's statsforecast per series, and the project's batched
Holt-Winters and ARIMA fits of all series at once, with what fitting every eligible SKU of the 10,000-SKU scale
catalogue costs, in CPU-seconds.

    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_libraries.py [--skus 10000] [--periods 365] [--sample 40]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--periods", type=int, default=365)
    ap.add_argument("--sample", type=int, default=40)
    args = ap.parse_args()
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
