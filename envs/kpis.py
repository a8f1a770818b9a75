"""The one KPI table: every report (evaluation, training's validation, the simulate CLI) computes its figures
from per-episode totals of the kernel (``kernel.accumulate``) with :func:`kpis_from_totals`. May import numpy
and envs.kernel / envs.batch's totals layout.

KPI definitions (per policy; "per period" figures are averaged over episodes/SKUs, each weighted equally):

- ``avg_cost`` and its parts ``holding, shortage, ordering, purchase``: cost per period;
  ``avg_cost_ci95``: half-width of the 95 % confidence interval over episodes (parametric scenarios with
  several episodes; null for data, where episodes are different SKUs rather than samples of one quantity);
- ``fill_rate``: units served / units demanded (pooled); for backorders, units shipped within the horizon;
- ``cycle_service_level``: share of periods without a stockout, a stockout period being one that ends with
  unmet demand: a lost sale (lost sales) or backorders at the end of the period (backorders; also when they
  are older than this period: the customer is still waiting). The one definition every report uses;
- ``avg_on_hand``: end-of-period on hand per period; ``turnover``: units sold per period / average on hand
  (inventory turns per period, pooled over episodes; multiply by periods per year for annual turns);
- ``orders``: orders placed per period; ``bullwhip``: variance of orders / variance of demand within an
  episode, the median over episodes whose demand varies (a mean would be ruled by near-constant SKUs);
- with a unit (purchase) cost c, ``purchase`` counts what was bought within the horizon and the stock left on
  hand and on order at the end is credited at unit cost: ``end_credit`` = c x the final inventory position
  per period (negative for a backlog still to be bought), taken off ``avg_cost``. So
  ``avg_cost = holding + shortage + ordering + purchase - end_credit``, and a policy that ends the window with
  less stock does not look cheaper for it (with backorders, purchase - end_credit is then the same for every
  policy: all demand is bought in the end);
- perishable stock: ``outdating`` (cost per period of the units that expire, part of ``avg_cost``) and
  ``outdated`` (units expired per period); 0 otherwise;
- shared capacity / budget: ``cut`` = units per period that the proportional cut removed from the orders;
"""

from __future__ import annotations

import numpy as np

from . import kernel
from .batch import DEMAND_SQ, END_CREDIT, ORDER_SQ, ORDERS, PERIODS, STOCKOUTS

KPI_KEYS = ("avg_cost", "avg_cost_ci95", "holding", "shortage", "ordering", "purchase", "end_credit", "outdating",
            "outdated", "cut", "fill_rate",
            "cycle_service_level", "avg_on_hand", "turnover", "orders", "bullwhip", "gap_to_best_pct",
            "gap_to_best_ci95", "gap_to_optimal_pct", "gap_to_optimal_ci95")
"""The per-policy keys of an evaluation; the gaps are filled by :mod:`baselines.evaluation` (comparisons)."""


def kpis_from_totals(totals: np.ndarray, ci: bool) -> dict[str, float | None]:
    """KPIs of one policy from per-episode totals (see the module docstring for the definitions)."""
    periods = np.maximum(totals[:, PERIODS], 1)
    per = lambda col: totals[:, col] / periods  # noqa: E731
    cost = per(kernel.I_COST)
    n = totals.shape[0]
    demand = totals[:, kernel.I_DEMAND].sum()
    sales = totals[:, kernel.I_SALES].sum()
    avg_on_hand = per(kernel.I_ON_HAND)
    mean_q = per(kernel.I_ORDER)
    var_q = per(ORDER_SQ) - mean_q**2
    mean_d = per(kernel.I_DEMAND)
    var_d = per(DEMAND_SQ) - mean_d**2
    varies = var_d > 1e-12
    return {
        "avg_cost": float(cost.mean()),
        "avg_cost_ci95": float(1.96 * cost.std(ddof=1) / np.sqrt(n)) if ci and n > 1 else None,
        "holding": float(per(kernel.I_HOLD).mean()),
        "shortage": float(per(kernel.I_SHORT).mean()),
        "ordering": float(per(kernel.I_ORDERING).mean()),
        "purchase": float(per(kernel.I_PURCHASE).mean()),
        "end_credit": float(per(END_CREDIT).mean()),
        "outdating": float(per(kernel.I_OUTDATING).mean()),
        "outdated": float(per(kernel.I_OUTDATED).mean()),
        "cut": float(per(kernel.I_CUT).mean()),
        "fill_rate": float(sales / demand) if demand > 0 else None,
        "cycle_service_level": float(1 - totals[:, STOCKOUTS].sum() / periods.sum()),
        "avg_on_hand": float(avg_on_hand.mean()),
        "turnover": float(per(kernel.I_SALES).sum() / avg_on_hand.sum()) if avg_on_hand.sum() > 0 else None,
        "orders": float(per(ORDERS).mean()),
        "bullwhip": float(np.median(np.maximum(var_q[varies], 0) / var_d[varies])) if varies.any() else None,
    }
