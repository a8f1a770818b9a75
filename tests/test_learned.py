"""Learned forecasters (baselines.learned): features from the past only, the test window never seen in fitting
or tuning, seeded and deterministic, one fit shared by the rules that use it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines import learned as LR
from baselines.base import TrainData, fit_window, train_data
from baselines.forecast import LEVEL_GRID
from envs.batch import simulate
from envs.episodes import make_episodes
from envs.problem import Problem

SMALL = {"rounds": 20}
SMALL_GRU = {"steps": 20, "hidden": 8, "batch": 8}
LEARNED = [pytest.param(LR.LGBMForecast, SMALL, id="lgbm"), pytest.param(LR.GRUForecast, SMALL_GRU, id="gru")]


COVARIATES = ["price", "snap", "event"]


def _data(tmp_path, test_scale: float = 1.0, val_scale: float = 1.0, skus: int = 12, covariates: bool = False,
          test_price: float = 1.0):
    """Monthly data, 120 months (test from 2008-01: the last 24; val the 24 before), Poisson demand with a
    season; the validation and test windows scaled. `covariates`: with M5's columns price (a discount of 30 %
    in a fifth of the months doubles demand; the test window's prices times `test_price`), snap (0/1) and
    event (text, mostly empty), read as data.covariates [price, snap, event]."""
    rng = np.random.default_rng(1)
    dates = pd.date_range("2000-01-01", periods=120, freq="MS")
    season = 1 + 0.5 * np.sin(2 * np.pi * np.arange(120) / 12)
    rows = []
    for k in range(skus):
        promo = rng.random(120) < 0.2
        mean = (1 + k % 4) * season * (np.where(promo, 2.0, 1.0) if covariates else 1.0)
        demand = rng.poisson(mean).astype(float)
        demand[72:96] = np.rint(demand[72:96] * val_scale)
        demand[96:] = np.rint(demand[96:] * test_scale)
        df = pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": demand})
        if covariates:
            price = (2.0 + k) * np.where(promo, 0.7, 1.0)
            price[96:] *= test_price
            df["price"] = price
            df["snap"] = (np.arange(120) % 3 == k % 3).astype(int)
            df["event"] = np.where(np.arange(120) % 12 == 11, "Christmas|NewYear", "")
        rows.append(df)
    tag = f"_c{test_price:g}" if covariates else ""
    path = tmp_path / f"d_{test_scale:g}_{val_scale:g}{tag}.csv"
    pd.concat(rows).to_csv(path, index=False)
    extra = {"data.covariates": COVARIATES} if covariates else {}
    return Problem("lost-sales-L2-p9", **{"data.path": str(path), "data.test": "2008-01-01", "lead_time": 1, **extra})


def _engine_features(pb: Problem, y: np.ndarray, t: int) -> np.ndarray:
    """Features of origin t of one SKU's series y (calendar row of y_0 = 0)."""
    eng = LR._FeatureEngine(*LR.features_for(pb), np.array([0]), np.array([2]), np.array([0]))
    for s in range(t):
        eng.update(y[s:s + 1])
    return eng.features()[0][0]


def test_features_are_the_stated_statistics_of_the_past(tmp_path):
    pb = _data(tmp_path)
    spec = LR.features_for(pb)[0]
    assert spec.season == 12 and spec.dated and not spec.daily and spec.n_calendar == 2 and spec.lags == tuple(range(1, 9)) + (12,)
    y = np.array([0.0, 2, 0, 4, 1, 0, 3, 0, 0, 5])
    X = _engine_features(pb, y, 10)
    f = dict(zip(spec.names, X.astype(np.float64), strict=True))
    s = y.mean()  # the expanding mean
    assert f["lag_1"] == pytest.approx(5 / s, rel=1e-6) and f["lag_3"] == pytest.approx(0.0)
    assert np.isnan(f["lag_12"])  # not yet seen
    assert f["mean_4"] == pytest.approx(y[-4:].mean() / s, rel=1e-6)
    assert f["mean_32"] == pytest.approx(1.0, rel=1e-6)  # all ten values seen: their mean over s
    assert f["std_8"] == pytest.approx(y[-8:].std(ddof=1) / s, rel=1e-5)
    assert f["nonzero"] == pytest.approx(0.5) and f["since"] == 1.0
    assert f["log_scale"] == pytest.approx(np.log1p(s), rel=1e-6) and f["horizon"] == 2.0
    # month of y_10 (calendar row 10 of the data: 2000-11)
    assert f["cal_0"] == pytest.approx(np.sin(2 * np.pi * 10 / 12), abs=1e-6)


def test_features_of_period_t_use_no_demand_from_t_on(tmp_path):
    pb = _data(tmp_path)
    rng = np.random.default_rng(0)
    y = rng.poisson(2.0, 60).astype(float)
    for t in (1, 5, 13, 40):
        z = y.copy()
        z[t:] = rng.poisson(50.0, 60 - t)
        assert np.array_equal(_engine_features(pb, y, t), _engine_features(pb, z, t), equal_nan=True)
        assert not np.array_equal(_engine_features(pb, y, t + 1), _engine_features(pb, z, t + 1), equal_nan=True)


@pytest.mark.parametrize("cls,kw", LEARNED)
def test_targets_use_no_demand_from_t_on(tmp_path, cls, kw):
    """In a simulation of the test window, the target S_t of period t is the same when the demand of periods
    t, t+1, ... changes."""
    pb = _data(tmp_path)
    pol = cls(**kw).fit(pb, train_data(pb, window="fit"))
    eps = make_episodes(pb, "test")
    h = eps.history

    def targets(e):
        pol.start(e)
        out = []

        def act(sim):
            out.append(pol.act(None, sim.raw).copy())
            return out[-1]

        simulate(pb, e, act, order_up_to=True)
        return np.array(out)

    base = targets(eps)
    k = 7
    d = eps.demand.copy()
    d[h + k:] *= 5
    other = targets(replace(eps, demand=d))
    assert np.array_equal(base[:k + 1], other[:k + 1])
    assert not np.array_equal(base[k + 1:], other[k + 1:])


def _model_state(pol) -> str | bytes:
    if isinstance(pol, LR.LGBMForecast):
        return pol.model_text()
    return b"".join(v.numpy().tobytes() for v in pol.model.state_dict().values())


@pytest.mark.parametrize("cls,kw", LEARNED)
def test_test_window_never_seen_in_training_or_tuning(tmp_path, cls, kw):
    """lgbm_quantile_tuned fitted on train + val (as evaluate() fits it for the test window): changing the test
    window changes neither the model, the level, the held-out costs it chose the level by, nor the safety
    stocks; changing the validation window changes the held-out costs (they are what the choice reads)."""
    fits = {}
    for scales in ((1.0, 1.0), (3.0, 1.0), (1.0, 2.5)):
        pb = _data(tmp_path, *scales)
        assert fit_window(pb, "test") == "fit"
        pol = cls(tuned=True, **kw).fit(pb, train_data(pb, window="fit"))
        fits[scales] = (_model_state(pol), pol.level.copy(), dict(pol.holdout_costs), pol.safety_stock.copy())
    a, b, c = fits[1.0, 1.0], fits[3.0, 1.0], fits[1.0, 2.5]
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2] and np.array_equal(a[3], b[3])
    assert set(a[2]) == set(LEVEL_GRID) and a[2][a[1][0]] == min(a[2].values())
    assert c[2] != a[2] and c[0] != a[0]


@pytest.mark.parametrize("cls,kw", LEARNED)
def test_seeded_and_deterministic(tmp_path, cls, kw):
    pb = _data(tmp_path)
    pols = [cls(seed=s, **kw).fit(pb, train_data(pb)) for s in (0, 0, 1)]
    states = [_model_state(p) for p in pols]
    assert states[0] == states[1] and states[0] != states[2]
    assert np.array_equal(pols[0].safety_stock, pols[1].safety_stock)


@pytest.mark.parametrize("cls,kw", LEARNED)
def test_one_fit_shared_by_the_rules(tmp_path, cls, kw):
    """The untuned and tuned rule on the same training data share one fitted model (the training data's
    cache); other settings fit their own; a fresh cache refits the same model."""
    pb = _data(tmp_path)
    train = train_data(pb, window="fit")
    plain = cls(**kw).fit(pb, train)
    tuned = cls(tuned=True, **kw).fit(pb, train)
    assert plain.model is tuned.model and plain.name.endswith("_quantile") and tuned.name.endswith("_tuned")
    assert not tuned.sku_separable and not plain.sku_separable
    other = cls(seed=3, **kw).fit(pb, train)
    assert other.model is not plain.model
    fresh = cls(**kw).fit(pb, TrainData(train.demand, simulated=False, window="fit"))
    assert fresh.model is not plain.model and _model_state(fresh) == _model_state(plain)


def test_row_cap_samples_rows(tmp_path):
    pb = _data(tmp_path)
    full = LR.LGBMForecast(**SMALL).fit(pb, train_data(pb))
    capped = LR.LGBMForecast(max_rows=200, **SMALL).fit(pb, train_data(pb))
    assert capped.n_rows == full.n_rows > 200  # rows there were; the model saw a sample of about 200
    assert capped.model_text() != full.model_text()
    with pytest.raises(ValueError, match="max_rows"):
        LR.LGBMForecast(max_rows=0)


def test_quantile_objective_variant(tmp_path):
    pb = _data(tmp_path)
    pol = LR.LGBMForecast(objective="quantile", **SMALL).fit(pb, train_data(pb))
    assert pol.name == "lgbm_quantile_objective" and np.all(pol.safety_stock == 0)
    assert pol.level[0] == pytest.approx(0.9) and "quantile loss" in pol.describe()
    with pytest.raises(ValueError, match="tuned"):
        LR.LGBMForecast(objective="quantile", tuned=True)


def test_in_the_registry_and_described(tmp_path):
    from baselines.evaluation import known_policies

    assert {"lgbm_quantile", "lgbm_quantile_tuned", "gru_quantile", "gru_quantile_tuned"} <= set(known_policies())
    pb = _data(tmp_path)
    d = LR.LGBMForecast(**SMALL).fit(pb, train_data(pb)).describe()
    assert d.startswith("lgbm_quantile: S = F(L+1) + quantile") and "LightGBM on" in d


def test_gru_inputs_match_the_engine(tmp_path):
    """The GRU trains on the inputs of the whole window at once (_training_rows) and acts on those of its engine
    stepped period by period: the same numbers, so the hidden state it acts on is the one it was trained on."""
    import torch

    pb = _data(tmp_path)
    pol = LR.GRUForecast(**SMALL_GRU).fit(pb, train_data(pb))
    X, target, _ = pol._training_rows()
    n = pb.n_skus
    eng = pol._make_engine(np.arange(n), np.zeros((n, 0)), pol._offset)
    h = torch.zeros(1, n, pol.hidden)
    for t in range(X.shape[0]):
        eng.update(pol._Y[t])
        with torch.no_grad():
            _, h = pol.model.gru(torch.from_numpy(X[t])[None], h)
        assert torch.equal(h, eng.h)
    assert np.isnan(target[-1]).all() and np.isfinite(target[0]).all()


def test_export_and_recommend_from_a_history_file(tmp_path):
    """agents.export --baseline lgbm_quantile writes a JSON policy (LightGBM's model text, no pickle) from which
    deploy.recommend computes, from the demand history before the test window and its first date, the same
    order-up-to level as the policy's first target of the test window in the simulator."""
    import json

    from agents.export import main as export_main
    from deploy.errors import DeployError
    from deploy.recommend import run

    pb = _data(tmp_path)
    path = tmp_path / "d_1_1.csv"
    out = tmp_path / "lgbm.json"
    assert export_main(["--baseline", "lgbm_quantile", "--scenario", "lost-sales-L2-p9", f"data.path={path}",
                        "data.test='2008-01-01'", "lead_time=1", "--out", str(out)]) == 0
    meta = json.loads(out.read_text())
    assert meta["kind"] == "lgbm" and meta["model"].startswith("tree") and len(meta["safety_stock"]) == pb.n_skus
    pol = LR.LGBMForecast().fit(pb, train_data(pb, window="fit"))
    assert pol.model_text() == meta["model"]
    eps, target = _first_targets(pol, pb)
    df = pd.read_csv(path)
    df[df["date"] < "2008-01-01"].to_csv(tmp_path / "history.csv", index=False)
    skus = [pb.sku_name(int(i)) for i in eps.sku]
    pd.DataFrame({"sku": skus, "on_hand": 0.0}).to_csv(tmp_path / "state.csv", index=False)
    orders = run(out, tmp_path / "state.csv", tmp_path / "orders.csv", history=tmp_path / "history.csv",
                 date="2008-01-01")
    np.testing.assert_allclose(orders["requested_qty"].to_numpy(), target, rtol=1e-12)
    with pytest.raises(DeployError, match="--history"):
        run(out, tmp_path / "state.csv", tmp_path / "o2.csv", date="2008-01-01")
    with pytest.raises(DeployError, match="--date"):
        run(out, tmp_path / "state.csv", tmp_path / "o3.csv", history=tmp_path / "history.csv")
    assert not (tmp_path / "o2.csv").exists() and not (tmp_path / "o3.csv").exists()


def test_policy_groups():
    """--policies all = classical + learned (each once, in registry order); a group and a name mix."""
    from baselines.evaluation import make_policies
    from baselines.learned import LEARNED_POLICIES
    from envs.problem import Problem

    pb = Problem("demo")
    names = lambda spec: [p.name for p in make_policies(spec, pb)]  # noqa: E731
    classical, learned, everything = names("classical"), names("learned"), names("all")
    assert set(learned) == set(LEARNED_POLICIES) and not set(classical) & set(learned)
    assert sorted(everything) == sorted(classical + learned)
    assert names("learned,base_stock,lgbm_quantile") == learned + ["base_stock"]


# ------------------------------------------------------------------------------------- known covariates


def test_covariates_read_and_checked(tmp_path):
    """data: covariates [price, snap, event]: kinds inferred (a price is a level, 0/1 and text are flags; text
    is 1 where not empty), or given; values on the demand grid; a user's mistake is one line naming the file,
    column and row."""
    from envs.data import DataError, load_covariates, load_demand

    pb = _data(tmp_path, covariates=True)
    cov = pb.source.covariates
    assert cov.names == tuple(COVARIATES) and cov.kinds == ("level", "flag", "flag") and all(cov.inferred)
    df = pd.read_csv(pb.scenario.data.path, keep_default_na=False)
    i, t = pb.source.data.sku_index("P3"), 11  # December 2000: an event month
    row = df[(df["sku"] == "P3") & (df["date"] == "2000-12-01")].iloc[0]
    assert cov.values[0, i, t] == pytest.approx(float(row["price"])) and cov.values[2, i, t] == 1.0
    assert cov.values[2, i, t - 1] == 0.0 and cov.values[1, i, t] == float(row["snap"])
    given = _data(tmp_path, covariates=True).scenario
    kinds = {"price": "level", "snap": "flag", "event": "flag"}
    pb2 = Problem("lost-sales-L2-p9", **{"data.path": given.data.path, "data.test": "2008-01-01",
                                          "data.covariates": kinds})
    assert not any(pb2.source.covariates.inferred) and np.array_equal(pb2.source.covariates.values, cov.values,
                                                                       equal_nan=True)
    path = tmp_path / "bad.csv"
    data = load_demand(given.data.path)
    for edit, spec, match in (
            (None, ["price", "promo"], "missing required column 'promo'"),
            (("price", 5, "abc"), ["price"], r"column 'price', line 7: covariate 'abc' is not a finite number"),
            (("price", 8, "0"), ["price"], r"line 10: covariate 0; expected a number > 0"),
            (None, {"price": "dollar"}, "kind 'dollar'; expected one of level, flag"),
            (None, ["demand"], "is the demand column")):
        bad = df.copy()
        if edit:
            bad[edit[0]] = bad[edit[0]].astype(object)
            bad.loc[edit[1], edit[0]] = edit[2]
        bad.to_csv(path, index=False)
        with pytest.raises(DataError, match=match) as e:
            load_covariates(path, data, spec)
        assert "\n" not in str(e.value)
    with pytest.raises(DataError, match="wide"):
        load_covariates(path, data, ["price"], wide=True)


def test_covariate_features_are_known_in_advance(tmp_path):
    """The covariate columns of origin t read the covariates of t .. t + L (the periods being planned) and of
    the `recent` periods before, nothing later; and no demand from t on."""
    pb = _data(tmp_path, covariates=True)
    spec, table, cov = LR.features_for(pb)
    assert spec.names[-4:] == ["price_ratio", "price_log", "snap_ahead", "event_ahead"]
    values = pb.source.covariates.values
    t, L, i = 40, 1, 2

    def feats(vals, y):
        eng = LR._FeatureEngine(spec, table, LR.CovariateTable(cov.names, vals), np.array([i]), np.array([L + 1]),
                                np.array([0]))
        for s in range(t):
            eng.update(y[s:s + 1])
        return dict(zip(spec.names, eng.features()[0][0].astype(np.float64), strict=True))

    y = pb.source.data.demand[i]
    f = feats(values, y)
    price = values[0, i]
    assert f["price_ratio"] == pytest.approx(price[t:t + L + 1].mean() / price[t - spec.recent:t].mean(), rel=1e-6)
    assert f["price_log"] == pytest.approx(np.log(price[t:t + L + 1].mean()), rel=1e-6)
    assert f["snap_ahead"] == pytest.approx(values[1, i, t:t + L + 1].mean())
    later = values.copy()
    later[:, i, t + L + 1:] *= 3
    z = y.copy()
    z[t:] += 7
    assert feats(later, z) == pytest.approx(f, nan_ok=True)
    planned = values.copy()
    planned[0, i, t + L] *= 0.5
    assert feats(planned, y)["price_ratio"] != pytest.approx(f["price_ratio"])


@pytest.mark.parametrize("cls,kw", LEARNED)
def test_covariates_of_the_test_window_never_seen(tmp_path, cls, kw):
    """With covariates, changing the test window's prices and demand changes neither the model, the level,
    the held-out costs nor the safety stocks of the rule fitted for the test window."""
    fits = []
    for test_price, test_scale in ((1.0, 1.0), (0.5, 3.0)):
        pb = _data(tmp_path, test_scale=test_scale, covariates=True, test_price=test_price)
        pol = cls(tuned=True, **kw).fit(pb, train_data(pb, window="fit"))
        assert "covariates price (level), snap (flag), event (flag)" in pol.describe()
        fits.append((_model_state(pol), pol.level.copy(), dict(pol.holdout_costs), pol.safety_stock.copy()))
    a, b = fits
    assert a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2] and np.array_equal(a[3], b[3])


def _first_targets(pol, pb):
    eps = make_episodes(pb, "test")
    first = []

    def act(sim):
        t = pol.act(None, sim.raw).copy()
        if not first:
            first.append(t)
        return t

    pol.start(eps)
    simulate(pb, eps, act, order_up_to=True)
    return eps, np.maximum(first[0], 0.0)


@pytest.mark.parametrize("name,cls,rtol", [("lgbm_quantile", LR.LGBMForecast, 1e-12),
                                           ("gru_quantile", LR.GRUForecast, 1e-5)])
def test_export_and_recommend_with_covariates(tmp_path, name, cls, rtol):
    """A learned policy trained with covariates (lgbm: JSON; gru: ONNX of kind gru) recommends, from the
    history before the test window and --covariates (the data file: the planned rows and those before), the
    simulator's first order-up-to level of the test window (the GRU in float32 ONNX: to 1e-5); without the
    planned rows it refuses in one line naming the SKU and date."""
    from agents.export import main as export_main
    from agents.export import write_learned
    from deploy.errors import DeployError
    from deploy.recommend import run

    pb = _data(tmp_path, covariates=True)
    path = Path(pb.scenario.data.path)
    out = tmp_path / ("p.onnx" if name.startswith("gru") else "p.json")
    pol = cls().fit(pb, train_data(pb, window="fit"))
    if name.startswith("gru"):  # the fitted policy written directly (one GRU fit; the CLI path: lgbm)
        write_learned(pol, pb, out, {})
        assert export_main(["--baseline", name, "--scenario", "lost-sales-L2-p9", f"data.path={path}",
                            "--out", str(tmp_path / "gru.json")]) == 2  # refused before fitting: not .onnx
        assert not (tmp_path / "gru.json").exists()
    else:
        assert export_main(["--baseline", name, "--scenario", "lost-sales-L2-p9", f"data.path={path}",
                            "data.test='2008-01-01'", "lead_time=1", "data.covariates=[price,snap,event]",
                            "--out", str(out)]) == 0
    eps, first = _first_targets(pol, pb)
    df = pd.read_csv(path)
    df[df["date"] < "2008-01-01"].to_csv(tmp_path / "history.csv", index=False)
    pd.DataFrame({"sku": [pb.sku_name(int(i)) for i in eps.sku], "on_hand": 0.0}).to_csv(tmp_path / "state.csv",
                                                                                        index=False)
    kw = {"history": tmp_path / "history.csv", "date": "2008-01-01"}
    orders = run(out, tmp_path / "state.csv", tmp_path / "orders.csv", covariates=path, **kw)
    np.testing.assert_allclose(orders["requested_qty"].to_numpy(), first, rtol=rtol)
    with pytest.raises(DeployError, match=r"no covariate row for SKU 'P0' on 2008-01-01.*2008-01-01 \.\. 2008-02-01"):
        run(out, tmp_path / "state.csv", tmp_path / "o2.csv", **kw)  # the history has no planned rows
    df[df["date"] < "2008-02-01"].to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(DeployError, match="on 2008-02-01"):
        run(out, tmp_path / "state.csv", tmp_path / "o3.csv", covariates=tmp_path / "short.csv", **kw)
    assert not (tmp_path / "o2.csv").exists() and not (tmp_path / "o3.csv").exists()
