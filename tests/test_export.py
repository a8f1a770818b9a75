"""Export (agents.export) and the deploy path (deploy.recommend): ONNX parity with model.predict on 10,000
evaluation observations, the deploy side's copies of the env's observation / action / order-rule maths, the
recommend CLI end to end, its input errors, its imports (no torch, no stable-baselines3) and baseline mode.

Tiny training runs (a few hundred steps): these tests check the plumbing, not learning.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest

import train as train_cli
from agents.export import export_run, parity
from agents.export import main as export_main
from agents.policy import AgentPolicy
from agents.runs import load_run
from deploy import policyfile as pf
from deploy import recommend as rec
from envs import kernel
from envs.batch import BatchSim
from envs.episodes import make_episodes
from envs.problem import Problem
from envs.scenario import resolve_scenario

ROOT = Path(__file__).resolve().parent.parent
TINY = ["eval_freq=512", "checkpoint_freq=0", "eval_episodes=2", "eval_periods=50", "--no-progress"]
HP = {"ppo": ["hp.n_steps=128", "hp.batch_size=128", "hp.n_epochs=1"],
      "dqn": ["hp.learning_starts=400", "hp.buffer_size=2000", "hp.batch_size=32"]}
RUNS = {  # name: (algo, extra args)
    "ppo_continuous": ("ppo", []),  # the default preset: continuous Box(-1, 1) action
    "ppo_discrete": ("ppo", ["action.mode=units", "observation.demand_window=2"]),
    "dqn": ("dqn", ["algorithm=DQN"]),
    "qrdqn": ("dqn", ["pack_size=2"]),  # pack size 2: no DP optimum, so no exact-cost evaluation (faster)
    # the forecast fields, three SKUs of different scales, L = 3 (the (L + 1) factor and two pipeline slots)
    "ppo_forecast": ("ppo", ["lead_time=3", "demand.mean=[4.0, 9.0, 0.6]", "observation.demand_window=2",
                             "observation.forecast=true", "observation.forecast_window=5",
                             "observation.forecast_alpha=0.3"]),
    # the (s, s + lot) action: index i = reorder point i x 0.5 x scale, lot = max(eoq_cover, 1) x scale (K = 5)
    "ppo_reorder": ("ppo", ["action.mode=reorder_point", "action.n=21", "action.step=0.5", "action.relative=true",
                            "order_cost=5", "observation.demand_window=2"]),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for name, (algo, extra) in RUNS.items():
        run = base / name
        rc = train_cli.main(["--algo", algo, "--scenario", "lost-sales-L2-p9", "--timesteps", "512", "--n-envs",
                             "2", "--run-dir", str(run), *TINY, *HP[algo], *extra])
        assert rc == 0
        out[name] = run
    return out


@pytest.fixture(scope="module")
def policies(runs, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("policies")
    out = {}
    for name, run in runs.items():
        out[name] = base / f"{name}.onnx"
        export_run(run, out[name])
    return out


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _recommend(capsys, *args: str) -> subprocess.CompletedProcess:
    """deploy.recommend.main in this process (what `python -m deploy.recommend` exits with)."""
    capsys.readouterr()
    rc = rec.main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["deploy.recommend", *args], rc, out.out, out.err)


# ----------------------------------------------------------------------------------------- export + parity
@pytest.mark.parametrize("name", list(RUNS))
def test_parity_with_model_predict(runs, policies, name):
    """10,000 evaluation observations: the ONNX action equals model.predict(deterministic=True): the same index
    (discrete), the same order units (continuous, raw mean within float32 rounding)."""
    r = parity(runs[name], policies[name], n=10_000)
    assert r["n"] == 10_000
    assert r["unit_mismatches"] == 0
    if name in ("ppo_continuous", "ppo_forecast"):
        assert r["head"] == "continuous"
        assert r["max_abs_action_diff"] < 1e-5
    elif name == "ppo_reorder":  # 21 nearly equal logits of an untrained net: a float32 near-tie may flip an
        assert r["action_mismatches"] <= 10  # index where IP is above both levels; the orders match exactly
    else:
        assert r["action_mismatches"] == 0
    assert r["algorithm"] == {"ppo_continuous": "PPO", "ppo_discrete": "PPO", "dqn": "DQN", "qrdqn": "QRDQN",
                              "ppo_forecast": "PPO", "ppo_reorder": "PPO"}[name]


@pytest.mark.parametrize("name", ["ppo_continuous", "qrdqn", "ppo_reorder"])
def test_units_match_agent_policy(runs, policies, name):
    """Order units from the ONNX action via deploy.policyfile equal AgentPolicy.units (the evaluation path)."""
    import onnxruntime as ort

    from agents.export import evaluation_observations

    run = load_run(runs[name])
    obs, sku, problem = evaluation_observations(run, 4000, seed=7)
    sc = resolve_scenario(run.config.scenario, **run.config.scenario_overrides)
    agent = AgentPolicy(run.load_model(), run.normalization, sc.action)
    scale = problem.params[sku, kernel.SCALE]
    ip = obs[:, 2].astype(np.float64) * scale
    lot = pf.reorder_lot(problem.params[sku, kernel.ORDER_COST], problem.params[sku, kernel.HOLD], scale)
    ref = agent.units(obs, scale, ip, lot)
    sess = ort.InferenceSession(str(policies[name]), providers=["CPUExecutionProvider"])
    meta = json.loads(sess.get_modelmeta().custom_metadata_map[pf.METADATA_KEY])
    got = pf.requested_units(sess.run(["action"], {"obs": obs})[0], meta["action"], scale, ip, lot)
    np.testing.assert_array_equal(got, ref)
    if name == "ppo_reorder":  # (s, s + lot): nothing above s, else up to s + lot = sqrt(2 x 5 x 5 / 1) units
        assert meta["action"]["mode"] == "reorder_point" and "lot" in meta["action"]
        np.testing.assert_allclose(lot, np.sqrt(50.0))
        assert (got == 0).any() and (got > 0).any()
        s = got + ip - lot
        np.testing.assert_allclose(s[got > 0] / 2.5, np.rint(s[got > 0] / 2.5), atol=1e-9)  # on the 0.5 x 5 grid


def test_metadata_and_sidecar(runs, policies):
    path = policies["ppo_continuous"]
    model = onnx.load(str(path))
    meta = json.loads({p.key: p.value for p in model.metadata_props}[pf.METADATA_KEY])
    side = json.loads(path.with_name(path.name + ".json").read_text())
    assert side == meta
    for key in ("scenario", "obs_layout_version", "obs_names", "action", "skus", "costs", "versions", "run",
                "normalization", "mode"):
        assert key in meta, key
    assert meta["obs_layout_version"] == pf.OBS_LAYOUT_VERSION
    assert meta["action"] == {**meta["action"], "mode": "continuous", "n": 11, "step": 0.2, "relative": True}
    assert meta["skus"]["sku"] == ["sku0"] and meta["skus"]["demand_scale"] == [5.0]
    assert meta["run"]["id"].startswith("ppo_continuous:best_model.npz:")
    assert "torch" in meta["versions"]["training"] and "export_onnx" in meta["versions"]
    assert meta["scenario"]["name"] == "lost-sales-L2-p9"
    # the normalisation is in the graph: its input is the raw observation
    ops = [n.op_type for n in model.graph.node]
    assert ops[:3] == ["Add", "Mul", "Clip"] and ops.count("Gemm") == 3 and ops[-1] == "Clip"
    assert [i.name for i in model.graph.input] == ["obs"]
    # deterministic export: the same bytes except the export time
    again = path.with_name("again.onnx")
    export_run(runs["ppo_continuous"], again, sidecar=False)
    m2 = onnx.load(str(again))
    assert m2.graph.SerializeToString() == model.graph.SerializeToString()


def test_export_cli_check_and_errors(runs, tmp_path, capsys):
    out = tmp_path / "p.onnx"
    assert export_main([str(runs["dqn"]), "--out", str(out), "--best", "--check"]) == 0
    text = capsys.readouterr().out
    assert "orders agree: 10000 / 10000 evaluation observations (ONNX file vs the run's policy)" in text
    assert export_main([str(tmp_path / "nope"), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_train_py_export_alias(runs, tmp_path, capsys):
    """`python train.py export ...` is the same command as `python -m agents.export ...`."""
    import train

    out = tmp_path / "alias.onnx"
    assert train.main(["export", str(runs["dqn"]), "--out", str(out)]) == 0
    assert out.exists() and (tmp_path / "alias.onnx.json").exists()
    assert train.main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "y.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- deploy maths vs env
def test_constrain_matches_kernel():
    rng = np.random.default_rng(0)
    n = 20_000
    want = rng.choice([-3.0, 0.0, 1e-12, 0.5, 3.0, 7.0, 12.0, 25.0, 99.0], n) + rng.integers(0, 3, n) * 0.25
    ip = rng.integers(-5, 40, n).astype(float)
    moq = rng.choice([0.0, 2.0, 5.0, 12.5], n)
    pack = rng.choice([1.0, 2.0, 6.0, 12.0], n)
    max_order = rng.choice([np.inf, 10.0, 24.0, 3.0], n)
    cap = rng.choice([np.inf, 30.0, 50.0], n)
    ref = np.array([kernel.constrain(*args) for args in zip(want, ip, moq, pack, max_order, cap)])
    np.testing.assert_array_equal(pf.constrain(want, ip, moq, pack, max_order, cap), ref)


@pytest.mark.parametrize("overrides", [
    {"lead_time": 3, "observation.demand_window": 3},
    {"lead_time": 2, "observation.calendar": True, "demand.start_date": "2024-01-29", "observation.lead_time": True,
     "observation.demand_window": 1},
    {"order_cost": 5.0, "holding_cost": 0.05, "demand.mean": [40.0, 4.0, 0.3], "observation.demand_window": 2},
    {"order_cost": 2.0, "holding_cost": 0.0, "observation.eoq": True},
    {"lead_time": 3, "observation.demand_window": 3, "observation.forecast": True, "observation.forecast_window": 7,
     "demand.mean": [40.0, 4.0, 0.3], "order_cost": 5.0},
    {"observation.forecast": True, "observation.forecast_window": 2, "observation.forecast_alpha": 1.0,
     "observation.demand_window": 4},
    {"observation.log_scale": True, "demand.mean": [40.0, 4.0, 0.3], "order_cost": 5.0, "observation.forecast": True},
    {"observation.order_cover": True, "observation.log_scale": True, "demand.mean": [40.0, 4.0, 0.3], "moq": 7,
     "pack_size": 5, "observation.forecast": True},
])
def test_observations_match_env(overrides):
    """deploy.policyfile.build_observations reproduces BatchSim.observe from the raw state."""
    problem = Problem("lost-sales-L2-p9", **overrides)
    eps = make_episodes(problem, n=64, periods=30, seed=1)
    sim = BatchSim(problem, eps, initial_state="random", seed=3)
    rng = np.random.default_rng(0)
    names = [f.name for f in problem.obs_fields]
    H, W = problem.window, problem.n_lags
    for _ in range(12):
        obs = sim.observe()
        t = sim.t
        past = eps.demand[:H + t][::-1].T  # column k-1 = k periods ago
        cal = eps.calendar[eps.cal_offset + t] if problem.n_calendar else None
        got = pf.build_observations(names, net=sim.state[:, kernel.NET].copy(),
                                    pipeline=sim.state[:, kernel.PIPE:kernel.PIPE + problem.n_pipe],
                                    lags=past[:, :W], scale=sim.params[:, kernel.SCALE], lead=sim.params[:, kernel.LEAD],
                                    lead_norm=problem.lead_norm, calendar=cal,
                                    order_cost=sim.params[:, kernel.ORDER_COST], holding_cost=sim.params[:, kernel.HOLD],
                                    recent=past, forecast=problem.forecast, moq=sim.params[:, kernel.MOQ],
                                    pack_size=sim.params[:, kernel.PACK])
        np.testing.assert_array_equal(got, obs)
        sim.step(rng.integers(0, 12, eps.n).astype(float))


def test_eoq_cover_field():
    """eoq_cover = sqrt(2 K / (h scale)) per SKU (auto: only with a fixed order cost), 0 without K, capped."""
    assert "eoq_cover" not in [f.name for f in Problem("lost-sales-L2-p9").obs_fields]
    problem = Problem("lost-sales-L2-p9", order_cost=5.0, holding_cost=0.05, **{"demand.mean": [40.0, 1.0]})
    names = [f.name for f in problem.obs_fields]
    assert names[-1] == "eoq_cover"
    sim = BatchSim(problem, make_episodes(problem, n=2, periods=3, seed=0), initial_state="steady", seed=0)
    obs = sim.observe()
    np.testing.assert_allclose(obs[:, -1], [np.sqrt(200 / 40.0), np.sqrt(200 / 1.0)], rtol=1e-6)
    assert pf.build_observations(["eoq_cover"], net=np.zeros(3), pipeline=np.zeros((3, 0)), lags=np.zeros((3, 0)),
                                 scale=np.ones(3), lead=np.ones(3), lead_norm=1.0, order_cost=np.array([0.0, 1.0, 1.0]),
                                 holding_cost=np.array([1.0, 0.0, 1e-12]))[:, 0].tolist() == [0.0, 1000.0, 1000.0]


def test_calendar_features_match_env():
    from envs.demand import calendar_features

    d = np.arange(np.datetime64("2023-12-25"), np.datetime64("2024-03-10"))
    for daily in (True, False):
        np.testing.assert_array_equal(pf.calendar_features(d, daily), calendar_features(d, daily))


# ----------------------------------------------------------------------------------------- recommend CLI
def _write_state(tmp: Path, rows: list[dict], name: str = "state.csv") -> Path:
    p = tmp / name
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


ITEMS = [{"sku": "A-001", "demand_scale": 5, "moq": 0, "pack_size": 1},
         {"sku": "B-002", "demand_scale": 50, "moq": 20, "pack_size": 12},
         {"sku": "C-003", "demand_scale": 0.5, "moq": 0, "pack_size": 1},
         {"sku": "0042", "demand_scale": 20, "moq": 30, "pack_size": 6}]
STATE = [{"sku": "A-001", "on_hand": 0, "in_transit_1": 0, "demand_lag_1": 6, "demand_lag_2": 4},
         {"sku": "B-002", "on_hand": 20, "in_transit_1": 30, "demand_lag_1": 55, "demand_lag_2": 45},
         {"sku": "C-003", "on_hand": 4, "in_transit_1": 0, "demand_lag_1": 1, "demand_lag_2": 0},
         {"sku": "0042", "on_hand": 0, "in_transit_1": 0, "demand_lag_1": 20, "demand_lag_2": 20},
         {"sku": "sku0", "on_hand": 12, "in_transit_1": 5, "demand_lag_1": 5, "demand_lag_2": 5}]
COLUMNS = ["sku", "order_qty", "requested_qty", "on_hand", "inventory_position", "inventory_position_after",
           "demand_per_period", "periods_of_cover", "safety_stock", "lead_time", "projected_min_stock",
           "stock_alert", "alert_reason", "policy"]


@pytest.mark.parametrize("name", ["ppo_continuous", "ppo_discrete", "qrdqn", "ppo_reorder"])
def test_recommend_cli_end_to_end(policies, tmp_path, name):
    state = _write_state(tmp_path, STATE)
    items = _write_state(tmp_path, ITEMS, "items.csv")
    out = tmp_path / "orders.csv"
    p = _cli("-m", "deploy.recommend", "--policy", str(policies[name]), "--state", str(state), "--items",
             str(items), "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stdout and "5 SKUs" in p.stdout
    df = pd.read_csv(out, dtype={"sku": str})
    assert list(df.columns) == COLUMNS
    assert list(df["sku"]) == ["A-001", "B-002", "C-003", "0042", "sku0"]  # order kept, "0042" stays text
    by = df.set_index("sku")
    # MOQ and pack size: orders are 0 or >= MOQ, multiples of the pack, from the policy's request
    for it in ITEMS:
        q = by.loc[it["sku"], "order_qty"]
        assert q == 0 or (q >= it["moq"] and q % it["pack_size"] == 0), (it, q)
    pack = np.array([1, 12, 1, 6, 1 if name != "qrdqn" else 2], float)
    moq = np.array([0, 20, 0, 30, 0], float)
    ip = np.array([0, 50, 4, 0, 17], float)
    np.testing.assert_array_equal(df["inventory_position"], ip)
    np.testing.assert_array_equal(df["order_qty"], pf.constrain(df["requested_qty"].to_numpy(), ip, moq, pack,
                                                                 np.full(5, np.inf), np.full(5, np.inf)))
    np.testing.assert_allclose(df["inventory_position_after"], ip + df["order_qty"])
    np.testing.assert_allclose(df["demand_per_period"], [5, 50, 0.5, 20, 5])
    np.testing.assert_allclose(df["periods_of_cover"], (ip + df["order_qty"]) / [5, 50, 0.5, 20, 5], rtol=1e-5)
    # alerts (L = 2: the order placed now arrives in 2 periods; in_transit_1 arrives next period)
    a = by.loc["A-001"]  # nothing on hand, nothing coming: stockout this period
    assert a["stock_alert"] and a["alert_reason"].startswith("stockout projected in period 1: 5.0 units short")
    b = by.loc["B-002"]  # 20 on hand, 50 per period: short in period 1 before the 30 in transit arrive
    assert b["stock_alert"] and "period 1: 30.0 units short" in b["alert_reason"]
    c = by.loc["C-003"]  # 4 on hand, 0.5 per period: 3 left after 2 periods, above its safety stock
    assert not c["stock_alert"] and pd.isna(c["alert_reason"]) and c["projected_min_stock"] == 3.0
    s0 = by.loc["sku0"]  # 12 + 5 - 2 x 5 = 7 >= safety stock 1.645 x 0 x sqrt(3) = 0
    assert not s0["stock_alert"] and s0["projected_min_stock"] == 7.0 and s0["safety_stock"] == 0.0
    assert df["policy"].str.startswith({"qrdqn": "QRDQN:", "dqn": "DQN:"}.get(name, "PPO:")).all()
    if name == "ppo_reorder":  # the ONNX index i -> s = i x 0.5 x scale; order s + lot - IP when IP <= s
        import onnxruntime as ort

        sess = ort.InferenceSession(str(policies[name]), providers=["CPUExecutionProvider"])
        meta = json.loads(sess.get_modelmeta().custom_metadata_map[pf.METADATA_KEY])
        scale = np.array([5, 50, 0.5, 20, 5], float)
        lags = np.array([[r["demand_lag_1"], r["demand_lag_2"]] for r in STATE], float)
        obs = pf.build_observations(meta["obs_names"], net=ip - [0, 30, 0, 0, 5], pipeline=np.array([[0, 30, 0, 0, 5.0]]).T,
                                    lags=lags, scale=scale, lead=np.full(5, 2.0), lead_norm=0.5,
                                    order_cost=np.full(5, 5.0), holding_cost=np.ones(5))
        s = sess.run(["action"], {"obs": obs})[0].astype(float) * 0.5 * scale
        lot = np.maximum(np.sqrt(2 * 5.0 / scale), 1.0) * scale
        np.testing.assert_allclose(df["requested_qty"], np.where(ip <= s, s + lot - ip, 0.0))


def test_safety_stock_alert_reason(policies, tmp_path, capsys):
    """Above zero but below the safety stock: the reason names the safety stock; a given safety_stock wins."""
    rows = [{"sku": "sku0", "on_hand": 9, "in_transit_1": 0, "safety_stock": 4}]
    out = tmp_path / "o.csv"
    p = _recommend(capsys, "--policy", policies["ppo_continuous"], "--state", _write_state(tmp_path, rows),
                   "--out", out)
    assert p.returncode == 0, p.stderr
    r = pd.read_csv(out).iloc[0]
    # 9 - 5 = 4 (not below 4), 9 - 10 = -1: a stockout in period 2
    assert r["stock_alert"] and r["alert_reason"].startswith("stockout projected in period 2: 1.0 units short")
    rows = [{"sku": "sku0", "on_hand": 12, "in_transit_1": 0, "safety_stock": 3}]
    p = _recommend(capsys, "--policy", policies["ppo_continuous"], "--state", _write_state(tmp_path, rows),
                   "--out", out)
    assert p.returncode == 0, p.stderr
    r = pd.read_csv(out).iloc[0]
    assert r["stock_alert"] and r["alert_reason"].startswith("projected stock 2.0 in period 2 below safety stock 3.0")


def test_history_file_equals_lag_columns(policies, tmp_path, capsys):
    """--history (long table date,sku,demand) gives the same orders as demand_lag_* columns."""
    state_lags = _write_state(tmp_path, STATE, "lags.csv")
    state_plain = _write_state(tmp_path, [{k: v for k, v in r.items() if not k.startswith("demand_lag")}
                                          for r in STATE], "plain.csv")
    hist = []
    for r in STATE:
        for day, k in (("2024-03-01", 3), ("2024-03-02", 2), ("2024-03-03", 1)):
            hist.append({"date": day, "sku": r["sku"], "demand": r.get(f"demand_lag_{k}", r["demand_lag_1"])})
    pd.DataFrame(hist[::-1]).to_csv(tmp_path / "hist.csv", index=False)  # any row order
    items = _write_state(tmp_path, ITEMS, "items.csv")
    pol = str(policies["ppo_discrete"])  # observes demand_lag_2, demand_lag_1
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    p = _recommend(capsys, "--policy", pol, "--state", state_lags, "--items", items, "--out", a)
    assert p.returncode == 0, p.stderr
    p = _recommend(capsys, "--policy", pol, "--state", state_plain, "--items", items, "--history",
                   tmp_path / "hist.csv", "--out", b)
    assert p.returncode == 0, p.stderr
    da, db = pd.read_csv(a), pd.read_csv(b)
    np.testing.assert_array_equal(da["order_qty"], db["order_qty"])
    np.testing.assert_array_equal(da["requested_qty"], db["requested_qty"])


def test_forecast_policy_recommends_from_history_as_the_env_observes(runs, policies, tmp_path):
    """A policy with the forecast fields: recommend's observation, rebuilt from a state file and a --history
    file of the episode's demand so far, is the env's (kernel's) float32 bit for bit, for every SKU at several
    periods; too short a history is padded with the SKU's scale as the env pads it; without --history and
    without demand_lag_1 .. F it is a one-line error."""
    pol = rec.load_policy(policies["ppo_forecast"])
    assert pol.meta["obs_names"][-2:] == ["forecast_lead", "forecast_error"]
    assert pol.meta["observation"]["forecast_window"] == 5 and pol.meta["observation"]["forecast_alpha"] == 0.3
    problem = load_run(runs["ppo_forecast"]).problem()
    H = problem.window
    eps = make_episodes(problem, n=3, periods=20, seed=5)  # SKU j in episode j
    assert eps.sku.tolist() == [0, 1, 2]
    sim = BatchSim(problem, eps, initial_state="random", seed=2)
    rng = np.random.default_rng(1)
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + H + 20)
    names = [problem.sku_name(j) for j in range(3)]
    for t in range(12):
        if t in (0, 5, 11):
            rows = [{"sku": names[j], "on_hand": sim.state[j, kernel.NET],
                     **{f"in_transit_{k + 1}": sim.state[j, kernel.PIPE + k] for k in range(problem.n_pipe)}}
                    for j in range(3)]
            state = _write_state(tmp_path, rows, f"state{t}.csv")
            skip = 3 if t == 0 else 0  # t = 0: the first 3 periods left out (fewer than F known before t = 2)
            hist = pd.DataFrame([{"date": str(days[r]), "sku": names[j], "demand": eps.demand[r, j]}
                                 for j in range(3) for r in range(skip, H + t)])
            hist.to_csv(tmp_path / "hist.csv", index=False)
            st = rec.read_state(pol, state, history=tmp_path / "hist.csv")
            got = rec.observations(pol, st)
            want = sim.observe()
            if skip:  # the env's view of that history: the missing periods are the SKU's scale
                e2 = make_episodes(problem, n=3, periods=20, seed=5)
                e2.demand[:skip] = problem.params[:3, kernel.SCALE][None, :]
                s2 = BatchSim(problem, e2, initial_state="random", seed=2)
                want = s2.observe()
            np.testing.assert_array_equal(got, want, err_msg=f"t={t}")
            assert rec.policy_orders(pol, st)[0].shape == (3,)
        sim.step(rng.integers(0, 12, 3).astype(float))
    with pytest.raises(rec.DeployError, match="forecast fields smooth the last 5 periods of demand; give --history"):
        rec.read_state(pol, _write_state(tmp_path, [{**rows[0], "demand_lag_1": 1, "demand_lag_2": 2}], "s.csv"))


def test_policy_exported_before_the_forecast_fields_recommends(policies, tmp_path, capsys):
    """A policy file whose observation metadata has no forecast_window / forecast_alpha (exported before the
    forecast fields existed) loads and recommends the same orders."""
    src = policies["ppo_discrete"]
    meta = rec.load_policy(src).meta
    assert meta["observation"]["forecast_window"] == 0 and meta["observation"]["forecast_alpha"] is None
    old_ob = {k: v for k, v in meta["observation"].items() if not k.startswith("forecast")}
    old = _tampered(src, tmp_path / "old.onnx", observation=old_ob)
    state, items = _write_state(tmp_path, STATE), _write_state(tmp_path, ITEMS, "items.csv")
    outs = []
    for pol in (src, old):
        outs.append(tmp_path / f"{pol.stem}.csv")
        p = _recommend(capsys, "--policy", pol, "--state", state, "--items", items, "--out", outs[-1])
        assert p.returncode == 0, p.stderr
    pd.testing.assert_frame_equal(pd.read_csv(outs[0]), pd.read_csv(outs[1]))


def test_deploy_path_imports_no_torch(policies, tmp_path):
    """The deploy path loads numpy, pandas and onnxruntime only, and never unpickles."""
    state = _write_state(tmp_path, STATE)
    items = _write_state(tmp_path, ITEMS, "items.csv")
    code = f"""
import pickle, sys
def _no(*a, **k):
    raise AssertionError("unpickling on the deploy path")
pickle.load = pickle.loads = _no
pickle.Unpickler = _no
from deploy.recommend import main
rc = main(["--policy", {str(policies['qrdqn'])!r}, "--state", {str(state)!r}, "--items", {str(items)!r},
           "--out", {str(tmp_path / 'o.csv')!r}])
heavy = ("torch", "stable_baselines3", "sb3_contrib", "gymnasium", "numba", "scipy", "envs", "agents",
         "baselines", "yaml", "onnx")
print("RC", rc, "LOADED", sorted(m for m in sys.modules if m.split(".")[0] in heavy))
print("NEEDED", all(m in sys.modules for m in ("numpy", "pandas", "onnxruntime")))
"""
    p = _cli("-c", code)
    assert p.returncode == 0, p.stderr
    assert "RC 0 LOADED []" in p.stdout, p.stdout
    assert "NEEDED True" in p.stdout


def _tampered(src: Path, dst: Path, **changes) -> Path:
    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[pf.METADATA_KEY])
    meta.update(changes)
    onnx.helper.set_model_props(model, {pf.METADATA_KEY: json.dumps(meta)})
    onnx.save(model, str(dst))
    return dst


BAD_CASES = {
    "missing column": ({"drop": "in_transit_1"}, "missing required column 'in_transit_1' in the state file"),
    "unknown sku": ({"set": ("sku", 1, "ZZZ-9")}, "line 3: unknown SKU 'ZZZ-9'"),
    "negative stock": ({"set": ("on_hand", 2, -3)}, "column 'on_hand', line 4: on hand -3 (SKU 'C-003') "
                                                    "(negative stock)"),
    "nan": ({"set": ("in_transit_1", 0, np.nan)}, "column 'in_transit_1', line 2: empty or NaN units in transit "
                                                  "(SKU 'A-001')"),
    "text": ({"set": ("on_hand", 0, "lots")}, "on hand 'lots' is not a number"),
    "duplicate sku": ({"set": ("sku", 1, "A-001")}, "duplicate SKU 'A-001' in column 'sku': line 2 and line 3"),
    "late transit": ({"add": ("in_transit_2", 4)}, "units arriving in 2 periods for SKU 'A-001', whose lead time "
                                                    "is 2"),
    "layout version": ({"meta": {"obs_layout_version": 99}}, "exported for observation layout version 99"),
    "obs names": ({"meta": {"obs_names": ["on_hand", "pipeline_1", "inventory_level"]}},
                  "field(s) 'inventory_level' that observation layout version 1 does not define"),
    "obs size": ({"meta": {"obs_names": ["on_hand", "inventory_position"]}}, "does not match the observation"),
    "forecast window": ({"meta": {"obs_names": ["on_hand", "pipeline_1", "inventory_position", "forecast_lead"]}},
                        "corrupt policy metadata (forecast_window must be >= 2 and forecast_alpha a number in (0, 1], got 0 "
                        "and None)"),
    "not a policy": ({"policy": "garbage"}, "not a valid ONNX model"),
    "covariates for an agent": ({"covariates": True}, "uses no known covariates"),
    # the lag columns place each demand by their K: a gap or a lag 0 was an IndexError or a value put in a wrong place
    "lag gap": ({"add": ("demand_lag_4", 3)}, "demand_lag_3 is missing among 3 demand_lag columns; expected "
                                               "demand_lag_1 .. demand_lag_M"),
    "lag zero": ({"add": ("demand_lag_0", 3)}, "column 'demand_lag_0'; expected demand_lag_1 .. demand_lag_M"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_inputs(policies, tmp_path, capsys, case):
    """Each bad input: a clear message, exit status 2, no orders.csv (in a subprocess for one case: the
    process's exit status; in this process for the others: what main returns is the exit status)."""
    how, message = BAD_CASES[case]
    df = pd.DataFrame(STATE).astype({"on_hand": object, "in_transit_1": object})
    if "drop" in how:
        df = df.drop(columns=how["drop"])
    if "set" in how:
        col, row, value = how["set"]
        df.loc[row, col] = value
    if "add" in how:
        df[how["add"][0]] = 0
        df.loc[0, how["add"][0]] = how["add"][1]
    state = tmp_path / "state.csv"
    df.to_csv(state, index=False)
    items = _write_state(tmp_path, ITEMS, "items.csv")
    policy = policies["ppo_continuous"]
    if "meta" in how:
        policy = _tampered(policy, tmp_path / "tampered.onnx", **how["meta"])
    if "policy" in how:
        policy = tmp_path / "garbage.onnx"
        policy.write_text("not a model")
    out = tmp_path / "orders.csv"
    args = ["--policy", str(policy), "--state", str(state), "--items", str(items), "--out", str(out)]
    if "covariates" in how:  # a table the policy would ignore: refused, not silently dropped
        args += ["--covariates", str(state)]
    p = _cli("-m", "deploy.recommend", *args) if case == "missing column" else _recommend(capsys, *args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.startswith("error: ") and message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".orders.csv.*"))


# ----------------------------------------------------------------------------------------- baseline mode
def test_baseline_mode(runs, tmp_path, capsys):
    """A base-stock policy fitted at export time (JSON levels) recommends order-up-to S on the same state file."""
    from baselines.base import train_data
    from baselines.base_stock import BaseStock

    out = tmp_path / "base_stock.json"
    assert export_main(["--baseline", "base_stock", str(runs["ppo_continuous"]), "--out", str(out)]) == 0
    meta = json.loads(out.read_text())
    problem = load_run(runs["ppo_continuous"]).problem()
    S = float(BaseStock().fit(problem, train_data(problem)).levels[0])
    assert meta["kind"] == "levels" and meta["levels"]["S"] == [S]
    rows = [{"sku": "sku0", "on_hand": 3, "in_transit_1": 4}]
    orders = tmp_path / "orders_base_stock.csv"
    p = _recommend(capsys, "--policy", out, "--state", _write_state(tmp_path, rows), "--out", orders)
    assert p.returncode == 0, p.stderr
    r = pd.read_csv(orders).iloc[0]
    assert r["order_qty"] == S - 7 and r["policy"] == "baseline:base_stock"
    # also from --scenario with overrides; SKUs outside the fitted table are an error
    out2 = tmp_path / "rs.json"
    assert export_main(["--baseline", "safety_stock_RS", "--scenario", "lost-sales-L2-p9", "lead_time=3",
                        "--out", str(out2)]) == 0
    assert json.loads(out2.read_text())["skus"]["lead_time"] == [3.0]
    # KEY=VALUE overrides may also follow the options (they were refused there: "unrecognized arguments")
    assert export_main(["--baseline", "safety_stock_RS", "--scenario", "lost-sales-L2-p9", "lead_time=3",
                        "--out", str(out2), "demand.mean=4"]) == 0
    assert json.loads(out2.read_text())["skus"]["lead_time"] == [3.0]
    assert json.loads(out2.read_text())["scenario"]["overrides"] == {"lead_time": 3, "demand.mean": 4}
    state = _write_state(tmp_path, STATE)
    p = _recommend(capsys, "--policy", out, "--state", state, "--out", orders.with_name("x.csv"))
    assert p.returncode == 2 and "unknown SKU 'A-001'" in p.stderr and "level policy only knows" in p.stderr


def test_agents_are_labelled_with_the_algorithm_they_were_trained_with(runs):
    from agents.evaluation import agent_policies, model_problem_args
    from envs import Problem

    for key, label in (("qrdqn", "qrdqn"), ("dqn", "dqn"), ("ppo_discrete", "ppo")):
        rs, scenario, overrides = model_problem_args([str(runs[key])], None, {})
        (agent,) = agent_policies(rs, Problem(scenario, **overrides))
        assert agent.name == f"{label}:{runs[key].name}"  # QR-DQN trained with --algo dqn: qrdqn
