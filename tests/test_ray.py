"""SKU-chunked evaluation (serial and as Ray tasks) against the whole evaluation, bit for bit, and the sweep
(flags, Ray Tune, run folders that evaluate.py reads). The Ray tests skip without Ray (pip install -e ".[ray]")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from baselines import evaluation as E
from envs import Problem

ROOT = Path(__file__).resolve().parent.parent


def _scale_module():
    """benchmarks/scale.py by its path (benchmarks/ is not put on sys.path: its agents.py would shadow agents)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "scale.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _same(a: E.Evaluation, b: E.Evaluation) -> None:
    assert [r.name for r in a.results] == [r.name for r in b.results]
    for ra, rb in zip(a.results, b.results):
        assert np.array_equal(ra.totals, rb.totals), ra.name
        assert ra.description == rb.description, ra.name
        assert json.dumps(ra.kpis) == json.dumps(rb.kpis), ra.name
        assert (ra.trajectory is None) == (rb.trajectory is None)
        if ra.trajectory is not None:
            for f in ("on_hand", "order", "demand", "episodes"):
                assert np.array_equal(getattr(ra.trajectory, f), getattr(rb.trajectory, f)), (ra.name, f)


@pytest.fixture(scope="module")
def carparts() -> Problem:
    """A real-data subset: 240 car-part SKUs (some without test data: fitted, not simulated)."""
    return Problem(str(ROOT / "configs" / "carparts.yaml")).subset(np.arange(100, 340))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Problem:
    """benchmarks/scale.py's synthetic daily catalogue: lead times 1..7, order costs, MOQ and pack sizes."""
    scale = _scale_module()
    path, items = scale.synthetic_catalogue(tmp_path_factory.mktemp("cat"), 150, 120, seed=3)
    return Problem("lost-sales-L2-p9", **scale.catalogue_scenario(path, items, 60, 120))


def test_subset_is_the_parents_rows(carparts):
    full = Problem(str(ROOT / "configs" / "carparts.yaml"))
    assert carparts.n_skus == 240 and carparts.obs_dim == full.obs_dim and carparts.max_lead == full.max_lead
    assert np.array_equal(carparts.params, full.params[100:340])
    assert carparts.sku_name(0) == full.sku_name(100)
    a = E.make_episodes(carparts, "test", replay=True)
    b = E.make_episodes(full, "test", replay=True)
    cols = np.flatnonzero((b.sku >= 100) & (b.sku < 340))
    assert np.array_equal(a.sku + 100, b.sku[cols]) and np.array_equal(a.lengths, b.lengths[cols])
    assert np.array_equal(a.demand, b.demand[:a.demand.shape[0], cols])
    with pytest.raises(E.ScenarioError, match="only data scenarios"):
        Problem("lost-sales-L2-p9").subset([0])


@pytest.mark.parametrize("name", ["carparts", "synthetic"])
def test_serial_chunks_are_the_whole_evaluation(name, request):
    """Every applicable classical policy (the SKU-separable ones in chunks, the others, statsmodels' included,
    whole in the driver). The learned forecasters (lgbm / gru, 85 % of this test's CPU-s when they were in it)
    are not SKU-separable: they run whole by the same code either way, as arima does here."""
    pb = request.getfixturevalue(name)
    pols = E.make_policies("classical", pb)
    assert any(p.sku_separable for p in pols) and any(not p.sku_separable for p in pols)
    whole = E.evaluate(pb, pols, record=3)
    chunked = E.evaluate(pb, E.make_policies("classical", pb), record=3, chunk_skus=37)
    _same(whole, chunked)
    tasks = E.sku_chunks(pb, whole.episodes, "test", 37)
    assert len(tasks) == -(-pb.n_skus // 37) and tasks[-1].stop == pb.n_skus
    assert sum(t.col_stop - t.col_start for t in tasks) == whole.episodes.n


def test_chunked_drivers_hold_no_traces_and_a_float32_matrix_gives_the_same_results(synthetic):
    """Only SKU-separable policies: the driver's episodes are an outline (no traces; each chunk builds its
    own); a compact float32 demand matrix in memory (benchmarks/scale_ray.py --compact) reads as float64."""
    from dataclasses import replace

    names = "base_stock,capped_base_stock,ses_tuned,croston,safety_stock_sS_tuned"
    whole = E.evaluate(synthetic, E.make_policies(names, synthetic), record=3)
    d = synthetic.source.data
    pb32 = Problem(synthetic.scenario, demand_data=replace(d, demand=d.demand.astype(np.float32)))
    assert pb32.source.data.demand.dtype == np.float32 and np.array_equal(pb32.source.scales, synthetic.source.scales)
    for pb in (synthetic, pb32):
        chunked = E.evaluate(pb, E.make_policies(names, pb), record=3, chunk_skus=37)
        _same(whole, chunked)
        a, b = whole.episodes, chunked.episodes
        assert b.demand.strides == (0, 0) and b.periods == a.periods and b.label == a.label
        for f in ("sku", "lengths", "cal_offset"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), f
    eps, sums = E.outline_episodes(synthetic, block=40)
    assert np.array_equal(sums, whole.episodes.demand[whole.episodes.history:].sum(axis=0))
    with pytest.raises(E.ScenarioError, match="without a data section"):
        Problem("lost-sales-L2-p9", demand_data=d)


def test_parametric_scenarios_run_whole():
    pb = Problem("lost-sales-L2-p9")
    pols = E.make_policies("base_stock,ses", pb)
    _same(E.evaluate(pb, pols, episodes=4, periods=50),
          E.evaluate(pb, E.make_policies("base_stock,ses", pb), episodes=4, periods=50, chunk_skus=1))


# ------------------------------------------------------------------------------------------------------ Ray

@pytest.fixture(scope="module")
def ray_local():
    pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')
    from baselines import cluster

    ray = cluster.connect(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("name", ["carparts", "synthetic"])
def test_ray_chunks_are_the_whole_evaluation(name, request, ray_local):
    from baselines.cluster import ray_map_chunks

    pb = request.getfixturevalue(name)
    names = "base_stock,capped_base_stock,safety_stock_sS_tuned,ses_tuned,croston,arima,hindsight_base_stock"
    whole = E.evaluate(pb, E.make_policies(names, pb), record=2)
    parts: list = []

    def spy(problem, policies, tasks):
        parts.extend(ray_map_chunks(problem, policies, tasks))
        return parts

    ray_ev = E.evaluate(pb, E.make_policies(names, pb), record=2, chunk_skus=60, map_chunks=spy)
    _same(whole, ray_ev)
    assert len(parts) == -(-pb.n_skus // 60) and all(p.peak_rss > 0 and p.cpu_s > 0 for p in parts)


def test_evaluate_cli_ray_writes_the_serial_results(tmp_path, ray_local, carparts):
    import evaluate

    scen = str(ROOT / "configs" / "carparts.yaml")
    args = ["--scenario", scen, "--policies", "base_stock,ses_tuned", "--no-progress"]
    assert evaluate.main(args + ["--out", str(tmp_path / "serial")]) == 0
    assert evaluate.main(args + ["--out", str(tmp_path / "ray"), "--ray", "--chunk-skus", "900"]) == 0
    assert (tmp_path / "serial" / "results.json").read_bytes() == (tmp_path / "ray" / "results.json").read_bytes()
    assert (tmp_path / "serial" / "results.csv").read_bytes() == (tmp_path / "ray" / "results.csv").read_bytes()


def test_evaluate_cli_flag_errors(capsys):
    import evaluate

    with pytest.raises(SystemExit):
        evaluate.main(["--num-cpus", "2"])
    assert "--num-cpus and --address need --ray" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate.main(["--ray", "--num-cpus", "2", "--address", "auto"])
    assert "local Ray only" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------- sweep

@pytest.mark.parametrize("grid,message", [
    ("hp.gamma", "--grid 'hp.gamma': expected KEY=V1,V2"),
    ("hp.gamma=0.9,,0.99", "expected KEY=V1,V2"),
    ("hp.gama=0.9,0.99", "--grid hp.gama=...: unknown hyperparameter 'gama' of PPO"),
    ("lead_tme=2,3", "--grid lead_tme=...: override: unknown field 'lead_tme'"),
    ("eval_freq=-1,5", "--grid eval_freq=...: eval_freq must be an integer >= 0"),
])
def test_sweep_bad_flags_fail_in_one_line(grid, message, tmp_path, capsys):
    pytest.importorskip("stable_baselines3")
    from agents.sweep import main

    rc = main(["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--grid", grid, "--out", str(tmp_path), "--serial"])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


def test_sweep_grid_values_and_trials():
    from agents.sweep import SweepSpec, parse_grid

    grid = parse_grid(["hp.gamma=0.95,0.99", "hp.policy_kwargs.net_arch=[32,32],[64]"])
    assert grid == {"hp.gamma": [0.95, 0.99], "hp.policy_kwargs.net_arch": [[32, 32], [64]]}
    trials = SweepSpec("ppo", "lost-sales-L2-p9", Path("x"), [0, 1], grid).trials()
    assert len(trials) == 8 and trials[0] == {"params": {"hp.gamma": 0.95, "hp.policy_kwargs.net_arch": [32, 32]},
                                              "seed": 0}


def test_sweep_tables_mean_and_sd_per_configuration(tmp_path):
    from agents.sweep import SweepSpec, summarize, write_tables

    spec = SweepSpec("ppo", "lost-sales-L2-p9", tmp_path, [0, 1, 2], {"hp.gamma": [0.95, 0.99]})
    costs = {(0.95, 0): 6.2, (0.95, 1): 6.4, (0.95, 2): 6.9, (0.99, 0): 6.1, (0.99, 1): float("inf"), (0.99, 2): 6.3}
    rows = [{"trial": f"t{g}-{s}", "hp.gamma": g, "seed": s, "validation_cost": c, "cost_kind": "exact long-run",
             "final_validation_avg_cost": c, "timesteps": 10, "cpu_s": 1.0} for (g, s), c in costs.items()]
    summary = summarize(spec, rows)
    assert [s["hp.gamma"] for s in summary] == [0.95, 0.99] and [s["seeds"] for s in summary] == [3, 3]
    assert summary[0]["mean"] == pytest.approx(6.5) and summary[0]["sd"] == pytest.approx(np.std([6.2, 6.4, 6.9], ddof=1))
    assert summary[1]["mean"] == float("inf") and summary[1]["sd"] is None  # an unbounded policy: no sd
    write_tables(spec, rows, summary, "test")
    assert (tmp_path / "trials.csv").read_text().count("\n") == 7
    md = (tmp_path / "sweep.md").read_text()
    assert f"| 0.9500 | 3 | 6.5000 +- {np.std([6.2, 6.4, 6.9], ddof=1):.4f} |" in md and "| 0.9900 | 3 | inf |" in md


def test_sweep_on_ray_tune_writes_a_run_folder_and_tables(tmp_path, ray_local):
    """One real trial through Tune (each trial pays the imports and the validation baselines: ~10 CPU-s)."""
    pytest.importorskip("stable_baselines3")
    import evaluate
    from agents.sweep import main

    out = tmp_path / "sw"
    small = ["n_envs=2", "hp.n_steps=32", "hp.batch_size=32", "hp.n_epochs=1", "eval_periods=200", "eval_episodes=4"]
    rc = main(["--algo", "ppo", "--scenario", "lost-sales-L2-p9", "--seeds", "3", "--grid", "hp.gamma=0.9",
               "--timesteps", "64", "--out", str(out), *small])
    assert rc == 0
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("trial,hp.gamma,seed,validation_cost,cost_kind")
    assert rows[1].startswith("ppo-gamma0.9-s3,0.9,3,") and ",exact long-run," in rows[1]
    summary = (out / "summary.csv").read_text().splitlines()
    assert len(summary) == 2 and summary[1].startswith("0.9,1,")
    assert "| ppo-gamma0.9-s3 |" in (out / "sweep.md").read_text()
    run = out / "runs" / "ppo-gamma0.9-s3"
    assert (run / "model.zip").is_file() and (run / "exact_cost.json").is_file()
    cfg = (run / "config.yaml").read_text()
    assert "seed: 3\n" in cfg and "gamma: 0.9\n" in cfg and "n_steps: 32\n" in cfg
    assert evaluate.main(["--model", str(run), "--policies", "base_stock", "--episodes", "2", "--periods", "30",
                          "--no-progress"]) == 0
