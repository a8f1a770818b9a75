"""Evaluate replenishment policies side by side on the same demand traces.

    invrl evaluate --scenario NAME_OR_YAML [--data FILE] [--items FILE] [--policies LIST] [--episodes N]
                   [--periods N] [--seed S] [--max-fits N] [--out DIR] [--plot-skus SKU,...] [KEY=VALUE ...]
    invrl evaluate --model RUN_DIR [--model RUN_DIR ...] [--policies LIST] [...]
    invrl evaluate ... [--chunk-skus N] [--ray [--num-cpus N | --address ADDR]]
    invrl evaluate --list-scenarios | --list-policies

`--model RUN_DIR` (repeatable) adds trained agents (train.py run folders): the scenario, its overrides and the
agent's normalisation are read from the first run folder, so no flag needs repeating; every agent and baseline
runs on the same traces (data scenarios: the test window).

Parametric scenarios: every policy runs on the same `--episodes` simulated episodes. Data scenarios
(`--data` or a YAML with a `data:` section): every policy runs on the test window of every SKU. Prints the
table sorted by cost and the verdict (each agent's rank and gap to the strongest classical rule); with `--out`
also writes report.html (one self-contained page), report.md, results.json, results.csv and PNG plots.
`--chunk-skus N` fits and simulates data scenarios N SKUs at a time (bounded memory), `--ray` runs those chunks
as Ray tasks (local Ray with `--num-cpus`, or the cluster at `--address`); same results (docs/scale.md).
`python evaluate.py ...` is the same command (a wrapper of this module's :func:`main`). The logic lives in
baselines.evaluation and baselines.report; this module only parses arguments.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from invcore.cli import HelpFormatter

NEEDS_SCENARIO = ("--data needs --scenario: name the scenario whose costs, lead time and windows apply to this "
                  "file (a YAML file with a data: section, or a built-in such as lost-sales-L2-p9); "
                  "invrl init FILE (= python -m envs.data FILE --init scenario.yaml) writes a commented one")


def parse_args(argv=None, prog: str = "evaluate.py") -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    ap.add_argument("--scenario", help="built-in scenario name or YAML path (default: demo, or the --model run's)")
    ap.add_argument("--model", action="append", metavar="RUN_DIR",
                    help="a train.py run folder to evaluate beside the baselines (repeatable)")
    ap.add_argument("--data", help="demand file (date,sku,demand; CSV, CSV.gz or Parquet) to evaluate on, with "
                                   "--scenario for its costs; how to read it: data.KEY=VALUE (data.sep=';' "
                                   "data.dayfirst=true data.columns='{date: Datum, sku: Artikel, demand: Menge}' "
                                   "data.wide=true data.aggregate=sum data.items_ignore=[Description]; see "
                                   "invrl data --help)")
    ap.add_argument("--items", help="item table with per-SKU parameters (with --data)")
    ap.add_argument("--policies", default="all", help="comma-separated policy names or groups: all (default), "
                    "classical (all but the learned forecasters lgbm_/gru_quantile*, which cost 5-18 x the CPU of "
                    "the rest), learned")
    ap.add_argument("--episodes", type=int, default=100, help="simulated episodes (parametric scenarios)")
    ap.add_argument("--periods", type=int, help="periods per episode (default: the scenario's episode length)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the simulated episodes (parametric scenarios)")
    ap.add_argument("--window", choices=("train", "val", "test"), default="test",
                    help="data scenarios: the window scored (default: test; the rules are fitted on what comes "
                         "before it -- on val the train window; train is scored in sample, on the window the rules "
                         "were fitted on and an agent trained on)")
    ap.add_argument("--max-fits", type=int, metavar="N",
                    help="cap on the model fits of holt_winters / arima (+ variants): the N largest smooth or erratic "
                         "SKUs get a fitted model, the others SES (default: every such SKU, one batched fit each)")
    ap.add_argument("--out", help="folder for report.html, report.md, results.json, results.csv and PNG plots")
    ap.add_argument("--plot-skus", metavar="SKU,...",
                    help="SKUs whose trajectories the report plots (default: the 3 busiest SKUs of a data "
                         "scenario, the first 3 episodes of a parametric one)")
    ap.add_argument("--chunk-skus", type=int, metavar="N",
                    help="data scenarios: fit and simulate N SKUs at a time (default with --ray: the SKUs / 4 per "
                         "CPU, at most 20,000)")
    ap.add_argument("--ray", action="store_true", help="run the SKU chunks as Ray tasks (pip install -e \".[ray]\")")
    ap.add_argument("--num-cpus", type=int, metavar="N", help="CPUs of the local Ray (with --ray; default all)")
    ap.add_argument("--address", metavar="ADDR", help="a running Ray cluster (with --ray): auto or HOST:PORT")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    ap.add_argument("--list-policies", action="store_true", help="print the known policy names and exit")
    ap.add_argument("--list-scenarios", action="store_true",
                    help="print the built-in scenarios and the YAML scenarios of configs/, and exit")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="scenario overrides, e.g. lead_time=3")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error("--episodes must be >= 1")
    if args.periods is not None and args.periods < 1:
        ap.error("--periods must be >= 1")
    if args.max_fits is not None and args.max_fits < 0:
        ap.error("--max-fits must be >= 0")
    if args.seed < 0:
        ap.error("--seed must be >= 0")
    if args.chunk_skus is not None and args.chunk_skus < 1:
        ap.error("--chunk-skus must be >= 1")
    if args.num_cpus is not None and args.num_cpus < 1:
        ap.error("--num-cpus must be >= 1")
    if not args.ray and (args.num_cpus is not None or args.address is not None):
        ap.error("--num-cpus and --address need --ray")
    if args.num_cpus is not None and args.address is not None:
        ap.error("--num-cpus applies to a local Ray only; a cluster (--address) has its own CPUs")
    return args


def main(argv=None, prog: str = "evaluate.py") -> int:
    args = parse_args(argv, prog)
    from baselines import evaluation, report
    from baselines.cluster import RayError
    from envs import Problem, ScenarioError
    from envs.data import DataError
    from envs.scenario import parse_override

    try:
        from agents.evaluation import agent_policies, model_problem_args
    except ImportError:  # agents need torch / stable-baselines3
        agent_policies = model_problem_args = None

    if args.list_policies:
        print("\n".join(evaluation.known_policies()))
        return 0
    if args.list_scenarios:
        print(list_scenarios())
        return 0
    try:
        overrides = dict(parse_override(o) for o in args.overrides)
        if args.data:
            overrides["data.path"] = args.data
            if args.items:
                overrides["data.items"] = args.items
        elif args.items:
            raise ScenarioError("--items needs --data")
        if args.data and not args.scenario and not args.model:
            raise ScenarioError(NEEDS_SCENARIO)
        t0 = time.process_time()
        runs = []
        scenario = args.scenario or "demo"
        if args.model:
            if model_problem_args is None:
                raise ScenarioError("--model needs torch and stable-baselines3 installed")
            runs, scenario, overrides = model_problem_args(args.model, args.scenario, overrides)
            for run in runs:
                if run.incomplete():
                    print(f"note: {run.incomplete()}")
        problem = Problem(scenario, **overrides)
        if args.window != "test" and not problem.source.replays_windows:
            raise ScenarioError(f"--window {args.window} scores a window of demand data; scenario "
                                f"{problem.scenario.name!r} draws parametric demand (use --episodes / --seed)")
        policies = evaluation.make_policies(args.policies, problem)
        if args.max_fits is not None:
            for p in policies:
                if hasattr(p, "max_fits"):
                    p.max_fits = args.max_fits
        if runs:
            policies += agent_policies(runs, problem)
        map_chunks, chunk = None, args.chunk_skus
        if (args.ray or chunk) and not problem.source.replays_windows:
            print("note: a parametric scenario is evaluated whole in this process (one random stream for all SKUs)")
        if args.ray and problem.source.replays_windows:
            from baselines import cluster

            ray = cluster.connect(args.num_cpus, args.address)
            map_chunks = cluster.ray_map_chunks
            if chunk is None:  # about 4 chunks per CPU, so that the last tasks do not leave CPUs idle
                cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)
                chunk = min(max(-(-problem.n_skus // (4 * cpus)), 1), 20_000)
        record = [s.strip() for s in args.plot_skus.split(",") if s.strip()] if args.plot_skus else 3
        ev = evaluation.evaluate(problem, policies, episodes=args.episodes, periods=args.periods, seed=args.seed,
                                 progress=not args.no_progress and sys.stderr.isatty(), chunk_skus=chunk,
                                 map_chunks=map_chunks, record=record, window=args.window)
        print(report.header(ev))
        print(report.table(ev))
        if any(r.uses_future for r in ev.results):
            print("* sees the test window: a bound, not a competitor")
        print(f"({time.process_time() - t0:.1f} CPU-s)")
        for line in report.verdict_lines(ev):
            print(line)
        if args.out:
            command = ("invrl evaluate " if prog.startswith("invrl") else "python evaluate.py ") + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
            for path in report.write_outputs(ev, args.out, command):
                print(f"wrote {path}")
    except (ScenarioError, DataError, ValueError, OSError, RayError) as e:  # RunError, PresetError are ValueErrors
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def list_scenarios() -> str:
    """The built-in scenarios (Zipkin's lost-sales and backorder grid, demo) and the YAML files of configs/."""
    from envs.scenario import ZIPKIN_PENALTIES, builtin_names

    from . import CONFIGS

    names = builtin_names()
    pens = "|".join(map(str, ZIPKIN_PENALTIES))
    rows = [(f"lost-sales-L<1..10>-p<{pens}>", "Zipkin's lost-sales instances: Poisson demand mean 5, lead time L, "
             "h = 1, penalty p per unit short (e.g. lost-sales-L2-p9)"),
            (f"backorder-L<1..10>-b<{pens}>", "the same with backorders at cost b (e.g. backorder-L2-b9)"),
            ("demo", "4 synthetic daily SKUs (weekly seasonality, trend, promotions), lead time 3, order cost 5"),
            ("random-lead-demo", "Poisson(5), lost sales p = 9, lead time 1..4 periods at random, orders do not cross"),
            ("perishable-demo", "Poisson(5), lost sales p = 9, lead time 1, shelf life 3 (FIFO), outdating cost 4"),
            ("shared-capacity-demo", "20 Poisson SKUs (means 1..20), lead time 2, one warehouse of 600 units "
             "(lp_allocation)")]
    yamls = sorted(CONFIGS.glob("*.yaml")) if CONFIGS.is_dir() else []
    files = [(os.path.relpath(path), _first_comment(path)) for path in yamls]
    width = max(len(a) for a, _ in rows + files)
    lines = [f"built-in scenarios ({len(names)} names; --scenario NAME):"]
    lines += [f"  {a:<{width}}  {b}" for a, b in rows]
    if files:
        lines.append("scenario files (--scenario PATH; invrl init FILE writes one for your data):")
        lines += [f"  {a:<{width}}  {b}" for a, b in files]
    return "\n".join(lines)


def _first_comment(path) -> str:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("#"):
                return line.lstrip("# ").strip()
            if line.strip():
                break
    except OSError:
        pass
    return ""


if __name__ == "__main__":
    sys.exit(main())
