"""What ``evaluate.py --model RUN_DIR`` needs: the problem of the run(s) and the agents as policies."""

from __future__ import annotations

from typing import Any

from envs.problem import Problem

from .policy import AgentPolicy
from .runs import Run, RunError, load_run

TRAINING_ONLY = ("action.", "episode_length", "initial_state", "data.window", "data.bootstrap_block",
                 "reward_offset", "reward_scale")
"""Scenario overrides of a run that set up its training episodes, not the problem: evaluation leaves them out,
so the baselines give the same numbers with and without ``--model`` (the agent maps its actions with its own
run's action settings, whatever the evaluated scenario's are)."""


def _training_only(key: str) -> bool:
    return any(key == t or (t.endswith(".") and key.startswith(t)) for t in TRAINING_ONLY)


def model_problem_args(run_dirs: list[str], scenario: str | None,
                       overrides: dict[str, Any]) -> tuple[list[Run], str, dict[str, Any]]:
    """Load the runs; the scenario and its overrides come from the first run, less its training-only overrides
    (:data:`TRAINING_ONLY`: episode length, initial state, action settings, training window); the command
    line's overrides win. Data scenarios are evaluated on the test window (evaluate's ``window`` argument)."""
    runs = [load_run(d) for d in run_dirs]
    first = runs[0].config
    merged = {k: v for k, v in first.scenario_overrides.items() if not _training_only(k)}
    merged.update(overrides)
    return runs, scenario or first.scenario, merged


def agent_policies(runs: list[Run], problem: Problem) -> list[AgentPolicy]:
    out = []
    seen: dict[str, int] = {}
    for run in runs:
        name = f"{run.config.algorithm.lower()}:{run.name}"  # as trained: qrdqn, dqn, ppo, hdpo
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name += f"#{seen[name]}"
        agent = AgentPolicy.from_run(run, name=name)
        names = [f.name for f in problem.obs_fields]
        if names != agent.norm.obs_names:
            raise RunError(f"{run.path}: trained on observation {agent.norm.obs_names}, the evaluated scenario "
                           f"{problem.scenario.name!r} gives {names}")
        out.append(agent)
    return out
