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
        out.append(np.r_[obs, r, [info.get(k, 0.0) for k in kernel.INFO_KEYS], info["on_order"]])
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
            {k: i2[k] for k in i1 if k != "on_order"} and i2["outdated"] == 0.0
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


# ------------------------------------------------------------------------------------------ shared limits
def shared_problem(**kw):
    return Problem("lost-sales-L2-p9", demand={"mean": [3.0, 6.0, 9.0]}, initial_state="steady", **kw)


def test_shared_capacity_cuts_orders_proportionally_after_pack_and_moq():
    from envs.batch import BatchSim

    pb = shared_problem(shared={"capacity": 60.0}, pack_size=2, moq=4)
    eps = make_episodes(pb, "test", seed=0, n=6, periods=40)  # two warehouses of the three SKUs
    sim = BatchSim(pb, eps, initial_state="steady")
    rng = np.random.default_rng(0)
    cuts = 0
    for _ in range(40):
        ip = sim.raw.inventory_position.copy()
        want = rng.integers(0, 30, eps.n).astype(float)
        plain = np.where(want > 0, np.ceil(np.maximum(want, 4) / 2) * 2, 0.0)  # constrain: moq 4, pack 2
        info = sim.step(want)
        q = info[:, kernel.I_ORDER]
        for g in (0, 1):
            s = slice(3 * g, 3 * g + 3)
            room = max(60.0 - ip[s].sum(), 0.0)
            if plain[s].sum() > room:
                f = room / plain[s].sum()
                expect = np.floor(f * plain[s] / 2 + 1e-9) * 2
                expect[expect < 4] = 0.0
                np.testing.assert_array_equal(q[s], expect)
                cuts += 1
            else:
                np.testing.assert_array_equal(q[s], plain[s])
            assert (ip[s] + q[s]).sum() <= max(60.0, ip[s].sum()) + 1e-9
        np.testing.assert_array_equal(info[:, kernel.I_CUT], plain - q)
    assert cuts > 10


def test_budget_cut_and_a_limit_that_never_binds_is_no_limit():
    pb = shared_problem(shared={"budget": 20.0}, unit_cost=2.0)
    totals = batch_totals(pb, 40.0, n=6)
    assert (totals[:, kernel.I_PURCHASE].reshape(-1, 3).sum(axis=1) <= 20.0 * 300 + 1e-6).all()
    assert totals[:, kernel.I_CUT].sum() > 0
    free = shared_problem(shared={"capacity": 1e12, "budget": 1e12}, unit_cost=2.0)
    np.testing.assert_array_equal(batch_totals(free, 20.0), batch_totals(shared_problem(unit_cost=2.0), 20.0))
    with pytest.raises(ScenarioError, match="'shared.budget' limits the money"):
        shared_problem(shared={"budget": 5.0})
    with pytest.raises(ScenarioError, match="field 'shared.capacity' must be"):
        shared_problem(shared={"capacity": -1.0})
    with pytest.raises(ScenarioError, match="shared"):
        resolve_scenario("lost-sales-L2-p9", **{"shared.room": 3})


def test_shared_room_observation_is_the_warehouse_free_share():
    pb = shared_problem(shared={"capacity": 90.0})
    assert pb.obs_fields[-1].name == "shared_room"
    from envs.batch import BatchSim

    eps = make_episodes(pb, "test", seed=1, n=6, periods=10)
    sim = BatchSim(pb, eps)
    for _ in range(5):
        obs = sim.observe()
        ip = sim.raw.inventory_position.reshape(2, 3).sum(axis=1)
        np.testing.assert_allclose(obs[:, -1], np.repeat((90.0 - ip) / 90.0, 3), rtol=1e-6)
        sim.step(np.full(6, 7.0))


def test_lp_allocation_is_base_stock_without_a_binding_limit_and_optimal_under_one():
    from itertools import product

    from baselines.lp_allocation import LPAllocation

    pb = shared_problem(shared={"capacity": 1e9})
    lp = LPAllocation().fit(pb, train_data(pb))
    ip = np.array([2.0, 20.0, 5.0])
    sku, group = np.arange(3), np.zeros(3, dtype=np.int64)
    np.testing.assert_array_equal(lp.orders(sku, ip, pb.params, group), np.maximum(lp.levels - ip, 0))

    tight = shared_problem(shared={"capacity": 40.0}, pack_size=2, moq=4)
    lp = LPAllocation().fit(tight, train_data(tight))
    ip = np.array([1.0, 6.0, 3.0])
    q = lp.orders(sku, ip, tight.params, group)

    def G(i, y):  # expected protection-period cost of SKU i at position y (the program's objective)
        cdf = lp.cdf[i]
        slope = (1 + 9) * cdf - 9
        full = np.concatenate([[0.0], np.cumsum(slope)])  # G(y) - G(0) at integers
        return full[min(int(y), full.size - 1)] + max(int(y) - (full.size - 1), 0) * 1.0

    def total(qq):
        return sum(G(i, ip[i] + qq[i]) for i in range(3))

    best = min((qq for qq in product(range(0, 31, 2), repeat=3)
                if all(x == 0 or x >= 4 for x in qq) and sum(qq) + ip.sum() <= 40), key=total)
    assert (ip + q).sum() <= 40 and all(x == 0 or (x >= 4 and x % 2 == 0) for x in q)
    assert total(q) == pytest.approx(total(best), abs=1e-9)
    # the proportional cut of the same newsvendor levels is feasible, so it cannot do better
    want = np.maximum(lp.levels - ip, 0)
    from invcore.constraints import constrain, shared_cut

    plain = constrain(want, ip, 4.0, 2.0, np.inf, np.inf)
    prop = shared_cut(plain, ip, 4.0, 2.0, np.ones(3), np.zeros(3), 40.0, np.inf)
    assert total(q) <= total(prop) + 1e-9


def test_shared_limits_refuse_sku_chunks():
    from baselines.evaluation import sku_chunks

    pb = shared_problem(shared={"capacity": 40.0})
    with pytest.raises(ScenarioError, match="cannot be simulated in separate chunks"):
        sku_chunks(pb, make_episodes(pb, "test", seed=0, n=3, periods=5), "test", 1)


# ------------------------------------------------------------------------------------------ deploy
def test_deploy_observations_and_the_shared_cut_in_recommend(tmp_path):
    import json

    from agents.export import main as export_main
    from deploy import policyfile as pf
    from deploy import recommend as rec
    from envs.batch import BatchSim

    pb = Problem("perishable-demo", lead_time=3)
    eps = make_episodes(pb, "test", seed=1, n=8, periods=20)
    sim = BatchSim(pb, eps, initial_state="random", seed=2)
    names = [f.name for f in pb.obs_fields]
    assert "on_hand_age_2" in names
    for _ in range(6):
        obs = sim.observe()
        ages = {f"on_hand_age_{a}": sim.raw.ages[:, a].copy() for a in range(pb.n_age)}
        got = pf.build_observations(names, net=sim.raw.on_hand.copy(), pipeline=sim.raw.pipeline[:, :pb.n_pipe],
                                    lags=np.zeros((eps.n, 0)), scale=sim.params[:, kernel.SCALE],
                                    lead=sim.params[:, kernel.LEAD], lead_norm=pb.lead_norm, extra=ages)
        np.testing.assert_array_equal(got, obs)
        sim.step(np.full(eps.n, 6.0))

    out = tmp_path / "bs.json"
    assert export_main(["--baseline", "base_stock", "--scenario", "shared-capacity-demo", "--out", str(out)]) == 0
    meta = json.loads(out.read_text())
    assert meta["operations"]["shared"] == {"capacity": 600.0, "budget": None}
    state = tmp_path / "state.csv"
    pd.DataFrame({"sku": [f"sku{i}" for i in range(20)], "on_hand": [5] * 20, "in_transit_1": [3] * 20}).to_csv(
        state, index=False)
    orders = tmp_path / "orders.csv"
    assert rec.main(["--policy", str(out), "--state", str(state), "--out", str(orders)]) == 0
    r = pd.read_csv(orders)
    assert r["shared_cut_qty"].sum() > 0 and r["inventory_position_after"].sum() <= 600
    np.testing.assert_array_equal(r["order_qty"] + r["shared_cut_qty"],
                                  np.maximum(np.array(meta["levels"]["S"]) - 8, 0))


def test_hdpo_refuses_the_operations_it_does_not_model(tmp_path, capsys):
    import train as train_cli

    code = train_cli.main(["--algo", "hdpo", "--scenario", "perishable-demo", "--timesteps", "100",
                           "--run-dir", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "does not model random lead times, perishable stock or shared" in err and len(err.splitlines()) == 1
