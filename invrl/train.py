"""Train a PPO, DQN-family or HDPO agent on a scenario and write a self-describing run folder.

    invrl train --algo ppo|dqn|hdpo --scenario NAME_OR_YAML [--data FILE] [--items FILE] [--timesteps N]
                    [--device auto|cpu|cuda] [--n-envs N] [--seed S] [--run-dir DIR] [--preset NAME]
                    [--resume RUN_DIR] [KEY=VALUE ...]
    invrl export RUN_DIR --out policy.onnx [--check]      (= python train.py export, python -m agents.export)
    invrl sweep --algo ppo --scenario NAME --seeds 0 1 2 3 --grid hp.gamma=0.95,0.99 --out DIR
                    [--timesteps N] [--num-cpus N | --address ADDR] [--serial]   (= python train.py sweep)

Settings come from configs/presets/<algo>.yaml (the scenario's entry, else `default`), then the flags, then
KEY=VALUE overrides: a run-config field (eval_freq=20000), a hyperparameter (hp.gamma=0.99) or a scenario
field (lead_time=3). `--resume RUN_DIR` continues a killed run from its last checkpoint with its saved config.
`python train.py ...` is the same command (a wrapper of this module's :func:`main`). The logic lives in
agents.training; this module only parses arguments. See docs/agents.md.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from pathlib import Path

from invcore.cli import HelpFormatter


def parse_args(argv=None, prog: str = "train.py") -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    ap.add_argument("--algo", choices=["ppo", "dqn", "hdpo"],
                    help="ppo (SB3 PPO), dqn (QR-DQN by default, see preset) or hdpo (differentiable simulation)")
    ap.add_argument("--scenario", help="built-in scenario name or YAML path")
    ap.add_argument("--data", help="demand file (date,sku,demand) to train on (its train window), with --scenario "
                                   "for its costs; how to read it: data.KEY=VALUE overrides (data.sep=';' "
                                   "data.dayfirst=true data.columns=..., see invrl data --help)")
    ap.add_argument("--items", help="item table with per-SKU parameters (with --data)")
    ap.add_argument("--timesteps", type=int, help="environment steps (default: the preset's)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], help="auto: CUDA when available (default)")
    ap.add_argument("--n-envs", type=int, help="parallel training environments (default: the preset's)")
    ap.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    ap.add_argument("--run-dir", help="run folder (default runs/<algo>-<scenario>-s<seed>-<time>)")
    ap.add_argument("--preset", help="preset entry name in configs/presets/<algo>.yaml")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint (PPO/DQN: "
                    "loads SB3's checkpoint zip and replay buffer, which are pickles: resume only run folders "
                    "you trust; evaluate and export read the pickle-free .npz files)")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                    help="config field, hp.<hyperparameter> or scenario field overrides")
    args = ap.parse_intermixed_args(argv)
    if args.resume is None and args.data and args.scenario is None:
        ap.error("--data needs --scenario: name the scenario whose costs, lead time and windows apply to this file "
                 "(a YAML file with a data: section, or a built-in such as lost-sales-L2-p9); invrl init FILE "
                 "(= python -m envs.data FILE --init scenario.yaml) writes a commented one")
    if args.resume is None and (args.algo is None or args.scenario is None):
        ap.error("--algo and --scenario are required (unless --resume RUN_DIR)")
    for name in ("timesteps", "n_envs"):
        v = getattr(args, name)
        if v is not None and v < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def _train_interruptible(training, cfg, run_dir, command, resume):
    """training.train with SIGTERM handled as Ctrl-C (a checkpoint is saved, the resume command printed)."""
    def on_term(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread: leave SIGTERM alone
        old = None
    try:
        return training.train(cfg, run_dir, command, resume=resume)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def invocation(prog: str) -> str:
    """How the user ran this command, for the commands it prints: ``invrl train`` or ``python train.py``."""
    return prog if prog.startswith("invrl") else f"python {prog}"


def main(argv=None, prog: str = "train.py") -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["export"]:  # the export command lives in agents.export; this keeps one training CLI
        from agents.export import main as export_main

        return export_main(raw[1:])
    if raw[:1] == ["sweep"]:  # Ray Tune over a preset: agents.sweep (each trial is this file's training run)
        from agents.sweep import main as sweep_main

        return sweep_main(raw[1:])
    args = parse_args(argv, prog)
    run_cmd = invocation(prog)
    from agents.config import PresetError, resolve_config
    from agents.runs import RunError, RunLock, clear_failed_start, has_checkpoint
    from envs.data import DataError
    from envs.scenario import ScenarioError, parse_override, resolve_scenario

    command = f"{run_cmd} " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    from agents import training

    lock = None
    run_dir = None
    try:
        if args.resume:
            run_dir = Path(args.resume)
            cfg = training.resume_config(run_dir)
            if args.timesteps:
                cfg.timesteps = args.timesteps
            if args.device:
                cfg.device = args.device
            lock = RunLock(run_dir).__enter__()  # a second --resume or training into the folder refuses
            resume = has_checkpoint(run_dir)
            if not resume:  # the run stopped before its first checkpoint: start it again from its config
                clear_failed_start(run_dir)
                print(f"{run_dir}: no checkpoint yet (the run stopped before its first one); starting it again "
                      "from its config.yaml")
        else:
            overrides = dict(parse_override(o) for o in args.overrides)
            scenario = args.scenario
            if Path(scenario).is_file():
                scenario = str(Path(scenario).resolve())
            if args.data:
                overrides["data.path"] = str(Path(args.data).resolve())
                overrides.setdefault("data.window", "train")
                if args.items:
                    overrides["data.items"] = str(Path(args.items).resolve())
            elif args.items:
                raise ScenarioError("--items needs --data")
            name = resolve_scenario(scenario).name
            flags = {"timesteps": args.timesteps, "device": args.device, "n_envs": args.n_envs, "seed": args.seed}
            if args.no_progress:
                flags["progress"] = False
            cfg = resolve_config(args.algo, scenario, name, args.preset, flags, overrides)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_dir = Path(args.run_dir or f"runs/{cfg.algo}-{Path(name).stem}-s{cfg.seed}-{stamp}")
            lock = RunLock(run_dir).__enter__()
            if (run_dir / "config.yaml").exists():
                if has_checkpoint(run_dir):
                    raise RunError(f"{run_dir} already holds a run; use --resume {run_dir} or another --run-dir")
                removed = clear_failed_start(run_dir)  # a start that failed before its first checkpoint
                print(f"{run_dir}: replacing a run that stopped before its first checkpoint "
                      f"(removed {', '.join(removed)})")
            resume = False
        if args.no_progress:
            cfg.progress = False
        print(f"run folder: {run_dir}")
        print(f"tensorboard --logdir {run_dir / 'tb'}")
        print(f"{cfg.algorithm} on {cfg.scenario} (preset {cfg.preset!r}), {cfg.timesteps:,} steps, seed {cfg.seed}")
        res = _train_interruptible(training, cfg, run_dir, command, resume)
    except training.TrainingInterrupted as e:
        print(f"{e}: checkpoint saved in {e.run_dir / 'checkpoint'}; continue with:\n"
              f"  {run_cmd} --resume {shlex.quote(str(e.run_dir))}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before training started, or an algorithm without the checkpoint on interrupt
        hint = (f"; continue from its last checkpoint with: {run_cmd} --resume {shlex.quote(str(run_dir))}"
                if run_dir is not None and has_checkpoint(run_dir) else "")
        print(f"interrupted{hint}", file=sys.stderr)
        return 130
    except (PresetError, RunError, ScenarioError, DataError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    ev = res.final_eval
    print(f"steps {res.num_timesteps:,}, {res.cpu_s:.1f} CPU-s; validation ({res.extra['validation']}): "
          f"avg cost {ev['avg_cost']:.4f}, fill rate {ev['fill_rate']:.4f}, "
          f"base-stock {res.extra['base_stock_cost']:.4f} ({ev['gap_to_base_stock_pct']:+.2f} %)"
          + (f", gap to optimum {ev['gap_to_optimal_pct']:+.2f} %" if ev.get("gap_to_optimal_pct") is not None else ""))
    if res.extra.get("gradient_cpu_s") is not None:
        print(f"of which gradient steps {res.extra['gradient_cpu_s']:.1f} CPU-s (the rest: reference costs, the "
              "classical rules on the validation traces, evaluations)")
    print(f"best validation cost {res.best_cost:.4f} (best_model.npz)")
    if res.exact_cost is not None:
        opt = res.extra["optimum"]
        print(f"best model exact long-run cost {res.exact_cost:.4f} (optimum {opt:.4f}, "
              f"{100 * (res.exact_cost - opt) / opt:+.2f} %)")
    print(f"evaluate: {'invrl evaluate' if prog.startswith('invrl') else 'python evaluate.py'} --model {run_dir}")
    print(res.extra["verdict"])
    warning = training.training_warning(res.best_cost, res.extra.get("best_baseline"),
                                        res.extra.get("best_baseline_cost"))
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
