"""``invrl COMMAND ...``: one command for the lab, each subcommand the module that already does the work.

    invrl train      --algo ppo|dqn|hdpo --scenario NAME_OR_YAML ...    (invrl.train; = python train.py)
    invrl evaluate   --scenario NAME_OR_YAML [--model RUN_DIR] ...      (invrl.evaluate; = python evaluate.py)
    invrl sweep      --algo ppo --scenario NAME --seeds 0 1 ...         (agents.sweep; = python train.py sweep)
    invrl export     RUN_DIR --out policy.onnx [--check]                (agents.export)
    invrl recommend  --policy policy.onnx --state state.csv --out ...   (deploy.recommend)
    invrl data       FILE [read options]                                (envs.data: validate and summarise)
    invrl init       FILE [--out OUT.yaml] [read options]               (envs.data --init: a scenario YAML)

`invrl COMMAND --help` lists each command's options with their defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from invcore.cli import HelpFormatter


def _train(argv: list[str], prog: str) -> int:
    from invrl.train import main

    return main(argv, prog=prog)


def _evaluate(argv: list[str], prog: str) -> int:
    from invrl.evaluate import main

    return main(argv, prog=prog)


def _sweep(argv: list[str], prog: str) -> int:
    from agents.sweep import main

    return main(argv, prog=prog)


def _export(argv: list[str], prog: str) -> int:
    from agents.export import main

    return main(argv, prog=prog)


def _recommend(argv: list[str], prog: str) -> int:
    from deploy.recommend import main

    return main(argv, prog=prog)


def _data(argv: list[str], prog: str) -> int:
    from envs.data import main

    return main(argv, prog=prog)


def _init(argv: list[str], prog: str) -> int:
    """``invrl init FILE [--out OUT.yaml] [read options]`` = ``python -m envs.data FILE --init OUT.yaml ...``."""
    ap = argparse.ArgumentParser(
        prog=prog, formatter_class=HelpFormatter,
        description="Write a commented scenario YAML for a demand file: the read options it needed, the columns "
                    "it found, the train / validation / test windows and placeholder costs and lead time to edit. "
                    "Every read option of `invrl data` applies (invrl data --help).")
    ap.add_argument("file", help="demand file: .csv, .csv.gz, .parquet or .pq")
    ap.add_argument("--out", metavar="OUT.yaml",
                    help="the scenario file to write; default: the demand file's name with .yaml, in the current "
                         "folder (an existing file is not overwritten)")
    args, rest = ap.parse_known_args(argv)
    out = args.out or default_scenario_name(args.file)
    if "--init" in rest:
        ap.error("--init: use --out OUT.yaml (init always writes a scenario file)")
    from envs.data import main

    return main([args.file, *rest, "--init", out], prog=prog)


def default_scenario_name(file: str) -> str:
    """``demand.csv.gz`` -> ``demand.yaml`` (in the current folder)."""
    name = Path(file).name
    for suffix in (".gz", ".csv", ".parquet", ".pq"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return (name or "scenario") + ".yaml"


COMMANDS: dict[str, tuple[Callable[[list[str], str], int], str]] = {
    "train": (_train, "train a PPO, DQN-family or HDPO agent into a run folder"),
    "evaluate": (_evaluate, "compare agents and classical rules on the same traces; report.html"),
    "sweep": (_sweep, "seeds x settings of a training preset (Ray Tune)"),
    "export": (_export, "export a run (or a rule) as an ONNX policy file with a parity check"),
    "recommend": (_recommend, "today's orders from a policy file and a state table (numpy/onnxruntime)"),
    "data": (_data, "read, validate and summarise a demand file (and item table)"),
    "init": (_init, "write a commented scenario YAML for a demand file"),
}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="invrl", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reinforcement-learning lab for inventory replenishment.",
        epilog="commands:\n" + "\n".join(f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items())
        + "\n\n`invrl COMMAND --help` lists the command's options with their defaults.")
    ap.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    ap.add_argument("args", nargs=argparse.REMAINDER, help="the command's arguments")
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = parser()
    if not argv:
        ap.print_help()
        return 2
    args = ap.parse_args(argv[:1])  # the command; its own parser reads the rest (and its --help)
    run, _ = COMMANDS[args.command]
    try:
        return run(argv[1:], f"invrl {args.command}")
    except BrokenPipeError:  # the output went to a reader that stopped early (| head): no traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
