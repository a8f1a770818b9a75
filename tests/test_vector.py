"""The vectorised env: exact parity with Inventory-v0, autoreset semantics, SB3 and gymnasium front ends, seeding."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import envs
from envs import InventoryEnv
from envs import kernel as K
from envs.episodes import Episodes
from envs.vector import InventoryVecEnv, VectorInventoryEnv

INFO_FIELDS = K.INFO_KEYS + ("requested", "period", "sku")


def random_actions(space: gym.Space, rng: np.random.Generator, n: int) -> np.ndarray:
    if isinstance(space, gym.spaces.Discrete):
        return rng.integers(space.n, size=n)
    return rng.uniform(-1.3, 1.3, size=(n, 1)).astype(np.float32)  # beyond [-1, 1]: both envs clip


def replay_source(singles: list[InventoryEnv], reset_obs: dict[int, np.ndarray]):
    """Episode source that resets the single envs and hands their demand and initial state to the vector env."""

    def source(rng, sku, slots):
        W = singles[0].problem.window
        k = len(slots)
        batches = []
        for i in slots.tolist():
            obs, _ = singles[i].reset()
            reset_obs[i] = obs
            batches.append(singles[i])
        T = max(e._periods for e in batches)
        demand = np.zeros((W + T, k))
        cal = np.zeros((W + T + 1, k), dtype=np.int64)
        for j, e in enumerate(batches):
            demand[:W + e._periods, j] = e._trace[:, 0]
            cal[:, j] = np.arange(W + T + 1)  # parametric calendar: row r of the episode = row r of the table
        pb = singles[0].problem
        leads = None
        if pb.lead_dist is not None:  # random lead times: the single envs' draws
            leads = np.zeros((T, k))
            for j, e in enumerate(batches):
                leads[:e._periods, j] = e._leads
        return Episodes(sku=np.array([e.sku for e in batches]), demand=demand, leads=leads,
                        lengths=np.array([e._periods for e in batches]), history=W,
                        calendar=pb.source._calendar_table(W, T, pb.n_calendar), cal_offset=np.full(k, W),
                        cal_rows=cal if pb.n_calendar else None, state=np.stack([e._state[0] for e in batches]))

    return source


def assert_info_equal(single: dict, vec: dict, where: str) -> None:
    for key in INFO_FIELDS:
        if key not in single:  # the operations' columns (outdated, ...): only where the problem has them
            assert key in ("outdated", "outdating_cost", "cut") and vec[key] == 0.0, where
            continue
        assert single[key] == vec[key], f"{where}: {key} {single[key]!r} != {vec[key]!r}"
    np.testing.assert_array_equal(single["on_order"], vec["on_order"], err_msg=where)


def run_parity(make_single, n: int, steps: int, front: str, seed: int = 0, **vec_kw) -> int:
    """Step n single envs and one vector env on the same demand and actions; returns the number of episode ends."""
    singles = [make_single() for _ in range(n)]
    for i, e in enumerate(singles):
        e.reset(seed=seed + i)
    reset_obs: dict[int, np.ndarray] = {}
    pb = singles[0].problem
    vec = VectorInventoryEnv(n, problem=pb, info="dicts", episode_source=replay_source(singles, reset_obs),
                             **vec_kw)
    sb3 = InventoryVecEnv(venv=vec) if front == "sb3" else None
    obs = sb3.reset() if sb3 else vec.reset(seed=seed)[0]
    np.testing.assert_array_equal(obs, np.stack([reset_obs[i] for i in range(n)]))
    rng = np.random.default_rng(seed)
    ends = 0
    last_t = 0.0
    for t in range(steps):
        acts = random_actions(pb.action_space, rng, n)
        ref = [singles[i].step(acts[i]) for i in range(n)]
        if sb3:
            obs, rew, dones, infos = sb3.step(acts)
            trunc = dones
        else:
            obs, rew, term, trunc, vinfo = vec.step(acts)
            assert not term.any()
            infos = vinfo["dicts"]
            for key in INFO_FIELDS:  # the array infos hold the same figures
                if key != "sku" and key in ref[0][4]:
                    np.testing.assert_array_equal(vinfo[key], [r[4][key] for r in ref])
        for i, (o, r, te, tr, inf) in enumerate(ref):
            where = f"step {t} slot {i}"
            assert not te
            assert rew[i] == r, where
            assert bool(trunc[i]) == tr, where
            assert_info_equal(inf, infos[i], where)
            if tr:
                ends += 1
                final = infos[i]["terminal_observation"] if sb3 else vinfo["final_obs"][i]
                np.testing.assert_array_equal(final, o, err_msg=where)
                np.testing.assert_array_equal(obs[i], reset_obs[i], err_msg=where)
                if sb3:
                    assert infos[i]["TimeLimit.truncated"] is True
                    assert infos[i]["episode"]["l"] == inf["period"] + 1
                    # SB3 Monitor's "t": seconds since the env was made, never decreasing
                    assert infos[i]["episode"]["t"] >= last_t
                    last_t = infos[i]["episode"]["t"]
                else:
                    assert vinfo["_final_obs"][i]
            else:
                np.testing.assert_array_equal(obs[i], o, err_msg=where)
                if sb3:
                    assert "terminal_observation" not in infos[i]
    return ends


PARITY_CASES = {
    "lost-sales-L0": ("lost-sales-L1-p4", {"lead_time": 0}),
    "lost-sales-L2-constraints": ("lost-sales-L2-p9", {"moq": 3, "pack_size": 2, "max_order": 12, "capacity": 30,
                                                       "order_cost": 5, "unit_cost": 1}),
    "backorder-L3-window": ("backorder-L3-b9", {"observation": {"demand_window": 3, "period": True},
                                                "reward_scale": 0.1, "reward_offset": 4.0}),
    "backorder-L4-order-up-to": ("backorder-L4-b4", {"action": {"mode": "order_up_to", "n": 40},
                                                     "pack_size": 3, "capacity": 45}),
    "lost-sales-L1-continuous": ("lost-sales-L1-p19", {"action": {"mode": "continuous", "n": 15}, "moq": 2}),
    "demo-calendar-multi-sku": ("demo", {"max_order": 60}),
    "demo-reorder-point": ("demo", {"action": {"mode": "reorder_point", "n": 13, "relative": True}, "moq": 3,
                                    "pack_size": 2}),
    "random-lead-times-reorder-point": ("random-lead-demo", {"action": {"mode": "reorder_point", "n": 25},
                                                             "order_cost": 4.0, "holding_cost": 0.5}),
    "random-lead-times": ("random-lead-demo", {"moq": 2}),
    "random-lead-times-crossing-backorder": ("random-lead-demo", {"crossing": True, "mode": "backorder"}),
    "perishable-fifo": ("perishable-demo", {}),
    "perishable-lifo-L0-backorder": ("perishable-demo", {"issuing": "lifo", "lead_time": 0, "mode": "backorder"}),
    "forecast-window-backorder": ("backorder-L3-b9", {"observation": {"demand_window": 2, "period": True,
                                                                       "forecast": True, "forecast_window": 5}}),
    "forecast-perishable": ("perishable-demo", {"observation": {"forecast": True, "forecast_window": 3,
                                                                "forecast_alpha": 0.6}}),
    "log-scale-forecast": ("demo", {"observation": {"log_scale": True, "forecast": True, "forecast_window": 4}}),
    "order-cover": ("demo", {"observation": {"order_cover": True, "log_scale": True}, "moq": 7, "pack_size": 5}),
    "shared-capacity-one-sku": ("lost-sales-L2-p9", {"shared": {"capacity": 25.0, "budget": 40.0}, "unit_cost": 3.0,
                                                     "pack_size": 2}),
}


@pytest.mark.parametrize("front", ["gym", "sb3"])
@pytest.mark.parametrize("case", PARITY_CASES)
def test_parity_with_single_env_parametric(case, front):
    scenario, overrides = PARITY_CASES[case]
    overrides = {"episode_length": 7, **overrides}
    ends = run_parity(lambda: InventoryEnv(scenario, **overrides), n=5, steps=17, front=front)
    assert ends == 5 * 2  # two autoresets per slot in 17 steps of 7-period episodes


# ----------------------------------------------------------------------- data scenario with an item table
@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    """Daily demand of 6 SKUs starting on different dates, and an item table with per-SKU parameters."""
    folder = tmp_path_factory.mktemp("vecdata")
    rng = np.random.default_rng(1)
    dates = pd.date_range("2023-01-01", periods=60, freq="D")
    frames = []
    for k in range(6):
        # SKUs end (odd k) or start (k = 4: after the train window) on different dates: windows differ in length
        d = dates[: 60 - 3 * k] if k % 2 else dates[35:] if k == 4 else dates
        frames.append(pd.DataFrame({"date": d, "sku": f"S{k}", "demand": rng.poisson(2 + 2 * k, d.size)}))
    demand = folder / "demand.csv"
    pd.concat(frames).to_csv(demand, index=False)
    items = folder / "items.csv"
    pd.DataFrame({"sku": [f"S{k}" for k in range(6)], "lead_time": [0, 1, 2, 3, 4, 2],
                  "holding_cost": [1, 0.5, 2, 1, 0.2, 1], "shortage_cost": [9, 4, 19, 9, 39, 9],
                  "order_cost": [0, 3, 0, 10, 1, 0], "unit_cost": [0, 1, 0.5, 0, 2, 0],
                  "moq": [0, 2, 5, 0, 3, 1], "pack_size": [1, 2, 1, 4, 1, 3]}).to_csv(items, index=False)
    return demand, items


def data_overrides(data_files, window="test", mode="lost_sales", **extra):
    demand, items = data_files
    return {"data": {"path": str(demand), "items": str(items), "train": 0.5, "test": 0.5, "window": window},
            "mode": mode, "max_order": 40, "capacity": 90, "initial_state": "steady",
            "observation": {"demand_window": 2, "period": True},
            "action": {"relative": True, "step": 0.5, "n": 11}, **extra}


@pytest.mark.parametrize("mode", ["lost_sales", "backorder", "forecast"])
def test_parity_data_per_sku_parameters_default_source(data_files, mode):
    """Deterministic replay of every SKU's test window: the default episode source of the vector env reproduces
    the single env exactly (per-SKU lead times 0..4, costs, moq, pack sizes; different window lengths; forecast:
    the forecast fields over 20 periods, longer than some SKUs' history before the window)."""
    kw = data_overrides(data_files, mode="lost_sales" if mode == "forecast" else mode)
    if mode == "forecast":  # (with the log_scale and order_cover fields before them)
        kw["observation"] = {**kw["observation"], "forecast": True, "forecast_window": 20, "log_scale": True,
                             "order_cover": True}
    vec = VectorInventoryEnv(None, "lost-sales-L2-p9", info="dicts", **kw)
    pb = vec.problem
    n = vec.num_envs
    assert n == 6 and pb.with_lead and pb.n_calendar == 4
    singles = [InventoryEnv("lost-sales-L2-p9", **kw) for _ in range(n)]
    first = [e.reset(seed=0, options={"sku": i})[0] for i, e in enumerate(singles)]
    obs, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(obs, np.stack(first))
    lengths = [e._periods for e in singles]
    assert len(set(lengths)) > 1
    rng = np.random.default_rng(2)
    ends = 0
    for t in range(max(lengths) + 5):
        acts = rng.integers(pb.action_space.n, size=n)
        obs, rew, term, trunc, vinfo = vec.step(acts)
        for i, e in enumerate(singles):
            o, r, _, tr, inf = e.step(acts[i])
            where = f"step {t} slot {i}"
            assert rew[i] == r and trunc[i] == tr, where
            assert_info_equal(inf, vinfo["dicts"][i], where)
            if tr:
                ends += 1
                np.testing.assert_array_equal(vinfo["final_obs"][i], o, err_msg=where)
                o, _ = e.reset(options={"sku": i})
            np.testing.assert_array_equal(obs[i], o, err_msg=where)
    assert ends >= n


@pytest.mark.parametrize("mode", ["lost_sales", "backorder"])
def test_evaluation_simulator_is_the_vector_env(data_files, mode):
    """evaluate.py simulates every policy (baselines and agents) batched through envs.batch.BatchSim; an
    observation-driven policy run there gives, per SKU, the test-window totals the SB3 VecEnv gives when it is
    stepped with the same policy (per-SKU lead times 0..4, costs, MOQ, pack sizes, max order, capacity)."""
    from envs.batch import END_CREDIT, PERIODS, simulate
    from envs.episodes import make_episodes

    kw = data_overrides(data_files, mode=mode)
    venv = InventoryVecEnv("lost-sales-L2-p9", None, **kw)
    pb = venv.problem
    n_act = pb.action_space.n

    def policy(obs: np.ndarray) -> np.ndarray:  # a deterministic function of the observation
        return np.clip(np.rint(3.0 * (1.5 - obs[:, 0]) + obs[:, -1]), 0, n_act - 1).astype(np.int64)

    eps = make_episodes(pb, "test")
    totals, _ = simulate(pb, eps, lambda sim: pb.action_table[sim.episodes.sku, policy(sim.observe())],
                         initial_state="steady")
    obs = venv.reset()
    assert np.array_equal(eps.sku, venv.venv.sku)
    cost = np.zeros(venv.num_envs)
    periods = np.zeros(venv.num_envs)
    live = np.ones(venv.num_envs, dtype=bool)
    while live.any():
        obs, _, dones, _ = venv.step(policy(obs))
        cost += np.where(live, venv.venv.last_info["cost"], 0.0)
        periods += live
        live &= ~dones
    np.testing.assert_array_equal(periods, totals[:, PERIODS])
    # the evaluation credits the stock left at unit cost (envs.batch.TOTAL_KEYS): the same sum, less that
    assert (totals[:, END_CREDIT] != 0).any()
    np.testing.assert_array_equal(cost - totals[:, END_CREDIT], totals[:, K.I_COST])


@pytest.mark.parametrize("window", ["train", "fit"])
def test_data_train_window_episodes_replay_the_data(data_files, window):
    """Random train-window episodes (default source) replay contiguous stretches of each SKU's train data; with
    data.window fit, of its train + val data (random starts too, not a replay from the window start)."""
    kw = data_overrides(data_files, window=window, episode_length=10)
    if window == "fit":
        kw["data"].update(train=0.3, val=0.25, test=0.45)  # S4 starts after the val window
    vec = VectorInventoryEnv(12, "lost-sales-L2-p9", skus="random", **kw)
    src = vec.problem.source
    vec.reset(seed=3)
    seen: dict[int, list[float]] = {i: [] for i in range(12)}
    skus = vec.sku.copy()
    reached_val = False
    for _ in range(10):
        vec.step(np.zeros(12, dtype=np.int64))
        for i in range(12):
            seen[i].append(vec.last_info["demand"][i])
    for i in range(12):
        s, e = src.window_range(window, int(skus[i]))
        row = src.data.demand[skus[i], s:e]
        got = np.array(seen[i][:vec.lengths[i]] if vec.t[i] else seen[i])
        hits = [j for j in range(row.size - got.size + 1) if np.array_equal(row[j:j + got.size], got)]
        assert hits, f"slot {i}: {got} is not a stretch of SKU {skus[i]}'s {window} data"
        reached_val |= window == "fit" and s + max(hits) + got.size > src.windows.window("train")[1]
    assert len(set(skus.tolist())) > 1  # random SKUs per episode
    assert reached_val == (window == "fit")  # fit episodes reach into the val window


def test_bootstrap_and_val_window_run(data_files):
    kw = data_overrides(data_files, window="train", episode_length=9)
    kw["data"]["bootstrap_block"] = 4
    vec = VectorInventoryEnv(8, "lost-sales-L2-p9", **kw)
    vec.reset(seed=0)
    for _ in range(20):
        obs, *_ = vec.step(np.ones(8, dtype=np.int64))
        assert np.isfinite(obs).all()
    v2 = VectorInventoryEnv(None, "lost-sales-L2-p9", window="train", **data_overrides(data_files))
    assert v2.window == "train"


# ----------------------------------------------------------------------- front ends, seeding, training
def test_make_vec_vector_entry_point():
    v = gym.make_vec(envs.ENV_ID, num_envs=32, vectorization_mode="vector_entry_point",
                     scenario="backorder-L2-b9", episode_length=4)
    assert isinstance(v.unwrapped, VectorInventoryEnv) and v.num_envs == 32
    assert v.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, info = v.reset(seed=0)
    assert obs.shape == (32, 3) and obs in v.observation_space
    for _ in range(4):
        obs, rew, term, trunc, info = v.step(v.action_space.sample())
        assert obs.dtype == np.float32 and rew.shape == (32,)
    assert trunc.all() and info["_final_obs"].all()
    # the default mode picks the vector entry point too
    assert isinstance(gym.make_vec(envs.ENV_ID, num_envs=2).unwrapped, VectorInventoryEnv)


def rollout(env, steps, seed):
    env.seed(seed)
    out = [env.reset()]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        obs, rew, done, _ = env.step(rng.integers(21, size=env.num_envs))
        out += [obs, rew, done]
    return out


def test_seeding_reproducible():
    kw = {"episode_length": 5, "skus": "random", "demand": {"mean": [2.0, 5.0, 9.0]}}
    a = rollout(InventoryVecEnv("lost-sales-L3-p9", 20, **kw), 12, seed=7)
    b = rollout(InventoryVecEnv("lost-sales-L3-p9", 20, **kw), 12, seed=7)
    c = rollout(InventoryVecEnv("lost-sales-L3-p9", 20, **kw), 12, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_parametric_demand_distribution_and_sku_assignment():
    vec = VectorInventoryEnv(3000, "lost-sales-L2-p9", episode_length=50, demand={"mean": [1.0, 4.0, 10.0]})
    vec.reset(seed=1)
    np.testing.assert_array_equal(vec.sku[:6], [0, 1, 2, 0, 1, 2])  # slot i runs SKU i mod n_skus
    total = np.zeros(3000)
    for _ in range(50):
        vec.step(np.full(3000, 5))
        total += vec.last_info["demand"]
    for k, m in enumerate([1.0, 4.0, 10.0]):
        assert abs(total[k::3].mean() / 50 - m) < 0.05 * m + 0.02


@pytest.mark.parametrize("action_mode", ["units", "continuous"])
def test_ppo_trains_on_vec_env(action_mode):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import VecNormalize

    venv = InventoryVecEnv("lost-sales-L2-p9", 16, episode_length=20, action={"mode": action_mode})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PPO("MlpPolicy", VecNormalize(venv), n_steps=16, batch_size=64, n_epochs=1, seed=0,
                    device="cpu", policy_kwargs={"net_arch": [16]})
        model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    assert len(model.ep_info_buffer) > 0  # the Monitor-style episode infos reach SB3's logger
    obs = venv.reset()
    act, _ = model.predict(VecNormalize(venv).normalize_obs(obs), deterministic=True)
    assert act.shape[0] == 16


def test_sb3_vec_env_api():
    venv = InventoryVecEnv("lost-sales-L2-p9", 4)
    assert venv.get_attr("render_mode") == [None] * 4
    assert venv.env_is_wrapped(gym.Wrapper) == [False] * 4
    assert venv.get_attr("num_envs", indices=[0, 1]) == [4, 4]
    venv.set_attr("initial_state", "empty")
    obs = venv.reset()
    assert (obs[:, 0] == 0).all()
    eps = venv.env_method("_episodes", np.random.default_rng(0), np.array([0]), np.array([0]), indices=[2, 3])
    assert len(eps) == 2 and eps[0].demand.shape[1] == 1
    venv.close()


def test_final_observation_calendar_and_batch_observation_layout(data_files):
    """Regressions found while building the vector env: the observation after the last step had no valid
    calendar row (read past the episode's calendar), and BatchSim.observe put the lead time in the period column
    when both features are on."""
    env = InventoryEnv("demo", episode_length=3)
    env.reset(seed=0)
    for _ in range(3):
        obs = env.step(0)[0]
    cal = [f.index for f in env.obs_fields if f.name.startswith("calendar")]
    np.testing.assert_allclose(obs[cal[0]] ** 2 + obs[cal[1]] ** 2, 1.0, rtol=1e-6)
    np.testing.assert_allclose(obs[cal[2]] ** 2 + obs[cal[3]] ** 2, 1.0, rtol=1e-6)

    from envs.batch import BatchSim
    from envs.episodes import make_episodes

    kw = data_overrides(data_files)
    single = InventoryEnv("lost-sales-L2-p9", **kw)
    eps = make_episodes(single.problem, "test")
    sim = BatchSim(single.problem, eps, initial_state="steady")
    first = np.stack([single.reset(options={"sku": int(s)})[0] for s in eps.sku])
    np.testing.assert_array_equal(sim.observe(), first)


# ----------------------------------------------------------------------- the inversion demand sampler
@pytest.mark.parametrize("demand", [
    {"kind": "poisson", "mean": [0.0, 0.3, 5.0, 40.0, 900.0]},
    {"kind": "negative_binomial", "mean": [1.0, 12.0, 300.0], "std": [1.5, 6.0, 100.0]},
    {"kind": "normal", "mean": [0.0, 2.5, 3.0, 50.0], "std": [1.0, 0.0, 2.0, 10.0]},
])
def test_inverse_cdf_sampler_has_the_demand_distribution(demand):
    """The vector env's sampler (inversion of the exact CDF) against the exact pmf: chi-square goodness of fit
    on 10^6 draws per SKU (cells with expected count >= 5, the tails pooled), mean and variance within 5
    standard errors; numpy's sampler (ParametricDemand.sample) passes the same test."""
    from scipy import stats

    from envs.problem import Problem
    from envs.sampling import InverseCDFDemand

    pb = Problem("lost-sales-L2-p9", demand=demand)
    src = pb.source
    fast = InverseCDFDemand.build(src)
    assert fast is not None
    n = 1_000_000
    sku = np.arange(src.n_skus)
    draws = {"inverse": fast.sample(np.random.default_rng(0), sku, n),
             "numpy": src.sample(np.random.default_rng(0), sku, 0, n).reshape(n, -1)}
    for k in range(src.n_skus):
        m, s = src.means[k], src.stds[k]
        x = np.arange(int(m + 20 * max(s, 1) + 50))
        if demand["kind"] == "poisson":
            pmf, var = stats.poisson.pmf(x, m), m
        elif demand["kind"] == "negative_binomial":
            r = m * m / (s * s - m)
            pmf, var = stats.nbinom.pmf(x, r, r / (r + m)), s * s
        else:
            cdf = np.ones_like(x, dtype=float) if s == 0 else stats.norm.cdf((x + 0.5 - m) / s)
            if s == 0:
                cdf = (x >= max(np.rint(m), 0)).astype(float)
            pmf = np.diff(np.concatenate([[0.0], cdf]))
            var = float((pmf * x ** 2).sum() - (pmf * x).sum() ** 2)
        mean = float((pmf * x).sum())
        for name, d in draws.items():
            col = d[:, k]
            assert np.all(col == np.rint(col)) and col.min() >= 0, name
            assert abs(col.mean() - mean) <= 5 * np.sqrt(var / n) + 1e-12, (name, k)
            if var == 0:
                assert np.all(col == mean), name
                continue
            assert abs(col.var() / var - 1) < 5 * np.sqrt(2 / n) * 3, (name, k)
            counts = np.bincount(col.astype(np.int64), minlength=x.size)[:x.size]
            expected = pmf * n
            keep = expected >= 5
            obs = np.append(counts[keep], n - counts[keep].sum())
            exp = np.append(expected[keep], n - expected[keep].sum())
            if exp[-1] < 5:  # pool a tiny remainder into the last kept cell
                obs[-2] += obs[-1]
                exp[-2] += exp[-1]
                obs, exp = obs[:-1], exp[:-1]
            p = stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue
            assert p > 1e-4, (name, k, p)


def test_vector_env_uses_the_inversion_sampler_where_it_applies():
    stationary = VectorInventoryEnv(8, "lost-sales-L2-p9", episode_length=20)
    stationary.reset(seed=0)
    assert stationary.problem.source._inverse_cdf()  # Poisson demand, no multipliers: inversion
    weekly = VectorInventoryEnv(8, "lost-sales-L2-p9", episode_length=20,
                                demand={"mean": 5.0, "weekly": [1, 1, 1, 1, 1, 2, 2]})
    weekly.reset(seed=0)
    assert weekly.problem.source._inverse_cdf() is None  # multipliers: numpy's sampler (ParametricDemand.sample)
    for _ in range(25):  # through an episode end (a new episode drawn for every slot)
        weekly.step(np.zeros(8, dtype=np.int64))
        stationary.step(np.zeros(8, dtype=np.int64))
    a = VectorInventoryEnv(8, "lost-sales-L2-p9", episode_length=20)
    a.reset(seed=3)
    b = VectorInventoryEnv(8, "lost-sales-L2-p9", episode_length=20)
    b.reset(seed=3)
    assert np.array_equal(a.engine.demand, b.engine.demand)  # seeded: reproducible


# ----------------------------------------------------------------------- the episode factory
def test_block_bootstrap_episodes_are_blocks_of_the_train_window(data_files):
    """data.bootstrap_block = b: every training episode is a sequence of b-period blocks of its SKU's own train
    window (consecutive periods inside a block, the block cut at the window's end), the calendar rows follow
    the demand's periods, the history rows are the first W of the same sequence, the draws are reproducible
    per seed and differ between seeds and episodes."""
    from envs.episodes import make_episodes
    from envs.problem import Problem

    b, T = 4, 30
    kw = data_overrides(data_files, window="train", episode_length=T)
    kw["data"]["bootstrap_block"] = b
    pb = Problem("lost-sales-L2-p9", **kw)
    src, W = pb.source, pb.window
    skus = np.repeat(src.skus_in("train"), 5)
    eps = make_episodes(pb, "train", seed=7, skus=skus)
    assert eps.demand.shape == (W + T, skus.size) and (eps.lengths == T).all()
    rows = eps.calendar_rows()
    assert rows.shape == (W + T + 1, skus.size)
    for j, s in enumerate(skus.tolist()):
        lo, hi = src.window_range("train", s)
        idx = rows[:W + T, j]  # the data period of every trace row
        assert (idx >= lo).all() and (idx < hi).all(), "a period outside the SKU's train window"
        np.testing.assert_array_equal(eps.demand[:, j], src.data.demand[s, idx])
        for k in range(0, W + T, b):  # within a block: consecutive periods (or held at the window's last period)
            blk = idx[k:k + b]
            steps = np.diff(blk)
            assert ((steps == 1) | ((steps == 0) & (blk[1:] == hi - 1))).all(), (j, blk)
        assert rows[W + T, j] == min(idx[-1] + 1, src.data.n_periods - 1)  # the period after the episode
        assert eps.cal_offset[j] == idx[W]
    again = make_episodes(pb, "train", seed=7, skus=skus)
    np.testing.assert_array_equal(again.demand, eps.demand)
    other = make_episodes(pb, "train", seed=8, skus=skus)
    assert not np.array_equal(other.calendar_rows(), rows)
    assert len({tuple(rows[:, j]) for j in range(skus.size)}) > skus.size // 2  # episodes are not copies


def test_single_env_and_factory_agree(data_files):
    """The single env's reset draws its episode from the same factory: its trace is make_episodes' for the
    same random stream (one SKU), on data and parametric scenarios."""
    from envs.episodes import make_episodes

    for kw, sku in ((data_overrides(data_files, window="train", episode_length=12), 1), ({"episode_length": 12}, 0)):
        env = InventoryEnv("lost-sales-L2-p9", **kw)
        env.reset(seed=3, options={"sku": sku, "initial_state": "empty"})
        rng = np.random.default_rng(3)
        eps = make_episodes(env.problem, "train", rng=rng, skus=[sku], periods=12, with_past=False)
        np.testing.assert_array_equal(env._trace[:, 0], eps.demand[:env.problem.window + int(eps.lengths[0]), 0])
