"""Learned agents: tiny training runs through the CLI, run folders, resume, presets, errors.

Budgets are a few thousand steps: these tests check the plumbing, not learning (benchmarks/agents.py does).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import train as train_cli
from agents.config import PresetError, resolve_config
from agents.runs import RunError, load_run
from envs import Problem

ROOT = Path(__file__).resolve().parent.parent
TINY = ["eval_freq=1024", "checkpoint_freq=1024", "eval_episodes=4", "eval_periods=200", "--no-progress"]
TINY_HP = {"ppo": ["hp.n_steps=256", "hp.batch_size=256", "hp.n_epochs=2"],
           "dqn": ["hp.learning_starts=200", "hp.buffer_size=5000", "hp.batch_size=32", "hp.train_freq=4"]}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _train(tmp: Path, algo: str, steps: int = 2048, seed: int = 0, extra=()) -> Path:
    run = tmp / f"{algo}-s{seed}"
    rc = train_cli.main(["--algo", algo, "--scenario", "lost-sales-L2-p9", "--timesteps", str(steps),
                         "--n-envs", "2", "--seed", str(seed), "--run-dir", str(run), *TINY, *TINY_HP[algo],
                         *extra])
    assert rc == 0
    return run


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory) -> Path:
    """A tiny PPO run driven through the real CLI in a subprocess."""
    run = tmp_path_factory.mktemp("ppo") / "run"
    p = _cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "2048", "--n-envs", "2",
             "--run-dir", str(run), *TINY, *TINY_HP["ppo"])
    assert p.returncode == 0, p.stderr
    (run.parent / "train_stdout.txt").write_text(p.stdout)
    assert f"run folder: {run}" in p.stdout
    assert f"tensorboard --logdir {run / 'tb'}" in p.stdout
    return run


def test_ppo_run_folder_and_evaluate(ppo_run):
    for name in ("model.zip", "best_model.zip", "normalization.json", "config.yaml", "command.txt",
                 "versions.json", "eval.csv", "checkpoint/model.zip", "checkpoint/state.json"):
        assert (ppo_run / name).is_file(), name
    assert list((ppo_run / "tb").glob("events.out.tfevents.*"))
    assert "train.py --algo ppo" in (ppo_run / "command.txt").read_text()
    versions = json.loads((ppo_run / "versions.json").read_text())
    assert versions["seed"] == 0 and "stable_baselines3" in versions and "torch" in versions
    run = load_run(ppo_run)
    assert run.config.algorithm == "PPO" and run.config.scenario_overrides["action.mode"] == "continuous"
    # evaluate.py reads scenario, overrides and normalisation from the run folder: no flag repeated
    p = _cli("evaluate.py", "--model", str(ppo_run), "--model", str(ppo_run), "--policies", "base_stock",
             "--episodes", "3", "--periods", "100", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert f"ppo:{ppo_run.name} " in p.stdout and f"ppo:{ppo_run.name}#2" in p.stdout
    assert "base_stock" in p.stdout


def test_baselines_identical_with_and_without_model(ppo_run, tmp_path):
    """evaluate.py --model must not change the baselines' numbers: the run's training-only overrides (the
    preset's 500-period episodes, random initial stock, action settings) do not reach the evaluated scenario."""
    out = {}
    for name, extra in (("plain", []), ("model", ["--model", str(ppo_run)])):
        p = _cli("evaluate.py", "--scenario", "lost-sales-L2-p9", "--policies", "base_stock,capped_base_stock",
                 "--episodes", "5", "--no-progress", "--out", str(tmp_path / name), *extra)
        assert p.returncode == 0, p.stderr
        out[name] = json.loads((tmp_path / name / "results.json").read_text())
    assert (out["model"]["episodes"], out["model"]["periods"]) == (out["plain"]["episodes"], out["plain"]["periods"])
    for pol in ("base_stock", "capped_base_stock"):  # every KPI (the gap to the best depends on who else runs)
        a, b = out["model"]["policies"][pol], out["plain"]["policies"][pol]
        assert {k: v for k, v in a.items() if k != "gap_to_best_pct"} == \
            {k: v for k, v in b.items() if k != "gap_to_best_pct"}, pol
    assert f"ppo:{ppo_run.name}" in out["model"]["policies"]


def test_tensorboard_eval_tags(ppo_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(ppo_run / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("eval/avg_cost", "eval/fill_rate", "eval/gap_to_base_stock_pct", "eval/gap_to_optimal_pct",
                "eval/gap_to_best_baseline_pct", "eval/avg_cost_holding", "eval/avg_cost_shortage",
                "train/value_loss"):
        assert tag in tags, tag
    assert "config/text_summary" in acc.Tags()["tensors"] and "verdict/text_summary" in acc.Tags()["tensors"]


def test_verdict_names_the_strongest_rule(ppo_run):
    """train.py's last line compares the agent with the strongest classical rule on the validation traces,
    not only with base-stock; eval.csv's gap_to_best_baseline_pct is the gap to that rule's cost."""
    import csv
    import re

    from baselines.evaluation import known_policies

    last = (ppo_run.parent / "train_stdout.txt").read_text().strip().splitlines()[-1]
    m = re.match(r"verdict on the validation traces \((.+)\): best model \(step ([0-9,]+), best_model.npz\) "
                 r"([0-9.]+), ([0-9.]+) % (below|above) the strongest of (\d+) classical rules, (\w+) ([0-9.]+) "
                 r"\(base-stock ([0-9.]+)\); final model ([0-9.]+)$", last)
    assert m, last
    step, agent, gap, word, n_rules, rule, best, bs, final = (int(m[2].replace(",", "")), float(m[3]), float(m[4]),
                                                              m[5], int(m[6]), m[7], float(m[8]), float(m[9]),
                                                              float(m[10]))
    assert rule in known_policies() and rule not in ("dp_optimal", "hindsight_base_stock") and n_rules >= 15
    assert best <= bs  # the strongest rule is at least as good as base-stock
    assert (word == "below") == (agent < best) and gap == pytest.approx(100 * abs(agent - best) / best, abs=0.01)
    rows = list(csv.DictReader((ppo_run / "eval.csv").open()))
    last_row = rows[-1]
    assert float(last_row["gap_to_best_baseline_pct"]) == pytest.approx(
        100 * (float(last_row["avg_cost"]) - best) / best, abs=1e-3)
    # the verdict scores the model evaluate and export load (best_model.*: the first row of the lowest selection
    # score, the exact cost where finite (Zipkin instances) else the validation cost), and quotes the final model
    def score(r):
        exact = float(r["exact_avg_cost"]) if r.get("exact_avg_cost") else math.inf
        return exact if math.isfinite(exact) else float(r["avg_cost"])

    scores = [score(r) for r in rows]
    chosen = rows[scores.index(min(scores))]
    assert step == int(chosen["step"]) and agent == pytest.approx(float(chosen["avg_cost"]), abs=1e-4)
    assert final == pytest.approx(float(rows[-1]["avg_cost"]), abs=1e-4)


def test_dqn_run_and_resume(tmp_path):
    run = _train(tmp_path, "dqn", steps=1024)
    assert (run / "checkpoint" / "replay_buffer.pkl").is_file()
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["num_timesteps"] == 1024
    assert load_run(run).config.algorithm == "QRDQN"
    (run / "model.zip").unlink()  # as if killed after the last checkpoint
    assert train_cli.main(["--resume", str(run), "--timesteps", "2048", "--no-progress"]) == 0
    model = load_run(run, "model").load_model()
    assert model.num_timesteps == 2048
    assert (run / "command.txt").read_text().count("\n") == 2


def test_ppo_resume_continues_step_count(ppo_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(ppo_run, run)
    assert train_cli.main(["--resume", str(run), "--timesteps", "3072", "--no-progress"]) == 0
    assert load_run(run, "model").load_model().num_timesteps == 3072
    assert json.loads((run / "checkpoint" / "state.json").read_text())["num_timesteps"] == 3072
    # a finished run resumed with no steps left: its evaluation is logged at its step, not at step 0
    assert train_cli.main(["--resume", str(run), "--no-progress"]) == 0
    last = (run / "eval.csv").read_text().splitlines()[-1].split(",")
    header = (run / "eval.csv").read_text().splitlines()[0].split(",")
    assert int(float(last[header.index("step")])) == 3072
    steps = [line.split(",")[header.index("step")] for line in (run / "eval.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)), steps  # one row per evaluated step, resumed or not


def test_same_seed_same_evaluation(tmp_path):
    a = _train(tmp_path / "a", "ppo", steps=1024, seed=3)
    b = _train(tmp_path / "b", "ppo", steps=1024, seed=3)
    assert (a / "eval.csv").read_text().splitlines()[1:][0].split(",")[:9] == \
        (b / "eval.csv").read_text().splitlines()[1:][0].split(",")[:9]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_training(tmp_path):
    run = _train(tmp_path, "ppo", steps=1024, extra=["--device", "cuda"])
    assert json.loads((run / "versions.json").read_text())["device"] == "cuda"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_gpu_is_a_clear_error(tmp_path, capsys):
    rc = train_cli.main(["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--device", "cuda",
                         "--run-dir", str(tmp_path / "r"), "--no-progress"])
    assert rc == 2
    assert "error: --device cuda" in capsys.readouterr().err


def test_missing_and_corrupt_run_folders(tmp_path, ppo_run):
    p = _cli("evaluate.py", "--model", str(tmp_path / "nope"), "--no-progress")
    assert p.returncode == 2 and "error: run folder" in p.stderr and "Traceback" not in p.stderr
    with pytest.raises(RunError, match="not a run folder"):
        load_run(tmp_path)
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(ppo_run, bad)
    for name in ("best_model.npz", "model.npz"):  # what evaluate reads (the .zip files are SB3's, for --resume)
        (bad / name).write_bytes(b"not a zip")
    with pytest.raises(RunError, match="corrupt model file"):
        load_run(bad)
    (bad / "config.yaml").write_text("config: [1, 2\n")
    p = _cli("evaluate.py", "--model", str(bad), "--no-progress")
    assert p.returncode == 2 and "corrupt run config" in p.stderr and "Traceback" not in p.stderr
    assert train_cli.main(["--resume", str(tmp_path / "nope")]) == 2


def test_unknown_preset_is_a_clear_error(tmp_path, capsys):
    rc = train_cli.main(["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--preset", "nope",
                         "--run-dir", str(tmp_path / "r")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: unknown preset 'nope'" in err and "default" in err
    with pytest.raises(PresetError, match="unknown config field"):
        resolve_config("ppo", "lost-sales-L2-p9", "lost-sales-L2-p9", overrides={}, flags={"bogus": 1})


def test_config_resolution_routes_overrides():
    cfg = resolve_config("ppo", "lost-sales-L3-p4", "lost-sales-L3-p4",
                         overrides={"hp.gamma": 0.99, "eval_freq": 5000, "lead_time": 2,
                                    "hp.policy_kwargs.log_std_init": -1.0})
    assert cfg.preset == "lost-sales-*"
    assert cfg.hyperparams["gamma"] == 0.99 and cfg.hyperparams["n_steps"] == 256
    assert cfg.hyperparams["policy_kwargs"]["log_std_init"] == -1.0
    assert cfg.hyperparams["policy_kwargs"]["net_arch"] == {"pi": [64, 64], "vf": [64, 64]}
    assert cfg.eval_freq == 5000 and cfg.scenario_overrides["lead_time"] == 2
    assert cfg.scenario_overrides["action.mode"] == "continuous"
    p19 = resolve_config("ppo", "lost-sales-L4-p19", "lost-sales-L4-p19")  # the first matching glob, in file order
    assert p19.preset == "lost-sales-L[34]-p19" and p19.hyperparams["policy_kwargs"]["log_std_init"] == -1.5
    exact = resolve_config("ppo", "lost-sales-L3-p19", "lost-sales-L3-p19")  # an exact name wins over the globs
    assert exact.preset == "lost-sales-L3-p19" and exact.timesteps == 2000000 and exact.eval_freq == 50000
    assert p19.eval_freq == 50000 and p19.hyperparams["n_steps"] == 256
    assert resolve_config("dqn", "demo", "demo").algorithm == "QRDQN"
    demo = resolve_config("ppo", "demo", "demo")  # the (s, S) action, merged onto the default's PPO settings
    assert demo.preset == "demo" and demo.scenario_overrides["action.mode"] == "reorder_point"
    assert demo.hyperparams["gamma"] == 0.99 and demo.hyperparams["n_steps"] == 256


def test_observation_shift_matches_the_measured_setting():
    from agents.normalization import default_obs_shift

    pb = Problem("lost-sales-L2-p9")
    assert [f.name for f in pb.obs_fields] == ["on_hand", "pipeline_1", "inventory_position"]
    np.testing.assert_array_equal(default_obs_shift(pb), [-2, -1, -3])


@pytest.mark.parametrize("vec_env", ["vector", "dummy"])
def test_training_env_reward_is_the_normalised_cost(vec_env):
    """The env computes the reward (``reward=norm.reward()``), the wrappers only normalise observations:
    reward = -(cost - offset[sku]) * scale[sku] from the period's info, per SKU (4 SKUs), float32; an ended
    episode's Monitor-style return is the sum of those rewards, its terminal observation normalised."""
    from agents.config import TrainConfig
    from agents.normalization import Normalization, default_obs_shift
    from agents.training import make_vec_env

    pb = Problem("demo", episode_length=30)
    names = [f.name for f in pb.obs_fields]
    index = {pb.sku_name(i): i for i in range(pb.n_skus)}  # info["sku"] is the name
    norm = Normalization(names, default_obs_shift(pb), np.full(pb.obs_dim, 0.5, dtype=np.float32), 6.0,
                         np.array([3.0, 5.5, 7.25, 11.0]), np.array([0.1, 0.05, 0.2, 0.03]))
    venv = make_vec_env(pb, TrainConfig(scenario="demo", n_envs=3, vec_env=vec_env), norm)
    venv.seed(0)
    venv.reset()
    rng = np.random.default_rng(0)
    returns = np.zeros(3)
    seen_skus, ended = set(), 0
    for _ in range(100):
        obs, rewards, dones, infos = venv.step(rng.integers(venv.action_space.n, size=3))
        if vec_env == "vector":  # the raw figures of the period just played (views, read before the next step)
            last = venv.venv.venv.last_info
            cost, sku = last["cost"], last["sku"]
        else:
            cost = np.array([info["cost"] for info in infos])
            sku = np.array([index[info["sku"]] for info in infos])
        expected = -(cost - norm.reward_offset[sku]) * norm.reward_scale[sku]
        assert rewards.dtype == np.float32
        np.testing.assert_array_equal(rewards, expected.astype(np.float32))
        assert np.abs(obs).max() <= norm.clip
        seen_skus.update(sku.tolist())
        returns += expected
        for i in np.flatnonzero(dones):
            ended += 1
            assert infos[i]["episode"]["r"] == pytest.approx(returns[i], rel=1e-6, abs=1e-6)
            assert infos[i]["terminal_observation"].dtype == np.float32
            assert np.abs(infos[i]["terminal_observation"]).max() <= norm.clip
            returns[i] = 0.0
    assert ended >= 9 and seen_skus == {0, 1, 2, 3}
    venv.close()


@pytest.fixture(scope="module")
def daily_data(tmp_path_factory):
    """Daily demand of 6 SKUs whose windows differ in length (odd SKUs end early, SKU 5 within the train window;
    SKU 4 starts after the train window), and an item table with per-SKU lead times (the idea of
    tests/test_vector.py's ``data_files``)."""
    import pandas as pd

    folder = tmp_path_factory.mktemp("agentdata")
    rng = np.random.default_rng(1)
    dates = pd.date_range("2023-01-01", periods=60, freq="D")
    frames = []
    starts, ends = [0, 0, 0, 0, 35, 0], [60, 57, 60, 51, 60, 25]
    for k in range(6):
        d = dates[starts[k]:ends[k]]
        frames.append(pd.DataFrame({"date": d, "sku": f"S{k}", "demand": rng.poisson(2 + 2 * k, d.size)}))
    demand = folder / "demand.csv"
    pd.concat(frames).to_csv(demand, index=False)
    items = folder / "items.csv"
    pd.DataFrame({"sku": [f"S{k}" for k in range(6)], "lead_time": [0, 1, 2, 3, 4, 2]}).to_csv(items, index=False)
    return {"data": {"path": str(demand), "items": str(items), "train": 0.5, "test": 0.5},
            "initial_state": "steady", "observation": {"demand_window": 2, "period": True}}


@pytest.mark.parametrize("split", ["train", "test"])
def test_batch_observations_of_ended_data_episodes_are_finite(daily_data, split):
    """BatchSim over replayed data windows of different lengths: the observation of every episode is finite at
    every period until the batch is done, also for episodes that already ended, whose calendar row would lie
    past the end of the calendar table (the engine clips the rows), so Normalization.apply needs no NaN guard."""
    from envs.batch import BatchSim
    from envs.episodes import make_episodes

    pb = Problem("lost-sales-L2-p9", **daily_data)
    assert pb.n_calendar == 4 and pb.window == 2
    eps = make_episodes(pb, split, replay=True)
    assert len(set(eps.lengths.tolist())) > 1
    sim = BatchSim(pb, eps)
    past_table = ended = 0
    while not sim.done:
        obs = sim.observe()
        assert obs.shape == (eps.n, pb.obs_dim)
        assert np.isfinite(obs).all(), f"period {sim.t}: non-finite observation of episodes " \
                                       f"{np.flatnonzero(~np.isfinite(obs).all(axis=1)).tolist()}"
        gone = ~sim.raw.active
        ended += int(gone.sum())
        past_table += int((gone & (eps.cal_offset + sim.t >= eps.calendar.shape[0])).sum())
        sim.step(np.full(eps.n, 3.0))
    assert ended > 0  # some episodes were observed after their end
    if split == "test":
        assert past_table > 0  # ... with an unclipped calendar row past the end of the table


def test_validation_is_the_validation_window_and_rules_fit_on_train_only(tmp_path):
    """Agents choose their checkpoint on the validation window (the default split has one); the classical
    rules they are compared with there are fitted on the train window only, never on the window scored."""
    import pandas as pd

    from agents.training import Validation
    from baselines.base import train_data

    rng = np.random.default_rng(1)
    dates = pd.date_range("2020-01-06", periods=80, freq="W-MON")
    frames = [pd.DataFrame({"date": dates, "sku": f"S{k}", "demand": rng.poisson(3 + k, 80)}) for k in range(3)]
    path = tmp_path / "d.csv"
    pd.concat(frames).to_csv(path, index=False)
    pb = Problem("lost-sales-L2-p9", **{"data.path": str(path), "lead_time": 1})
    cfg = resolve_config("ppo", "lost-sales-L2-p9", "lost-sales-L2-p9")
    val = Validation.build(pb, cfg)
    assert val.label == "val window of every SKU"
    v0, v1 = pb.source.window_range("val", 0)
    assert (v1 - v0, val.episodes.lengths.tolist()) == (16, [16, 16, 16])  # 20 % of 80 weeks
    # base-stock fitted on the train window alone gives the cost the verdict compares with
    from baselines.base_stock import BaseStock
    from baselines.evaluation import evaluate_on

    ev = evaluate_on(pb, [BaseStock()], val.episodes, record=0, train=train_data(pb, window="train"))
    assert ev.results[0].kpis["avg_cost"] == val.baselines["base_stock"]


def test_linear_learning_rate_never_below_zero():
    """SB3 finishes its last rollout past the step budget (progress_remaining < 0): the rate stays at 0."""
    from agents.training import LinearSchedule

    lr = LinearSchedule(3e-4)
    assert lr(1.0) == 3e-4 and lr(0.5) == 1.5e-4 and lr(0.0) == 0.0
    assert lr(-0.0035) == 0.0  # 1,003,520 of 1,000,000 steps


def test_a_run_folder_in_use_is_refused_and_a_killed_holder_does_not_block(tmp_path, capsys):
    """Two trainings (or a --resume during a training) into one folder: the second refuses at once, naming the
    process that holds it; the lock dies with its process (kill -9), so a stale lock never blocks."""
    import signal

    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from agents.runs import RunLock; "
                               f"RunLock({str(run)!r}).__enter__(); print('held', flush=True); time.sleep(120)"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "256", "--run-dir", str(run),
                *TINY, *TINY_HP["ppo"]]
        assert train_cli.main(args) == 2
        err = capsys.readouterr().err
        assert f"error: {run} is in use by process {holder.pid} (since " in err and "another --run-dir" in err
        assert not (run / "config.yaml").exists()  # nothing written by the refused start
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    from agents.runs import RunLock

    with RunLock(run):  # the killed holder's lock is gone
        pass


def test_a_failed_start_does_not_leave_a_dead_end_folder(tmp_path, capsys):
    """A start that fails after config.yaml is written (here: hyperparameters SB3 rejects) ends in one line;
    the folder then neither blocks a new start nor a --resume (which starts it again from its config)."""
    run = tmp_path / "run"
    base = ["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "512", "--n-envs", "2",
            "--run-dir", str(run), *TINY]
    assert train_cli.main([*base, "hp.n_steps=256", "hp.batch_size=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PPO rejects the hyperparameters (hp.*): `batch_size` must be greater than 1")
    assert (run / "config.yaml").is_file() and not (run / "checkpoint" / "state.json").exists()
    assert train_cli.main(["--resume", str(run)]) == 2  # started again from its (bad) config: the same one line
    out, err = capsys.readouterr()
    assert "no checkpoint yet" in out and "rejects the hyperparameters" in err
    assert train_cli.main([*base, *TINY_HP["ppo"], "checkpoint_freq=256"]) == 0  # a new start replaces it
    assert "replacing a run that stopped before its first checkpoint" in capsys.readouterr().out
    assert (run / "checkpoint" / "state.json").is_file()
    assert train_cli.main([*base, *TINY_HP["ppo"]]) == 2  # now it holds a real run
    assert "already holds a run; use --resume" in capsys.readouterr().err


def test_sigterm_saves_a_checkpoint_and_prints_the_resume_command(tmp_path, capsys):
    """SIGTERM (as Ctrl-C) during training: the checkpoint is saved, the resume command printed, exit 130; the
    resumed run continues from the step it stopped at."""
    import signal
    import time

    run = tmp_path / "run"
    p = subprocess.Popen([sys.executable, "train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9",
                          "--timesteps", "400000", "--n-envs", "2", "--run-dir", str(run), *TINY, *TINY_HP["ppo"],
                          "checkpoint_freq=512", "eval_freq=100000"], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    state = run / "checkpoint" / "state.json"
    deadline = time.time() + 240
    while not state.exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    assert state.exists(), p.communicate()[1]
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    step = json.loads(state.read_text())["num_timesteps"]
    assert f"interrupted at step {step:,} of 400,000: checkpoint saved in {run / 'checkpoint'}" in err
    assert f"python train.py --resume {run}" in err and "Traceback" not in err
    # evaluate.py --model says that the run is incomplete, and what it evaluates instead
    note = load_run(run).incomplete()
    assert note.startswith(f"run {run} is incomplete: training stopped at step {step:,} of 400,000 (no final model.npz)")
    e = _cli("evaluate.py", "--model", str(run), "--policies", "base_stock", "--episodes", "2", "--periods", "50",
             "--no-progress")
    assert e.returncode == 0, e.stderr
    assert f"note: {note}" in e.stdout
    assert train_cli.main(["--resume", str(run), "--timesteps", str(step + 512)]) == 0
    assert load_run(run).incomplete() is None
    out = capsys.readouterr().out
    assert f"resuming {run} at step {step:,} of {step + 512:,}" in out and f"steps {step + 512:,}," in out


def test_progress_lines_outside_a_terminal(tmp_path):
    """Without a terminal (output to a pipe or a log file) training prints a progress line every 1/20 of its
    steps: steps done, CPU-s, the latest validation cost."""
    p = _cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "1024", "--n-envs", "2",
             "--run-dir", str(tmp_path / "run"), *[a for a in TINY if a != "--no-progress"], "eval_freq=512",
             *TINY_HP["ppo"])
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("step ") and " of 1,024, " in ln]
    assert len(lines) >= 3 and "CPU-s, no validation yet" in lines[0]
    assert "latest validation cost " in lines[-1]


def test_a_diverged_training_is_reported_not_passed_off():
    """A best validation cost far above the strongest rule (or none at all) is a warning, not a result."""
    from agents.training import DIVERGED, training_warning

    assert training_warning(4.0, "eoq_sQ_tuned", 4.0) is None
    assert training_warning(DIVERGED * 4.0, "eoq_sQ_tuned", 4.0) is None  # a poor agent, still reported as one
    w = training_warning(211.0, "eoq_sQ_tuned", 4.045)
    assert w.startswith("warning: the best validation cost 211.0000 is 5116 % above the strongest classical rule "
                        "eoq_sQ_tuned (4.0450): this training diverged")
    assert "is not below the strongest" in training_warning(float("inf"), "base_stock", 5.0)
