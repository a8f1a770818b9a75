"""Ray: connecting to a local or running cluster, and evaluation's SKU chunks as Ray tasks. Imports ray only
inside its functions (``pip install -e ".[ray]"``); everything else in the project works without it.

What is shipped (docs/scale.md): the whole :class:`envs.problem.Problem` (the demand matrix, item table,
windows, calendar) and the unfitted policies are put into the object store once (``ray.put``); each task gets
the two references and its :class:`baselines.evaluation.ChunkTask` (a few integers). Numpy arrays are read
from the object store without a copy (zero-copy, read-only), so a worker copies only its chunk's rows
(``Problem.subset``) and builds only its chunk's episodes: its memory grows with the chunk, not the catalogue
(the SKU names, a Python object array, are the one part deserialised whole in every task).
"""

from __future__ import annotations

import os
from pathlib import Path

from envs.problem import Problem

from .base import Policy
from .evaluation import ChunkResult, ChunkTask, evaluate_chunk

ROOT = Path(__file__).resolve().parent.parent
"""The project's source folder: local workers import the packages from here (the same code as the driver)."""


class RayError(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayError('--ray needs Ray: pip install -e ".[ray]"') from None
    return ray


def connect(num_cpus: int | None = None, address: str | None = None):
    """``ray.init`` once per process: a local Ray with `num_cpus` CPUs (default: all), or the running cluster
    at `address` ("auto", "HOST:6379" or "ray://HOST:10001"; the nodes need the project installed). Returns
    the ray module."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    if address is not None and num_cpus is not None:
        raise RayError("--num-cpus applies to a local Ray only; a cluster (--address) has its own CPUs")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                     runtime_env={"env_vars": env})
        else:
            ray.init(address=address, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise RayError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {e}") from None
    return ray


def _chunk(problem: Problem, policies: list[Policy], task: ChunkTask) -> ChunkResult:
    return evaluate_chunk(problem, policies, task)


def ray_map_chunks(problem: Problem, policies: list[Policy], tasks: list[ChunkTask]) -> list[ChunkResult]:
    """:func:`baselines.evaluation.evaluate_chunk` of every task as a Ray task (one CPU each), the problem and
    the policies put into the object store once; results in the order of the tasks. Call :func:`connect`
    first (or let it start a local Ray with every CPU)."""
    ray = connect()
    remote = ray.remote(num_cpus=1, max_retries=0)(_chunk)
    problem_ref, policies_ref = ray.put(problem), ray.put(policies)
    try:
        return ray.get([remote.remote(problem_ref, policies_ref, t) for t in tasks])
    except ray.exceptions.RayTaskError as e:
        raise e.as_instanceof_cause() from None
