"""How many model fits the Holt-Winters and ARIMA baselines need: cost and CPU-s against ``max_fits``.

    OPENBLAS_NUM_THREADS=1 python benchmarks/model_fits.py [configs/m5_tiny.yaml ...] [--max-fits 200,50,25,0]

``holt_winters`` / ``arima`` (and ``_tuned``) fit a model (batched numba fits) for the ``max_fits`` largest
smooth or erratic SKUs (by default every one) and forecast the others with SES (``baselines.forecast._ModelPolicy``). For each scenario and each
``max_fits`` this prints the test-window cost per SKU-period (``baselines.evaluation.evaluate``), the number of
SKUs with a fitted model and the fit CPU-seconds. The fits are cached within the process (a tuned and an
untuned policy share them), so the untuned row's fit time is the one that pays for the model fits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.base import train_data  # noqa: E402
from baselines.evaluation import evaluate  # noqa: E402
from baselines.forecast import ARIMA, HoltWinters  # noqa: E402
from envs.problem import Problem  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scenarios", nargs="*", default=[str(ROOT / "configs" / "m5_tiny.yaml")])
    ap.add_argument("--max-fits", default="200,50,25,0")
    args = ap.parse_args()
    caps = [int(v) for v in args.max_fits.split(",")]
    print(f"{'scenario':<14} {'policy':<20} {'max_fits':>8} {'fitted':>6} {'avg cost':>9} {'fit CPU-s':>9}")
    for path in args.scenarios:
        pb = Problem(path)
        train = train_data(pb)
        for cap in caps:
            pols = [HoltWinters(max_fits=cap), HoltWinters(tuned=True, max_fits=cap), ARIMA(max_fits=cap),
                    ARIMA(tuned=True, max_fits=cap)]
            ev = evaluate(pb, pols, record=0, train=train)
            for pol, r in zip(pols, ev.results, strict=True):
                print(f"{pb.scenario.name:<14} {r.name:<20} {cap:>8} {pol.n_models:>6} {r.kpis['avg_cost']:>9.4f} "
                      f"{r.fit_cpu_s:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
