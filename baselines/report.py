"""Evaluation outputs: the terminal table, results.json / results.csv, report.md and PNG plots.

Every file is written to a temporary name and renamed into place, after all results are computed, so an
interrupted or failed run never leaves a half-written output.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from envs import kernel
from invcore.atomic import atomic_write_bytes as atomic_write

from .evaluation import KPI_KEYS, Evaluation, per_sku_kpis

PLOT_PERIODS = 120  # periods shown in the trajectory plot (from the end of the warm-up)

TABLE_COLUMNS = [("avg_cost", "cost/period", "{:.4f}"), ("avg_cost_ci95", "±95%", "{:.4f}"),
                 ("holding", "holding", "{:.3f}"), ("shortage", "shortage", "{:.3f}"),
                 ("ordering", "ordering", "{:.3f}"), ("purchase", "purchase", "{:.3f}"),
                 ("end_credit", "end credit", "{:.3f}"), ("outdating", "outdating", "{:.3f}"),
                 ("outdated", "expired/period", "{:.3f}"), ("cut", "cut/period", "{:.3f}"),
                 ("fill_rate", "fill", "{:.3f}"), ("cycle_service_level", "CSL", "{:.3f}"),
                 ("avg_on_hand", "on hand", "{:.2f}"), ("turnover", "turns", "{:.3f}"),
                 ("orders", "orders", "{:.3f}"), ("bullwhip", "bullwhip", "{:.2f}"),
                 ("gap_to_best_pct", "gap best % ±95% paired", "{:+.2f}"),
                 ("gap_to_optimal_pct", "gap opt % ±95%", "{:+.2f}")]
_CI_OF = {"gap_to_best_pct": "gap_to_best_ci95", "gap_to_optimal_pct": "gap_to_optimal_ci95"}
"""Columns shown with the half-width of their interval."""


def _fmt(v, f) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f.format(v)


def _fmt_ci(kpis: dict, key: str, f: str) -> str:
    text = _fmt(kpis.get(key), f)
    half = kpis.get(_CI_OF.get(key, ""))
    return text if half is None or text == "-" else f"{text} ±{half:.2f}"


def table(ev: Evaluation) -> str:
    """The terminal / markdown table, sorted by cost; bounds that see the future are marked with *."""
    cols = [c for c in TABLE_COLUMNS if (c[0] != "end_credit" or _has_unit_cost(ev))
            and (c[0] not in ("outdating", "outdated") or ev.problem.n_age)
            and (c[0] != "cut" or np.isfinite(ev.problem.shared).any())]
    rows = [["policy"] + [c[1] for c in cols]]
    for r in ev.ranked():
        name = r.name + (" *" if r.uses_future else "")
        rows.append([name] + [_fmt_ci(r.kpis, k, f) for k, _, f in cols])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def header(ev: Evaluation) -> str:
    sc = ev.problem.scenario
    lead = _param_text(ev, kernel.LEAD)
    if sc.lead_time_dist is not None:
        lead = f"random, P(0..{len(sc.lead_time_dist) - 1}) = {sc.lead_time_dist}, crossing {str(sc.crossing).lower()}"
    elif ev.problem.lead_dist is not None:
        lead = f"random per SKU (item table), longest {lead}, crossing {str(sc.crossing).lower()}"
    if np.isfinite(ev.problem.shared).any():
        cap, bud = ev.problem.shared
        lead += (f"; shared per warehouse: capacity {cap:g}, budget {bud:g} per period (orders beyond them cut "
                 "proportionally)")
    if ev.problem.n_age:
        lead += (f", shelf life {_param_text(ev, kernel.SHELF)} ({sc.issuing.upper()}, outdating cost "
                 f"{_param_text(ev, kernel.OUTDATE)})")
    out = [f"scenario: {sc.name} ({sc.mode}, lead time {lead}, h={_param_text(ev, kernel.HOLD)}, "
           f"{'p' if sc.mode == 'lost_sales' else 'b'}={_param_text(ev, kernel.SHORT)}, "
           f"K={_param_text(ev, kernel.ORDER_COST)}, c={_param_text(ev, kernel.UNIT_COST)})",
           f"traces: {ev.episodes.label}" + (f"; first {ev.warmup} periods of each discarded as warm-up"
                                             if ev.warmup else "")]
    if ev.problem.source.replays_windows:
        out.append(f"classical rules fitted and tuned on the {_FIT_TEXT.get(ev.fit_window, ev.fit_window)}, "
                   "never on the window scored")
    if _has_unit_cost(ev):
        out.append(f"cost = holding + shortage + ordering + purchase - end credit: {_END_CREDIT_TEXT}")
    if ev.optimal_avg_cost is not None:
        out.append(f"exact optimum (relative value iteration): {ev.optimal_avg_cost:.4f} per period")
    return "\n".join(out)


_FIT_TEXT = {"fit": "train + validation windows", "train": "train window"}
_END_CREDIT_TEXT = ("the stock on hand and on order at the end of each window is credited at unit cost "
                    "(unit cost x final inventory position), so ending with less stock is not cheaper")


def _has_unit_cost(ev: Evaluation) -> bool:
    return bool((ev.problem.params[ev.episodes.sku, kernel.UNIT_COST] != 0).any())


def _param_text(ev: Evaluation, col: int) -> str:
    v = ev.problem.params[ev.episodes.sku, col]
    return f"{v[0]:g}" if v.min() == v.max() else f"{v.min():.3g}..{v.max():.3g} per SKU (median {np.median(v):.3g})"


def results_json(ev: Evaluation) -> dict:
    return {
        "scenario": ev.problem.scenario.name,
        "periods": int(ev.periods - ev.warmup),
        "episodes": int(ev.episodes.n),
        "optimal_avg_cost": ev.optimal_avg_cost,
        "fit_window": ev.fit_window if ev.problem.source.replays_windows else None,
        "end_credit": _END_CREDIT_TEXT + "; avg_cost is net of it" if _has_unit_cost(ev) else None,
        "policies": {r.name: {k: _clean(r.kpis.get(k)) for k in KPI_KEYS} for r in ev.ranked()},
    }


def _clean(v):
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def groups(ev: Evaluation) -> dict[str, np.ndarray] | None:
    """Data scenarios: ABC class (share of demand value; unit cost x units where unit costs are given, units
    otherwise: A = top 80 %, B = next 15 %, C = last 5 %) and Syntetos-Boylan-Croston demand pattern per
    evaluated SKU."""
    src = ev.problem.source
    if not src.replays_windows:
        return None
    from envs import data as data_mod

    skus = ev.episodes.sku
    demand = np.nan_to_num(src.data.demand[skus], nan=0.0).sum(axis=1)
    cost = ev.problem.params[skus, kernel.UNIT_COST]
    value = demand * cost if (cost > 0).any() else demand
    order = np.argsort(-value)
    share = np.cumsum(value[order]) / max(value.sum(), 1e-12)
    abc = np.empty(skus.size, dtype=object)
    abc[order] = np.where(share <= 0.8 + 1e-12, "A", np.where(share <= 0.95 + 1e-12, "B", "C"))
    abc[order[0]] = "A"
    names = np.array(["smooth", "erratic", "intermittent", "lumpy", "<2 nonzero"], dtype=object)
    pattern = names[data_mod.sbc_classes(src.data)[skus]]
    return {"ABC class": abc, "demand pattern": pattern}


def group_table(ev: Evaluation, labels: np.ndarray) -> str:
    keys = sorted(set(labels.tolist()))
    head = "| policy | " + " | ".join(f"{k} ({int((labels == k).sum())} SKUs)" for k in keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 1)]
    for r in ev.ranked():
        per = r.totals[:, kernel.I_COST] / np.maximum(r.totals[:, -1], 1)
        cells = [f"{per[labels == k].mean():.4f}" for k in keys]
        lines.append(f"| {r.name}{' *' if r.uses_future else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_md(ev: Evaluation, command: str | None, plots: list[str]) -> str:
    out = ["# Evaluation report", ""]
    if command:
        out += ["Reproduce with:", "", "```", command, "```", ""]
    out += [header(ev).replace("\n", "  \n"), "", "## Policies (sorted by cost per period)", "", table(ev), "",
            "`*` sees the test window (a bound, not a competitor); gaps are to the best policy that does not, "
            "with the half-width of their paired 95 % interval on the common traces (episodes, or SKUs for "
            "data); the gap to the optimum is to the exact optimum, with the 95 % interval of the simulated "
            "cost.", "",
            "## Fitted parameters", ""]
    out += [f"- {r.description} (fit {r.fit_cpu_s:.2f} CPU-s, simulation {r.eval_cpu_s:.2f} CPU-s)"
            for r in ev.ranked()]
    g = groups(ev)
    if g:
        for title, labels in g.items():
            out += ["", f"## Cost per period by {title}", "", group_table(ev, labels)]
    out += ["", "## KPI definitions", "",
            "cost/period and its parts are per period, averaged over episodes (SKUs); fill = units served / "
            "demanded; CSL = share of periods without stockout; turns = units sold per period / average on "
            "hand; orders = orders placed per period; bullwhip = var(orders) / var(demand)."]
    if plots:
        out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"


def results_csv(ev: Evaluation) -> str:
    buf = io.StringIO()
    fields = ["policy", "sku", "episode"] + [k for k in KPI_KEYS if k not in
                                            ("avg_cost_ci95", "gap_to_best_pct", "gap_to_best_ci95",
                                             "gap_to_optimal_pct", "gap_to_optimal_ci95")] + \
        ["periods", "total_cost"]
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in ev.ranked():
        for row in per_sku_kpis(ev, r):
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def plot_files(ev: Evaluation) -> dict[str, bytes]:
    """PNG bytes: the recorded episode's inventory, orders and demand per policy; cost breakdown bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    ranked = [r for r in ev.ranked() if r.trajectory is not None]
    if ranked:
        n = len(ranked)
        fig, axes = plt.subplots(n, 1, figsize=(10, 2.2 * n), sharex=True, squeeze=False)
        sku = ev.problem.sku_name(int(ev.episodes.sku[ranked[0].trajectory.episodes[0]]))
        for ax, r in zip(axes[:, 0], ranked):
            tr = r.trajectory
            span = slice(ev.warmup, ev.warmup + PLOT_PERIODS)
            t = np.arange(tr.on_hand.shape[0])[span]
            ax.step(t, tr.on_hand[span, 0], where="mid", label="net inventory (end)", lw=1.2)
            ax.bar(t, tr.order[span, 0], color="tab:green", alpha=0.5, label="order")
            ax.plot(t, tr.demand[span, 0], color="tab:red", lw=0.8, alpha=0.8, marker=".", ms=3, label="demand")
            ax.set_title(f"{r.name}: cost/period {r.kpis['avg_cost']:.3f}", fontsize=9)
            ax.axhline(0, color="k", lw=0.5)
        axes[0, 0].legend(fontsize=7, loc="upper right")
        axes[-1, 0].set_xlabel(f"period (episode 0, SKU {sku})")
        fig.tight_layout()
        out["trajectories.png"] = _png(fig, plt)
    fig, ax = plt.subplots(figsize=(10, 0.4 * len(ev.results) + 1.5))
    names = [r.name for r in ev.ranked()][::-1]
    left = np.zeros(len(names))
    for key, color in (("holding", "tab:blue"), ("shortage", "tab:red"), ("ordering", "tab:orange"),
                       ("purchase", "tab:gray"), ("outdating", "tab:brown")):
        vals = np.array([r.kpis[key] for r in ev.ranked()][::-1])
        ax.barh(names, vals, left=left, color=color, label=key)
        left += vals
    ax.set_xlabel("cost per period")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out["cost_breakdown.png"] = _png(fig, plt)
    return out


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_outputs(ev: Evaluation, out_dir: str | Path, command: str | None = None) -> list[Path]:
    """Write results.json, results.csv, report.md and the plots into out_dir (created), atomically."""
    out_dir = Path(out_dir)
    plots = plot_files(ev)
    files: dict[str, bytes] = {
        "results.json": (json.dumps(results_json(ev), indent=2) + "\n").encode(),
        "results.csv": results_csv(ev).encode(),
        "report.md": report_md(ev, command, sorted(plots)).encode(),
        **plots,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        atomic_write(out_dir / name, data)
        written.append(out_dir / name)
    return written


