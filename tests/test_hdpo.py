"""HDPO: the torch twin against the numba engine (parity), the pathwise gradient, training, run folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import twin
from envs import kernel
from envs.engine import Engine
from envs.episodes import make_episodes
from envs.problem import Problem

CASES = {
    "lost-sales": dict(mode="lost_sales"),
    "backorder": dict(mode="backorder"),
    "moq-pack": dict(mode="lost_sales", moq=4, pack_size=3),
    "max-order-capacity": dict(mode="backorder", max_order=7, capacity=25, pack_size=2),
    "costs": dict(mode="lost_sales", order_cost=5.0, unit_cost=0.7, holding_cost=0.3, shortage_cost=4.5),
    "everything": dict(mode="backorder", order_cost=2.5, unit_cost=1.25, moq=2, pack_size=2, max_order=11,
                       capacity=30),
}
LEADS = np.array([0, 1, 2, 4, 3, 1])


def _engine_and_twin(overrides, order_up_to, seed=0, T=40):
    pb = Problem("lost-sales-L2-p9", **{"demand.mean": [5.0, 3.0, 8.0, 2.0, 6.0, 4.0], "lead_time": 4,
                                        **overrides})
    pb.params[:, kernel.LEAD] = LEADS  # per-SKU lead times 0..4 (the engine reads them from the rows)
    eps = make_episodes(pb, "train", seed=seed, n=12, periods=T)
    eng = Engine(pb, eps.n, action_table=False)
    eng.load(eps, "random", np.random.default_rng(seed))
    return pb, eps, eng


@pytest.mark.parametrize("order_up_to", [False, True], ids=["units", "order-up-to"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_twin_matches_engine(case, order_up_to):
    """Same demand, same requests: identical states and every info column, float64, every period."""
    pb, eps, eng = _engine_and_twin(CASES[case], order_up_to)
    rng = np.random.default_rng(1)
    p = twin.TwinParams.from_rows(eng.params)
    P = p.slots
    net = torch.tensor(eng.state[:, kernel.NET].copy())
    recv = torch.tensor(eng.state[:, kernel.RECV].copy())
    pipe = torch.tensor(eng.state[:, kernel.PIPE:kernel.PIPE + P].copy())
    assert not eng.state[:, kernel.PIPE + P:].any()
    demand = eps.demand[eps.history:]
    for t in range(eps.periods):
        scale = eng.params[:, kernel.SCALE]
        if order_up_to:
            req = np.round(rng.uniform(-2, 9, eps.n) * scale, 1)
        else:
            req = np.where(rng.random(eps.n) < 0.3, 0.0, np.round(rng.uniform(-1, 3, eps.n) * scale, 2))
        eng.step(req.copy(), order_up_to)
        net, recv, pipe, info = twin.step(net, recv, pipe, p, torch.tensor(req), torch.tensor(demand[t]),
                                          pb.scenario.backorder, order_up_to)
        np.testing.assert_array_equal(net.numpy(), eng.state[:, kernel.NET])
        np.testing.assert_array_equal(recv.numpy(), eng.state[:, kernel.RECV])
        np.testing.assert_array_equal(pipe.numpy(), eng.state[:, kernel.PIPE:kernel.PIPE + P])
        for name, col in (("order", kernel.I_ORDER), ("sales", kernel.I_SALES), ("lost", kernel.I_LOST),
                          ("backordered", kernel.I_BACK), ("received", kernel.I_RECV),
                          ("on_hand", kernel.I_ON_HAND), ("inventory_position", kernel.I_IP),
                          ("holding_cost", kernel.I_HOLD), ("shortage_cost", kernel.I_SHORT),
                          ("ordering_cost", kernel.I_ORDERING), ("purchase_cost", kernel.I_PURCHASE),
                          ("cost", kernel.I_COST)):
            np.testing.assert_array_equal(getattr(info, name).numpy(), eng.info[:, col], err_msg=f"{name} t={t}")
    assert (eng.info[:, kernel.I_ORDER] > 0).any()


@pytest.mark.parametrize("scenario,overrides", [
    ("lost-sales-L3-p9", {}),
    ("demo", {}),
    ("lost-sales-L2-p9", {"observation.demand_window": 3, "observation.period": True}),
    ("demo", {"observation.forecast": True, "observation.forecast_window": 9, "observation.forecast_alpha": 0.3,
              "observation.period": True, "lead_time": 3}),
    ("demo", {"observation.log_scale": True, "observation.forecast": True, "observation.demand_window": 2}),
    ("demo", {"observation.order_cover": True, "observation.log_scale": True, "observation.forecast": True,
              "moq": 7, "pack_size": 5}),
], ids=["zipkin", "demo-calendar-lags", "lags-period", "forecast", "log-scale", "order-cover"])
def test_twin_observation_matches_engine(scenario, overrides):
    """The twin's observation (state part + exogenous fields) is the engine's, float32 bit for bit."""
    pb = Problem(scenario, **overrides)
    eps = make_episodes(pb, "train", seed=3, n=8, periods=30)
    eng = Engine(pb, eps.n, action_table=False)
    eng.load(eps, "random", np.random.default_rng(3))
    p = twin.TwinParams.from_rows(eng.params)
    net = torch.tensor(eng.state[:, kernel.NET].copy())
    recv = torch.tensor(eng.state[:, kernel.RECV].copy())
    pipe = torch.tensor(eng.state[:, kernel.PIPE:kernel.PIPE + p.slots].copy())
    exo = twin.exogenous_features(pb, eps)
    rng = np.random.default_rng(0)
    for t in range(eps.periods):
        obs = torch.cat([twin.observe_state(net, pipe, p.scale, pb.n_pipe).float(), torch.from_numpy(exo[t])], 1)
        np.testing.assert_array_equal(obs.numpy(), eng.observe(), err_msg=f"t={t}")
        req = np.rint(rng.uniform(0, 2, eps.n) * eng.params[:, kernel.SCALE])
        eng.step(req.copy())
        net, recv, pipe, _ = twin.step(net, recv, pipe, p, torch.tensor(req),
                                       torch.tensor(eps.demand[eps.history + t]), pb.scenario.backorder)


# ----------------------------------------------------------------------------------------- the pathwise gradient
def test_pathwise_gradient_matches_finite_differences():
    """Relaxed twin (no rounding, no MOQ/pack): d(total cost)/d(base-stock level) by autograd equals the
    central finite difference, on a tiny backorder case with lead times 0..3 and a capacity."""
    pb = Problem("backorder-L2-b9", **{"demand.mean": [5.0, 3.0, 8.0, 2.0], "lead_time": 3, "capacity": 40,
                                       "unit_cost": 0.5})
    pb.params[:, kernel.LEAD] = [0, 1, 2, 3]
    eps = make_episodes(pb, "train", seed=5, n=8, periods=25)
    params = pb.params[eps.sku]
    demand = torch.tensor(eps.demand[eps.history:]) + torch.tensor(np.random.default_rng(0).random((25, 8)) * 0.3)
    p = twin.TwinParams.from_rows(params)

    def total(level: torch.Tensor) -> torch.Tensor:
        net, recv = torch.full((8,), 6.0, dtype=torch.float64), torch.zeros(8, dtype=torch.float64)
        pipe = torch.zeros((8, p.slots), dtype=torch.float64)
        out = torch.zeros((), dtype=torch.float64)
        for t in range(25):
            net, recv, pipe, info = twin.step(net, recv, pipe, p, level * p.scale, demand[t], True, True,
                                              relax="none")
            out = out + info.cost.sum()
        return out

    level = torch.tensor(2.37, dtype=torch.float64, requires_grad=True)
    g = torch.autograd.grad(total(level), level)[0].item()
    h = 1e-6
    fd = (total(torch.tensor(2.37 + h, dtype=torch.float64)) - total(torch.tensor(2.37 - h, dtype=torch.float64)))
    fd = fd.item() / (2 * h)
    assert abs(g) > 1.0
    assert g == pytest.approx(fd, rel=1e-6)


def test_ste_rounding_passes_the_gradient_and_keeps_the_kernel_value():
    pb = Problem("lost-sales-L2-p9", moq=4, pack_size=3)
    p = twin.TwinParams.from_rows(pb.params[[0, 0, 0]])
    want = torch.tensor([0.0, 2.2, 7.6], dtype=torch.float64, requires_grad=True)
    q = twin.constrain(want, torch.zeros(3, dtype=torch.float64), p, "ste")
    np.testing.assert_array_equal(q.detach().numpy(), [0.0, 6.0, 9.0])
    q.sum().backward()
    np.testing.assert_array_equal(want.grad.numpy(), [0.0, 1.0, 1.0])  # relu: no gradient at want = 0


# ----------------------------------------------------------------------------------------- training and the run folder
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

import train as train_cli  # noqa: E402
from agents.runs import load_run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ["eval_episodes=4", "eval_periods=200", "--no-progress", "hp.batch=128", "hp.periods=32", "hp.warmup=8"]


def _train(run: Path, *extra: str, steps: int = 40 * 128 * 40, scenario: str = "lost-sales-L2-p9") -> Path:
    rc = train_cli.main(["--algo", "hdpo", "--scenario", scenario, "--timesteps", str(steps), "--run-dir",
                         str(run), f"eval_freq={steps // 2}", f"checkpoint_freq={steps // 4}", *TINY, *extra])
    assert rc == 0
    return run


@pytest.fixture(scope="module")
def hdpo_run(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("hdpo") / "run")


def test_training_beats_a_naive_policy_and_writes_the_run_folder(hdpo_run):
    for name in ("model.npz", "best_model.npz", "normalization.json", "config.yaml", "command.txt",
                 "versions.json", "eval.csv", "checkpoint/model.npz", "checkpoint/state.json", "exact_cost.json"):
        assert (hdpo_run / name).is_file(), name
    assert not list(hdpo_run.rglob("*.zip")) and not list(hdpo_run.rglob("*.pkl"))
    with np.load(hdpo_run / "model.npz", allow_pickle=False) as z:  # plain arrays, no pickled objects
        assert all(z[k].dtype != object for k in z.files)
    run = load_run(hdpo_run)
    assert run.config.algorithm == "HDPO" and run.model_path.name == "best_model.npz"
    exact = json.loads((hdpo_run / "exact_cost.json").read_text())
    # a naive rule: order the mean demand (5) every period, 7.81 per period (exact, lost-sales-L2-p9); the
    # tuned base-stock policy 6.3163, the optimum 6.0936
    assert exact["best_model_exact_avg_cost"] < 6.6
    rows = pd.read_csv(hdpo_run / "eval.csv")
    assert len(rows) == 2 and {"gap_to_best_baseline_pct", "exact_avg_cost"} <= set(rows.columns)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(hdpo_run / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"eval/avg_cost", "eval/gap_to_best_baseline_pct", "eval/gap_to_base_stock_pct",
            "eval/exact_avg_cost", "train/loss"} <= tags
    assert {"config", "verdict"} <= {t.split("/")[0] for t in acc.Tags()["tensors"]}


def test_naive_reference_cost():
    """The naive rule of the test above (order 5 every period) costs more than 6.6 on lost-sales-L2-p9."""
    from envs.batch import long_run_cost

    cost, se = long_run_cost(Problem("lost-sales-L2-p9"), lambda sim: np.full(sim.raw.on_hand.shape, 5.0),
                             n=200, periods=1000)
    assert cost - 3 * se > 6.6


def test_evaluate_export_recommend(hdpo_run, tmp_path):
    p = subprocess.run([sys.executable, "evaluate.py", "--model", str(hdpo_run), "--policies", "base_stock",
                        "--episodes", "3", "--periods", "100", "--no-progress"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert f"hdpo:{hdpo_run.name}" in p.stdout
    from agents.export import export_run, parity

    out = tmp_path / "hdpo.onnx"
    meta = export_run(hdpo_run, out)
    assert meta["algorithm"] == "HDPO" and meta["head"] == "continuous"
    r = parity(hdpo_run, out, n=2000)
    assert r["unit_mismatches"] == 0 and r["max_abs_action_diff"] < 1e-5
    state = tmp_path / "state.csv"
    pd.DataFrame([{"sku": "low", "on_hand": 3, "in_transit_1": 5},
                  {"sku": "high", "on_hand": 30, "in_transit_1": 0}]).to_csv(state, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame([{"sku": s, "demand_scale": 5, "moq": 0, "pack_size": 1} for s in ("low", "high")]).to_csv(
        items, index=False)
    from deploy import recommend as rec

    orders = tmp_path / "orders.csv"
    assert rec.main(["--policy", str(out), "--state", str(state), "--items", str(items), "--out", str(orders)]) == 0
    df = pd.read_csv(orders)
    assert df["order_qty"].iloc[0] > df["order_qty"].iloc[1]  # low stock orders more than high stock


def test_forecast_fields_train_and_export(tmp_path):
    """HDPO trains on an observation with the forecast fields (computed by the twin's exogenous features) and
    its ONNX export recommends the policy's orders on the env's observations."""
    from agents.export import export_run, parity

    run = _train(tmp_path / "run", "observation.forecast=true", "observation.forecast_window=6", steps=40 * 128 * 2)
    assert load_run(run).problem().obs_fields[-1].name == "forecast_error"
    meta = export_run(run, tmp_path / "fc.onnx")
    assert meta["obs_names"][-2:] == ["forecast_lead", "forecast_error"]
    r = parity(run, tmp_path / "fc.onnx", n=2000)
    assert r["unit_mismatches"] == 0 and r["max_abs_action_diff"] < 1e-5


@pytest.mark.parametrize("options", [(), ("hp.lot=eoq",),
                                     ("hp.lot=eoq_fixed", "hp.trigger=hard", "hp.fixed_cost=rate",
                                      "hp.state_inputs=false"),
                                     ("hp.lot=eoq_fixed", "hp.lot_max=1.5", "hp.trigger=hard", "hp.fixed_cost=rate")],
                         ids=["free-lot", "eoq-lot", "eoq-fixed-no-state", "eoq-fixed-capped"])
def test_ss_head_exports_with_parity(tmp_path, options):
    """The (s, S) head on a scenario with a fixed order cost, MOQ and pack size: trains, exports, same orders
    (the lot read back from the eoq_cover field in the ONNX graph as in torch)."""
    run = _train(tmp_path / "ss", "hp.head=sS", "order_cost=5", "moq=3", "pack_size=2", *options,
                 steps=10 * 128 * 40)
    from agents.export import export_run, parity

    out = tmp_path / "ss.onnx"
    export_run(run, out)
    r = parity(run, out, n=2000)
    assert r["head"] == "sS" and r["unit_mismatches"] == 0 and r["max_abs_action_diff"] < 1e-5
    if "hp.state_inputs=false" in options:  # the levels never saw the inventory: those weights are still 0
        from agents.hdpo import HDPO

        lr = load_run(run)
        model = HDPO.load(run / "model.npz", lr.config, lr.normalization)
        names = lr.normalization.obs_names
        state = [k for k, n in enumerate(names) if n in ("on_hand", "inventory_position") or n.startswith("pipeline")]
        w = model.net.mlp[0].weight.detach().numpy()
        assert (w[:, state] == 0).all() and (w[:, [k for k in range(len(names)) if k not in state]] != 0).any()


@pytest.mark.parametrize("lot_max", [None, 5.0])
def test_eoq_lot_sets_the_lot_to_the_economic_lot(lot_max):
    """hp.lot=eoq_fixed: S - s = max(eoq_cover, 1) demand scales, whatever the network outputs; with hp.lot_max
    at most that many."""
    from agents.config import TrainConfig
    from agents.hdpo import HDPO
    from agents.normalization import build_normalization

    over = {"action.mode": "continuous"}
    cfg = TrainConfig(algo="hdpo", algorithm="HDPO", scenario="demo", scenario_overrides=over,
                      hyperparams={"head": "sS", "lot": "eoq_fixed", "lot_max": lot_max}, reward_offset=0.0,
                      reward_scale=1.0)
    pb = Problem("demo", **over)
    norm = build_normalization(pb, cfg)
    model = HDPO.build(cfg, norm, seed=0)
    eps = make_episodes(pb, "train", seed=0, n=4, periods=3)
    exo = twin.exogenous_features(pb, eps)
    p = twin.TwinParams.from_rows(pb.params[eps.sku])
    obs = torch.cat([twin.observe_state(torch.zeros(4), torch.zeros((4, p.slots)), p.scale, pb.n_pipe).float(),
                     torch.from_numpy(exo[0])], 1)
    x = torch.clamp((obs + torch.from_numpy(norm.shift)) * torch.from_numpy(norm.scale), -norm.clip, norm.clip)
    s, S, _ = model.net.levels(x)
    from invcore.observation import eoq_cover

    want = np.maximum(eoq_cover(pb.params[eps.sku, kernel.ORDER_COST], pb.params[eps.sku, kernel.HOLD],
                                pb.params[eps.sku, kernel.SCALE]), 1.0)
    if lot_max is not None:
        assert (want > lot_max).any() and (want < lot_max).any()  # demo's SKUs: lots of 2.2 .. 14 periods
        want = np.minimum(want, lot_max)
    np.testing.assert_allclose((S - s)[:, 0].detach().numpy(), want, rtol=1e-5)


def test_resume_continues_exactly(hdpo_run, tmp_path, monkeypatch, capsys):
    """A run killed after 25 of its 40 gradient steps, resumed from its last checkpoint (step 20): the same
    final weights as the run trained in one go (the trace stream, Adam's state and the schedules continue)."""
    from agents import hdpo

    steps = 40 * 128 * 40
    part = tmp_path / "part"
    step = hdpo.Trainer.step

    def dying(self):
        if self.iteration == 25:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(hdpo.Trainer, "step", dying)
    rc = train_cli.main(["--algo", "hdpo", "--scenario", "lost-sales-L2-p9", "--timesteps", str(steps), "--run-dir",
                         str(part), f"eval_freq={steps // 2}", f"checkpoint_freq={steps // 4}", *TINY])
    assert rc == 130  # interrupted: train.py prints the resume command (its last checkpoint is kept)
    assert f"continue from its last checkpoint with: python train.py --resume {part}" in capsys.readouterr().err
    monkeypatch.undo()
    assert json.loads((part / "checkpoint" / "state.json").read_text())["iteration"] == 20
    assert not (part / "model.npz").exists()
    assert train_cli.main(["--resume", str(part), "--no-progress"]) == 0
    assert "--resume" in (part / "command.txt").read_text()
    with np.load(part / "model.npz") as a, np.load(hdpo_run / "model.npz") as b:
        assert int(a["num_timesteps"]) == int(b["num_timesteps"]) == steps
        for k in b.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_bad_hyperparameters_are_one_line_errors(tmp_path, capsys):
    for arg, word in (("hp.head=qq", "hp.head"), ("hp.batch=0", "hp.batch"), ("hp.nope=1", "hp.nope"),
                      ("hp.lot=big", "hp.lot"), ("hp.state_inputs=false", "hp.state_inputs"), ("hp.s0=-1", "hp.s0"),
                      ("hp.lot_max=0.5", "hp.lot_max"), ("hp.lot_max=4", "hp.lot_max"),
                      ("hp.level_fd=0", "hp.level_fd"), ("hp.level_fd=0.5", "hp.level_fd"),
                      ("action.mode=units", "action.mode")):
        rc = train_cli.main(["--algo", "hdpo", "--scenario", "lost-sales-L2-p9", "--timesteps", "1000",
                             "--run-dir", str(tmp_path / arg.replace("=", "_")), "--no-progress", arg])
        err = capsys.readouterr().err
        assert rc == 2 and word in err and err.startswith("error:") and err.count("\n") == 1, err


def test_data_window_fit_trains_on_train_and_val_and_says_validation_is_in_sample(tmp_path):
    """data.window=fit (train + val: what the classical rules are fitted on before the test window): HDPO's traces
    start at random in each SKU's train + val window and reach into val; the training verdict then calls the val
    window in sample; the default (train) never reaches val and calls it held out."""
    import pandas as pd

    from agents.config import resolve_config
    from agents.hdpo import HDPO, Trainer
    from agents.normalization import build_normalization
    from agents.training import Validation

    rng = np.random.default_rng(0)
    dates = pd.date_range("2020-01-06", periods=60, freq="W-MON")
    pd.concat([pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(3 + k, 60)}) for k in range(3)]
              ).to_csv(tmp_path / "d.csv", index=False)
    for window in ("train", "fit"):
        over = {"data.path": str(tmp_path / "d.csv"), "data.train": 0.5, "data.val": 0.25, "data.test": 0.25,
                "data.window": window, "lead_time": 1}
        cfg = resolve_config("hdpo", "lost-sales-L2-p9", "lost-sales-L2-p9", None,
                             {"timesteps": 10 * 16 * 12}, {**over, "hp.batch": 16, "hp.periods": 8, "hp.warmup": 4})
        pb = Problem("lost-sales-L2-p9", **over)
        norm = build_normalization(pb, cfg)
        trainer = Trainer(cfg, pb, norm, HDPO.build(cfg, norm, seed=0), "cpu")
        train_end = pb.source.windows.window("train")[1]
        ends = []
        for _ in range(20):
            eps, _, _ = trainer.traces()
            ends += (eps.cal_offset + eps.lengths).tolist()  # one past each trace's last period
        assert max(ends) > train_end if window == "fit" else max(ends) <= train_end
        label = Validation.build(pb, cfg).label
        assert label.startswith("val window of every SKU") and (("in sample" in label) == (window == "fit"))


def test_a_warmup_as_long_as_the_windows_is_refused_and_a_val_read_scale_is_labelled(tmp_path):
    """hp.warmup >= the longest training window: every trace ends before a period counts, the loss is 0 and the
    network would never train (the carparts train split with hp.warmup 34 did that silently): refused in one line.
    data.scale_window fit with data.window train: the verdict says the val score is not held out."""
    import pandas as pd

    from agents.config import PresetError, resolve_config
    from agents.hdpo import HDPO, Trainer
    from agents.normalization import build_normalization
    from agents.training import Validation

    rng = np.random.default_rng(0)
    dates = pd.date_range("2020-01-06", periods=60, freq="W-MON")
    late = pd.DataFrame({"date": dates[20:], "sku": "late", "demand": rng.poisson(3, 40)})  # 10 train weeks
    pd.concat([pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(3 + k, 60)}) for k in range(3)]
              + [late]).to_csv(tmp_path / "d.csv", index=False)
    over = {"data.path": str(tmp_path / "d.csv"), "data.train": 0.5, "data.val": 0.25, "data.test": 0.25,
            "lead_time": 1}
    longest = 30  # the train window: half of 60 weeks

    def trainer(warmup, **extra):
        cfg = resolve_config("hdpo", "lost-sales-L2-p9", "lost-sales-L2-p9", None, {"timesteps": 16 * 40},
                             {**over, **extra, "hp.batch": 16, "hp.periods": 8, "hp.warmup": warmup})
        pb = Problem("lost-sales-L2-p9", **over, **extra)
        return Trainer(cfg, pb, build_normalization(pb, cfg), HDPO.build(cfg, build_normalization(pb, cfg), seed=0),
                       "cpu"), pb, cfg

    assert longest == int(np.diff(trainer(4)[1].source.window_range("train", 0))[0])
    with pytest.raises(PresetError, match=f"hp.warmup {longest}: the train windows are at most {longest} periods"):
        trainer(longest)
    t, _, _ = trainer(longest - 1)
    assert float(t.loss(*t.traces(), tau=1.0).detach()) >= 0.0
    # a SKU whose window is no longer than the warm-up counts nothing: counted, and train.py says so
    assert t.uncounted == 1 and trainer(10)[0].uncounted == 1 and trainer(9)[0].uncounted == 0
    rc = train_cli.main(["--algo", "hdpo", "--scenario", "lost-sales-L2-p9", "--run-dir", str(tmp_path / "r"),
                         "--no-progress", *(f"{k}={v}" for k, v in over.items()), f"hp.warmup={longest}"])
    assert rc == 2 and not (tmp_path / "r" / "model.npz").exists()
    _, pb, cfg = trainer(4, **{"data.scale_window": "fit", "data.scale_periods": 4})
    assert "not a held-out score" in Validation.build(pb, cfg).label


@pytest.mark.parametrize("warmup", [0, 5])
def test_the_loss_credits_the_stock_left_at_unit_cost_as_the_evaluator_does(warmup):
    """With backorders every unit demanded is bought once, so with the end stock credited at unit cost c (the
    evaluator's end_credit: c x (final inventory position - the position when counting starts)) the purchase
    term adds exactly c x the counted demand (less the initial stock without a warm-up), whatever the policy
    orders. Without the credit the loss rewarded
    running the stock down towards the end of each trace (man_weekly: the purchase cost fell from 37 to 4 per
    period over training and the validation cost rose)."""
    from agents.config import resolve_config
    from agents.hdpo import HDPO, Trainer
    from agents.normalization import build_normalization

    over = {"mode": "backorder", "lead_time": 3, "unit_cost": 2.0}
    cfg = resolve_config("hdpo", "lost-sales-L2-p9", "lost-sales-L2-p9", None, {"timesteps": 64 * 20},
                         {**over, "hp.batch": 64, "hp.periods": 15, "hp.warmup": warmup})
    pb = Problem("lost-sales-L2-p9", **over)
    norm = build_normalization(pb, cfg)
    t = Trainer(cfg, pb, norm, HDPO.build(cfg, norm, seed=0), "cpu")
    eps, params, init = t.traces()
    free = params.copy()
    free[:, kernel.UNIT_COST] = 0.0
    with torch.no_grad():
        paid, unpaid = float(t.loss(eps, params, init, 1.0)), float(t.loss(eps, free, init, 1.0))
    T = eps.periods
    d = eps.demand[eps.history:][warmup:T]                               # the counted periods' demand
    alive = (np.arange(warmup, T)[:, None] < eps.lengths[None, :])
    w = t.weight[eps.sku]
    bought = (d * alive).sum(axis=0)
    if warmup == 0:  # the initial stock is not charged (the same for every policy), as in the evaluator
        bought = bought - init[:, kernel.NET] - init[:, kernel.PIPE:].sum(axis=1)
    expected = float((2.0 * w * bought).sum()) / alive.sum()
    assert paid - unpaid == pytest.approx(expected, rel=1e-6)  # the twin runs in float32 here
    assert expected > 0


def test_the_rounded_trigger_has_the_hard_triggers_loss_and_charges_firing_an_order_its_pack():
    """hp.trigger=rounded: the same loss as hp.trigger=hard (forward values), but the smoothed indicator multiplies
    the order as the rules place it (MOQ, pack), so the level s gets the gradient of firing a whole pack; with a
    pack of 40 units that gradient is larger than with a pack of 1, which hard does not see at all."""
    from agents.config import resolve_config
    from agents.hdpo import HDPO, Trainer
    from agents.normalization import build_normalization

    def run(trigger, pack):
        over = {"mode": "backorder", "lead_time": 2, "order_cost": 5.0, "pack_size": pack}
        cfg = resolve_config("hdpo", "lost-sales-L2-p9", "lost-sales-L2-p9", None, {"timesteps": 64 * 20},
                             {**over, "hp.batch": 64, "hp.periods": 15, "hp.warmup": 0, "hp.head": "sS",
                              "hp.lot": "eoq_fixed", "hp.trigger": trigger, "hp.fixed_cost": "rate",
                              "hp.tau_start": 2.0})
        pb = Problem("lost-sales-L2-p9", **over)
        norm = build_normalization(pb, cfg)
        t = Trainer(cfg, pb, norm, HDPO.build(cfg, norm, seed=0), "cpu")
        eps, params, init = t.traces()
        loss = t.loss(eps, params, init, 2.0)
        bias = t.net.mlp[-1].bias
        (g,) = torch.autograd.grad(loss, bias)
        return float(loss.detach()), float(g[0])   # d loss / d o0: the level s

    hard, rounded = run("hard", 40), run("rounded", 40)
    assert rounded[0] == pytest.approx(hard[0], rel=1e-6)
    assert rounded[1] != pytest.approx(hard[1], rel=1e-3)
    one = run("rounded", 1)
    assert rounded[1] > one[1]  # a pack of 40 is dearer to fire than a unit: less push to raise s


@pytest.mark.parametrize("trigger", ["hard", "rounded"])
def test_level_fd_gives_the_levels_shift_the_finite_difference_of_the_true_cost(trigger):
    """hp.level_fd: along a shift of every level s (the output bias of o0, s = level_scale o0 + s0) the gradient is
    the central finite difference of the loss's forward value (the true cost of the batch), whatever the pathwise
    gradient says there (hard: blind to order times; rounded: its smoothed stand-in); in the other directions
    (here the lot's weights, o1) it is the pathwise gradient, unchanged."""
    from agents.config import resolve_config
    from agents.hdpo import HDPO, Trainer
    from agents.normalization import build_normalization

    over = {"mode": "backorder", "lead_time": 2, "order_cost": 5.0, "pack_size": 3}
    hp = {"hp.batch": 64, "hp.periods": 30, "hp.warmup": 4, "hp.head": "sS", "hp.trigger": trigger,
          "hp.fixed_cost": "rate", "hp.dtype": "float64"}

    def trainer(extra):
        cfg = resolve_config("hdpo", "lost-sales-L2-p9", "lost-sales-L2-p9", None, {"timesteps": 64 * 34},
                             {**over, **hp, **extra})
        pb = Problem("lost-sales-L2-p9", **over)
        norm = build_normalization(pb, cfg)
        return Trainer(cfg, pb, norm, HDPO.build(cfg, norm, seed=0), "cpu")

    t = trainer({"hp.level_fd": 0.5})
    eps, params, init = t.traces()
    t.net.zero_grad()
    loss = t.level_fd_backward(eps, params, init, 0.3)
    bias = t.net.mlp[-1].bias
    d = 0.5  # >= one unit / scale (scale 5): the step of every trace
    with torch.no_grad():
        vals = []
        for sign in (1.0, -1.0):
            t.net.s0 += sign * d
            vals.append(float(t.loss(eps, params, init, 0.3)))
            t.net.s0 -= sign * d
    fd = (vals[0] - vals[1]) / (2 * d)
    assert float(bias.grad[0]) / t.net.level_scale == pytest.approx(fd, rel=1e-4, abs=1e-7)
    lot_grad = t.net.mlp[-1].weight.grad[1].clone()

    plain = trainer({})
    plain.net.load_state_dict(t.net.state_dict())
    path = plain.loss(eps, params, init, 0.3)
    assert float(path.detach()) == pytest.approx(float(loss.detach()), rel=1e-12)
    (g_b,) = torch.autograd.grad(path, plain.net.mlp[-1].bias, retain_graph=True)
    assert float(g_b[0]) / t.net.level_scale != pytest.approx(fd, rel=1e-2)   # the pathwise one differs
    (g_w,) = torch.autograd.grad(path, plain.net.mlp[-1].weight)
    assert torch.allclose(g_w[1], lot_grad, rtol=1e-5, atol=1e-8)   # o1 (the lot) feels no correction
