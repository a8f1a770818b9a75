"""Evaluation outputs: the terminal table, results.json / results.csv, report.md and PNG plots.

Every file is written to a temporary name and renamed into place, after all results are computed, so an
interrupted or failed run never leaves a half-written output.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs import kernel
from invcore.atomic import atomic_write_bytes as atomic_write

from .evaluation import KPI_KEYS, Evaluation, PolicyResult, episode_costs, paired_gap, per_sku_kpis

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
    if ev.problem.source.replays_windows and ev.window == ev.fit_window:  # --window train
        out.append(f"scored on the {ev.window} window, where the classical rules were fitted and tuned (and where an "
                   "agent trained): in sample, not a held-out score")
    elif ev.problem.source.replays_windows:
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
        "window": ev.window if ev.problem.source.replays_windows else None,
        "end_credit": _END_CREDIT_TEXT + "; avg_cost is net of it" if _has_unit_cost(ev) else None,
        "periods_per_year": periods_per_year(ev),
        "verdict": [v.as_dict() for v in verdicts(ev)],
        "policies": {r.name: {k: _clean(r.kpis.get(k)) for k in KPI_KEYS} for r in ev.ranked()},
    }


# ------------------------------------------------------------------------------------------------ verdict

@dataclass(frozen=True)
class Verdict:
    """A trained agent against the strongest classical rule of the same evaluation: its rank among the
    policies that do not see the future, and its cost gap to that rule with the paired 95 % interval over
    the common traces (:func:`baselines.evaluation.paired_gap`)."""

    agent: str
    rank: int
    of: int
    cost: float
    rule: str
    rule_cost: float
    gap_pct: float | None
    ci95: float | None
    n: int
    unit: str

    @property
    def significant(self) -> bool | None:
        """Whether the gap lies outside its interval (None without one)."""
        if self.gap_pct is None or self.ci95 is None:
            return None
        return abs(self.gap_pct) > self.ci95

    def text(self) -> str:
        head = f"verdict: {self.agent} ranks {self.rank} of {self.of} (cost {self.cost:.4f} per period)"
        if self.gap_pct is None:
            return f"{head}; the strongest classical rule, {self.rule}, costs {self.rule_cost:.4f}"
        word = "below" if self.gap_pct < 0 else "above"
        ci = "" if self.ci95 is None else f" ±{self.ci95:.2f}"
        sig = {True: "a significant difference", False: "no significant difference",
               None: "no interval with one trace"}[self.significant]
        return (f"{head}, {abs(self.gap_pct):.2f} %{ci} {word} the strongest classical rule {self.rule} "
                f"({self.rule_cost:.4f}; paired 95 % interval over {self.n} {self.unit}: {sig})")

    def as_dict(self) -> dict:
        return {"agent": self.agent, "rank": self.rank, "of": self.of, "avg_cost": self.cost,
                "strongest_rule": self.rule, "strongest_rule_cost": self.rule_cost,
                "gap_to_strongest_rule_pct": _clean(self.gap_pct), "gap_to_strongest_rule_ci95": _clean(self.ci95),
                "significant": self.significant, "text": self.text()}


def strongest_rule(ev: Evaluation) -> PolicyResult | None:
    """The cheapest classical rule that does not see the future."""
    rules = [r for r in ev.ranked() if not r.uses_future and not r.learned]
    return rules[0] if rules else None


def verdicts(ev: Evaluation) -> list[Verdict]:
    """One verdict per trained agent of the evaluation (none without agents or without a classical rule)."""
    rule = strongest_rule(ev)
    fair = [r for r in ev.ranked() if not r.uses_future]
    if rule is None:
        return []
    unit = "SKUs" if ev.problem.source.replays_windows else "episodes"
    out = []
    for r in fair:
        if r.learned:
            gap, half = paired_gap(episode_costs(r.totals), episode_costs(rule.totals))
            out.append(Verdict(r.name, fair.index(r) + 1, len(fair), r.kpis["avg_cost"], rule.name,
                               rule.kpis["avg_cost"], gap, half, int(r.totals.shape[0]), unit))
    return out


def verdict_lines(ev: Evaluation) -> list[str]:
    """The verdict of every agent; without an agent, the strongest rule and how to add one."""
    lines = [v.text() for v in verdicts(ev)]
    if not lines:
        rule = strongest_rule(ev)
        if rule is not None:
            lines.append(f"verdict: no trained agent in this evaluation (add one with --model RUN_DIR); the "
                         f"strongest classical rule is {rule.name} ({rule.kpis['avg_cost']:.4f} per period)")
    return lines


def focus(ev: Evaluation) -> list[PolicyResult]:
    """The policies the plots and the per-SKU table show: the agents and the strongest classical rule, or
    without agents the two cheapest rules that do not see the future."""
    rule = strongest_rule(ev)
    agents = [r for r in ev.ranked() if r.learned]
    if agents:
        return agents + ([rule] if rule is not None else [])
    fair = [r for r in ev.ranked() if not r.uses_future]
    return fair[:2] if fair else ev.ranked()[:1]


def period_freq(ev: Evaluation) -> str | None:
    """The calendar frequency of the evaluated periods: the data grid's (``DemandData.freq``), ``D`` for
    parametric demand with a start date (daily periods), None where the periods have no dates."""
    src = ev.problem.source
    if src.replays_windows:
        return src.data.freq
    return "D" if getattr(src, "start_date", None) is not None else None


def periods_per_year(ev: Evaluation) -> float | None:
    """Periods per year where the periods have dates (:func:`period_freq`), else None."""
    freq = period_freq(ev)
    if freq is None:
        return None
    from envs.data import periods_per_year as ppy

    return ppy(freq)


def turns_per_year(ev: Evaluation, r: PolicyResult, per_year: float | None) -> float | None:
    t = r.kpis.get("turnover")
    return None if t is None or per_year is None else t * per_year


def trajectory_dates(ev: Evaluation, column: int, periods: int) -> np.ndarray | None:
    """The dates of the first `periods` simulated periods of trace column `column`: the data's grid from the
    SKU's window start, or the start date's days (parametric); None without dates (period numbers)."""
    src = ev.problem.source
    if src.replays_windows:
        dates = src.data.dates
        idx = np.clip(ev.episodes.cal_offset[column] + np.arange(periods), 0, dates.shape[0] - 1)
        return dates[idx]
    start = getattr(src, "start_date", None)
    return None if start is None else start + np.arange(periods)


def stockouts(tr, j: int) -> np.ndarray:
    """Periods of recorded column j with unmet demand: demand not served from stock (a lost sale or a new
    backorder), or a backlog left at the end of the period."""
    short = tr.on_hand[:, j] < -1e-9
    if tr.sales is not None:
        short |= tr.sales[:, j] < tr.demand[:, j] - 1e-9
    return short


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


def group_costs(ev: Evaluation, labels: np.ndarray) -> tuple[list[str], list[int], dict[str, list[float]]]:
    """The groups of `labels` (sorted), their SKU counts and per policy (ranked) the mean cost per period of
    their SKUs."""
    keys = sorted(set(labels.tolist()))
    counts = [int((labels == k).sum()) for k in keys]
    costs = {}
    for r in ev.ranked():
        per = episode_costs(r.totals)
        costs[r.name] = [float(per[labels == k].mean()) for k in keys]
    return keys, counts, costs


def group_table(ev: Evaluation, labels: np.ndarray) -> str:
    keys, counts, costs = group_costs(ev, labels)
    head = "| policy | " + " | ".join(f"{k} ({n} SKUs)" for k, n in zip(keys, counts)) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 1)]
    for r in ev.ranked():
        cells = [f"{c:.4f}" for c in costs[r.name]]
        lines.append(f"| {r.name}{' *' if r.uses_future else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_md(ev: Evaluation, command: str | None, plots: list[str]) -> str:
    """A short summary (verdict, the cheapest policies, where the details are), then the full tables."""
    out = ["# Evaluation report", "", "## Summary", ""]
    out += [f"- {line}" for line in verdict_lines(ev)]
    fair = [r for r in ev.ranked() if not r.uses_future]
    out.append("- cheapest: " + ", ".join(f"{r.name} {r.kpis['avg_cost']:.4f}" for r in fair[:3])
               + f" per period (of {len(fair)} policies; fill rate of the first {fair[0].kpis['fill_rate']:.3f})"
               if fair else "- no policy without sight of the future")
    per_year = periods_per_year(ev)
    if per_year is not None and fair and fair[0].kpis.get("turnover") is not None:
        out.append(f"- inventory turns of {fair[0].name}: {turns_per_year(ev, fair[0], per_year):.2f} per year "
                   f"({period_freq(ev)} periods, {per_year:g} a year)")
    out += ["- charts, the per-SKU table and the trajectories: report.html (one self-contained page)", ""]
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
    out += ["", "## KPI definitions", "", KPI_TEXT]
    if plots:
        out += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"


KPI_TEXT = ("cost/period and its parts are per period, averaged over episodes (SKUs); fill = units served / "
            "demanded; CSL = share of periods without stockout; turns = units sold per period / average on "
            "hand (per period; turns per year = turns x periods per year, where the data's dates give the "
            "period length); orders = orders placed per period; bullwhip = var(orders) / var(demand).")


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


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recorded(ev: Evaluation) -> tuple[list[PolicyResult], list[int]]:
    """The focus policies with a recorded trajectory and the positions of the recorded trace columns."""
    pols = [r for r in focus(ev) if r.trajectory is not None]
    return pols, (list(range(pols[0].trajectory.episodes.shape[0])) if pols else [])


def trajectory_figure(ev: Evaluation, plt, positions: list[int]):
    """One panel per recorded trace column in `positions` and focus policy: net inventory at the end of each
    period, orders, demand and the stockout periods, against dates (data) or period numbers."""
    pols, _ = recorded(ev)
    n = len(positions) * len(pols)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.3 * n), squeeze=False)
    for i, (k, r) in enumerate((k, r) for k in positions for r in pols):
        _trajectory_panel(axes[i, 0], ev, r, k)
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=4)
    fig.tight_layout()
    return fig


def _trajectory_panel(ax, ev: Evaluation, r: PolicyResult, k: int) -> None:
    tr = r.trajectory
    col = int(tr.episodes[k])
    stop = min(ev.warmup + PLOT_PERIODS, ev.warmup + int(ev.episodes.lengths[col]))
    span = slice(ev.warmup, max(stop, ev.warmup + 1))
    dates = trajectory_dates(ev, col, tr.on_hand.shape[0])
    if dates is not None:
        x = dates[span]
        width = 0.7 * float(np.median(np.diff(x).astype(float))) if x.shape[0] > 1 else 0.7
    else:
        x, width = np.arange(tr.on_hand.shape[0])[span], 0.8
    so = stockouts(tr, k)[span]
    ax.step(x, tr.on_hand[span, k], where="mid", label="net inventory (end)", lw=1.2)
    ax.bar(x, tr.order[span, k], width=width, color="tab:green", alpha=0.5, label="order")
    ax.plot(x, tr.demand[span, k], color="tab:orange", lw=0.8, alpha=0.9, marker=".", ms=3, label="demand")
    if so.any():  # a light red band over the whole height of each period with unmet demand, and a red x at 0
        ax.bar(x[so], np.ones(int(so.sum())), width=width, bottom=0, color="tab:red", alpha=0.13,
               transform=ax.get_xaxis_transform(), label="stockout")
        ax.scatter(x[so], np.zeros(int(so.sum())), marker="x", color="tab:red", s=22, zorder=5)
    ax.axhline(0, color="k", lw=0.5)
    sku = ev.problem.sku_name(int(ev.episodes.sku[col]))
    cost = episode_costs(r.totals[col:col + 1])[0]
    where = f"SKU {sku}" if ev.problem.source.replays_windows else f"episode {col}, SKU {sku}"
    ax.set_title(f"{where} | {r.name}: cost/period {cost:.3f}, {int(so.sum())} stockout periods", fontsize=9)
    if dates is None:
        ax.set_xlabel("period", fontsize=8)
    ax.tick_params(labelsize=7)


def tradeoff_figure(ev: Evaluation, plt):
    """Cost per period against fill rate, one point per policy: agents red, the strongest rule blue, bounds
    that see the future hollow, the policies no other beats on both (cheaper and higher fill) joined by a
    dashed line. Labels: the agents, the strongest rule, the five cheapest and the bounds; every point's name,
    cost and fill rate is its tooltip in the SVG (:func:`svg`)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    rule = strongest_rule(ev)
    ranked = [r for r in ev.ranked() if r.kpis["fill_rate"] is not None]
    fair = [r for r in ranked if not r.uses_future]
    labelled = {id(r) for r in fair[:5]} | {id(r) for r in ranked if r.learned or r.uses_future or r is rule}
    front, best_fill = [], -1.0
    for r in fair:  # ranked by cost: a policy is on the front when its fill beats every cheaper one's
        if r.kpis["fill_rate"] > best_fill:
            front.append(r)
            best_fill = r.kpis["fill_rate"]
    if len(front) > 1:
        ax.plot([r.kpis["fill_rate"] for r in front], [r.kpis["avg_cost"] for r in front], ls="--", lw=0.8,
                color="tab:blue", alpha=0.6, label="no policy cheaper and with a higher fill rate")
    titles = {}
    for i, r in enumerate(ranked):
        fill, cost = r.kpis["fill_rate"], r.kpis["avg_cost"]
        if r.learned:
            style = dict(marker="*", s=170, color="tab:red", zorder=4)
        elif r is rule:
            style = dict(marker="o", s=60, color="tab:blue", zorder=3)
        elif r.uses_future:
            style = dict(marker="o", s=40, facecolors="none", edgecolors="gray")
        else:
            style = dict(marker="o", s=26, color="gray", alpha=0.7)
        pt = ax.scatter([fill], [cost], **style)
        pt.set_gid(f"policy-point-{i}")
        titles[f"policy-point-{i}"] = f"{r.name}: cost {cost:.4f} per period, fill rate {fill:.3f}"
        if id(r) in labelled:
            ax.annotate(r.name + (" *" if r.uses_future else ""), (fill, cost), xytext=(4, 3),
                        textcoords="offset points", fontsize=7, color="tab:red" if r.learned else "black")
    ax.set_xlabel("fill rate (units served / demanded)")
    ax.set_ylabel("cost per period")
    ax.grid(alpha=0.3)
    if len(front) > 1:
        ax.legend(fontsize=7, loc="upper left")
    ax.set_title("cost vs fill rate (lower right is better; * sees the test window)", fontsize=9)
    fig.tight_layout()
    fig.titles = titles
    return fig


def breakdown_figure(ev: Evaluation, plt):
    """Cost per period of every policy split into holding, shortage, ordering and purchase."""
    fig, ax = plt.subplots(figsize=(6.4, 0.22 * len(ev.results) + 1.3))
    names = [r.name for r in ev.ranked()][::-1]
    left = np.zeros(len(names))
    for key, color in (("holding", "tab:blue"), ("shortage", "tab:red"), ("ordering", "tab:orange"),
                       ("purchase", "tab:gray"), ("outdating", "tab:brown")):
        vals = np.array([r.kpis[key] for r in ev.ranked()][::-1])
        ax.barh(names, vals, left=left, color=color, label=key)
        left += vals
    for label, r in zip(ax.get_yticklabels(), ev.ranked()[::-1]):
        if r.learned:
            label.set_color("tab:red")
            label.set_fontweight("bold")
    ax.set_xlabel("cost per period")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_files(ev: Evaluation) -> dict[str, bytes]:
    """PNG bytes: the recorded SKUs' inventory, orders, demand and stockouts under the focus policies; cost
    breakdown bars; cost against fill rate."""
    plt = _pyplot()
    out = {}
    pols, positions = recorded(ev)
    if pols:
        out["trajectories.png"] = _png(trajectory_figure(ev, plt, positions), plt)
    out["cost_breakdown.png"] = _png(breakdown_figure(ev, plt), plt)
    out["tradeoff.png"] = _png(tradeoff_figure(ev, plt), plt)
    return out


def _png(fig, plt) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def svg(fig, plt) -> str:
    """The figure as an inline <svg> element (text kept as text, no XML prolog)."""
    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    for gid, title in getattr(fig, "titles", {}).items():  # tooltips: an SVG <title> in the artist's group
        text = text.replace(f'<g id="{gid}">', f'<g id="{gid}"><title>{html.escape(title)}</title>', 1)
    return text[text.index("<svg"):]


def write_outputs(ev: Evaluation, out_dir: str | Path, command: str | None = None) -> list[Path]:
    """Write results.json, results.csv, report.md, report.html and the plots into out_dir (created),
    atomically."""
    from .report_html import report_html

    out_dir = Path(out_dir)
    plots = plot_files(ev)
    files: dict[str, bytes] = {
        "results.json": (json.dumps(results_json(ev), indent=2) + "\n").encode(),
        "results.csv": results_csv(ev).encode(),
        "report.md": report_md(ev, command, sorted(plots)).encode(),
        "report.html": report_html(ev, command).encode(),
        **plots,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        atomic_write(out_dir / name, data)
        written.append(out_dir / name)
    return written


