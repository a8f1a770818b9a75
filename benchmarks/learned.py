"""The learned forecasters' two ways to a quantile of D(L+1), on the shared real data sets, in one table.

    python benchmarks/learned.py [--configs carparts,m5_tiny,man_weekly] [--policies ...]

For each scenario of ``configs/`` whose data file is present: the test-window cost per SKU-period (fitted on
train + val, as ``evaluate.py`` fits them) and the fit CPU-s (time.process_time) of

* ``lgbm_quantile``: LightGBM's mean of D(L+1) (L2 loss) plus the empirical quantile of its own (L+1)-period
  errors at the critical ratio (the registry's rule, :mod:`baselines.learned`);
* ``lgbm_quantile_objective``: LightGBM's quantile loss at the (median) critical ratio, the prediction itself
  the order-up-to level;

and any registry rules named with ``--policies`` beside them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="carparts,m5_tiny,man_weekly")
    ap.add_argument("--policies", default="", help="registry rules to add beside the two (comma-separated)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from baselines.evaluation import evaluate, make_policies
    from baselines.learned import LGBMForecast
    from envs.problem import Problem

    print(f"{'data':<12} {'policy':<26} {'cost/period':>12} {'fit CPU-s':>10}")
    for name in [c for c in args.configs.split(",") if c]:
        path = ROOT / "configs" / f"{name}.yaml"
        try:
            pb = Problem(str(path))
        except (OSError, ValueError) as e:
            print(f"{name:<12} skipped: {e}")
            continue
        pols = [LGBMForecast(), LGBMForecast(objective="quantile")]
        if args.policies:
            pols += make_policies(args.policies, pb)
        ev = evaluate(pb, pols, record=0)
        for r in ev.results:
            print(f"{name:<12} {r.name:<26} {r.kpis['avg_cost']:>12.4f} {r.fit_cpu_s:>10.1f}", flush=True)


if __name__ == "__main__":
    main()
