"""Operations beyond the textbook model (issue 16): random lead times and perishable stock, in the one kernel
(single env, vector env, batched evaluation alike), their scenario fields, and the exact checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from baselines.base import train_data
from baselines.base_stock import BaseStock, tune_base_stock
from envs import InventoryEnv, Problem, kernel
from envs.batch import base_stock, simulate
from envs.episodes import make_episodes
from envs.scenario import ScenarioError, parse_override, resolve_scenario


def env_run(scenario, actions, seed=0, **overrides):
    env = InventoryEnv(scenario, initial_state="steady", **overrides)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        obs, r, _, _, info = env.step(int(a))
        out.append(np.r_[obs, r, [info[k] for k in kernel.INFO_KEYS], info["on_order"]])
    return np.concatenate(out)


def batch_totals(problem, level, seed=3, n=50, periods=300):
    eps = make_episodes(problem, "test", seed=seed, n=n, periods=periods)
    totals, _ = simulate(problem, eps, base_stock(level))
    return totals


# ------------------------------------------------------------------------------------------ random lead times
@pytest.mark.parametrize("overrides", [
    {},
    {"mode": "backorder"},
    {"moq": 3, "pack_size": 2, "max_order": 12, "capacity": 30, "order_cost": 5, "unit_cost": 1},
    {"lead_time": 0},
])
@pytest.mark.parametrize("crossing", [False, True])
def test_degenerate_lead_time_distribution_is_the_fixed_lead_time_bit_for_bit(overrides, crossing):
    L = overrides.get("lead_time", 2)
    dist = [0.0] * L + [1.0]
    actions = np.random.default_rng(1).integers(0, 21, 200)
    fixed = env_run("lost-sales-L2-p9", actions, **overrides)
    rand = env_run("lost-sales-L2-p9", actions, lead_time_dist=dist, crossing=crossing, **overrides)
    assert Problem("lost-sales-L2-p9", lead_time_dist=dist, **overrides).ops
    np.testing.assert_array_equal(fixed, rand)
    pf = Problem("lost-sales-L2-p9", **overrides)
    pr = Problem("lost-sales-L2-p9", lead_time_dist=dist, crossing=crossing, **overrides)
    np.testing.assert_array_equal(batch_totals(pf, 14.0), batch_totals(pr, 14.0))


# (the vector env's parity with the single env on these scenarios: tests/test_vector.py PARITY_CASES)


def test_orders_do_not_cross_unless_allowed():
    """Orders of 1, 2, 4, ... units (one bit each): the bits of what arrives tell which orders did."""
    def arrivals(crossing):
        env = InventoryEnv("random-lead-demo", initial_state="empty", crossing=crossing,
                           action={"n": 5000, "step": 1.0}, episode_length=40)
        env.reset(seed=2)
        got = []
        for k in range(40):
            info = env.step(2 ** k if k < 12 else 0)
            got.append(int(info[4]["received"]))
        order = []
        for r in got:
            order += [b for b in range(12) if r >> b & 1]
        return order

    in_order = arrivals(False)
    assert in_order == sorted(in_order) and len(in_order) == 12
    crossed = arrivals(True)
    assert sorted(crossed) == list(range(12)) and crossed != sorted(crossed)  # (seed 2: some do overtake)


def lead_time_demand_pmf(dist, mean, top):
    """Exact pmf of the demand a base-stock level protects against with iid lead times that may cross:
    X = D_t + sum_j D_{t-1-j} 1[lead > j] (order of period t - j placed for the demand of period t - j - 1)."""
    d = stats.poisson.pmf(np.arange(top), mean)
    out = d.copy()
    surv = 1.0 - np.cumsum(dist)
    for j in range(len(dist) - 1):
        mix = surv[j] * d
        mix[0] += 1.0 - surv[j]
        out = np.convolve(out, mix)[:top]
    return out


@pytest.mark.parametrize("dist,b", [([0.1, 0.3, 0.2, 0.4], 4), ([0.25, 0.25, 0.25, 0.25], 4),
                                    ([0.2, 0.5, 0.3], 4)])
def test_tuned_base_stock_is_the_critical_ratio_quantile_of_lead_time_demand(dist, b):
    pb = Problem(f"backorder-L2-b{b}", lead_time_dist=dist, crossing=True)
    level = tune_base_stock(pb, train_data(pb))[0]
    pmf = lead_time_demand_pmf(dist, 5.0, 200)
    cdf = np.cumsum(pmf)
    ratio = b / (b + 1.0)
    quantile = int(np.searchsorted(cdf, ratio))  # the smallest S with P(X <= S) >= b / (b + h)
    assert cdf[quantile] - ratio > 0.015 and ratio - cdf[quantile - 1] > 0.015  # (not a near tie)
    assert level == quantile


def test_random_lead_times_from_the_item_table_and_bad_inputs(tmp_path):
    dates = pd.date_range("2022-01-03", periods=80, freq="W-MON")
    rng = np.random.default_rng(0)
    pd.concat([pd.DataFrame({"date": dates, "sku": s, "demand": rng.poisson(4, dates.size)}) for s in "AB"]) \
        .to_csv(tmp_path / "d.csv", index=False)
    pd.DataFrame({"sku": ["A", "B"], "lead_time_min": [1, 2], "lead_time_max": [3, 2]}).to_csv(
        tmp_path / "items.csv", index=False)
    pb = Problem("lost-sales-L1-p9", data={"path": str(tmp_path / "d.csv"), "items": str(tmp_path / "items.csv")})
    np.testing.assert_allclose(pb.lead_dist, [[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 1, 0]])
    assert list(pb.params[:, kernel.LEAD]) == [3, 2]
    eps = make_episodes(pb, "test", seed=0)
    assert set(np.unique(eps.leads[:, 0])) == {1, 2, 3} and set(np.unique(eps.leads[:, 1])) == {2}
    pd.DataFrame({"sku": ["A"], "lead_time_min": [2]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ScenarioError, match="'A' has only one of lead_time_min / lead_time_max"):
        Problem("lost-sales-L1-p9", data={"path": str(tmp_path / "d.csv"), "items": str(tmp_path / "bad.csv")})
    with pytest.raises(ScenarioError, match="field 'lead_time_dist' must be"):
        resolve_scenario("lost-sales-L2-p9", lead_time_dist=[0.5, 0.4])
    with pytest.raises(ScenarioError, match="lead_time_dist"):
        resolve_scenario("lost-sales-L2-p9", lead_time_dist="often")
    key, value = parse_override("lead_time_dist=[0, 0.5, 0.5]")
    assert resolve_scenario("lost-sales-L2-p9", **{key: value}).lead_time_dist == [0.0, 0.5, 0.5]


def test_random_lead_demo_evaluates_every_policy():
    pb = Problem("random-lead-demo")
    assert pb.ops and pb.max_lead == 4
    bs = BaseStock().fit(pb, train_data(pb))
    fixed = Problem("lost-sales-L3-p9")  # the mean lead time is 2.6: random lead times need more stock
    assert bs.levels[0] > BaseStock().fit(fixed, train_data(fixed)).levels[0]
