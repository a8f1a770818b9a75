"""Forecast-driven order-up-to baselines: recursions against statsmodels and hand arithmetic, no look-ahead,
near-optimality on iid demand, and runs on every real data set."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from statsmodels.tsa.holtwinters import SimpleExpSmoothing  # imported here, not inside a warnings check

from baselines import forecast as F
from baselines import forecast_engines as FE
from baselines import forecast_models as FM
from baselines.base import TrainData, train_data
from envs import kernel as K
from envs.batch import PERIODS, simulate
from envs.episodes import Episodes, make_episodes
from envs.problem import Problem

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"
UNTUNED = ["ma", "ses", "holt_winters", "arima", "croston", "tsb"]


def make(name: str, **kw):
    """A registry policy (Holt-Winters and ARIMA fit every smooth/erratic SKU: batched, cheap)."""
    return F.FORECAST_POLICIES[name](**kw)


def one_sku_episode(problem: Problem, past: np.ndarray, periods: int = 5) -> Episodes:
    eps = make_episodes(problem, n=1, periods=periods, seed=0)
    return replace(eps, past=[np.asarray(past, dtype=np.float64)])


def run_recording(problem: Problem, policy, eps: Episodes, **kw):
    """Simulate `policy` on `eps`; returns the targets S_t of every period [T, N] and simulate's output."""
    policy.start(eps)
    targets = []

    def act(sim):
        targets.append(policy.act(None, sim.raw).copy())
        return targets[-1]

    out = simulate(problem, eps, act, order_up_to=True, **kw)
    return np.array(targets), out


def first_target(policy, problem: Problem, past) -> float:
    targets, _ = run_recording(problem, policy, one_sku_episode(problem, past))
    return float(targets[0, 0])


# ------------------------------------------------------------------------------- recursions, exact values
def test_ses_level_matches_statsmodels():
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.poisson(4, 30), rng.poisson(9, 30)]).astype(float)
    alpha, l0 = 0.3, float(y.mean())
    sm = SimpleExpSmoothing(y, initialization_method="known", initial_level=l0).fit(smoothing_level=alpha,
                                                                                   optimized=False)
    eng = FE._SESEngine(np.array([alpha]), np.array([l0]))
    levels = []
    for v in y:
        eng.update(np.array([v]))
        levels.append(eng.level[0])
    np.testing.assert_allclose(levels, sm.level, rtol=0, atol=1e-8)
    # the policy: l_0 = mean training demand, rolled over the episode's past (here the training series itself);
    # z = 0 (service level 0.5) so S = (L + 1) * level, L = 2
    pb = Problem("lost-sales-L2-p9")
    pol = F.SES(alpha=alpha, service_level=0.5).fit(pb, TrainData([y], simulated=False))
    assert first_target(pol, pb, y) == pytest.approx(3 * sm.level[-1], abs=1e-8)
    # with alpha fitted on the training SSE (a grid value; here the level shift asks for a large one)
    pol = F.SES(service_level=0.5).fit(pb, TrainData([y], simulated=False))
    fitted = float(pol.theta[0, 0])
    assert fitted in F.ALPHA_GRID and fitted >= 0.1
    sm = SimpleExpSmoothing(y, initialization_method="known", initial_level=l0).fit(smoothing_level=fitted,
                                                                                   optimized=False)
    assert first_target(pol, pb, y) == pytest.approx(3 * sm.level[-1], abs=1e-8)


def test_croston_and_tsb_hand_computed():
    pb = Problem("lost-sales-L1-p9")  # L = 1: S = 2 * per-period forecast (z = 0)
    train = TrainData([np.array([4.0, 0.0, 0.0, 4.0])], simulated=False)
    # priors from the training window: size z0 = mean non-zero demand = 4, interval p0 = ADI = 4 / 2 = 2,
    # probability b0 = 2 / 4 = 0.5, q0 = 1.
    past = [0.0, 6.0, 0.0, 0.0, 3.0]
    # Croston, alpha = 0.5:
    #   y=0: q=2 | y=6: z = 4 + .5(6-4) = 5, p = 2 + .5(2-2) = 2, q=1 | y=0: q=2 | y=0: q=3
    #   y=3: z = 5 + .5(3-5) = 4, p = 2 + .5(3-2) = 2.5  -> per period 4 / 2.5 = 1.6, S = 3.2
    pol = F.Croston(alpha=0.5, service_level=0.5).fit(pb, train)
    assert first_target(pol, pb, past) == pytest.approx(3.2, abs=1e-12)
    # SBA: 1.6 * (1 - 0.5 / 2) = 1.2, S = 2.4
    pol = F.Croston(alpha=0.5, sba=True, service_level=0.5).fit(pb, train)
    assert pol.name == "croston_sba"
    assert first_target(pol, pb, past) == pytest.approx(2.4, abs=1e-12)
    # TSB, alpha = 0.5 (size), beta = 0.25 (probability):
    #   y=0: b = .5 + .25(0-.5) = .375                      z = 4
    #   y=6: b = .375 + .25(1-.375) = .53125                z = 4 + .5(6-4) = 5
    #   y=0: b = .53125 * .75 = .3984375
    #   y=0: b = .3984375 * .75 = .298828125
    #   y=3: b = .298828125 + .25(1-.298828125) = .47412109375,  z = 5 + .5(3-5) = 4
    #   per period b z = 1.896484375, S = 3.79296875
    pol = F.TSB(alpha=0.5, beta=0.25, service_level=0.5).fit(pb, train)
    assert first_target(pol, pb, past) == pytest.approx(3.79296875, abs=1e-12)


def test_moving_average_hand_computed():
    pb = Problem("lost-sales-L1-p9")
    # k = 3 over past [1, 2, 3, 4, 8]: (3 + 4 + 8) / 3 = 5, S = 2 * 5 = 10 (z = 0); with a past of one value
    # the two missing ones count as the training mean 2: (2 + 2 + 5) / 3 = 3, S = 6
    pol = F.MovingAverage(k=3, service_level=0.5).fit(pb, TrainData([np.array([1.0, 3.0])], simulated=False))
    assert first_target(pol, pb, [1, 2, 3, 4, 8]) == pytest.approx(10.0)
    assert first_target(pol, pb, [5]) == pytest.approx(6.0)


def test_holt_winters_and_arima_recursions_match_statsmodels():
    rng = np.random.default_rng(1)
    t = np.arange(96)
    y = np.maximum(0, 20 + 0.05 * t + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, t.size)).round()
    rec, fitted = FM._fit_holt_winters(y, 12)
    assert rec["m"] == 12
    eng = FE._HoltWintersEngine(*([rec[k]] for k in ("alpha", "beta", "phi", "gamma", "m", "level", "trend")),
                                rec["seasons"][None, :], [0])
    mine = []
    for v in y:
        mine.append(eng.forecast(1)[0, 0])
        eng.update(np.array([v]))
    np.testing.assert_allclose(mine, fitted, rtol=1e-10, atol=1e-8)
    for order in F.ARIMA_ORDERS:
        rec, fitted = FM._fit_arima(y, (order,))
        eng = FE._KalmanEngine(rec["T"][None], rec["Z"][None], rec["RQR"][None], [rec["d"]], [rec["H"]],
                               rec["a"][None], rec["P"][None])
        mine = []
        for v in y:
            mine.append(eng.forecast(1)[0, 0])
            eng.update(np.array([v]))
        # d = 1 models start from statsmodels' approximate diffuse prior (variance 1e6): the same filter
        np.testing.assert_allclose(mine, fitted, rtol=1e-8, atol=1e-8, err_msg=str(order))


# ----------------------------------------------------------------------------------------- no look-ahead
@pytest.fixture(scope="module")
def demo():
    pb = Problem("demo")  # 4 SKUs, daily with weekly season, trend, promotions; lead time 3; demand window 7
    return pb, train_data(pb, periods=300)


@pytest.mark.parametrize("name", UNTUNED + ["ses_tuned"])
def test_no_look_ahead(demo, name):
    pb, train = demo
    pol = make(name).fit(pb, train)
    if name in ("holt_winters", "arima"):
        assert pol.n_models > 0  # the statsmodels recursion is exercised, not only its SES fallback
    eps = make_episodes(pb, n=8, periods=40, seed=5)
    base, (_, traj) = run_recording(pb, pol, eps, record=np.arange(eps.n))
    for t in (0, 20):
        # demand of periods >= t replaced: the targets and orders of periods <= t must not move (S_t is made
        # with demand < t, and period t's order is placed before its demand)
        changed = eps.demand.copy()
        changed[eps.history + t:] = changed[eps.history + t:] * 3 + 7
        targets, (_, traj2) = run_recording(pb, pol, replace(eps, demand=changed), record=np.arange(eps.n))
        np.testing.assert_array_equal(base[:t + 1], targets[:t + 1])
        np.testing.assert_array_equal(traj.order[:t + 1], traj2.order[:t + 1])
        assert np.any(base[t + 1] != targets[t + 1])  # the demand of period t is used from period t + 1 on


# ------------------------------------------------------------------- iid Poisson: near the best base-stock
BEST_BASE_STOCK = 6.3163  # lost-sales-L2-p9, exact (Zipkin 2008; baselines/dp_optimal.py)


@pytest.mark.parametrize("name, tol", [("ses_tuned", 0.02), ("ma_tuned", 0.035), ("ses_quantile_tuned", 0.02)])
def test_tuned_near_best_base_stock_on_iid_poisson(name, tol):
    # On iid demand the best forecast is the constant mean; a forecaster adds the noise of its estimate to
    # the target: Var(F(L+1)) = (L+1)^2 Var(f). SES (alpha ~ 0.01): Var(f) = alpha/(2-alpha) 5 = 0.025, i.e.
    # 9 * 0.025 = 0.23 on top of the lead-time demand variance 15 (+1.5 %), about +0.75 % cost; MA(64):
    # Var(f) = 5/64, +4.7 % variance, about +2.3 % cost. Tolerances: these + ~1 % for z on a grid and for
    # simulation noise (200 x 1000 periods; standard error ~0.3 %).
    pb = Problem("lost-sales-L2-p9")
    pol = make(name).fit(pb, train_data(pb))
    eps = make_episodes(pb, n=200, periods=1100, seed=11)
    pol.start(eps)
    tot, _ = simulate(pb, eps, lambda sim: pol.act(None, sim.raw), warmup=100, order_up_to=True)
    cost = tot[:, K.I_COST].sum() / tot[:, PERIODS].sum()
    assert 6.0936 - 0.05 < cost < BEST_BASE_STOCK * (1 + tol), (cost, pol.describe())


# ----------------------------------------------------------------------------------------- real data
DATASETS = {  # the project's scenario configs, with the data files taken from shared/data
    "carparts": ("carparts_monthly.csv.gz", None),
    "m5_tiny": ("m5_tiny_daily.csv.gz", None),
    "man_weekly": ("man_weekly.csv.gz", "man_items.csv"),
}


@pytest.fixture(scope="module")
def real(request):
    cache = {}

    def get(name):
        if name not in cache:
            demand, items = DATASETS[name]
            if not (DATA / demand).exists() or (items and not (DATA / items).exists()):
                pytest.skip(f"{DATA / demand} not present")
            over = {"data.path": str(DATA / demand)}
            if items:
                over["data.items"] = str(DATA / items)
            pb = Problem(str(CONFIGS / f"{name}.yaml"), **over)
            cache[name] = (pb, train_data(pb), make_episodes(pb, "test"))
        return cache[name]

    return get


QUANTILE = ["ses_quantile", "tsb_quantile_tuned", "holt_winters_quantile_tuned", "arima_quantile"]


@pytest.mark.parametrize("name", UNTUNED + [n + "_tuned" for n in UNTUNED] + QUANTILE)
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_runs_on_real_data(real, dataset, name):
    pb, train, eps = real(dataset)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pol = make(name).fit(pb, train)
        pol.start(eps)
        tot, _ = simulate(pb, eps, lambda sim: pol.act(None, sim.raw), order_up_to=True)
        text = pol.describe()
    assert not caught, [str(w.message) for w in caught]
    assert np.all(np.isfinite(tot[:, K.I_COST])) and tot[:, PERIODS].sum() > 0
    assert np.all(np.isfinite(pol.sigma)) and np.all(np.isfinite(pol.z)) and text.startswith(name)
    if "_quantile" in name:
        assert np.all(np.isfinite(pol.safety_stock)) and "(L+1)-period forecast errors" in text
    elif not name.endswith("_tuned"):
        assert "textbook fixed service level" in text
    if name.startswith(("holt_winters", "arima")):
        assert pol.n_models > 0 and f"on {pol.n_models} SKUs" in text


@pytest.mark.parametrize("name", ["ma", "ses", "croston", "tsb", "holt_winters"])
def test_tuning_by_forecast_paths_matches_grid_search(name):
    """_tune (forecast path once per theta + fused rule kernel) picks what grid_search with the per-candidate
    runner (_tuning_act) picks, with the same costs."""
    from baselines.tuning import RULE_LEVEL, grid_search, rule_search, training_episodes

    pb = Problem("demo", episode_length=120)
    train = train_data(pb, periods=600)
    pol = make(name, tuned=True).fit(pb, train)
    eps, warmup = training_episodes(pb, n=12, periods=150)
    n = pb.n_skus
    thetas = pol._theta_candidates()
    c, p = thetas.shape[1], thetas.shape[2]
    sig = pol._sigma(np.repeat(np.arange(n), c), thetas.reshape(n * c, p)).reshape(n, c)
    zs = np.array([-1.0, 0.0, 1.5])
    cand = np.empty((n, c, zs.size, 2 + p))
    cand[..., 0], cand[..., 1], cand[..., 2:] = zs, sig[:, :, None], thetas[:, :, None, :]
    cand = cand.reshape(n, c * zs.size, 2 + p)
    ref = grid_search(pb, eps, warmup, cand, pol._tuning_act(), order_up_to=True)
    new = rule_search(pb, eps, warmup, cand, RULE_LEVEL, pol._safety_values, pol._forecast_paths(eps, thetas, zs.size))
    assert np.array_equal(ref[1], new[1]) and np.array_equal(ref[0], new[0])


# ------------------------------------------------------------------ quantile of the forecaster's own errors
def test_error_quantile_order_up_to_hand_computed():
    """MA(1) (F_s = 3 y_{s-1}, F_0 = 3 mean) on a 10-period series, L = 2, no burn-in: the 3-period errors
    e_s = y_s + y_{s+1} + y_{s+2} - F_s (s = 0..7) by hand, their empirical quantile at the critical ratio
    p / (p + h) = 9 / 10, and the target F(3) + quantile at the first period after the series."""
    y = np.array([2, 0, 5, 1, 3, 4, 0, 6, 2, 3], dtype=float)  # mean 2.6
    errors = [7 - 7.8, 6 - 6, 9 - 0, 8 - 15, 7 - 3, 10 - 9, 8 - 12, 11 - 0]
    pb = Problem("lost-sales-L2-p9")  # h = 1, p = 9
    pol = F.FORECAST_POLICIES["ma_quantile"](k=1, burn_in=0).fit(pb, TrainData([y], simulated=False))
    ordered, count = pol._lead_errors(np.array([0]), pol.theta)
    assert count[0] == 8
    np.testing.assert_allclose(ordered[:8, 0], sorted(errors), atol=1e-12)
    assert pol.level[0] == pytest.approx(0.9)
    assert pol.safety_stock[0] == 11.0 == np.quantile(errors, 0.9, method="inverted_cdf")  # ceil(0.9 * 8) = 8th
    q = pol._error_quantiles((ordered, count), np.array([[0.5, 0.6, 0.75]]))
    np.testing.assert_allclose(q[0], [0.0, 1.0, 4.0])  # the 4th, 5th and 6th of the 8 sorted errors
    assert first_target(pol, pb, y) == pytest.approx(3 * 3 + 11.0)  # MA(1) after the series: 3 y_9 = 9


def _shift_data(tmp_path: Path, test_scale: float = 1.0, holdout_scale: float = 1.0) -> Path:
    """Monthly Poisson(4) demand of 20 SKUs over 120 months; the last 24 are the test window (scaled by
    `test_scale`), months 77..95 (inside the validation window, months 72..95, the quarter before the test
    window) scaled by `holdout_scale`."""
    import pandas as pd

    rng = np.random.default_rng(1)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    rows = []
    for k in range(20):
        demand = rng.poisson(4.0, 120).astype(float)
        demand[77:96] = np.rint(demand[77:96] * holdout_scale)
        demand[96:] = np.rint(demand[96:] * test_scale)
        rows.append(pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": demand}))
    path = tmp_path / f"shift_{test_scale:g}_{holdout_scale:g}.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["ses_quantile_tuned", "holt_winters_quantile_tuned"])
def test_quantile_level_chosen_on_held_out_training_data_only(tmp_path, name):
    """The tuned quantile rule, fitted on train + val as evaluate() fits it for the test window, picks its level
    on the validation window: changing the test window changes neither the level nor the costs it was chosen by
    nor the safety stocks; changing the validation window does change those costs (it is what the choice
    reads)."""
    from baselines.base import fit_window

    fits, on_train = {}, []
    for test_scale, hold_scale in ((1.0, 1.0), (3.0, 1.0), (1.0, 2.5)):
        path = _shift_data(tmp_path, test_scale, hold_scale)
        pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "data.test": "2008-01-01", "lead_time": 1})
        assert fit_window(pb, "test") == "fit"
        pol = make(name).fit(pb, train_data(pb, window="fit"))
        fits[test_scale, hold_scale] = (pol.level.copy(), dict(pol.holdout_costs), pol.safety_stock.copy(),
                                        pol.theta.copy())
        # fitted on the train window only (to be scored on val): the held-out part is the end of train, and
        # neither the validation nor the test window is read
        pol = make(name).fit(pb, train_data(pb))
        on_train.append((pol.level[0], dict(pol.holdout_costs), pol.safety_stock.copy()))
    (lv1, c1, ss1, th1), (lv3, c3, ss3, th3) = fits[1.0, 1.0], fits[3.0, 1.0]
    assert np.array_equal(lv1, lv3) and c1 == c3 and np.array_equal(ss1, ss3) and np.array_equal(th1, th3)
    assert set(c1) == set(F.LEVEL_GRID) and lv1[0] in F.LEVEL_GRID and np.all(lv1 == lv1[0])
    assert c1[lv1[0]] == min(c1.values())
    assert fits[1.0, 2.5][1] != c1  # the held-out demand is what the level is chosen on
    for lv, costs, ss in on_train[1:]:
        assert lv == on_train[0][0] and costs == on_train[0][1] and np.array_equal(ss, on_train[0][2])


def test_quantile_rules_in_the_registry():
    from baselines.evaluation import known_policies, make_policies

    names = known_policies()
    for base in UNTUNED:
        assert base + "_quantile" in names and base + "_quantile_tuned" in names
    pols = make_policies("ses_quantile,tsb_quantile_tuned", Problem("demo"))
    assert [p.name for p in pols] == ["ses_quantile", "tsb_quantile_tuned"]
    with pytest.raises(ValueError, match="safety"):
        F.SES(safety="quantile")


# ---------------------------------------------------------------------------- batched Holt-Winters fit
def test_batched_holt_winters_sse_matches_the_engine():
    """The numba grid pass scores each candidate by the one-step SSE that _HoltWintersEngine gives (forecasts
    clipped at 0, after burn-in) from the same prior: the fit's kernel and the policy's engine agree."""
    rng = np.random.default_rng(4)
    t = np.arange(80)
    Y = np.stack([np.maximum(0, 6 + 2 * np.sin(2 * np.pi * t / 7) + 0.03 * t + rng.normal(0, 1.5, t.size)).round(),
                  rng.poisson(1.0, t.size).astype(float)], axis=1)
    first, nobs, burn, m = np.array([5, 0]), np.array([80, 70]), np.array([3, 6]), 7
    grid = FM.hw_grid(True)
    level0 = np.array([Y[5:80, 0].mean(), Y[0:70, 1].mean()])
    seasons0 = rng.normal(0, 1, (2, m))
    sse = np.zeros((2, grid.shape[0]))
    cnt = np.zeros((2, grid.shape[0]), dtype=np.int64)
    FM._hw_grid_sse(Y, first, nobs, burn, np.zeros(2, dtype=np.int64), m, level0, seasons0, grid, sse, cnt)
    for j in range(2):
        for g in (0, 9, 100, grid.shape[0] - 1):
            a, b, phi, gam, seas = grid[g]
            eng = FE._HoltWintersEngine([a], [b], [phi], [gam], [m], [level0[j]], [0.0],
                                        (seasons0[j] if seas else np.zeros(m))[None, :], [0])
            ref, n = 0.0, 0
            for r in range(first[j], nobs[j]):
                e = Y[r, j] - FE._one_step(eng)[0]
                if r - first[j] >= burn[j]:
                    ref, n = ref + e * e, n + 1
                eng.update(np.array([Y[r, j]]))
            assert cnt[j, g] == n and sse[j, g] == pytest.approx(ref, rel=1e-12), (j, g)


def test_batched_holt_winters_recovers_a_noise_free_season():
    """y = 10 + s_(t mod 4), s = (3, -1, -2, 0): the prior (window mean, phase means minus it) is exact, every
    seasonal candidate forecasts with zero error, and the AICc picks the smallest of them (level + season)."""
    s = np.array([3.0, -1.0, -2.0, 0.0])
    y = 10 + np.tile(s, 12)
    rec = FM.fit_holt_winters_batch(y[:, None], np.array([0]), np.array([48]), np.array([2]), 4)[0]
    assert rec["m"] == 4 and rec["phi"] == 0.0 and rec["beta"] == 0.0 and rec["alpha"] == FM.HW_ALPHA[0]
    assert rec["level"] == 10.0 and rec["gamma"] == FM.HW_GAMMA[0]
    np.testing.assert_allclose(rec["seasons"], s)
    eng = FE._HoltWintersEngine([rec["alpha"]], [0.0], [0.0], [rec["gamma"]], [4], [rec["level"]], [0.0],
                                rec["seasons"][None, :], [0])
    for v in y:
        assert eng.forecast(1)[0, 0] == pytest.approx(v, abs=1e-9)
        eng.update(np.array([v]))
    # too short for two seasons: no seasonal candidate
    rec = FM.fit_holt_winters_batch(y[:7, None], np.array([0]), np.array([7]), np.array([0]), 4)[0]
    assert rec["m"] == 1


def test_holt_winters_fits_every_eligible_sku(tmp_path):
    """No cap: all 40 smooth SKUs (more than the former 25) get a Holt-Winters model; max_fits still caps."""
    import pandas as pd

    rng = np.random.default_rng(2)
    dates = pd.date_range("2000-01-03", periods=200, freq="D")
    rows = [pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(5 + k % 7, 200).astype(float)})
            for k in range(40)]
    path = tmp_path / "smooth.csv"
    pd.concat(rows).to_csv(path, index=False)
    pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "data.test": 0.25})
    train = train_data(pb)
    pol = F.HoltWinters().fit(pb, train)
    assert pol.n_models == 40 and np.all(pol._fit_index >= 0) and pol.sku_separable
    capped = F.HoltWinters(max_fits=10)
    assert capped.fit(pb, train).n_models == 10 and not capped.sku_separable
    with pytest.raises(ValueError, match="max_fits"):
        F.HoltWinters(max_fits=-1)


def _arima_series() -> list[np.ndarray]:
    """Demand-like series of 120 periods: ARMA(1,1) around a mean, an IMA(1,1) level, white noise."""
    rng = np.random.default_rng(7)
    out = []
    for phi, theta in ((0.7, -0.3), (0.3, 0.4), (0.0, 0.0)):
        e = rng.normal(0, 2, 121)
        x = np.zeros(121)
        for t in range(1, 121):
            x[t] = phi * x[t - 1] + e[t] + theta * e[t - 1]
        out.append(np.maximum(0, 20 + x[1:]).round())
    e = rng.normal(0, 2, 121)
    out.append(np.maximum(0, 30 + np.cumsum(e[1:] - 0.6 * e[:-1])).round())
    return out


def test_arima_profile_likelihood_is_statsmodels_loglike():
    """The concentrated filter of the batched fit: at its (mu, sigma2), -2 llf equals statsmodels' exact
    log-likelihood of ARIMA(1,0,1)+c at the same parameters; for d = 1, that of the differenced series (the
    exact diffuse likelihood; statsmodels' approximate diffuse prior of 1e6 gives nearly the same)."""
    from statsmodels.tsa.arima.model import ARIMA as SM

    y = _arima_series()[0]
    for phi, theta in ((0.5, -0.2), (-0.3, 0.8), (0.95, -0.99)):
        m2ll, mu, sigma2 = FM._arma_profile(y, 0, y.size, phi, theta, True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            llf = SM(y, order=(1, 0, 1), trend="c").loglike(np.array([mu, phi, theta, sigma2]))
        assert -0.5 * m2ll == pytest.approx(llf, rel=1e-10)
        w = np.diff(y)
        m2ll, _, sigma2 = FM._arma_profile(w, 0, w.size, phi, theta, False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            llf = SM(w, order=(1, 0, 1), trend="n").loglike(np.array([phi, theta, sigma2]))
        assert -0.5 * m2ll == pytest.approx(llf, rel=1e-10)


def test_batched_arima_fit_matches_statsmodels():
    """fit_arima_batch against statsmodels' ARIMA(...).fit() per order: the same maximum (AIC within 0.05),
    parameters within 0.02 where the maximum is inside (|theta| < 0.95), the same order chosen, and the
    state-space record of statsmodels' parameters equal to statsmodels' matrices and prior."""
    ys = _arima_series()
    Y = np.stack(ys, axis=1)
    n = Y.shape[1]
    first, nobs = np.zeros(n, dtype=np.int64), np.full(n, Y.shape[0])
    best = FM.fit_arima_batch(Y, first, nobs)
    for order in FM.ARIMA_ORDERS:
        mine = FM.fit_arima_batch(Y, first, nobs, (order,))
        for j, y in enumerate(ys):
            rec, _ = FM._fit_arima(y, (order,))
            from statsmodels.tsa.arima.model import ARIMA as SM

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = SM(y, order=order[0], trend=order[1]).fit(low_memory=True, cov_type="none")
            par = dict(zip(res.param_names, res.params, strict=True))
            assert abs(mine[j]["aic"] - res.aic) < 0.05, (order, j)
            if abs(par["ma.L1"]) < 0.95:
                assert mine[j]["theta"] == pytest.approx(par["ma.L1"], abs=0.02), (order, j)
                assert mine[j]["phi"] == pytest.approx(par.get("ar.L1", 0.0), abs=0.02), (order, j)
            ss = FM.arima_state_space(order[0], par.get("ar.L1", 0.0), par["ma.L1"], par.get("const", 0.0),
                                      par["sigma2"])
            k = rec["T"].shape[0]
            for key in ("T", "RQR", "P"):
                np.testing.assert_allclose(ss[key][:k, :k], rec[key], rtol=1e-9, atol=1e-9, err_msg=key)
                assert not ss[key][k:].any() and not ss[key][:, k:].any()
            for key in ("Z", "a"):
                np.testing.assert_allclose(ss[key][:k], rec[key], rtol=1e-9, atol=1e-9, err_msg=key)
            assert ss["d"] == pytest.approx(rec["d"]) and ss["H"] == rec["H"] == 0.0
    sm_orders = [FM._fit_arima(y)[0]["order"] for y in ys]
    assert [b["order"] for b in best] == sm_orders
    # a constant window has no fit (SES fallback); too few values neither
    assert FM.fit_arima_batch(np.full((30, 1), 4.0), [0], [30]) == [None]
    assert FM.fit_arima_batch(Y[:, :1], [0], [3]) == [None]


def test_arima_fits_every_eligible_sku(tmp_path):
    """No cap: all 40 smooth SKUs get an ARIMA model, the policy is SKU-separable and a fit on a subset of the
    SKUs gives the same records; max_fits still caps (and is not separable)."""
    import pandas as pd

    rng = np.random.default_rng(2)
    dates = pd.date_range("2000-01-03", periods=200, freq="D")
    rows = [pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(5 + k % 7, 200).astype(float)})
            for k in range(40)]
    path = tmp_path / "smooth.csv"
    pd.concat(rows).to_csv(path, index=False)
    pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "data.test": 0.25})
    pol = F.ARIMA().fit(pb, train_data(pb))
    assert pol.n_models == 40 and np.all(pol._fit_index >= 0) and pol.sku_separable
    sub = pb.subset(np.arange(5, 12))
    part = F.ARIMA().fit(sub, train_data(sub))
    for key, v in part._ss.items():
        assert np.array_equal(v, pol._ss[key][5:12]), key
    capped = F.ARIMA(max_fits=10)
    assert not capped.sku_separable and capped.fit(pb, train_data(pb)).n_models == 10
    assert not F.ARIMA(tuned=True, safety=F.SafetyStock.ERROR_QUANTILE).sku_separable
    with pytest.raises(ValueError, match="max_fits"):
        F.ARIMA(max_fits=-1)
