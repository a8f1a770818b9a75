"""Classical baselines and evaluate.py: textbook checks, tuning, no look-ahead, output schema, real data."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from baselines.base import train_data
from baselines.base_stock import BaseStock
from baselines.evaluation import KPI_KEYS, evaluate, known_policies, make_policies
from baselines.safety_stock import EOQReorderPoint, eoq, order_quantity
from envs import Problem, kernel
from envs.batch import END_CREDIT, PERIODS, simulate
from envs.episodes import make_episodes
from envs.kernel import I_COST, I_ORDER
from envs.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CONFIGS = {"carparts": "carparts_monthly.csv.gz", "m5_tiny": "m5_tiny_daily.csv.gz",
           "man_weekly": "man_weekly.csv.gz"}


# ------------------------------------------------------------------------------------------ textbook checks
def test_eoq_textbook_example():
    # Silver, Pyke & Thomas: D = 10000 per year, K = 100 per order, H = 5 per unit-year -> Q* = 632.46
    assert eoq(10_000, 100, 5) == pytest.approx(632.4555, abs=1e-4)
    assert eoq(5, 0, 1) == 0
    # rounded up to the pack size, at least the MOQ
    assert order_quantity(np.array([632.46]), np.array([0.0]), np.array([25.0])).tolist() == [650.0]
    assert order_quantity(np.array([3.0]), np.array([10.0]), np.array([4.0])).tolist() == [12.0]


def test_eoq_policy_orders_lots_of_q():
    pb = Problem("backorder-L1-b9", order_cost=50.0, **{"demand.mean": 20})
    pol = EOQReorderPoint().fit(pb, train_data(pb))
    Q = pol.lot[0]
    assert Q == np.ceil(np.sqrt(2 * pol.mu[0] * 50 / 1.0))  # EOQ with D per period, h per period
    eps = make_episodes(pb, n=20, periods=200, seed=3)
    pol.start(eps)
    _, traj = simulate(pb, eps, lambda sim: pol.act(None, sim.raw), record=np.arange(20))
    orders = traj.order[traj.order > 0]
    assert orders.size > 0 and np.allclose(orders % Q, 0)


def test_newsvendor_critical_fractile_lead_time_0_backorders():
    """L = 0 with backorders is the newsvendor: S* = F^-1(b / (b + h)) for Poisson(5), b = 9, h = 1 -> 8,
    and the simulated cost of S* matches the exact expected cost h E(S-D)+ + b E(D-S)+."""
    pb = Problem("backorder-L1-b9", lead_time=0)
    pol = BaseStock().fit(pb, train_data(pb))
    S = stats.poisson.ppf(9 / 10, 5)
    assert pol.levels[0] == S == 8
    d = np.arange(0, 60)
    pmf = stats.poisson.pmf(d, 5)
    exact = float((pmf * (np.maximum(S - d, 0) + 9 * np.maximum(d - S, 0))).sum())
    eps = make_episodes(pb, n=400, periods=1000, seed=5)
    pol.start(eps)
    totals, _ = simulate(pb, eps, lambda sim: pol.act(None, sim.raw), order_up_to=True)
    per = totals[:, I_COST] / totals[:, PERIODS]
    assert abs(per.mean() - exact) < 4 * per.std(ddof=1) / np.sqrt(per.size)


@pytest.mark.parametrize("scenario,level", [("lost-sales-L2-p9", 19), ("lost-sales-L1-p4", 12),
                                            ("lost-sales-L1-p9", 13), ("lost-sales-L2-p4", 16)])
def test_base_stock_tuning_finds_zipkin_levels(scenario, level):
    pb = Problem(scenario)
    assert BaseStock().fit(pb, train_data(pb)).levels[0] == level


def test_dp_optimal_policy_simulates_to_its_exact_cost():
    pb = Problem("lost-sales-L2-p9")
    ev = evaluate(pb, make_policies(["dp_optimal", "base_stock"], pb), episodes=200, periods=2000)
    dp = next(r for r in ev.results if r.name == "dp_optimal")
    assert ev.optimal_avg_cost == pytest.approx(6.0936, abs=1e-3)
    half = dp.kpis["avg_cost_ci95"]
    assert abs(dp.kpis["avg_cost"] - ev.optimal_avg_cost) < 1.5 * half  # ~3 standard errors
    assert dp.kpis["gap_to_optimal_pct"] == pytest.approx(
        100 * (dp.kpis["avg_cost"] / ev.optimal_avg_cost - 1))


# ------------------------------------------------------------------------------------------ no look-ahead
LOOKAHEAD_POLICIES = [n for n in known_policies() if n not in ("hindsight_base_stock", "dp_optimal")]


@pytest.mark.parametrize("name", LOOKAHEAD_POLICIES)
def test_no_look_ahead(name):
    """A policy's orders up to period t do not change when the demand after t is changed."""
    shared = {"shared": {"capacity": 150.0}} if name == "lp_allocation" else {}  # (it needs a shared limit)
    pb = Problem("demo", episode_length=60, **shared)
    train = train_data(pb, periods=2000)
    eps = make_episodes(pb, n=8, periods=60, seed=2)
    t = 30
    changed = eps.demand.copy()
    changed[eps.history + t + 1:] = np.random.default_rng(9).poisson(50, changed[eps.history + t + 1:].shape)
    eps2 = replace(eps, demand=changed)
    orders = []
    for e in (eps, eps2):
        pol = make_policies([name], pb)[0].fit(pb, train)
        pol.start(e)
        _, traj = simulate(pb, e, lambda sim, pol=pol: pol.act(None, sim.raw), record=np.arange(8),
                           order_up_to=pol.order_up_to)
        orders.append(traj.order)
    assert np.array_equal(orders[0][: t + 1], orders[1][: t + 1])
    assert not np.array_equal(eps.demand, eps2.demand)


# ------------------------------------------------------------------------------------------ evaluate.py
def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "evaluate.py", *args], cwd=cwd, capture_output=True, text=True)


def test_evaluate_cli_writes_schema(tmp_path):
    out = tmp_path / "out"
    r = run_cli("--scenario", "lost-sales-L1-p4", "--episodes", "20", "--periods", "300", "--out", str(out),
                "--policies", "base_stock,safety_stock_RS,dp_optimal")
    assert r.returncode == 0, r.stderr
    assert "cost/period" in r.stdout
    res = json.loads((out / "results.json").read_text())
    assert set(res) == {"scenario", "periods", "episodes", "optimal_avg_cost", "policies", "fit_window", "window",
                        "end_credit", "periods_per_year", "verdict"}
    assert res["scenario"] == "lost-sales-L1-p4" and res["periods"] == 300 and res["episodes"] == 20
    assert res["optimal_avg_cost"] == pytest.approx(4.0407, abs=1e-3)
    assert set(res["policies"]) == {"base_stock", "safety_stock_RS", "dp_optimal"}
    for kpis in res["policies"].values():
        assert set(kpis) == set(KPI_KEYS)
        assert all(v is None or isinstance(v, float) for v in kpis.values())
    best = min(k["avg_cost"] for k in res["policies"].values())
    assert min(k["gap_to_best_pct"] for k in res["policies"].values()) == 0
    assert res["policies"]["base_stock"]["avg_cost"] >= best
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 3 * 20 and {"policy", "sku", "avg_cost", "fill_rate", "periods", "total_cost"} <= set(csv.columns)
    np.testing.assert_allclose(csv.total_cost, csv.avg_cost * csv.periods, rtol=1e-9)
    means = csv.groupby("policy").avg_cost.mean()  # avg_cost: the mean over episodes of cost per period
    for name, kpis in res["policies"].items():
        assert means[name] == pytest.approx(kpis["avg_cost"], rel=1e-9)
    for f in ("report.md", "report.html", "trajectories.png", "cost_breakdown.png", "tradeoff.png"):
        assert (out / f).stat().st_size > 0
    assert not list(out.glob(".*.tmp"))


@pytest.fixture()
def small_data(tmp_path):
    rng = np.random.default_rng(0)
    dates = pd.date_range("2022-01-03", periods=104, freq="W-MON")
    rows = [pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": rng.poisson(lam, dates.size)})
            for k, lam in enumerate([0.3, 2.0, 8.0, 30.0])]
    path = tmp_path / "demand.csv"
    pd.concat(rows).to_csv(path, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame({"sku": ["P0", "P1", "P2", "P3"], "lead_time": [1, 2, 3, 2], "unit_cost": [5, 2, 1, 1],
                  "order_cost": [2, 2, 2, 2], "pack_size": [1, 1, 5, 10]}).to_csv(items, index=False)
    return path, items


def test_evaluate_cli_on_data_with_items(tmp_path, small_data):
    path, items = small_data
    out = tmp_path / "out"
    r = run_cli("--scenario", "lost-sales-L1-p9", "--data", str(path), "--items", str(items), "--out", str(out),
                "--policies", "all", "data.test=0.25")
    assert r.returncode == 0, r.stderr
    res = json.loads((out / "results.json").read_text())
    assert res["episodes"] == 4 and res["periods"] == 26 and res["optimal_avg_cost"] is None
    assert "hindsight_base_stock" in res["policies"] and "dp_optimal" not in res["policies"]
    report = (out / "report.md").read_text()
    assert "ABC class" in report and "demand pattern" in report


def test_evaluate_cli_max_fits(tmp_path, small_data):
    """--max-fits sets the statsmodels budget of holt_winters / arima: 0 = SES for every SKU (and the same
    costs as ses, whose alpha is fitted the same way)."""
    path, items = small_data
    out = tmp_path / "out"
    r = run_cli("--scenario", "lost-sales-L1-p9", "--data", str(path), "--items", str(items), "--out", str(out),
                "--policies", "ses,holt_winters,arima", "--max-fits", "0", "data.test=0.25")
    assert r.returncode == 0, r.stderr
    report = (out / "report.md").read_text()
    assert "Holt-Winters on 0 SKUs" in report and "ARIMA on 0 SKUs" in report
    res = json.loads((out / "results.json").read_text())["policies"]
    assert res["holt_winters"]["avg_cost"] == res["ses"]["avg_cost"] == res["arima"]["avg_cost"]


@pytest.mark.parametrize("args,message", [
    (["--max-fits", "-1"], "--max-fits must be >= 0"),
    (["--policies", "base_stock,magic"], "unknown policy 'magic'; known policies: base_stock"),
    (["--scenario", "lost-sales-L2-p9", "--policies", "hindsight_base_stock"], "does not apply"),
    (["--scenario", "nope"], "unknown scenario"),
    (["--scenario", "lost-sales-L1-p9", "--data", "/nonexistent/demand.csv"], "demand.csv: no such file"),
    (["--data", "/nonexistent/demand.csv"], "--data needs --scenario"),  # not silently the demo's costs
    (["--items", "x.csv"], "--items needs --data"),
])
def test_evaluate_cli_errors(args, message, tmp_path):
    out = tmp_path / "out"
    r = run_cli(*args, "--out", str(out))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.parametrize("config", list(CONFIGS))
def test_every_baseline_runs_on_real_data(config):
    if not (SHARED / CONFIGS[config]).exists():
        pytest.skip("../shared/data is absent")
    # The forecast-driven policies are run on every data set by tests/test_forecast.py (which shares their
    # statsmodels fits across tests); here every other baseline goes through evaluate() on the full data.
    # The learned forecasters are tested on small data by tests/test_learned.py (on the full data each global fit
    # takes minutes; their real-data figures come from evaluate.py, README).
    from baselines.forecast import FORECAST_POLICIES
    from baselines.learned import LEARNED_POLICIES

    pb = Problem(str(ROOT / "configs" / f"{config}.yaml"))
    names = [n for n in known_policies() if n not in FORECAST_POLICIES and n not in LEARNED_POLICIES
             and n not in ("dp_optimal", "lp_allocation")]
    ev = evaluate(pb, make_policies(names, pb), record=0)
    assert {r.name for r in ev.results} == set(names) and "hindsight_base_stock" in names
    for r in ev.results:
        assert np.isfinite(r.totals).all(), r.name
        assert r.kpis["avg_cost"] >= 0 and 0 <= r.kpis["fill_rate"] <= 1
    assert all(r.totals[:, I_ORDER].sum() > 0 for r in ev.results if r.name == "base_stock")


# ------------------------------------------------------------------------------------------ fused tuning
@pytest.mark.parametrize("scenario", ["lost-sales-L2-p9", "backorder-L1-b9"])
@pytest.mark.parametrize("lead", [0, 1, 4])
@pytest.mark.parametrize("kw", [{}, {"moq": 3, "pack_size": 2, "order_cost": 5.0, "unit_cost": 0.5},
                                {"max_order": 7, "capacity": 20, "order_cost": 5.0, "unit_cost": 0.5}])
@pytest.mark.parametrize("fractional", [False, True])
def test_rule_costs_bit_identical_to_simulate(scenario, lead, kw, fractional):
    """The fused rule kernel of baselines.tuning gives simulate()'s totals bit for bit (warm-up, unequal
    episode lengths, forecast-style paths), on integer demand (carried inventory position) and fractional
    demand (summed pipeline)."""
    from baselines.tuning import (
        RULE_CAPPED,
        RULE_EOQ,
        RULE_LEVEL,
        RULE_MIN_MAX,
        _integral,
        replicate,
        rule_costs,
    )

    pb = Problem(scenario, lead_time=lead, **kw)
    eps = replace(make_episodes(pb, n=4, periods=80, seed=lead), lengths=np.array([80, 60, 80, 25]))
    if fractional:
        eps = replace(eps, demand=eps.demand * 0.37)
    assert _integral(eps.demand) != fractional
    k = 5
    reps = replicate(eps, k)
    rng = np.random.default_rng(lead)
    a, b = rng.uniform(0, 25, reps.n).round(), rng.uniform(1, 9, reps.n).round()
    path = rng.uniform(0, 10, (80, reps.n))

    def ip(sim):
        return sim.raw.inventory_position

    cases = [(RULE_LEVEL, lambda sim: a, True, None),
             (RULE_CAPPED, lambda sim: np.minimum(np.maximum(a - ip(sim), 0.0), b), False, None),
             (RULE_MIN_MAX, lambda sim: np.where(ip(sim) <= a, a + b - ip(sim), 0.0), False, None),
             (RULE_EOQ, lambda sim: np.where(ip(sim) <= a, (np.floor((a - ip(sim)) / b) + 1.0) * b, 0.0), False, None),
             (RULE_LEVEL, lambda sim: path[sim.t] + a, True,
              lambda idx: (path[:, idx[0] * k:(idx[-1] + 1) * k], np.arange(idx.size * k)))]
    for rule, act, up_to, paths in cases:
        for warmup in (0, 10):
            totals, _ = simulate(pb, reps, act, order_up_to=up_to, warmup=warmup)
            cost, periods = rule_costs(pb, eps, warmup, rule, a, b, paths, chunk_entries=200)
            assert np.array_equal(cost, totals[:, I_COST]), (rule, warmup)
            assert np.array_equal(periods, totals[:, PERIODS]), (rule, warmup)


def test_fused_searches_choose_what_grid_search_chooses(small_data):
    """base-stock, capped base-stock and the tuned safety-stock rules: rule_search's costs and choices are
    grid_search's (the act-based reference) on a data scenario with per-SKU lead times and pack sizes."""
    from baselines.base_stock import CappedBaseStock, upper_level
    from baselines.safety_stock import MinMax, OrderUpTo
    from baselines.tuning import (
        RULE_CAPPED,
        RULE_LEVEL,
        grid_search,
        level_grid,
        rule_search,
        training_episodes,
    )

    path, items = small_data
    pb = Problem("lost-sales-L1-p9", data={"path": str(path), "items": str(items), "test": 0.25})
    train = train_data(pb)
    eps, warmup = training_episodes(pb)
    coarse = level_grid(upper_level(pb, train))
    ref = grid_search(pb, eps, warmup, coarse, lambda sim, v: v, order_up_to=True)
    new = rule_search(pb, eps, warmup, coarse, RULE_LEVEL, lambda v, s: (v, None))
    assert np.array_equal(ref[0], new[0]) and np.array_equal(ref[1], new[1], equal_nan=True)
    grid = np.stack(np.broadcast_arrays(coarse[:, ::6, None], np.array([1.0, 3.0, np.inf])[None, None, :]), -1)
    grid = grid.reshape(pb.n_skus, -1, 2)
    ref = grid_search(pb, eps, warmup, grid, lambda sim, v: np.minimum(
        np.maximum(v[:, 0] - sim.raw.inventory_position, 0.0), v[:, 1]))
    new = rule_search(pb, eps, warmup, grid, RULE_CAPPED, lambda v, s: (v[:, 0], v[:, 1]))
    assert np.array_equal(ref[0], new[0]) and np.array_equal(ref[1], new[1], equal_nan=True)
    assert isinstance(CappedBaseStock().fit(pb, train).levels, np.ndarray)
    for cls in (OrderUpTo, MinMax, EOQReorderPoint):
        pol = cls(tuned=True).fit(pb, train)
        ref = grid_search(pb, eps, warmup, np.broadcast_to(pol.z[:, None], (pb.n_skus, 1)).copy() + np.array(
            [[-1.0, 0.0, 0.5]]), pol._act_for_z)
        new = rule_search(pb, eps, warmup, pol.z[:, None] + np.array([[-1.0, 0.0, 0.5]]), pol.rule,
                          pol._rule_values)
        assert np.array_equal(ref[1], new[1], equal_nan=True), cls.__name__


@pytest.mark.parametrize("scenario", ["lost-sales-L2-p9", "backorder-L1-b9"])
@pytest.mark.parametrize("lead", [0, 2])
@pytest.mark.parametrize("fractional", [False, True])
def test_pruned_rule_costs_keep_the_argmin(scenario, lead, fractional):
    """Pruning (a pilot candidate first, or a bound): the candidates that are kept have the unpruned costs bit
    for bit, the dropped ones (+inf) cost more than the bound, and the best candidate of each episode is kept."""
    from baselines.tuning import RULE_CAPPED, RULE_LEVEL, replicate, rule_costs

    pb = Problem(scenario, lead_time=lead, moq=2, order_cost=1.0)
    eps = make_episodes(pb, n=6, periods=120, seed=lead)
    if fractional:
        eps = replace(eps, demand=eps.demand * 0.37)
    k = 12
    reps = replicate(eps, k)
    a = np.tile(np.arange(k, dtype=np.float64) * 2.0, eps.n)
    b = np.tile(np.r_[np.full(k // 2, 3.0), np.full(k - k // 2, np.inf)], eps.n)
    for rule in (RULE_LEVEL, RULE_CAPPED):
        full, per = rule_costs(pb, eps, 0, rule, a, b)
        full2 = full.reshape(eps.n, k)
        pilot = np.full(eps.n, 5)
        bound = np.sort(full2, axis=1)[:, 2]  # the third-best cost: a valid bound from the same search
        for kw in ({"pilot": pilot}, {"bound": bound}, {"pilot": pilot, "bound": bound}):
            cost, per2 = rule_costs(pb, eps, 0, rule, a, b, **kw)
            cost2 = cost.reshape(eps.n, k)
            kept = np.isfinite(cost2)
            assert np.array_equal(cost2[kept], full2[kept]), (rule, kw)
            limit = np.minimum(kw.get("bound", np.inf), full2[np.arange(eps.n), pilot] if "pilot" in kw else np.inf)
            assert np.all(full2[~kept] > np.repeat(limit, k).reshape(eps.n, k)[~kept]), (rule, kw)
            assert np.array_equal(np.argmin(cost2, axis=1), np.argmin(full2, axis=1)), (rule, kw)
            assert np.array_equal(per2, per)
        assert reps.n == a.size


def test_paired_gap_ci_against_a_hand_computed_case():
    """gap_to_best_ci95 is the paired interval of the per-episode differences: hand-computed on 4 episodes."""
    from baselines.evaluation import paired_gap

    best = np.array([10.0, 12.0, 8.0, 10.0])
    other = np.array([10.5, 12.0, 8.9, 10.6])  # differences 0.5, 0, 0.9, 0.6: mean 0.5, sd 0.374166
    gap, half = paired_gap(other, best)
    assert gap == pytest.approx(100 * 0.5 / 10.0)
    assert half == pytest.approx(100 * 1.96 * 0.37416573867739417 / 2 / 10.0)
    assert paired_gap(best, best) == (0.0, 0.0)
    assert paired_gap(other[:1], best[:1])[1] is None  # one episode: no interval


def test_evaluation_reports_paired_gaps_and_optimum_intervals(tmp_path):
    """results.json carries gap_to_best_ci95 (paired, narrower than the unpaired per-policy intervals) and,
    where the exact optimum exists, gap_to_optimal_ci95; dp_optimal's simulated gap lies within its interval."""
    pb = Problem("lost-sales-L2-p9")
    ev = evaluate(pb, make_policies(["base_stock", "capped_base_stock", "dp_optimal"], pb), episodes=40,
                  periods=400, record=0)
    k = {r.name: r.kpis for r in ev.results}
    best = min(k, key=lambda n: k[n]["avg_cost"])
    assert k[best]["gap_to_best_pct"] == 0.0 and k[best]["gap_to_best_ci95"] == 0.0
    bs = k["base_stock"]
    unpaired = 100 * np.hypot(bs["avg_cost_ci95"], k[best]["avg_cost_ci95"]) / k[best]["avg_cost"]
    assert 0 < bs["gap_to_best_ci95"] < unpaired  # common traces: the paired interval is the narrower one
    assert bs["gap_to_best_pct"] > bs["gap_to_best_ci95"]  # base-stock is significantly worse (5.5 % at L = 2)
    dp = k["dp_optimal"]
    assert abs(dp["gap_to_optimal_pct"]) <= dp["gap_to_optimal_ci95"]
    from baselines import report

    text = report.table(ev)
    assert f"{bs['gap_to_best_pct']:+.2f} ±{bs['gap_to_best_ci95']:.2f}" in text


def _drift_data(tmp_path: Path, test_scale: float = 1.0) -> Path:
    """Monthly demand of 30 SKUs whose level doubles 24 months before the end of a 96-month training window;
    the last 24 months are the test window (their level scaled by `test_scale`)."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    rows = []
    for k in range(30):
        demand = rng.poisson(np.where(np.arange(120) < 72, 4.0, 8.0)).astype(float)
        demand[96:] = np.rint(demand[96:] * test_scale)  # the same training data in every file
        rows.append(pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": demand}))
    path = tmp_path / f"drift_{test_scale:g}.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_recent_base_stock_picks_its_window_on_held_out_training_data_only(tmp_path):
    """The recent-window base-stock chooses k on the validation window (fitted for the test window on train +
    val): after a level shift it keeps the recent periods only (and beats the full-window base-stock on the
    test window); changing the test window changes neither k nor a level (no rule sees the test window)."""
    from baselines.base import fit_window
    from baselines.base_stock import RecentBaseStock

    def problem(scale: float = 1.0) -> Problem:  # train 2000-2006 (the shift in 2006), val 2007, test 2008-09
        return Problem("lost-sales-L2-p9", **{"data.path": str(_drift_data(tmp_path, scale)),
                                              "data.val": "2007-01-01", "data.test": "2008-01-01", "lead_time": 1})

    fits = {}
    for scale in (1.0, 3.0):
        pb = problem(scale)
        assert fit_window(pb, "test") == "fit" and fit_window(pb, "val") == "train"
        train = train_data(pb, window=fit_window(pb, "test"))
        assert [d.size for d in train.demand] == [96] * 30  # train + val, never the test window
        pol = RecentBaseStock().fit(pb, train)
        fits[scale] = (pol.k_fraction, pol.levels.copy(), pol.holdout_costs)
    (k1, lv1, costs1), (k3, lv3, costs3) = fits[1.0], fits[3.0]
    assert k1 == k3 and np.array_equal(lv1, lv3) and costs1 == costs3
    assert k1 <= 0.25  # the shift is in the last quarter of the training window: older data only hurts
    assert costs1[k1] < costs1[1.0]
    # the held-out costs are those of the validation window: other demand there changes them
    path = _drift_data(tmp_path)
    df = pd.read_csv(path)
    in_val = (df["date"] >= "2007-01-01") & (df["date"] < "2008-01-01")
    df.loc[in_val, "demand"] *= 3
    df.to_csv(tmp_path / "val3.csv", index=False)
    pb3 = Problem("lost-sales-L2-p9", **{"data.path": str(tmp_path / "val3.csv"), "data.val": "2007-01-01",
                                         "data.test": "2008-01-01", "lead_time": 1})
    pol3 = RecentBaseStock().fit(pb3, train_data(pb3, window="fit"))
    assert pol3.holdout_costs != costs1
    pb = problem()
    ev = evaluate(pb, make_policies(["base_stock", "recent_base_stock_tuned"], pb), record=0)
    cost = {r.name: r.kpis["avg_cost"] for r in ev.results}
    assert cost["recent_base_stock_tuned"] < cost["base_stock"]


def test_no_rule_sees_the_test_window(tmp_path):
    """Every classical rule, fitted and tuned for the test window (on train + val), acts identically whatever
    the test window's demand: two files that differ only there give the same orders on the same traces."""
    fitted = {}
    for scale in (1.0, 3.0):
        pb = Problem("lost-sales-L2-p9", **{"data.path": str(_drift_data(tmp_path, scale)), "data.test": "2008-01-01",
                                            "lead_time": 1, "order_cost": 2.0})
        assert len(pb.source.skus_in("val")) == 30  # the default validation window: the last quarter before test
        train = train_data(pb, window="fit")
        fitted[scale] = (pb, [p.fit(pb, train) for p in make_policies("all", pb) if not p.uses_future])
    (pb1, pols1), (_, pols3) = fitted[1.0], fitted[3.0]
    eps = make_episodes(pb1, "test", replay=True)
    assert len(pols1) >= 20
    for a, b in zip(pols1, pols3):
        runs = []
        for pol in (a, b):
            pol.start(eps)
            totals, _ = simulate(pb1, eps, lambda sim, pol=pol: pol.act(sim.observe() if pol.needs_obs else None,
                                                                        sim.raw), order_up_to=pol.order_up_to)
            runs.append(totals)
        assert np.array_equal(runs[0], runs[1]), a.name


def _one_sku(tmp_path: Path, demand: list[float], name: str = "one.csv") -> Path:
    dates = pd.date_range("2020-01-06", periods=len(demand), freq="W-MON")
    path = tmp_path / name
    pd.DataFrame({"date": dates, "sku": "A", "demand": demand}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("mode,test_demand,cost,credit", [
    # L = 0, orders of 4 from an empty start, c = 2, h = 1, p = b = 9:
    # lost sales, demand 3 5 2: ends 1 0 2 -> holding 3, purchase 24, final position 2 -> credit 4
    ("lost_sales", [3, 5, 2], 3 + 24 - 4, 4),
    # backorders, demand 3 6 2: ends 1 -1 1 -> holding 2, backorder cost 9, purchase 24, position 1 -> credit 2
    ("backorder", [3, 6, 2], 2 + 9 + 24 - 2, 2),
])
def test_end_of_window_credit_on_a_hand_example(tmp_path, mode, test_demand, cost, credit):
    """The stock on hand and on order at the end of the test window is credited at unit cost, taken off the
    cost (hand-computed above), reported as ``end_credit`` per period."""
    from envs.kpis import kpis_from_totals

    path = _one_sku(tmp_path, [4.0] * 7 + test_demand, f"{mode}.csv")
    pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "data.test": 0.3, "data.val": 0, "mode": mode,
                                        "lead_time": 0, "unit_cost": 2.0})
    eps = make_episodes(pb, "test", replay=True)
    assert eps.lengths.tolist() == [3] and eps.demand[eps.history:, 0].tolist() == test_demand
    totals, _ = simulate(pb, eps, lambda sim: np.full(1, 4.0), initial_state="empty")
    assert totals[0, I_COST] == cost
    k = kpis_from_totals(totals, ci=False)
    assert k["end_credit"] == pytest.approx(credit / 3) and k["avg_cost"] == pytest.approx(cost / 3)
    assert k["avg_cost"] == pytest.approx(k["holding"] + k["shortage"] + k["ordering"] + k["purchase"]
                                          - k["end_credit"])


def test_with_backorders_purchase_less_credit_is_the_same_for_every_policy():
    """With backorders all demand is bought in the end: purchase - end credit = c x (demand - initial position)
    whatever the policy, so the unit cost no longer rewards ending the window with less stock."""
    pb = Problem("backorder-L2-b9", unit_cost=3.0)
    eps = make_episodes(pb, "test", seed=5, n=6, periods=40)
    nets = []
    for level in (0.0, 8.0, 20.0):
        totals, _ = simulate(pb, eps, lambda sim, s=level: np.maximum(s - sim.raw.inventory_position, 0))
        nets.append(totals[:, kernel.I_PURCHASE] - totals[:, END_CREDIT])
    assert np.allclose(nets[0], nets[1]) and np.allclose(nets[0], nets[2])


def test_holding_rate_sets_holding_cost_from_unit_costs(tmp_path):
    path = _one_sku(tmp_path, [4.0] * 10)
    pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "unit_cost": 52.0, "holding_rate": 0.25 / 52})
    assert pb.params[0, kernel.HOLD] == pytest.approx(0.25)
    with pytest.raises(ScenarioError, match="holding_rate 0.01 needs a unit cost > 0 for every SKU; SKU 'A'"):
        Problem("lost-sales-L2-p9", **{"data.path": str(path), "holding_rate": 0.01})
    with pytest.raises(ScenarioError, match="'holding_rate' must be null or a fraction of the unit cost"):
        Problem("lost-sales-L2-p9", holding_rate=1.5)


def test_stock_left_by_a_warm_up_is_charged_at_unit_cost():
    """After a warm-up (whose purchases are not counted), the end credit is c x (final position - position
    when counting starts): with backorders purchase - credit is then c x the counted demand for every policy,
    and a policy that stocks up during the warm-up gains nothing from it."""
    pb = Problem("backorder-L2-b9", unit_cost=3.0)
    eps = make_episodes(pb, "test", seed=7, n=5, periods=60)
    warmup = 20
    counted = eps.demand[eps.history + warmup:eps.history + 60].sum(axis=0)
    for level in (0.0, 8.0, 30.0):
        totals, _ = simulate(pb, eps, lambda sim, s=level: np.maximum(
            (s if sim.t >= warmup else 200.0) - sim.raw.inventory_position, 0), warmup=warmup)
        net = totals[:, kernel.I_PURCHASE] - totals[:, END_CREDIT]
        assert np.allclose(net, 3.0 * counted), level


def test_parametric_tuning_covers_every_sku_beyond_the_episode_count():
    """More SKUs than training episodes (200): every SKU still gets training demand, so SKUs 200.. are tuned
    like the first ones (they were left at level 0 when the episodes cycled over the first 200 only)."""
    means = np.linspace(2.0, 9.0, 250)
    pb = Problem("lost-sales-L1-p9", demand={"mean": list(means)})
    levels = np.asarray(BaseStock().fit(pb, train_data(pb)).levels)
    assert levels.shape == (250,) and np.all(levels > 0)
    # a level grows with the mean: the last SKUs (mean ~9) get the largest levels, not 0
    assert levels[-10:].min() >= levels[:10].max()


def test_evaluate_window_scores_train_in_sample_and_refuses_what_it_cannot_score(tmp_path, capsys):
    """`--window train` scores the window the rules were fitted on and says so; val is scored with the rules fitted
    on train (held out), test with them on train + val; a window but test on parametric demand is a one-line
    error."""
    from invrl.evaluate import main

    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=120, freq="D")
    pd.concat([pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(2.0 + k, dates.size)})
               for k in range(3)]).to_csv(tmp_path / "d.csv", index=False)
    base = ["--scenario", "lost-sales-L1-p4", "--data", str(tmp_path / "d.csv"), "--policies", "base_stock",
            "--no-progress"]
    costs = {}
    for window, fitted in (("train", "train"), ("val", "train"), ("test", "fit")):
        assert main(base + ["--window", window, "--out", str(tmp_path / window)]) == 0
        out = capsys.readouterr().out
        assert ("in sample, not a held-out score" in out) == (window == "train"), out
        res = json.loads((tmp_path / window / "results.json").read_text())
        assert res["window"] == window and res["fit_window"] == fitted
        costs[window] = res["policies"]["base_stock"]["avg_cost"]
    assert len(set(costs.values())) == 3
    for args, word in ((["--scenario", "lost-sales-L1-p4", "--window", "train"], "--window train"),):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert word in err and err.startswith("error:") and err.count("\n") == 1, err
