"""Evaluate policies side by side on the same demand traces (common random numbers) and compute the KPIs.

One path for everything: every policy (baseline or, later, learned agent) is fitted on the training data,
then simulated by :func:`envs.batch.simulate` on the same :class:`envs.episodes.Episodes`: several simulated
episodes for parametric scenarios, the test window of every SKU for data scenarios.

The KPIs are the one table of :mod:`envs.kpis` (definitions there); evaluation adds the comparisons:

- ``gap_to_best_pct``: cost above the cheapest policy that does not see the future, in % of its cost;
  ``gap_to_best_ci95``: half-width of the paired 95 % confidence interval of that gap, from the per-episode
  (per-SKU for data) differences on the common traces: ``100 * 1.96 * sd(c_i - b_i) / sqrt(n) / mean(b)``, c_i
  and b_i the policy's and the best policy's cost per period in episode i (null with fewer than 2 episodes).
  Paired, so much narrower than the per-policy ``avg_cost_ci95``: two policies differ significantly when the
  gap exceeds its half-width;
- ``gap_to_optimal_pct``: cost above the exact optimum (``dp_optimal``'s relative value iteration), where the
  scenario has one; ``gap_to_optimal_ci95``: the half-width of its 95 % interval (the exact optimum is a
  number, the simulated cost an estimate: ``100 * 1.96 * sd(c_i) / sqrt(n) / optimum``). A simulated policy
  can come out a little below the optimum (dp_optimal itself does); the interval says whether that is noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from envs import kernel
from envs.batch import PERIODS, Trajectory, simulate
from envs.episodes import STREAMS, Episodes, make_episodes
from envs.kpis import KPI_KEYS, kpis_from_totals  # noqa: F401  (re-exported: the one KPI table)
from envs.problem import Problem
from envs.scenario import ScenarioError

from .base import Policy, TrainData, fit_window, train_data
from .base_stock import BaseStock, CappedBaseStock, Hindsight, RecentBaseStock
from .safety_stock import EOQReorderPoint, MinMax, OrderUpTo


def _registry() -> dict[str, Callable[[], Policy]]:
    reg: dict[str, Callable[[], Policy]] = {
        "base_stock": BaseStock,
        "capped_base_stock": CappedBaseStock,
        "recent_base_stock_tuned": RecentBaseStock,
        "safety_stock_RS": OrderUpTo,
        "safety_stock_RS_tuned": lambda: OrderUpTo(tuned=True),
        "safety_stock_sS": MinMax,
        "safety_stock_sS_tuned": lambda: MinMax(tuned=True),
        "eoq_sQ": EOQReorderPoint,
        "eoq_sQ_tuned": lambda: EOQReorderPoint(tuned=True),
    }
    try:
        from .forecast import FORECAST_POLICIES
    except ImportError:
        FORECAST_POLICIES = {}
    reg.update(FORECAST_POLICIES)
    from .dp_policy import DPOptimal

    reg["dp_optimal"] = DPOptimal
    reg["hindsight_base_stock"] = Hindsight
    return reg


def known_policies() -> list[str]:
    return list(_registry())


def applicable(problem: Problem, name: str) -> bool:
    if name == "hindsight_base_stock":
        return problem.source.replays_windows
    if name == "dp_optimal":
        from .dp_policy import DPOptimal

        return DPOptimal.supports(problem)
    return True


def make_policies(names: list[str] | str, problem: Problem) -> list[Policy]:
    """Policies by name ("all" = every policy that applies to the problem); unknown names list the known."""
    reg = _registry()
    if names == "all" or names == ["all"]:
        return [reg[n]() for n in reg if applicable(problem, n)]
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ScenarioError(f"unknown policy {', '.join(map(repr, unknown))}; known policies: {', '.join(reg)}")
    bad = [n for n in names if not applicable(problem, n)]
    if bad:
        raise ScenarioError(f"policy {', '.join(bad)} does not apply to scenario {problem.scenario.name!r} "
                            "(dp_optimal: parametric Poisson lost sales, L <= 4, K = c = 0, no constraints; "
                            "hindsight_base_stock: data scenarios)")
    return [reg[n]() for n in names]


@dataclass
class PolicyResult:
    name: str
    description: str
    totals: np.ndarray  # [N episodes, len(TOTAL_KEYS)]
    uses_future: bool
    fit_cpu_s: float
    eval_cpu_s: float
    trajectory: Trajectory | None
    kpis: dict[str, float | None] = field(default_factory=dict)


@dataclass
class Evaluation:
    problem: Problem
    episodes: Episodes
    results: list[PolicyResult]
    optimal_avg_cost: float | None
    warmup: int
    fit_window: str = "train"
    """The data window the classical rules were fitted and tuned on (``fit``: train + val)."""

    @property
    def periods(self) -> int:
        return self.episodes.periods

    def ranked(self) -> list[PolicyResult]:
        return sorted(self.results, key=lambda r: (r.kpis["avg_cost"], r.name))


def evaluation_episodes(problem: Problem, *, episodes: int = 100, periods: int | None = None, seed: int = 0,
                        window: str = "test") -> tuple[Episodes, int]:
    """The common demand traces: `episodes` simulated episodes (parametric; + 100 warm-up periods when the
    demand is stationary, so the figures estimate the long-run average cost), or every SKU's `window`."""
    if problem.source.replays_windows:
        return make_episodes(problem, window, replay=True), 0
    periods = periods or problem.scenario.episode_length
    warmup = 100 if problem.source.long_run else 0
    return make_episodes(problem, window, seed=seed + STREAMS["test"], n=episodes, periods=periods + warmup), warmup


def evaluate(problem: Problem, policies: list[Policy], *, episodes: int = 100, periods: int | None = None,
             seed: int = 0, window: str = "test", record: int = 1, progress: bool = False,
             train: TrainData | None = None) -> Evaluation:
    """Fit every policy on the data before `window` (:func:`baselines.base.fit_window`: train + val for the test
    window of a data scenario with a validation window) and simulate it on the same traces of `window`; KPIs
    in result.kpis."""
    eps, warmup = evaluation_episodes(problem, episodes=episodes, periods=periods, seed=seed, window=window)
    if train is None:
        train = train_data(problem, window=fit_window(problem, window))
    return evaluate_on(problem, policies, eps, warmup, record=record, progress=progress, train=train)


def evaluate_on(problem: Problem, policies: list[Policy], eps: Episodes, warmup: int = 0, *, record: int = 1,
                progress: bool = False, train: TrainData | None = None) -> Evaluation:
    """:func:`evaluate` on given episodes (e.g. training's validation traces): every policy fitted on the
    training data, simulated on `eps` after `warmup` periods, the KPIs and the comparisons filled in."""
    train = train if train is not None else train_data(problem)
    rec = None
    if record:  # plots show the busiest SKU (data) or the first episodes (parametric)
        busiest = np.argsort(-eps.demand[eps.history:].sum(axis=0), kind="stable")
        rec = busiest[:record] if problem.source.replays_windows else np.arange(min(record, eps.n))
    results = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(policies), desc="policies", unit="policy", leave=False)
    for pol in policies:
        if bar is not None:
            bar.set_postfix_str(pol.name)
        t0 = time.process_time()
        pol.fit(problem, train)
        t1 = time.process_time()
        pol.start(eps)
        needs_obs = pol.needs_obs
        totals, traj = simulate(problem, eps,
                                lambda sim, pol=pol, needs_obs=needs_obs: pol.act(sim.observe() if needs_obs else None,
                                                                                  sim.raw),
                                record=rec, warmup=warmup, order_up_to=pol.order_up_to)
        t2 = time.process_time()
        results.append(PolicyResult(pol.name, pol.describe(), totals, pol.uses_future, t1 - t0, t2 - t1, traj))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    optimal = None
    for pol in policies:
        if getattr(pol, "exact_avg_cost", None) is not None:
            optimal = float(pol.exact_avg_cost)
    ev = Evaluation(problem, eps, results, optimal, warmup, train.window)
    _fill_kpis(ev)
    return ev


def episode_costs(totals: np.ndarray) -> np.ndarray:
    """Cost per period of each episode (SKU): the numbers ``avg_cost`` is the mean of."""
    return totals[:, kernel.I_COST] / np.maximum(totals[:, PERIODS], 1)


def paired_gap(costs: np.ndarray, best: np.ndarray) -> tuple[float, float | None]:
    """Gap of mean(costs) over mean(best) in %, and the half-width of its paired 95 % interval from the
    per-episode differences (None with fewer than 2 episodes)."""
    b = float(best.mean())
    gap = 100 * (float(costs.mean()) - b) / b if b else None
    n = costs.shape[0]
    if gap is None or n < 2:
        return gap, None
    return gap, float(100 * 1.96 * np.std(costs - best, ddof=1) / np.sqrt(n) / b)


def _fill_kpis(ev: Evaluation) -> None:
    ci = not ev.problem.source.replays_windows
    for r in ev.results:
        r.kpis = kpis_from_totals(r.totals, ci)
    fair = [r for r in ev.results if not r.uses_future]
    best = min(fair, key=lambda r: (r.kpis["avg_cost"], r.name)) if fair else None
    best_costs = episode_costs(best.totals) if best is not None else None
    opt = ev.optimal_avg_cost
    for r in ev.results:
        costs = episode_costs(r.totals)
        gap, half = paired_gap(costs, best_costs) if best is not None else (None, None)
        r.kpis["gap_to_best_pct"], r.kpis["gap_to_best_ci95"] = gap, half
        if opt:
            n = costs.shape[0]
            r.kpis["gap_to_optimal_pct"] = 100 * (r.kpis["avg_cost"] - opt) / opt
            r.kpis["gap_to_optimal_ci95"] = float(100 * 1.96 * costs.std(ddof=1) / np.sqrt(n) / opt) if n > 1 else None
        else:
            r.kpis["gap_to_optimal_pct"] = r.kpis["gap_to_optimal_ci95"] = None


def per_sku_kpis(ev: Evaluation, result: PolicyResult) -> list[dict]:
    """One row per SKU (data scenarios) or per episode (parametric), with the same KPIs, the periods counted
    and the total cost over them (``periods``, ``total_cost``: so that totals over SKUs add up)."""
    rows = []
    pb = ev.problem
    for j in range(ev.episodes.n):
        k = kpis_from_totals(result.totals[j:j + 1], ci=False)
        rows.append({"policy": result.name, "sku": pb.sku_name(int(ev.episodes.sku[j])), "episode": j, **k,
                     "periods": int(result.totals[j, PERIODS]), "total_cost": float(result.totals[j, kernel.I_COST])})
    return rows
