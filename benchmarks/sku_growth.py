"""Where an agent's excess cost over a rule lies, by each SKU's demand growth and its train-window mean demand
(a measurement, not a test).

    python benchmarks/sku_growth.py EVAL/results.csv DATA.csv.gz --test 2001-04-01 --val 2000-04-01 \
        [--policy hdpo:RUN] [--rule ma_quantile_tuned]

EVAL/results.csv: ``invrl evaluate --model RUN --out EVAL``; DATA: the scenario's demand file (date, sku,
demand); --test / --val: the first dates of the test and validation windows. Prints the agent's and the rule's
total test cost by sextile of the growth ratio (mean demand of the last 12 periods before the test window / mean
of the whole fit window), their mean on hand, and the excess by train-window mean demand (the demand scale the
agent's observations are divided by).
"""

from __future__ import annotations

import argparse

import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("data")
    ap.add_argument("--test", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--policy", default=None, help="the agent (default: the first policy not the rule)")
    ap.add_argument("--rule", default="ma_quantile_tuned")
    args = ap.parse_args()
    r = pd.read_csv(args.results)
    agent = args.policy or next(p for p in r.policy.unique() if p != args.rule)
    d = pd.read_csv(args.data, parse_dates=["date"]).sort_values(["sku", "date"])
    test, val = pd.Timestamp(args.test), pd.Timestamp(args.val)
    fit = d[d.date < test]
    recent = fit.groupby("sku").tail(12)
    st = pd.DataFrame({"fit_mean": fit.groupby("sku").demand.mean(),
                       "recent_mean": recent.groupby("sku").demand.mean(),
                       "train_mean": d[d.date < val].groupby("sku").demand.mean()})
    st.index = st.index.astype(str)
    r["sku"] = r["sku"].astype(str)
    cost = r.pivot_table(index="sku", columns="policy", values="total_cost", aggfunc="sum")[[agent, args.rule]]
    hand = r.pivot_table(index="sku", columns="policy", values="avg_on_hand", aggfunc="mean")[[agent, args.rule]]
    t = cost.join(st, how="left")
    t["excess"] = t[agent] - t[args.rule]
    t["growth"] = t.recent_mean / t.fit_mean
    t["sextile"] = pd.qcut(t.growth.rank(method="first"), 6, labels=False)
    g = t.groupby("sextile").agg(skus=("excess", "size"), growth=("growth", "mean"), agent=(agent, "sum"),
                                 rule=(args.rule, "sum"), excess=("excess", "sum"))
    g["excess_pct"] = 100 * g.excess / g.rule
    oh = hand.join(t.sextile).groupby("sextile").mean().add_prefix("on_hand ")
    print(f"{agent} against {args.rule}, by sextile of growth (last 12 fit periods' mean / fit mean)")
    print(g.join(oh).round(3).to_string())
    bins = [-1e-12, 0.05, 0.1, 0.2, 0.5, float("inf")]
    t["train_mean_bin"] = pd.cut(t.train_mean, bins)
    b = t.groupby("train_mean_bin", observed=True).agg(skus=("excess", "size"), rule=(args.rule, "sum"),
                                                       excess=("excess", "sum"))
    b["excess_pct"] = 100 * b.excess / b.rule
    print("\nby train-window mean demand (the default demand scale; data.scale_periods changes it)")
    print(b.round(3).to_string())


if __name__ == "__main__":
    main()
