"""Run folders: atomic writes, and reading a run back (config, normalisation, model) without repeating flags.

Layout of a run folder::

    config.yaml         the resolved TrainConfig and the resolved scenario (every field)
    command.txt         the command line that started the run (and any --resume lines)
    versions.json       python, numpy, torch, stable-baselines3, sb3-contrib, gymnasium versions; seed; device
    normalization.json  the fixed observation shift/scale/clip and per-SKU reward offset/scale
    model.zip           the final model (SB3 format; HDPO: model.npz, weights only, see agents.hdpo)
    best_model.zip      the model with the lowest validation cost seen at a periodic evaluation (.npz)
    checkpoint/         model.zip (+ replay_buffer.pkl for DQN; HDPO: model.npz with Adam's state) and
                        state.json: what --resume continues from
    eval.csv            every periodic evaluation (step, avg_cost, fill_rate, gaps, ...)
    tb/                 TensorBoard event files
"""

from __future__ import annotations

import io
import json
import os
import platform
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from invcore import yamlio
from invcore.atomic import atomic_write_bytes, atomic_write_text

from .config import PresetError, TrainConfig, algorithm_class
from .normalization import Normalization


class RunError(ValueError):
    """A run folder that is missing, incomplete or corrupt."""


def atomic_save_model(model, path: str | Path) -> None:
    """model.save to memory, then an atomic write (a killed process never leaves half a zip)."""
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(path, buf.getvalue())


def atomic_save_replay_buffer(model, path: str | Path) -> None:
    buf = io.BytesIO()
    model.save_replay_buffer(buf)
    atomic_write_bytes(path, buf.getvalue())


def versions() -> dict[str, str]:
    import gymnasium
    import numba
    import stable_baselines3
    import torch

    out = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
           "stable_baselines3": stable_baselines3.__version__, "gymnasium": gymnasium.__version__,
           "numba": numba.__version__, "platform": platform.platform()}
    try:
        import sb3_contrib

        out["sb3_contrib"] = sb3_contrib.__version__
    except ImportError:
        pass
    return out


def write_run_files(run_dir: Path, cfg: TrainConfig, scenario_dict: dict[str, Any], norm: Normalization,
                    command: str, device: str) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(
        {"config": cfg.to_dict(), "resolved_scenario": scenario_dict}, sort_keys=False))
    atomic_write_text(run_dir / "normalization.json", json.dumps(norm.to_dict(), indent=1))
    atomic_write_text(run_dir / "versions.json", json.dumps({**versions(), "seed": cfg.seed, "device": device},
                                                            indent=1))
    append_command(run_dir, command)


def append_command(run_dir: Path, command: str) -> None:
    path = run_dir / "command.txt"
    old = path.read_text() if path.exists() else ""
    atomic_write_text(path, old + command + "\n")


@dataclass
class Run:
    """A run folder read back: config, normalisation and the path of the model to load."""

    path: Path
    config: TrainConfig
    normalization: Normalization
    model_path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def incomplete(self) -> str | None:
        """None when training finished (the final model was written), else one line saying where it stopped
        and which model is evaluated instead."""
        ext = "npz" if self.config.algorithm == "HDPO" else "zip"
        if (self.path / f"model.{ext}").is_file():
            return None
        step = None
        try:
            step = int(json.loads((self.path / "checkpoint" / "state.json").read_text())["num_timesteps"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        where = f"stopped at step {step:,} of {self.config.timesteps:,}" if step is not None else \
            "stopped before its first checkpoint"
        return (f"run {self.path} is incomplete: training {where} (no final model.{ext}); evaluating "
                f"{self.model_path.relative_to(self.path)}; python train.py --resume {self.path} finishes it")

    def problem(self):
        from envs import Problem

        return Problem(self.config.scenario, **self.config.scenario_overrides)

    def load_model(self, device: str = "cpu"):
        if self.config.algorithm == "HDPO":  # npz weights, the network rebuilt from the run's config
            from .hdpo import HDPO

            return HDPO.load(self.model_path, self.config, self.normalization, device)
        cls = algorithm_class(self.config.algorithm)
        try:
            return cls.load(str(self.model_path), device=device)
        except (zipfile.BadZipFile, ValueError, KeyError, RuntimeError, EOFError, OSError) as e:
            raise RunError(f"{self.model_path}: cannot load the model ({type(e).__name__}: {e})") from None


def read_config(run_dir: Path) -> TrainConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise RunError(f"{run_dir}: not a run folder (no config.yaml)")
    try:
        raw = yamlio.load_file(path)
        cfg = TrainConfig.from_dict(raw["config"])
        cfg.check()
    except yamlio.YamlLimitError as e:
        raise RunError(f"{path}: corrupt run config ({e})") from None
    except (yaml.YAMLError, KeyError, TypeError, PresetError) as e:
        raise RunError(f"{path}: corrupt run config ({type(e).__name__}: {e})") from None
    return cfg


def load_run(run_dir: str | Path, which: str = "auto") -> Run:
    """Read a run folder. `which`: model, best (best_model.zip), checkpoint, or auto (the best model if there
    is one, else the final model, else the last checkpoint)."""
    path = Path(run_dir)
    if not path.exists():
        raise RunError(f"run folder {path} does not exist")
    if not path.is_dir():
        raise RunError(f"{path} is not a folder (expected a run folder written by train.py)")
    cfg = read_config(path)
    try:
        norm = Normalization.from_dict(json.loads((path / "normalization.json").read_text()))
    except FileNotFoundError:
        raise RunError(f"{path}: incomplete run folder (no normalization.json)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise RunError(f"{path}/normalization.json: corrupt ({type(e).__name__}: {e})") from None
    ext = "npz" if cfg.algorithm == "HDPO" else "zip"  # HDPO: numpy archives (no pickle), SB3: zip
    candidates = {"best": [path / f"best_model.{ext}"], "model": [path / f"model.{ext}"],
                  "checkpoint": [path / "checkpoint" / f"model.{ext}"]}
    candidates["auto"] = candidates["best"] + candidates["model"] + candidates["checkpoint"]
    if which not in candidates:
        raise RunError(f"which must be one of {', '.join(candidates)}, got {which!r}")
    for p in candidates[which]:
        if p.is_file():
            if not zipfile.is_zipfile(p):  # an npz is a zip archive too
                raise RunError(f"{p}: corrupt model file (not a zip archive)")
            return Run(path, cfg, norm, p)
    raise RunError(f"{path}: no model to load ({', '.join(str(p.relative_to(path)) for p in candidates[which])} "
                   "missing)")


# ------------------------------------------------------------------------------------------------ run lock
LOCK_FILE = ".lock"


class RunLock:
    """An exclusive lock on a run folder for the life of one training process (``with RunLock(run_dir):``).

    ``fcntl.flock`` on ``RUN_DIR/.lock`` (holding the owner's pid and start time): the kernel releases it when the
    process ends, however it ends (kill -9 included), so a stale lock never blocks. A second training or a
    ``--resume`` into a folder that is held fails at once with a :class:`RunError` naming the holder. Where
    ``fcntl`` does not exist (Windows) there is no lock."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover (Windows)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunError(f"{self.path.parent} is in use by {holder}; wait for it to finish or use another "
                           "--run-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"process {os.getpid()} (since {time.strftime('%Y-%m-%d %H:%M:%S')})".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (a later lock reuses it)
            self._fd = None


def read_checkpoint(run_dir: Path, model_file: Path) -> tuple[dict, float, Normalization]:
    """The checkpoint's state.json, its best validation cost and the run's normalisation, which a ``--resume``
    continues with; a RunError names what is
    missing or corrupt (the checkpoint's model file `model_file` and ``checkpoint/state.json`` must both exist)."""
    state_path = run_dir / "checkpoint" / "state.json"
    if not model_file.is_file() or not state_path.is_file():
        raise RunError(f"{run_dir}: no checkpoint to resume from (checkpoint/{model_file.name} and state.json)")
    try:
        state = json.loads(state_path.read_text())
        best_cost = float(state.get("best_cost", float("inf")))
        norm = Normalization.from_dict(json.loads((run_dir / "normalization.json").read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise RunError(f"{run_dir}: corrupt checkpoint state ({type(e).__name__}: {e})") from None
    return state, best_cost, norm


def has_checkpoint(run_dir: str | Path) -> bool:
    """The run reached its first checkpoint (``checkpoint/state.json``): ``--resume`` continues from it."""
    return (Path(run_dir) / "checkpoint" / "state.json").is_file()


FAILED_START_FILES = ("config.yaml", "normalization.json", "versions.json", "eval.csv", "model.zip", "model.npz",
                      "best_model.zip", "best_model.npz", "exact_cost.json")
"""What a start that never reached a checkpoint may have left (removed before it is started again)."""


def clear_failed_start(run_dir: str | Path) -> list[str]:
    """Remove what a start that never reached its first checkpoint left in `run_dir` (its config, eval rows,
    best model, TensorBoard events), so that the folder can be started again; returns the names removed.
    Refuses (RunError) a folder with a checkpoint: that run is resumed, never cleared."""
    import shutil

    run_dir = Path(run_dir)
    if has_checkpoint(run_dir):
        raise RunError(f"{run_dir} holds a checkpoint; use --resume {run_dir}")
    removed = []
    for name in FAILED_START_FILES:
        p = run_dir / name
        if p.is_file():
            p.unlink()
            removed.append(name)
    for name in ("tb", "checkpoint"):
        p = run_dir / name
        if p.is_dir():
            shutil.rmtree(p)
            removed.append(name + "/")
    return removed
