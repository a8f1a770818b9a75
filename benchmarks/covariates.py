"""What the known covariates (price, SNAP, events) carry on m5_tiny: the LightGBM forecaster fitted with them.

    OPENBLAS_NUM_THREADS=1 python benchmarks/covariates.py [--config configs/m5_tiny.yaml]

Fits ``lgbm_quantile`` on the fit window (train + val, as ``evaluate.py`` fits it for the test window) with
``data.covariates = {price: level, snap: flag, event: flag}`` and prints the fit CPU-s (time.process_time), each
feature's share of the model's total split gain, and on the training rows: the share with a planned price
(``price_ratio``) more than 2 % off its recent mean and 5 % or more below it, the mean target (demand over
L + 1 in units of the SKU's mean) there and elsewhere, and the same for SNAP and event days ahead. The test
window's costs with and without the covariates: ``invrl evaluate`` (README, "Prices, SNAP days and events").
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
    ap.add_argument("--config", default=str(ROOT / "configs" / "m5_tiny.yaml"))
    args = ap.parse_args()
    import numpy as np

    from baselines.base import fit_window, train_data
    from baselines.learned import LGBMForecast
    from envs.problem import Problem

    pb = Problem(args.config, **{"data.covariates": {"price": "level", "snap": "flag", "event": "flag"}})
    t0 = time.process_time()
    pol = LGBMForecast().fit(pb, train_data(pb, window=fit_window(pb, "test")))
    print(f"fit with covariates: {time.process_time() - t0:.1f} CPU-s ({pol.n_rows:,} rows)")
    gain = pol.model.feature_importance("gain")
    for name, g in sorted(zip(pol.model.feature_name(), gain, strict=True), key=lambda x: -x[1]):
        print(f"  {name:<12} {100 * g / gain.sum():6.2f} % of the split gain")
    X, y, _ = pol._training_rows()
    names = pol._spec()[0].names
    r = X[:, names.index("price_ratio")]
    off, disc = np.abs(r - 1) > 0.02, r <= 0.95
    print(f"price_ratio more than 2 % off 1: {100 * off.mean():.2f} % of the rows; <= 0.95: {100 * disc.mean():.2f} % "
          f"(mean target there {y[disc].mean():.3f}, elsewhere {y[~disc].mean():.3f})")
    for c in ("snap_ahead", "event_ahead"):
        v = X[:, names.index(c)]
        print(f"{c} > 0: {100 * (v > 0).mean():.1f} % of the rows (mean target {y[v > 0].mean():.3f}, at 0 "
              f"{y[v == 0].mean():.3f})")


if __name__ == "__main__":
    main()
