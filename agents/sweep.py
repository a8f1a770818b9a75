"""Sweeps: seeds x a grid of settings over a preset, each trial an ordinary training run (a run folder that
``evaluate.py --model`` reads), run by Ray Tune (or one after the other in this process), and the table of
every trial and of the mean +- sd per configuration of the validation cost.

    python train.py sweep --algo ppo --scenario lost-sales-L2-p9 --seeds 0 1 2 3 --grid hp.gamma=0.95,0.99 \\
                          --timesteps 200000 --out DIR [--num-cpus N | --address ADDR] [--serial] [KEY=VALUE ...]

A ``--grid KEY=V1,V2,...`` key is what a train.py ``KEY=VALUE`` override takes (a run-config field, ``hp.<name>``
or a scenario field; values parsed as YAML); several ``--grid`` flags make a product. Each trial is
:func:`agents.training.train` on the config :func:`agents.config.resolve_config` makes, so a sweep cannot train
differently from train.py. The validation cost is the best model's exact long-run cost where the scenario has
the DP optimum (Zipkin's instances, as ``benchmarks/agents.py`` reports; ``exact_cost.json``), else its average
cost on the fixed validation traces (``best_model.zip``'s selection score).

Outputs in ``--out``: ``runs/<trial>/`` (run folders), ``trials.csv`` (one row a trial), ``summary.csv`` (one
row a configuration), ``sweep.md`` (both tables), ``tune/`` (Tune's own experiment state).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import itertools
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs.scenario import ScenarioError, parse_override, resolve_scenario

from .config import PresetError, algorithm_class, resolve_config

METRIC = "validation_cost"


class SweepError(ValueError):
    """A sweep's flags cannot be used (one line, naming the flag)."""


@dataclass
class SweepSpec:
    """What a sweep trains: the train.py settings shared by all trials, the seeds and the grid."""

    algo: str
    scenario: str
    out: Path
    seeds: list[int] = field(default_factory=lambda: [0])
    grid: dict[str, list[Any]] = field(default_factory=dict)
    """KEY -> values (a product over the keys)."""
    timesteps: int | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    """KEY=VALUE settings of every trial."""
    device: str = "cpu"
    """Trials get one CPU each from Ray."""

    def trials(self) -> list[dict[str, Any]]:
        """Every trial's settings: the grid values and the seed, the grid in the order given."""
        keys = list(self.grid)
        return [{"params": dict(zip(keys, values)), "seed": s}
                for values in itertools.product(*(self.grid[k] for k in keys)) for s in self.seeds]


def _split_values(text: str) -> list[str]:
    """Values separated by commas outside brackets ("[32,32],[64]" is two values)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [v.strip() for v in out]


def parse_grid(specs: list[str] | None) -> dict[str, list[Any]]:
    """``["hp.gamma=0.95,0.99", ...]`` -> {"hp.gamma": [0.95, 0.99]}; SweepError naming the bad flag."""
    grid: dict[str, list[Any]] = {}
    for spec in specs or []:
        key, sep, values = spec.partition("=")
        key = key.strip()
        parts = _split_values(values) if sep else []
        if not key or not sep or not parts or any(v == "" for v in parts):
            raise SweepError(f"--grid {spec!r}: expected KEY=V1,V2,... (e.g. --grid hp.gamma=0.95,0.99)")
        if key in grid:
            raise SweepError(f"--grid {spec!r}: {key} is already swept by another --grid")
        if key == "seed":
            raise SweepError(f"--grid {spec!r}: use --seeds for seeds")
        grid[key] = [parse_override(f"{key}={v}")[1] for v in parts]
    return grid


def _flag(key: str, value: Any, spec: SweepSpec) -> str:
    return f"--grid {key}=..." if key in spec.grid else f"{key}={value}"


def _check_hyperparams(algorithm: str, hp: dict[str, Any]) -> str | None:
    """The first hyperparameter the algorithm's constructor does not take, or None."""
    params = inspect.signature(algorithm_class(algorithm).__init__).parameters
    for k in hp:
        if k not in params or k in ("self", "policy", "env"):
            return k
    return None


def trial_config(spec: SweepSpec, trial: dict[str, Any]):
    """The run config of a trial (exactly what train.py would resolve from the same flags)."""
    name = resolve_scenario(spec.scenario).name
    flags = {"timesteps": spec.timesteps, "seed": trial["seed"], "device": spec.device, "progress": False}
    return resolve_config(spec.algo, spec.scenario, name, spec.preset, flags, {**spec.overrides, **trial["params"]})


def check(spec: SweepSpec) -> None:
    """Resolve every trial's config and scenario before anything runs: a bad flag fails here, in one line."""
    if not spec.seeds:
        raise SweepError("--seeds: give at least one seed")
    if len(set(spec.seeds)) != len(spec.seeds):
        raise SweepError(f"--seeds {' '.join(map(str, spec.seeds))}: a seed is given twice")
    if spec.timesteps is not None and spec.timesteps < 1:
        raise SweepError(f"--timesteps {spec.timesteps}: must be >= 1")
    try:
        resolve_scenario(spec.scenario)
    except (ScenarioError, OSError) as e:
        raise SweepError(f"--scenario {spec.scenario}: {e}") from None
    for trial in spec.trials():
        settings = {**spec.overrides, **trial["params"]}
        try:
            cfg = trial_config(spec, trial)
        except PresetError as e:
            raise SweepError(f"{_culprit(spec, settings, str(e))}: {e}") from None
        bad = _check_hyperparams(cfg.algorithm, cfg.hyperparams)
        if bad is not None:
            raise SweepError(f"{_flag('hp.' + bad, settings.get('hp.' + bad), spec)}: unknown hyperparameter "
                             f"{bad!r} of {cfg.algorithm}")
        try:
            resolve_scenario(cfg.scenario, **cfg.scenario_overrides)
        except ScenarioError as e:
            raise SweepError(f"{_culprit(spec, settings, str(e))}: {e}") from None


def _culprit(spec: SweepSpec, settings: dict[str, Any], message: str) -> str:
    """The flag an error message names (a swept key first), else the settings of the trial."""
    for key in list(spec.grid) + list(spec.overrides):
        if key.split(".")[-1] in message or key in message:
            return _flag(key, settings.get(key), spec)
    return "settings " + " ".join(f"{k}={v}" for k, v in settings.items()) if settings else f"--algo {spec.algo}"


def trial_name(spec: SweepSpec, trial: dict[str, Any]) -> str:
    parts = [f"{k.split('.')[-1]}{v}" for k, v in trial["params"].items()]
    safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in "-".join(parts))
    return f"{spec.algo}-{safe + '-' if safe else ''}s{trial['seed']}"


def run_trial(spec: SweepSpec, trial: dict[str, Any]) -> dict[str, Any]:
    """Train one trial into ``out/runs/<trial>`` (agents.training.train) and return its table row."""
    from . import training

    t0 = time.process_time()
    cfg = trial_config(spec, trial)
    run_dir = spec.out.resolve() / "runs" / trial_name(spec, trial)
    settings = {**spec.overrides, **trial["params"]}
    command = " ".join(["python train.py --algo", spec.algo, "--scenario", shlex.quote(spec.scenario),
                        "--seed", str(trial["seed"]), "--device", spec.device, "--run-dir", shlex.quote(str(run_dir))]
                       + (["--timesteps", str(spec.timesteps)] if spec.timesteps else [])
                       + (["--preset", spec.preset] if spec.preset else [])
                       + [shlex.quote(f"{k}={v}") for k, v in settings.items()]) + f"  # sweep {spec.out}"
    res = training.train(cfg, run_dir, command, log=lambda *a, **k: None)
    cost = res.exact_cost if res.exact_cost is not None else res.best_cost
    return {"trial": run_dir.name, **{k: trial["params"][k] for k in spec.grid}, "seed": trial["seed"],
            METRIC: float(cost), "cost_kind": "exact long-run" if res.exact_cost is not None else "validation traces",
            "final_validation_avg_cost": float(res.final_eval["avg_cost"]),
            "optimum": res.extra.get("optimum"), "base_stock_cost": float(res.extra["base_stock_cost"]),
            "timesteps": int(res.num_timesteps), "cpu_s": time.process_time() - t0, "run_dir": str(run_dir)}


@dataclass
class SweepResult:
    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    files: list[Path]


def summarize(spec: SweepSpec, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and sample sd (ddof 1; None for one seed or an infinite cost: an untrained policy whose stock grows
    without bound has an infinite exact cost) of the validation cost per configuration."""
    out = []
    keys = list(spec.grid)
    for values in itertools.product(*(spec.grid[k] for k in keys)) if keys else [()]:
        mine = [r for r in rows if all(r[k] == v for k, v in zip(keys, values))]
        c = np.array([r[METRIC] for r in mine], dtype=np.float64)
        sd = float(c.std(ddof=1)) if c.size > 1 and np.isfinite(c).all() else None  # an inf cost: no sd
        out.append({**dict(zip(keys, values)), "seeds": len(mine), "mean": float(c.mean()) if c.size else math.nan,
                    "sd": sd,
                    "cpu_s": float(sum(r["cpu_s"] for r in mine))})
    return out


def _md(rows: list[dict[str, Any]], cols: list[str]) -> str:
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_tables(spec: SweepSpec, rows: list[dict[str, Any]], summary: list[dict[str, Any]], how: str) -> list[Path]:
    from invcore.atomic import atomic_write_text

    out = spec.out
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, table in (("trials.csv", rows), ("summary.csv", summary)):
        cols = list(table[0]) if table else []
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        atomic_write_text(out / name, buf.getvalue())
        files.append(out / name)
    kind = rows[0]["cost_kind"] if rows else ""
    keys = list(spec.grid)
    shown = [dict(s, **{"mean +- sd": f"{s['mean']:.4f} +- {s['sd']:.4f}" if s["sd"] is not None else f"{s['mean']:.4f}"})
             for s in summary]
    text = (f"# Sweep: {spec.algo} on {spec.scenario}\n\n{len(rows)} trials ({how}), seeds "
            f"{' '.join(map(str, spec.seeds))}; validation cost = the best model's {kind} cost per period.\n\n"
            f"## Per configuration (mean +- sd over seeds)\n\n{_md(shown, keys + ['seeds', 'mean +- sd', 'cpu_s'])}\n\n"
            f"## Every trial\n\n"
            f"{_md(rows, ['trial'] + keys + ['seed', METRIC, 'final_validation_avg_cost', 'timesteps', 'cpu_s'])}\n")
    atomic_write_text(out / "sweep.md", text)
    files.append(out / "sweep.md")
    return files


def sweep(spec: SweepSpec, *, num_cpus: int | None = None, address: str | None = None,
          serial: bool = False) -> SweepResult:
    """Run every trial (Ray Tune: one CPU a trial, local Ray with `num_cpus` or the cluster at `address`;
    `serial`: one after the other in this process) and write the tables."""
    check(spec)
    trials = spec.trials()
    if serial:
        rows = [run_trial(spec, t) for t in trials]
        how = "one after the other in one process"
    else:
        rows = _tune(spec, trials, num_cpus, address)
        how = f"Ray Tune{f' at {address}' if address else ''}"
    order = {trial_name(spec, t): i for i, t in enumerate(trials)}
    rows.sort(key=lambda r: order[r["trial"]])
    summary = summarize(spec, rows)
    return SweepResult(rows, summary, write_tables(spec, rows, summary, how))


def _tune(spec: SweepSpec, trials: list[dict[str, Any]], num_cpus: int | None, address: str | None) -> list[dict]:
    from baselines.cluster import connect

    connect(num_cpus, address)
    from ray import tune

    def trainable(config: dict[str, Any]) -> None:
        tune.report(run_trial(spec, config["trial"]))

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(metric=METRIC, mode="min"),
        run_config=tune.RunConfig(name="tune", storage_path=str(spec.out.resolve()), verbose=0),
    )
    grid = tuner.fit()
    failed = [r for r in grid if r.error is not None]
    if failed:
        raise SweepError(f"{len(failed)} of {len(trials)} trials failed; the first: {failed[0].error}")
    keep = ["trial", *spec.grid, "seed", METRIC, "cost_kind", "final_validation_avg_cost",
            "optimum", "base_stock_cost", "timesteps", "cpu_s", "run_dir"]
    return [{k: r.metrics[k] for k in keep} for r in grid]


def parse_args(argv=None, prog: str = "train.py sweep") -> argparse.Namespace:
    from invcore.cli import HelpFormatter

    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    ap.add_argument("--algo", required=True, choices=["ppo", "dqn"])
    ap.add_argument("--scenario", required=True, help="built-in scenario name or YAML path")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of every configuration (default 0)")
    ap.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                    help="values of a train.py KEY=VALUE setting to sweep (repeatable: a product)")
    ap.add_argument("--timesteps", type=int, help="environment steps per trial (default: the preset's)")
    ap.add_argument("--preset", help="preset entry name in configs/presets/<algo>.yaml")
    ap.add_argument("--out", required=True, help="sweep folder (run folders under runs/, tables)")
    ap.add_argument("--num-cpus", type=int, help="CPUs of the local Ray (default: all)")
    ap.add_argument("--address", help="a running Ray cluster: auto or HOST:PORT")
    ap.add_argument("--serial", action="store_true", help="no Ray: the trials one after the other in this process")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings of every trial")
    args = ap.parse_intermixed_args(argv)
    if args.num_cpus is not None and args.num_cpus < 1:
        ap.error("--num-cpus must be >= 1")
    if args.serial and (args.num_cpus is not None or args.address is not None):
        ap.error("--serial runs without Ray: no --num-cpus / --address")
    return args


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    scenario = args.scenario
    if Path(scenario).is_file():
        scenario = str(Path(scenario).resolve())
    try:
        overrides = dict(parse_override(o) for o in args.overrides)
    except ScenarioError as e:
        raise SweepError(str(e)) from None
    return SweepSpec(args.algo, scenario, Path(args.out), args.seeds, parse_grid(args.grid), args.timesteps,
                     args.preset, overrides)


def main(argv=None, prog: str = "train.py sweep") -> int:
    from baselines.cluster import RayError

    args = parse_args(argv, prog)
    try:
        spec = spec_from_args(args)
        res = sweep(spec, num_cpus=args.num_cpus, address=args.address, serial=args.serial)
    except (SweepError, RayError, PresetError, ScenarioError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for s in res.summary:
        label = " ".join(f"{k}={s[k]}" for k in spec.grid) or "(preset)"
        sd = f" +- {s['sd']:.4f}" if s["sd"] is not None else ""
        print(f"{label}: validation cost {s['mean']:.4f}{sd} over {s['seeds']} seeds")
    for p in res.files:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
