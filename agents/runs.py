"""Run folders: atomic writes, and reading a run back (config, normalisation, model) without repeating flags.

Layout of a run folder::

    config.yaml         the resolved TrainConfig and the resolved scenario (every field)
    command.txt         the command line that started the run (and any --resume lines)
    versions.json       python, numpy, torch, stable-baselines3, sb3-contrib, gymnasium versions; seed; device
    normalization.json  the fixed observation shift/scale/clip and per-SKU reward offset/scale
    model.npz           the final policy: weights and spaces without pickle (what evaluate and export load)
    model.zip           the same model in SB3's format (PPO, DQN, QR-DQN; pickled: only --resume reads zips)
    best_model.npz      the policy with the lowest validation cost seen at a periodic evaluation (+ .zip)
    checkpoint/         model.npz, model.zip (+ replay_buffer.pkl for DQN; HDPO: model.npz with Adam's state)
                        and state.json: what --resume continues from
    eval.csv            every periodic evaluation (step, avg_cost, fill_rate, gaps, ...)
    tb/                 TensorBoard event files

Trust: ``evaluate.py --model`` and ``python -m agents.export`` read only the ``.npz`` files (``np.load`` with
``allow_pickle=False``; the network is rebuilt from the JSON in the file, with classes taken from a fixed list),
so a planted ``model.zip`` runs nothing there. ``train.py --resume`` loads SB3's zips (pickles: the optimiser
state, the replay buffer): resume only run folders you trust. A run folder written before the ``.npz`` files
existed is converted once, deliberately, by ``python -m agents.convert RUN_DIR --trust``.
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
    """model.save to memory, then an atomic write (a killed process never leaves half a zip); then the
    pickle-free weights beside it (``model.zip`` -> ``model.npz``, :func:`save_policy_weights`)."""
    buf = io.BytesIO()
    model.save(buf)
    atomic_write_bytes(path, buf.getvalue())
    save_policy_weights(model, Path(path).with_suffix(".npz"))


# ------------------------------------------------------------------------------- pickle-free weights (npz)
WEIGHTS_FORMAT = "invrl-sb3-policy"
WEIGHTS_VERSION = 1
_ACTIVATIONS = ("Tanh", "ReLU", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Sigmoid", "Identity")
_OPTIMIZERS = ("Adam", "AdamW", "RMSprop", "SGD")
_EXTRACTORS = ("FlattenExtractor",)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An npz archive of plain arrays (the one writer of the run folder's weights files, SB3 and HDPO)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def read_npz(path: str | Path, what: str = "weights") -> dict[str, np.ndarray]:
    """The arrays of an npz weights file, read without pickle (the one reader; a RunError names the file)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        msg = " ".join(str(e).split())[:200]
        raise RunError(f"{path}: cannot load the {what} ({type(e).__name__}: {msg})") from None


def _space_json(space) -> dict[str, Any]:
    name = type(space).__name__
    if name == "Box":
        return {"type": "Box", "low": space.low.tolist(), "high": space.high.tolist(), "shape": list(space.shape),
                "dtype": str(space.dtype)}
    if name == "Discrete":
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    raise RunError(f"cannot save a policy with a {name} space without pickle (Box, Discrete)")


def _space_from(d: dict[str, Any]):
    from gymnasium import spaces

    if d["type"] == "Box":
        return spaces.Box(np.array(d["low"], dtype=d["dtype"]), np.array(d["high"], dtype=d["dtype"]),
                          shape=tuple(d["shape"]), dtype=np.dtype(d["dtype"]))
    if d["type"] == "Discrete":
        return spaces.Discrete(int(d["n"]), start=int(d.get("start", 0)))
    raise ValueError(f"space type {d['type']!r}")


def _class_name(cls, allowed: tuple[str, ...], what: str) -> str:
    if cls.__name__ not in allowed:
        raise RunError(f"cannot save a policy with {what} {cls.__name__} without pickle ({', '.join(allowed)})")
    return cls.__name__


def _json_kwargs(d: dict | None, what: str) -> dict:
    d = dict(d or {})
    try:
        json.dumps(d)
    except TypeError:
        raise RunError(f"cannot save the policy's {what} {d} without pickle (plain values only)") from None
    return d


def policy_weights_arrays(model) -> dict[str, np.ndarray]:
    """An SB3 model's policy as plain arrays: ``policy/<name>`` per tensor of its state dict, and ``meta``, the
    JSON (as uint8) of the algorithm, the step count and the policy's constructor arguments (spaces as lists,
    classes by name)."""
    policy = model.policy
    c = policy._get_constructor_parameters()
    kwargs: dict[str, Any] = {}
    for k, v in c.items():
        if k == "lr_schedule":
            continue
        if k in ("observation_space", "action_space"):
            kwargs[k] = _space_json(v)
        elif k == "activation_fn":
            kwargs[k] = _class_name(v, _ACTIVATIONS, "activation")
        elif k == "optimizer_class":
            kwargs[k] = _class_name(v, _OPTIMIZERS, "optimizer")
        elif k == "features_extractor_class":
            kwargs[k] = _class_name(v, _EXTRACTORS, "features extractor")
        elif k in ("optimizer_kwargs", "features_extractor_kwargs", "net_arch"):
            kwargs[k] = _json_kwargs(v, k) if isinstance(v, dict) or v is None else list(v)
        else:
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise RunError(f"cannot save the policy argument {k}={v!r} without pickle")
            kwargs[k] = v
    meta = {"format": WEIGHTS_FORMAT, "version": WEIGHTS_VERSION, "algorithm": type(model).__name__,
            "policy_class": type(policy).__name__, "num_timesteps": int(model.num_timesteps), "kwargs": kwargs}
    arrays = {f"policy/{k}": v.detach().cpu().numpy() for k, v in policy.state_dict().items()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays


def save_policy_weights(model, path: str | Path) -> None:
    """Write an SB3 model's policy without pickle (:func:`policy_weights_arrays`), atomically."""
    atomic_write_bytes(path, npz_bytes(policy_weights_arrays(model)))


class SavedPolicy:
    """An SB3 model's policy rebuilt from its npz weights file: what evaluation and export need of the model
    (``policy``, ``predict``, the spaces, ``num_timesteps``, ``algorithm``), without SB3's pickled zip."""

    def __init__(self, algorithm: str, policy, num_timesteps: int):
        self.algorithm, self.policy, self.num_timesteps = algorithm, policy, num_timesteps
        self.observation_space, self.action_space = policy.observation_space, policy.action_space

    def predict(self, obs, deterministic: bool = True):
        return self.policy.predict(obs, deterministic=deterministic)


def load_policy_weights(path: str | Path, algorithm: str, device: str = "cpu") -> SavedPolicy:
    """The policy of an npz weights file (:func:`save_policy_weights`), rebuilt as the run's `algorithm`'s
    MlpPolicy; nothing is unpickled (a RunError names a file that does not fit)."""
    import torch

    arrays = read_npz(path, "policy weights")
    try:
        meta = json.loads(arrays["meta"].tobytes().decode())
        if meta.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}, expected {WEIGHTS_FORMAT!r}")
        if meta["algorithm"] != algorithm:
            raise ValueError(f"weights of a {meta['algorithm']} model, the run's config says {algorithm}")
        cls = algorithm_class(algorithm).policy_aliases["MlpPolicy"]
        if meta["policy_class"] != cls.__name__:
            raise ValueError(f"policy class {meta['policy_class']!r}, expected {cls.__name__}")
        kw = dict(meta["kwargs"])
        kw["observation_space"] = _space_from(kw["observation_space"])
        kw["action_space"] = _space_from(kw["action_space"])
        if "activation_fn" in kw:
            kw["activation_fn"] = getattr(torch.nn, _checked(kw["activation_fn"], _ACTIVATIONS))
        if "optimizer_class" in kw:
            kw["optimizer_class"] = getattr(torch.optim, _checked(kw["optimizer_class"], _OPTIMIZERS))
        if "features_extractor_class" in kw:
            from stable_baselines3.common import torch_layers

            kw["features_extractor_class"] = getattr(torch_layers,
                                                     _checked(kw["features_extractor_class"], _EXTRACTORS))
        policy = cls(lr_schedule=lambda _: 0.0, **kw)
        state = {k[7:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("policy/")}
        policy.load_state_dict(state)
    except RunError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, UnicodeDecodeError, AssertionError) as e:
        msg = " ".join(str(e).split())[:200]
        raise RunError(f"{path}: cannot rebuild the policy from its weights file ({type(e).__name__}: {msg})") \
            from None
    policy.set_training_mode(False)
    return SavedPolicy(algorithm, policy.to(device), int(meta.get("num_timesteps", 0)))


def _checked(name: str, allowed: tuple[str, ...]) -> str:
    if name not in allowed:
        raise ValueError(f"class {name!r} is not one of {', '.join(allowed)}")
    return name


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
        ext = "npz"
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
        return load_policy_weights(self.model_path, self.config.algorithm, device)


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
        raise RunError(f"{path}: corrupt run config ({type(e).__name__}: {' '.join(str(e).split())[:300]})") \
            from None
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
    ext = "npz"  # numpy archives, read without pickle (SB3's zips are only for --resume)
    candidates = {"best": [path / f"best_model.{ext}"], "model": [path / f"model.{ext}"],
                  "checkpoint": [path / "checkpoint" / f"model.{ext}"]}
    candidates["auto"] = candidates["best"] + candidates["model"] + candidates["checkpoint"]
    if which not in candidates:
        raise RunError(f"which must be one of {', '.join(candidates)}, got {which!r}")
    for p in candidates[which]:
        if p.is_file():
            if not zipfile.is_zipfile(p):  # an npz is a zip archive
                raise RunError(f"{p}: corrupt model file (not a zip archive)")
            return Run(path, cfg, norm, p)
    if cfg.algorithm != "HDPO" and any(p.with_suffix(".zip").is_file() for p in candidates[which]):
        raise RunError(f"{path}: written before runs kept pickle-free weights (only SB3 zips, which are pickles); "
                       f"if you trust this folder convert it once: python -m agents.convert {path} --trust")
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
        remove_stale_temp_files(self.path.parent)  # the holder is the only writer: any temp file is a dead one's
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock; the file stays (a later lock reuses it)
            self._fd = None


def remove_stale_temp_files(run_dir: Path) -> list[str]:
    """Remove the temporary files of atomic writes (``.NAME.*.tmp``, :mod:`invcore.atomic`) that a killed
    process left in a run folder and its checkpoint folder; returns their names."""
    removed = []
    for folder in (run_dir, run_dir / "checkpoint"):
        for p in folder.glob(".*.tmp") if folder.is_dir() else ():
            try:
                p.unlink()
                removed.append(str(p.relative_to(run_dir)))
            except OSError:
                pass
    return removed


def trim_eval_csv(run_dir: Path, step: int) -> int:
    """Drop the eval.csv rows past `step` (evaluations after the checkpoint a ``--resume`` continues from: the
    resumed run evaluates those steps again); returns the number of rows dropped."""
    path = run_dir / "eval.csv"
    if not path.is_file():
        return 0
    lines = path.read_text().splitlines(keepends=True)
    keep = lines[:1]
    for line in lines[1:]:
        try:
            s = int(float(line.split(",", 1)[0]))
        except ValueError:
            continue  # a torn or foreign line
        if s <= step:
            keep.append(line)
    dropped = len(lines) - len(keep)
    if dropped:
        atomic_write_text(path, "".join(keep))
    return dropped


def read_checkpoint(run_dir: Path, model_file: Path) -> tuple[dict, float, Normalization]:
    """The checkpoint's state.json, its best validation cost and the run's normalisation, which a ``--resume``
    continues with (the eval.csv rows past the checkpoint are dropped: they are evaluated again); a RunError
    names what is missing or corrupt (the checkpoint's model file `model_file` and ``checkpoint/state.json``
    must both exist)."""
    state_path = run_dir / "checkpoint" / "state.json"
    if not model_file.is_file() or not state_path.is_file():
        raise RunError(f"{run_dir}: no checkpoint to resume from (checkpoint/{model_file.name} and state.json)")
    try:
        state = json.loads(state_path.read_text())
        best_cost = float(state.get("best_cost", float("inf")))
        norm = Normalization.from_dict(json.loads((run_dir / "normalization.json").read_text()))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise RunError(f"{run_dir}: corrupt checkpoint state ({type(e).__name__}: {e})") from None
    try:
        trim_eval_csv(run_dir, int(state["num_timesteps"]))
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{state_path}: corrupt checkpoint state ({type(e).__name__}: {e})") from None
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


# ------------------------------------------------------------------------------- convert (old run folders)
CONVERTIBLE = ("model.zip", "best_model.zip", "checkpoint/model.zip")


def convert_run(run_dir: str | Path, log=print) -> list[str]:
    """Write the pickle-free ``.npz`` beside each SB3 zip of a run folder that lacks one (loading the zips
    unpickles them: call this only on folders you trust). Returns the files written."""
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder {path} does not exist")
    cfg = read_config(path)
    if cfg.algorithm == "HDPO":
        log(f"{path}: an HDPO run keeps npz weights already; nothing to convert")
        return []
    cls = algorithm_class(cfg.algorithm)
    written = []
    for name in CONVERTIBLE:
        z = path / name
        if not z.is_file() or z.with_suffix(".npz").is_file():
            continue
        try:
            model = cls.load(str(z), device="cpu")
        except Exception as e:  # a corrupt zip raises many kinds of errors
            raise RunError(f"{z}: cannot load the SB3 model ({type(e).__name__}: {' '.join(str(e).split())[:200]})") \
                from None
        save_policy_weights(model, z.with_suffix(".npz"))
        written.append(str(z.with_suffix(".npz").relative_to(path)))
    log(f"{path}: wrote {', '.join(written)}" if written else f"{path}: nothing to convert (every zip has its .npz)")
    return written

