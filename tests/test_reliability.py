"""Trust under bad input, faults and load (issue 17): planted pickles, deploy errors, stale files, bounds.

Every corpus is made by the tests (tiny runs, hand-written files in tmp_path); nothing is read from outside.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TINY = ["eval_freq=1024", "checkpoint_freq=1024", "eval_episodes=4", "eval_periods=200", "--no-progress",
        "hp.n_steps=256", "hp.batch_size=256", "hp.n_epochs=2"]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def _one_line_error(p: subprocess.CompletedProcess, rc: int = 2) -> str:
    assert p.returncode == rc, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    err = p.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err[-2000:]
    assert err.startswith("error: ")
    return err


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("rel") / "ppo"
    p = _cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "2048", "--n-envs", "2",
             "--run-dir", str(run), *TINY)
    assert p.returncode == 0, p.stderr
    return run


# ----------------------------------------------------------------------------------------- 1: no unpickling
class _Payload:
    """Unpickling this writes a marker file: the proof that a planted pickle ran."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _plant(zip_path: Path, marker: Path) -> None:
    """Rewrite an SB3 zip so that loading it runs the payload (a serialized entry of its ``data`` JSON)."""
    with zipfile.ZipFile(zip_path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    data = json.loads(files["data"])
    data["policy_class"] = {":type:": "<class 'abc.ABCMeta'>",
                            ":serialized:": base64.b64encode(pickle.dumps(_Payload(marker))).decode()}
    files["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(zip_path, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)


def test_the_planted_payload_runs_when_unpickled(ppo_run, tmp_path):
    """The test's payload is live: SB3's own loader runs it (so the tests below can fail)."""
    from stable_baselines3 import PPO

    z, marker = tmp_path / "m.zip", tmp_path / "marker"
    shutil.copy(ppo_run / "model.zip", z)
    _plant(z, marker)
    try:
        PPO.load(str(z))
    except Exception:
        pass
    assert marker.is_file()


def test_evaluate_and_export_never_unpickle_a_run_folder(ppo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    marker = tmp_path / "marker"
    for name in ("model.zip", "best_model.zip", "checkpoint/model.zip"):
        _plant(run / name, marker)
    p = _cli("evaluate.py", "--model", str(run), "--policies", "base_stock", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert "ppo:run" in p.stdout
    for which in ("auto", "model", "checkpoint"):
        p = _cli("-m", "agents.export", str(run), "--out", str(tmp_path / f"{which}.onnx"), "--model", which,
                 "--check")
        assert p.returncode == 0, p.stderr
        assert (tmp_path / f"{which}.onnx").is_file()
    assert not marker.exists(), "a planted pickle ran"


def test_weights_round_trip_every_algorithm(tmp_path):
    """PPO (continuous and discrete), DQN and QR-DQN: the npz policy acts as the SB3 model does."""
    import gymnasium as gym
    from sb3_contrib import QRDQN
    from stable_baselines3 import DQN, PPO

    from agents.runs import load_policy_weights, save_policy_weights

    rng = np.random.default_rng(0)
    for cls, env_id, kw in ((PPO, "Pendulum-v1", {"policy_kwargs": {"net_arch": [16, 8]}}),
                            (PPO, "CartPole-v1", {}),
                            (DQN, "CartPole-v1", {"policy_kwargs": {"net_arch": [8], "activation_fn": "Tanh"}}),
                            (QRDQN, "CartPole-v1", {"policy_kwargs": {"n_quantiles": 5}})):
        if "activation_fn" in kw.get("policy_kwargs", {}):
            import torch

            kw["policy_kwargs"]["activation_fn"] = getattr(torch.nn, kw["policy_kwargs"]["activation_fn"])
        model = cls("MlpPolicy", gym.make(env_id), seed=1, device="cpu", **kw)
        path = tmp_path / f"{cls.__name__}-{env_id}.npz"
        save_policy_weights(model, path)
        with np.load(path, allow_pickle=False) as z:  # plain arrays only
            assert all(z[k].dtype != object for k in z.files)
        got = load_policy_weights(path, cls.__name__)
        obs = rng.normal(size=(64, *model.observation_space.shape)).astype(np.float32)
        np.testing.assert_array_equal(got.predict(obs)[0], model.predict(obs, deterministic=True)[0])


def test_weights_of_another_algorithm_or_class_are_refused(ppo_run, tmp_path):
    from agents.runs import RunError, load_policy_weights, npz_bytes, read_npz

    with pytest.raises(RunError, match="weights of a PPO model, the run's config says DQN"):
        load_policy_weights(ppo_run / "model.npz", "DQN")
    arrays = read_npz(ppo_run / "model.npz")
    meta = json.loads(arrays["meta"].tobytes())
    meta["kwargs"]["activation_fn"] = "os.system"
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(npz_bytes(arrays))
    with pytest.raises(RunError, match="is not one of"):
        load_policy_weights(bad, "PPO")


def test_old_run_folders_name_the_conversion(ppo_run, tmp_path):
    run = tmp_path / "old"
    shutil.copytree(ppo_run, run)
    for p in run.rglob("*.npz"):
        p.unlink()
    err = _one_line_error(_cli("evaluate.py", "--model", str(run), "--no-progress"))
    assert "python -m agents.convert" in err and "--trust" in err
    err = _one_line_error(_cli("-m", "agents.export", str(run), "--out", str(tmp_path / "p.onnx")))
    assert "convert" in err and not (tmp_path / "p.onnx").exists()
    err = _one_line_error(_cli("-m", "agents.convert", str(run)))
    assert "--trust" in err and "unpickles" in err
    p = _cli("-m", "agents.convert", str(run), "--trust")
    assert p.returncode == 0, p.stderr
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*.npz")) == \
        ["best_model.npz", "checkpoint/model.npz", "model.npz"]
    p = _cli("evaluate.py", "--model", str(run), "--policies", "base_stock", "--no-progress")
    assert p.returncode == 0, p.stderr


def test_resume_help_and_readme_say_it_loads_pickles():
    p = _cli("train.py", "--help")
    assert "pickles" in " ".join(p.stdout.split())
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert "--resume" in readme and "pickles" in readme and "agents.convert" in readme


# ----------------------------------------------------------------------------------------- 8: run folder faults
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_truncated_or_empty_model_is_one_line(ppo_run, tmp_path, content):
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    for name in ("best_model.npz", "model.npz", "checkpoint/model.npz"):
        (run / name).write_bytes(content)
    _one_line_error(_cli("evaluate.py", "--model", str(run), "--no-progress"))
    _one_line_error(_cli("-m", "agents.export", str(run), "--out", str(tmp_path / "p.onnx")))
    good = (ppo_run / "best_model.npz").read_bytes()
    (run / "best_model.npz").write_bytes(good[: len(good) // 2])  # cut in the middle
    _one_line_error(_cli("evaluate.py", "--model", str(run), "--no-progress"))
    (run / "checkpoint" / "model.zip").write_bytes(content)
    _one_line_error(_cli("train.py", "--resume", str(run)))
    assert not (tmp_path / "p.onnx").exists()


def test_best_model_selection_when_exact_costs_are_infinite():
    from agents.training import selection_score

    assert selection_score({"avg_cost": 36.0, "exact_avg_cost": float("inf")}) == 36.0
    assert selection_score({"avg_cost": 6.8, "exact_avg_cost": float("inf")}) == 6.8
    assert selection_score({"avg_cost": 7.0, "exact_avg_cost": 6.5}) == 6.5
    assert selection_score({"avg_cost": 7.0}) == 7.0


def test_best_model_of_a_short_run_is_its_best_evaluation(ppo_run):
    """The best model is the one with the lowest score in eval.csv (not the first evaluation's, which an
    infinite exact cost used to keep); one eval.csv row per step."""
    import csv

    from agents.training import selection_score

    rows = list(csv.DictReader((ppo_run / "eval.csv").open()))
    steps = [int(r["step"]) for r in rows]
    assert len(steps) == len(set(steps)), steps
    scores = [selection_score({k: float(v) for k, v in r.items() if v not in ("", None)}) for r in rows]
    state = json.loads((ppo_run / "checkpoint" / "state.json").read_text())
    assert state["best_cost"] == pytest.approx(min(scores))


def test_resume_drops_eval_rows_past_the_checkpoint_and_stale_temp_files(ppo_run, tmp_path):
    from agents.runs import RunLock, read_checkpoint

    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    state["num_timesteps"] = 1024  # as if killed after the evaluation at 2048, before its checkpoint
    (run / "checkpoint" / "state.json").write_text(json.dumps(state))
    stale = [run / ".eval.csv.abc123.tmp", run / "checkpoint" / ".model.zip.x1.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    with RunLock(run):
        assert not any(p.exists() for p in stale)
        read_checkpoint(run, run / "checkpoint" / "model.zip")
    lines = (run / "eval.csv").read_text().splitlines()
    assert [int(line.split(",")[0]) for line in lines[1:]] == [1024]


def test_tensorboard_writer_thread_failure_is_one_error_not_a_thread_traceback(tmp_path):
    """A write that fails in TensorBoard's writer thread (a run folder turned read-only, a full disk) surfaces
    as an OSError in the training thread, without the thread's own traceback on stderr."""
    code = f"""
import sys, time
from pathlib import Path
from agents.training import _writers, tensorboard_logger
logger = tensorboard_logger(Path({str(tmp_path)!r}))
w = _writers(logger)[0]
rw = w.file_writer.event_writer._async_writer._writer
def fail(*a):
    raise OSError(30, "Read-only file system")
rw.write = rw.flush = fail
try:
    for i in range(50):
        w.add_scalar("x", float(i), i)
        time.sleep(0.01)
    w.flush()
except OSError as e:
    print("error:", e, file=sys.stderr)
    sys.exit(2)
"""
    p = _cli("-c", code)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "Exception in thread" not in p.stderr, p.stderr


# ----------------------------------------------------------------------------------------- 3: deploy errors
STATE = "sku,on_hand,in_transit_1\nsku0,3,1\n"


@pytest.fixture(scope="module")
def policies(ppo_run, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pol")
    from agents.export import export_baseline, export_run
    from envs import Problem

    export_run(ppo_run, d / "p.onnx", sidecar=False)
    problem = Problem("lost-sales-L2-p9")
    export_baseline("base_stock", problem, d / "bs.json", {"name": problem.scenario.name})
    (d / "state.csv").write_text(STATE)
    return {"onnx": d / "p.onnx", "levels": d / "bs.json", "state": d / "state.csv"}


def _recommend(policy: Path, state: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return _cli("-m", "deploy.recommend", "--policy", str(policy), "--state", str(state), "--out", str(out), *extra)


def test_recommend_output_paths_are_one_line_errors(policies, tmp_path):
    pol, st = policies["levels"], policies["state"]
    (tmp_path / "folder").mkdir()
    cases = {"a folder": tmp_path / "folder", "missing parent": tmp_path / "no" / "such" / "o.csv",
             "parent is a file": policies["state"] / "o.csv"}
    for what, out in cases.items():
        err = _one_line_error(_recommend(pol, st, out))
        assert f"--out {out}" in err, (what, err)
    assert not (tmp_path / "no").exists()
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):  # root writes anywhere: check the write failure path instead
            from deploy import recommend as rec

            def fail(*a, **k):
                raise PermissionError(13, "Permission denied")

            orig = rec.write_orders
            rec.write_orders = fail
            try:
                with pytest.raises(rec.DeployError, match="cannot write"):
                    rec.run(pol, st, ro / "o.csv")
            finally:
                rec.write_orders = orig
        else:
            err = _one_line_error(_recommend(pol, st, ro / "o.csv"))
            assert "not writable" in err
    finally:
        os.chmod(ro, 0o755)


def _tamper_levels(src: Path, dst: Path, edit) -> Path:
    meta = json.loads(src.read_text())
    edit(meta)
    dst.write_text(json.dumps(meta))
    return dst


def _tamper_onnx(src: Path, dst: Path, edit) -> Path:
    import onnx

    m = onnx.load(str(src))
    for prop in m.metadata_props:
        if prop.key == "invrl":
            meta = json.loads(prop.value)
            out = edit(meta)
            prop.value = out if isinstance(out, str) else json.dumps(meta)
    onnx.save(m, str(dst))
    return dst


def _set(path: str, value):
    def edit(meta):
        *keys, last = path.split(".")
        d = meta
        for k in keys:
            d = d[k]
        d[last] = value
    return edit


TAMPER = {
    "null demand scale": _set("skus.demand_scale", [None]),
    "zero demand scale": _set("skus.demand_scale", [0]),
    "pack size 0": _set("skus.pack_size", [0]),
    "text lead time": _set("skus.lead_time", ["2"]),
    "sku not a list": _set("skus.sku", 5),
    "n_pipe text": _set("observation.n_pipe", "x"),
    "no observation table": _set("observation", [1]),
    "mode": _set("mode", "nope"),
}
TAMPER_ONNX = {
    **TAMPER,
    "action without n": lambda m: m["action"].pop("n"),
    "action step NaN": _set("action.step", "NaN"),
    "obs names numbers": _set("obs_names", [1, 2, 3]),
    "run not a table": _set("run", None),
    "lead_norm 0": _set("observation.lead_norm", 0),
    "metadata a list": lambda m: "[1, 2]",
    "metadata not JSON": lambda m: "{not json",
    "action mode nope": _set("action.mode", "nope"),
}
TAMPER_LEVELS = {**TAMPER, "levels text": _set("levels.S", ["19"]), "levels missing": _set("levels", None)}


@pytest.mark.parametrize("kind", ["onnx", "levels"])
def test_tampered_policy_metadata_is_one_line_and_writes_nothing(policies, tmp_path, kind):
    cases = TAMPER_ONNX if kind == "onnx" else TAMPER_LEVELS
    tamper = _tamper_onnx if kind == "onnx" else _tamper_levels
    for i, (what, edit) in enumerate(cases.items()):
        pol = tamper(policies[kind], tmp_path / f"t{i}{policies[kind].suffix}", edit)
        out = tmp_path / f"o{i}.csv"
        err = _one_line_error(_recommend(pol, policies["state"], out))
        assert str(pol) in err, (what, err)
        assert not out.exists(), what


def test_recommend_threads_are_bounded(policies, tmp_path):
    top = 4 * (os.cpu_count() or 1)
    for threads in ("0", "-3", str(top + 1), "100000"):
        err = _one_line_error(_recommend(policies["onnx"], policies["state"], tmp_path / "o.csv", "--threads",
                                         threads))
        assert f"--threads {threads}: expected 1 to {top}" in err
    p = _recommend(policies["onnx"], policies["state"], tmp_path / "o.csv", "--threads", "2")
    assert p.returncode == 0, p.stderr


# ----------------------------------------------------------------------------------------- 7: NaN / inf bounds
@pytest.mark.parametrize("override,field", [("reward_scale=.nan", "reward_scale"), ("reward_offset=.inf", "reward_offset"),
                                            ("obs_clip=.inf", "obs_clip"), ("reward_scale_ratio=0", "reward_scale_ratio"),
                                            ("reward_scale=-1", "reward_scale")])
def test_normalisation_settings_must_be_finite(tmp_path, override, field):
    run = tmp_path / "run"
    err = _one_line_error(_cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "64",
                               "--run-dir", str(run), override, "--no-progress"))
    assert field in err
    assert not (run / "config.yaml").exists()


def test_normalization_json_with_nan_is_a_corrupt_run(ppo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    for key, value in (("shift", [float("nan")] * 3), ("scale", [1.0]), ("clip", float("inf"))):
        d = json.loads((ppo_run / "normalization.json").read_text())
        d[key] = value
        (run / "normalization.json").write_text(json.dumps(d))
        err = _one_line_error(_cli("evaluate.py", "--model", str(run), "--no-progress"))
        assert "normalization.json: corrupt" in err and key in err


# ----------------------------------------------------------------------------------------- 8: linked files
def test_a_csv_linked_to_another_file_is_not_quoted(policies, tmp_path):
    secret = tmp_path / "elsewhere" / "secret"
    secret.parent.mkdir()
    secret.write_text("TOPSECRET:x:0:0\nsecond:line,with,fields,here\n")
    link = tmp_path / "data.csv"
    link.symlink_to(secret)
    outs = [_cli("-m", "envs.data", str(link)),
            _recommend(policies["levels"], link, tmp_path / "o.csv"),
            _recommend(policies["levels"], policies["state"], tmp_path / "o.csv", "--items", str(link))]
    for p in outs:
        err = _one_line_error(p)
        assert "TOPSECRET" not in err and "second" not in err, err
        assert "symbolic link" in err
    assert not (tmp_path / "o.csv").exists()
    # a plain file is quoted as before (the quote helps to fix one's own file)
    plain = tmp_path / "plain.csv"
    shutil.copy(secret, plain)
    assert "TOPSECRET" in _one_line_error(_cli("-m", "envs.data", str(plain)))


# ----------------------------------------------------------------------------------------- 9: chunks by default
def test_large_data_scenarios_are_chunked_by_default_with_the_same_results(tmp_path, monkeypatch):
    from baselines import evaluation
    from envs import Problem

    rng = np.random.default_rng(3)
    days = [str(np.datetime64("2024-01-01") + i) for i in range(120)]
    lines = [f"{day},S{s:02d},{int(v)}" for s in range(30) for day, v in zip(days, rng.poisson(1 + s % 7, 120))]
    path = tmp_path / "demand.csv"
    path.write_text("date,sku,demand\n" + "\n".join(lines) + "\n")
    problem = Problem("lost-sales-L2-p9", **{"data.path": str(path)})
    names = ["base_stock", "capped_base_stock", "ses_tuned"]
    whole = evaluation.evaluate(problem, evaluation.make_policies(names, problem))
    calls = []
    orig = evaluation.sku_chunks
    monkeypatch.setattr(evaluation, "sku_chunks", lambda *a, **k: calls.append(a[3]) or orig(*a, **k))
    monkeypatch.setattr(evaluation, "AUTO_CHUNK_ABOVE", 10)
    monkeypatch.setattr(evaluation, "AUTO_CHUNK_SKUS", 7)
    chunked = evaluation.evaluate(problem, evaluation.make_policies(names, problem))
    assert calls == [7]
    for a, b in zip(whole.results, chunked.results):
        assert a.name == b.name and a.kpis["avg_cost"] == b.kpis["avg_cost"]


# ----------------------------------------------------------------------------------------- 8: export writes last
def test_export_checks_on_a_small_data_set_and_writes_only_after_the_check(tmp_path, monkeypatch):
    from agents import export

    rng = np.random.default_rng(5)
    days = [str(np.datetime64("2024-01-01") + i) for i in range(150)]
    lines = [f"{day},{s},{int(v)}" for s in ("A", "B") for day, v in zip(days, rng.poisson(4, 150))]
    data = tmp_path / "demand.csv"
    data.write_text("date,sku,demand\n" + "\n".join(lines) + "\n")
    run = tmp_path / "run"
    p = _cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--data", str(data), "--timesteps", "512",
             "--n-envs", "2", "--run-dir", str(run), "eval_freq=256", "checkpoint_freq=256", "eval_episodes=2",
             "eval_periods=50", "hp.n_steps=128", "hp.batch_size=128", "hp.n_epochs=1", "--no-progress")
    assert p.returncode == 0, p.stderr
    out = tmp_path / "p.onnx"
    p = _cli("-m", "agents.export", str(run), "--out", str(out), "--check")
    assert p.returncode == 0, p.stderr
    n = int(p.stdout.split("orders agree: ")[1].split(" / ")[0])
    assert 0 < n < 10_000 and out.is_file()
    # a failed check writes nothing, and leaves an existing file as it was
    out.write_bytes(b"old")
    monkeypatch.setattr(export, "_parity", lambda *a, **k: {"n": 5, "unit_mismatches": 2, "action_mismatches": 2})
    with pytest.raises(export.ExportError, match="parity check failed"):
        export.export_run(run, out, check=True)
    assert out.read_bytes() == b"old" and not out.with_name("p.onnx.json").read_bytes().startswith(b"old")
    sidecar_before = out.with_name("p.onnx.json").read_bytes()
    with pytest.raises(export.ExportError):
        export.export_run(run, tmp_path / "q.onnx", check=True)
    assert not (tmp_path / "q.onnx").exists() and not (tmp_path / "q.onnx.json").exists()
    assert out.with_name("p.onnx.json").read_bytes() == sidecar_before


# ----------------------------------------------------------------------------------------- 6: sweep findings
@pytest.mark.parametrize("override,field", [("hp.gamma=abc", "hp.gamma"), ("hp.n_steps=-1", "hp.n_steps"),
                                            ("hp.policy_kwargs={net_arch: [100000, 100000]}", "net_arch"),
                                            ("n_envs=100000000", "n_envs")])
def test_unchecked_hyperparameters_are_one_line_before_the_run_folder(tmp_path, override, field):
    run = tmp_path / "run"
    err = _one_line_error(_cli("train.py", "--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--timesteps", "64",
                               "--run-dir", str(run), override, "--no-progress"))
    assert field in err and not (run / "config.yaml").exists()


def test_corrupt_run_config_is_one_line(ppo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(ppo_run, run)
    (run / "config.yaml").write_text("config: [1, 2\n")
    assert "corrupt run config" in _one_line_error(_cli("evaluate.py", "--model", str(run), "--no-progress"))


def test_evaluate_seed_must_not_be_negative():
    p = _cli("evaluate.py", "--seed", "-1", "--policies", "base_stock", "--no-progress")
    assert p.returncode == 2 and "--seed must be >= 0" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("state,extra,needle", [
    ("sku,on_hand,in_transit_1\nsku0,1e308,0\n", [], "beyond 1e+12 units"),
    ("sku,on_hand,in_transit_1,date\nsku0,1,0,2024-02-30\n", [], "cannot parse date"),
    (STATE, ["--date", "2024-02-30"], "--date"),
])
def test_recommend_quantities_and_dates_are_checked(policies, tmp_path, state, extra, needle):
    st = tmp_path / "state.csv"
    st.write_text(state)
    for kind in ("onnx", "levels"):
        out = tmp_path / f"o_{kind}.csv"
        err = _one_line_error(_recommend(policies[kind], st, out, *extra))
        assert needle in err and not out.exists()


def test_recommend_in_blocks_writes_the_same_table(policies, tmp_path, monkeypatch):
    from deploy import recommend as rec

    rng = np.random.default_rng(1)
    n = 257
    lines = [f"sku0,{int(a)},{int(b)}" for a, b in zip(rng.integers(0, 30, n), rng.integers(0, 10, n))]
    st = tmp_path / "state.csv"
    st.write_text("sku,on_hand,in_transit_1\n" + "\n".join(f"S{i}{line[4:]}" for i, line in enumerate(lines)))
    items = tmp_path / "items.csv"
    items.write_text("sku,demand_scale,lead_time,moq,pack_size\n" + "\n".join(
        f"S{i},{1 + i % 9}.5,2,{i % 3 * 5},{1 + i % 4}" for i in range(n)))
    for kind in ("onnx", "levels"):
        if kind == "levels":  # a level policy knows only its own SKUs
            st.write_text(STATE)
        rec.run(policies[kind], st, tmp_path / "whole.csv", items if kind == "onnx" else None)
        monkeypatch.setattr(rec, "WRITE_BATCH", 10)
        monkeypatch.setattr(rec, "INFERENCE_BATCH", 7)
        rec.run(policies[kind], st, tmp_path / "blocks.csv", items if kind == "onnx" else None)
        monkeypatch.undo()
        assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "blocks.csv").read_bytes()


def test_item_table_lead_time_is_bounded_when_loaded(tmp_path):
    data = tmp_path / "demand.csv"
    data.write_text("date,sku,demand\n" + "".join(f"2024-01-{d:02d},A,{d % 4}\n" for d in range(1, 29)))
    items = tmp_path / "items.csv"
    items.write_text("sku,lead_time\nA,1000000000000\n")
    err = _one_line_error(_cli("-m", "envs.data", str(data), "--items", str(items)))
    assert "lead_time of SKU 'A'" in err and "0..1000" in err


# ------------------------------------------------------------------- 10: compact history, bounded SKU ids
def _history_by_hand(rows: list[tuple[str, str, float]], skus: list[str], periods: int | None) -> np.ndarray:
    """read_history's contract spelled out: per state-file SKU its demands by date, latest first."""
    per = {s: sorted((d, v) for d, k, v in rows if k.strip() == s) for s in skus}
    width = periods or max(len(v) for v in per.values())
    out = np.full((len(skus), width), np.nan)
    for i, s in enumerate(skus):
        vals = [v for _, v in per[s]][::-1][:width]
        out[i, :len(vals)] = vals
    return out


@pytest.mark.parametrize("fmt,decimals", [("csv", 2), ("csv", 0), ("parquet", 2)])  # 0: held in float32
def test_read_history_is_the_plain_reading(tmp_path, fmt, decimals):
    import pandas as pd

    from deploy.state import read_history

    rng = np.random.default_rng(5)
    skus = [f"S{i:02d}" for i in range(40)]
    days = [str(np.datetime64("2024-01-01") + i) for i in range(25)]
    rows = []
    for s in skus + ["X1", "X2"]:  # X*: not in the state file, ignored
        for d in rng.choice(days, int(rng.integers(1, 25)), replace=False):
            rows.append((d, f" {s}" if rng.random() < 0.1 else s, float(np.round(rng.gamma(2, 3), decimals))))
    rows = [rows[i] for i in rng.permutation(len(rows))]
    df = pd.DataFrame(rows, columns=["date", "sku", "demand"]).assign(price=1.0)  # an extra column: not read
    path = tmp_path / f"hist.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    else:
        df.assign(date=pd.to_datetime(df["date"])).to_parquet(path, index=False)
    state = np.array(skus[::-1], dtype=object)  # any order
    for periods in (3, 13, None):
        got = read_history(path, state, periods)
        assert np.array_equal(got, _history_by_hand(rows, list(state), periods), equal_nan=True), periods


@pytest.mark.parametrize("text,needle", [
    ("date,sku,demand\n2024-01-01,A,1\n2024-01-02,B,2\n2024-01-01,A,3\n",
     "duplicate row for SKU 'A' and date 2024-01-01: line 2 and line 4"),
    ("date,sku,demand\n2024-01-01,A,1\n2024-13-01,B,2\n", "column 'date', line 3: cannot parse date '2024-13-01'"),
    ("date,sku,demand\n2024-01-01,A,1\n2024-01-02,,2\n", "column 'sku', line 3: empty SKU"),
    ("date,sku,demand\n2024-01-01,A,1\n2024-01-02,A,x\n", "demand 'x' is not a number (SKU 'A')"),
    ("date,sku,demand\n2024-01-01,A,1\n", "no demand history for SKU 'B'"),
])
def test_read_history_errors_name_the_place(tmp_path, text, needle):
    from deploy.errors import DeployError
    from deploy.state import read_history

    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(DeployError) as e:
        read_history(path, np.array(["A", "B"], dtype=object), 2)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_sku_ids_are_bounded_in_every_reader(tmp_path):
    from deploy.errors import DeployError
    from deploy.state import read_history, read_table
    from envs.data import DataError, load_demand, load_items
    from invcore.tables import MAX_SKU_CHARS, sku_column

    ok, long = "K" * MAX_SKU_CHARS, "L" * (MAX_SKU_CHARS + 1) + "Z" * 5000
    good = tmp_path / "good.csv"
    good.write_text(f"date,sku,demand\n2024-01-01,{ok},1\n2024-01-02,{ok},2\n")
    assert load_demand(good).skus[0] == ok
    bad = tmp_path / "bad.csv"
    bad.write_text(f"date,sku,demand\n2024-01-01,A,1\n2024-01-01,{long},1\n")
    state = tmp_path / "state.csv"
    state.write_text(f"sku,on_hand\nA,1\n {long} ,2\n")
    items = tmp_path / "items.csv"
    items.write_text(f"sku,lead_time\nA,1\n {long} ,2\n")
    checks = [(DataError, lambda: load_demand(bad)), (DataError, lambda: load_items(items, ["A"])),
              (DeployError, lambda: sku_column(*read_table(state, "state file", ["sku"]))),
              (DeployError, lambda: read_history(bad, np.array(["A"], dtype=object), 1))]
    for error, call in checks:
        with pytest.raises(error) as e:
            call()
        msg = str(e.value)
        assert "line 3" in msg and f"longer than {MAX_SKU_CHARS} characters" in msg, msg
        assert "Z" not in msg and len(msg) < 400 and "\n" not in msg, msg


def test_cells_of_a_linked_table_are_not_quoted_after_reading(policies, tmp_path):
    """The file reads as a table; the error comes from validating its cells (after read_table returned)."""
    from deploy.errors import DeployError
    from deploy.state import read_history
    from envs.data import DataError, load_demand

    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "demand").write_text("date,sku,demand\n2024-01-01,TOPSECRET,-1\n")
    (secret / "state").write_text("sku,on_hand,in_transit_1\nTOPSECRET,1,0\n")
    links = {}
    for name, target in (("d.csv", "demand"), ("s.csv", "state")):
        links[name] = tmp_path / name
        links[name].symlink_to(secret / target)
        shutil.copy(secret / target, tmp_path / f"plain_{name}")
    for path, quoted in ((links["d.csv"], False), (tmp_path / "plain_d.csv", True)):
        for error, call in ((DataError, lambda p=path: load_demand(p)),
                            (DeployError, lambda p=path: read_history(p, np.array(["TOPSECRET"], dtype=object), 1))):
            with pytest.raises(error) as e:
                call()
            assert ("TOPSECRET" in str(e.value)) == quoted, str(e.value)
    err = _one_line_error(_recommend(policies["levels"], links["s.csv"], tmp_path / "o.csv"))
    assert "unknown SKU" in err and "TOPSECRET" not in err and "symbolic link" in err
    assert "TOPSECRET" in _one_line_error(_recommend(policies["levels"], tmp_path / "plain_s.csv", tmp_path / "o.csv"))
