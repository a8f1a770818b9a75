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


# ------------------------------------------------------------------------------------------ perishable stock
def test_shelf_life_of_one_period_with_no_lead_time_is_the_newsvendor():
    """m = 1, L = 0: what is ordered is sold or expires in the period, so base-stock S costs the newsvendor's
    (h + theta) E(S - D)^+ + p E(D - S)^+, and the tuned level is its minimiser."""
    h, p, theta = 1.0, 9.0, 2.0
    pb = Problem("lost-sales-L1-p9", lead_time=0, shelf_life=1, outdating_cost=theta)
    S = np.arange(30)
    d = np.arange(200)
    pmf = stats.poisson.pmf(d, 5.0)
    over = np.array([(np.maximum(s - d, 0) * pmf).sum() for s in S])
    under = np.array([(np.maximum(d - s, 0) * pmf).sum() for s in S])
    newsvendor = (h + theta) * over + p * under
    best = int(newsvendor.argmin())
    assert np.sort(newsvendor)[1] - newsvendor[best] > 0.05  # (a clear minimiser)
    assert tune_base_stock(pb, train_data(pb))[0] == best
    totals = batch_totals(pb, float(best), n=200, periods=2000)
    per = totals[:, kernel.I_COST] / 2000
    assert abs(per.mean() - newsvendor[best]) < 4 * per.std(ddof=1) / np.sqrt(per.size)
    outdated = totals[:, kernel.I_OUTDATED].sum() / totals[:, kernel.I_DEMAND].size / 2000
    assert abs(outdated - over[best]) < 0.05  # everything left expires


@pytest.mark.parametrize("overrides", [{}, {"mode": "backorder"}, {"lead_time": 0, "issuing": "lifo"},
                                       {"moq": 3, "pack_size": 2, "unit_cost": 1, "order_cost": 5}])
def test_a_very_long_shelf_life_is_the_non_perishable_engine_bit_for_bit(overrides):
    actions = np.random.default_rng(3).integers(0, 21, 300)
    plain = InventoryEnv("lost-sales-L2-p9", initial_state="steady", **overrides)
    long = InventoryEnv("lost-sales-L2-p9", initial_state="steady", shelf_life=1000, outdating_cost=3.0,
                        **overrides)
    assert long.problem.n_age == 1000 and long.observation_space.shape[0] == plain.observation_space.shape[0] + 1000
    o1, _ = plain.reset(seed=0)
    o2, _ = long.reset(seed=0)
    ages = [f.index for f in long.obs_fields if f.name.startswith("on_hand_age_")]
    keep = np.setdiff1d(np.arange(o2.size), ages)
    for a in actions:
        np.testing.assert_array_equal(o1, o2[keep])
        o1, r1, _, _, i1 = plain.step(int(a))
        o2, r2, _, _, i2 = long.step(int(a))
        assert r1 == r2 and {k: v for k, v in i1.items() if k != "on_order"} == \
            {k: v for k, v in i2.items() if k != "on_order"}
    pl = Problem("lost-sales-L2-p9", **overrides)
    pp = Problem("lost-sales-L2-p9", shelf_life=1000, **overrides)
    np.testing.assert_array_equal(batch_totals(pl, 15.0), batch_totals(pp, 15.0))


def test_perishable_stock_is_issued_by_age_and_expires():
    env = InventoryEnv("perishable-demo", lead_time=0, initial_state="empty", demand={"kind": "normal", "std": 0.0,
                                                                                       "mean": 3.0})
    env.reset(seed=0)
    info = env.step(10)  # 10 arrive at age 0, 3 sold
    assert list(env.raw_state["on_hand_by_age"]) == [0, 7, 0] and info[4]["outdated"] == 0
    env.step(2)  # FIFO: the 3 sold are of age 1; the 2 new ones are left at age 0
    assert list(env.raw_state["on_hand_by_age"]) == [0, 2, 4]
    info = env.step(0)[4]  # 3 sold of age 2, one unit of age 2 expires
    assert info["outdated"] == 1 and info["outdating_cost"] == 4.0 and info["cost"] == 4.0 + 1.0 * 3
    assert list(env.raw_state["on_hand_by_age"]) == [0, 0, 2]
    lifo = InventoryEnv("perishable-demo", lead_time=0, initial_state="empty", issuing="lifo",
                        demand={"kind": "normal", "std": 0.0, "mean": 3.0})
    lifo.reset(seed=0)
    lifo.step(10)
    lifo.step(2)  # LIFO: the 2 new ones and 1 of age 1 are sold
    assert list(lifo.raw_state["on_hand_by_age"]) == [0, 0, 6]
    with pytest.raises(ScenarioError, match="field 'shelf_life' must be"):
        resolve_scenario("perishable-demo", shelf_life=0)
    with pytest.raises(ScenarioError, match="issuing"):
        resolve_scenario("perishable-demo", issuing="random")


def test_perishable_dp_optimum_against_the_kernel_and_base_stock():
    """The DP of baselines.dp_optimal on the perishable instance m = 2, L = 1: its optimal policy simulated
    through the kernel costs its exact gain; the best base-stock level costs more, and its exact cost is what the
    kernel measures too."""
    from baselines.dp_optimal import best_perishable_base_stock, perishable_policy_cost
    from baselines.dp_policy import DPOptimal
    from envs.batch import long_run_cost

    pb = Problem("perishable-demo", shelf_life=2)
    dp = DPOptimal().fit(pb, train_data(pb))
    kw = dict(demand_mean=5.0, lead_time=1, shelf_life=2, outdating_cost=4.0)
    S, bs_cost = best_perishable_base_stock(**kw)
    assert dp.exact_avg_cost < bs_cost - 0.05
    sim, se = long_run_cost(pb, lambda s: dp.act(None, s.raw), n=200, periods=2000)
    assert abs(sim - dp.exact_avg_cost) < 4 * se
    sim, se = long_run_cost(pb, base_stock(float(S)), n=200, periods=2000)
    assert abs(sim - bs_cost) < 4 * se
    assert perishable_policy_cost(S + 2, **kw) > bs_cost and perishable_policy_cost(S - 2, **kw) > bs_cost
