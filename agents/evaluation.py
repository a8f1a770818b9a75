"""What ``evaluate.py --model RUN_DIR`` needs: the problem of the run(s) and the agents as policies."""

from __future__ import annotations

from typing import Any

from envs.problem import Problem

from .policy import AgentPolicy
from .runs import Run, RunError, load_run


def model_problem_args(run_dirs: list[str], scenario: str | None,
                       overrides: dict[str, Any]) -> tuple[list[Run], str, dict[str, Any]]:
    """Load the runs; the scenario and its overrides come from the first run (the command line's win).
    Data scenarios are evaluated on the test window (evaluate's ``window`` argument)."""
    runs = [load_run(d) for d in run_dirs]
    first = runs[0].config
    merged = dict(first.scenario_overrides)
    merged.update(overrides)
    return runs, scenario or first.scenario, merged


def agent_policies(runs: list[Run], problem: Problem) -> list[AgentPolicy]:
    out = []
    seen: dict[str, int] = {}
    for run in runs:
        name = f"{run.config.algo}:{run.name}"
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
