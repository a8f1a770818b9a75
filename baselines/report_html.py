"""report.html: one self-contained page per evaluation, for a planner to read in 30 seconds.

The verdict first (each agent's rank and its gap to the strongest classical rule with the paired interval),
then the KPI table (agents highlighted, turns per year where the data's dates give the period length), the
cost vs fill-rate trade-off, the cost breakdown, the trajectories of the recorded SKUs (dates, orders,
stockouts), the ABC and demand-pattern groups and a sortable per-SKU table. Charts are matplotlib SVG inline,
the sorting a few lines of inline JavaScript: the page references nothing outside itself (no network, no
files). The figures are :mod:`baselines.report`'s, the same as the PNGs and report.md.
"""

from __future__ import annotations

import math

import numpy as np

from envs import kernel
from envs.batch import PERIODS

from . import report as rp
from .evaluation import Evaluation, PolicyResult, episode_costs, per_sku_kpis

TEMPLATE = "report.html.j2"


def _cls(r: PolicyResult, rule: PolicyResult | None) -> str:
    if r.learned:
        return "agent"
    if r is rule:
        return "rule"
    return "future" if r.uses_future else ""


def _num(v) -> str:
    """A cell's sort key (data-v): the number, or empty for a missing value (sorted last)."""
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return ""
    return repr(float(v)) if isinstance(v, (float, np.floating, int, np.integer)) else str(v)


def kpi_table(ev: Evaluation, per_year: float | None) -> dict:
    cols = [c for c in rp.TABLE_COLUMNS if (c[0] != "end_credit" or rp._has_unit_cost(ev))
            and any(r.kpis.get(c[0]) is not None for r in ev.results)]  # no column of dashes only
    keys = [k for k, _, _ in cols]
    head = ["turns/period" if k == "turnover" else label for k, label, _ in cols]
    i = keys.index("turnover") + 1 if "turnover" in keys else len(keys)
    if per_year is not None:
        head.insert(i, "turns/year")
    rule = rp.strongest_rule(ev)
    rows = []
    for r in ev.ranked():
        cells = [(rp._fmt_ci(r.kpis, k, f), _num(r.kpis.get(k))) for k, _, f in cols]
        if per_year is not None:
            t = rp.turns_per_year(ev, r, per_year)
            cells.insert(i, (rp._fmt(t, "{:.2f}"), _num(t)))
        rows.append({"name": r.name + (" *" if r.uses_future else ""), "cls": _cls(r, rule), "cells": cells})
    return {"head": head, "rows": rows}


def group_tables(ev: Evaluation) -> list[dict]:
    g = rp.groups(ev)
    if not g:
        return []
    rule = rp.strongest_rule(ev)
    by_name = {r.name: r for r in ev.results}
    out = []
    for title, labels in g.items():
        keys, counts, costs = rp.group_costs(ev, labels)
        best = [min(c[i] for n, c in costs.items() if not by_name[n].uses_future) for i in range(len(keys))]
        rows = [{"name": n + (" *" if by_name[n].uses_future else ""), "cls": _cls(by_name[n], rule),
                 "cells": [(f"{v:.4f}", "best" if v == b and not by_name[n].uses_future else "")
                           for v, b in zip(c, best)]}
                for n, c in costs.items()]
        out.append({"title": title, "head": [f"{k} ({n} SKUs)" for k, n in zip(keys, counts)], "rows": rows})
    return out


def sku_table(ev: Evaluation, focus: list[PolicyResult]) -> dict:
    """One row per SKU (data) or episode (parametric): demand per period, ABC class and demand pattern
    (data), cost per period and fill rate under each focus policy, and each agent's cost minus the strongest
    rule's."""
    data = ev.problem.source.replays_windows
    g = rp.groups(ev) or {}
    rule = rp.strongest_rule(ev)
    per = {r.name: per_sku_kpis(ev, r) for r in focus}
    costs = {r.name: episode_costs(r.totals) for r in focus}
    ref = focus[0].totals
    demand = ref[:, kernel.I_DEMAND] / np.maximum(ref[:, PERIODS], 1)
    head = ["SKU" if data else "episode"] + (["SKU"] if not data else []) + list(g) + ["demand/period"]
    groups = [("", len(head))]  # the first header row: the policy above its two columns
    for r in focus:
        head += ["cost/period", "fill"]
        groups.append((r.name, 2))
    agents = [r for r in focus if r.learned] if rule is not None else []
    head += [f"{a.name} - {rule.name}" for a in agents]
    if agents:
        groups.append(("cost/period difference", len(agents)))
    rows = []
    for j in range(ev.episodes.n):
        sku = ev.problem.sku_name(int(ev.episodes.sku[j]))
        cells = [(sku, sku)] if data else [(str(j), _num(j)), (sku, sku)]
        cells += [(str(g[t][j]), str(g[t][j])) for t in g]
        cells.append((f"{demand[j]:.3f}", _num(demand[j])))
        for r in focus:
            k = per[r.name][j]
            cells += [(rp._fmt(k["avg_cost"], "{:.4f}"), _num(k["avg_cost"])),
                      (rp._fmt(k["fill_rate"], "{:.3f}"), _num(k["fill_rate"]))]
        for a in agents:
            d = float(costs[a.name][j] - costs[rule.name][j])
            cells.append((f"{d:+.4f}", _num(d)))
        rows.append(cells)
    sort_col = len(head) - 1 if agents else len(head) - 2 * len(focus)
    return {"head": head, "groups": groups, "rows": rows, "sort_col": sort_col, "sort_dir": "descending",
            "data": data, "n_focus_cols": 2 * len(focus) + len(agents)}


def trajectory_charts(ev: Evaluation, plt) -> list[dict]:
    pols, positions = rp.recorded(ev)
    out = []
    for k in positions:
        col = int(pols[0].trajectory.episodes[k])
        sku = ev.problem.sku_name(int(ev.episodes.sku[col]))
        out.append({"sku": sku, "svg": rp.svg(rp.trajectory_figure(ev, plt, [k]), plt)})
    return out


def report_html(ev: Evaluation, command: str | None = None) -> str:
    """The page as one string (see the module docstring)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("baselines", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    plt = rp._pyplot()
    per_year = rp.periods_per_year(ev)
    focus = rp.focus(ev)
    rule = rp.strongest_rule(ev)
    sc = ev.problem.scenario
    ctx = {
        "title": f"Evaluation: {sc.name}",
        "scenario": sc.name,
        "header": rp.header(ev).split("\n"),
        "command": command,
        "verdicts": rp.verdicts(ev),
        "verdict_lines": rp.verdict_lines(ev),
        "rule": rule,
        "per_year": per_year,
        "freq": rp.period_freq(ev),
        "kpi": kpi_table(ev, per_year),
        "tradeoff_svg": rp.svg(rp.tradeoff_figure(ev, plt), plt),
        "breakdown_svg": rp.svg(rp.breakdown_figure(ev, plt), plt),
        "trajectories": trajectory_charts(ev, plt),
        "groups": group_tables(ev),
        "skus": sku_table(ev, focus),
        "focus": [r.name for r in focus],
        "descriptions": [r.description for r in ev.ranked()],
        "kpi_text": rp.KPI_TEXT,
        "any_future": any(r.uses_future for r in ev.results),
    }
    return env.get_template(TEMPLATE).render(**ctx)

