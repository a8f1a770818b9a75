"""One typed config per training run, the YAML presets it is resolved from, and the algorithm class it names.

Resolution order (later wins): the preset's ``default`` block -> the preset entry chosen for the scenario
(``--preset NAME``, else the scenario's name, else the first glob key that matches it, e.g.
``lost-sales-*``) -> command-line flags -> ``KEY=VALUE`` overrides. A ``KEY=VALUE`` override goes to

- the run config when KEY is a :class:`TrainConfig` field (``eval_freq=20000``),
- the algorithm's constructor when KEY starts with ``hp.`` (``hp.gamma=0.99``, ``hp.policy_kwargs.net_arch=[32]``),
- the scenario otherwise (``lead_time=3``, ``demand.mean=6``, ``action.n=21``).
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from invcore import yamlio

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs" / "presets"
ALGOS = ("ppo", "dqn", "hdpo")
ALGORITHM_CLASSES = ("PPO", "DQN", "QRDQN", "HDPO")
ALGO_ALGORITHMS = {"ppo": ("PPO",), "dqn": ("QRDQN", "DQN"), "hdpo": ("HDPO",)}
"""The classes each --algo can train; the first is the default."""


class PresetError(ValueError):
    """An unknown preset, a preset file that cannot be read, or a config value that cannot be used."""


def algorithm_class(name: str):
    """The SB3 / sb3-contrib class of a :attr:`TrainConfig.algorithm` name (imported on first use)."""
    if name == "PPO":
        from stable_baselines3 import PPO

        return PPO
    if name == "DQN":
        from stable_baselines3 import DQN

        return DQN
    if name == "QRDQN":
        from sb3_contrib import QRDQN

        return QRDQN
    if name == "HDPO":
        from .hdpo import HDPO

        return HDPO
    raise PresetError(f"unknown algorithm {name!r}")


@dataclass
class TrainConfig:
    """Everything that defines a training run (logged to TensorBoard and saved as ``config.yaml``)."""

    algo: str = "ppo"
    """Algorithm family asked for on the command line: ppo, dqn or hdpo."""
    algorithm: str = "PPO"
    """Class actually trained: PPO (SB3), DQN (SB3), QRDQN (sb3-contrib) or HDPO (agents.hdpo)."""
    scenario: str = "lost-sales-L2-p9"
    """Built-in scenario name or YAML path (absolute once resolved)."""
    scenario_overrides: dict[str, Any] = field(default_factory=dict)
    """Scenario fields replaced for training and evaluation (preset first, then the command line)."""
    preset: str = "default"
    """Preset entry the config was resolved from."""
    timesteps: int = 1_000_000
    """Environment steps (periods, summed over the parallel envs; HDPO: SKU-periods simulated by the twin)."""
    n_envs: int = 16
    """Parallel training environments."""
    vec_env: str = "vector"
    """vector (envs.sb3_vec.InventoryVecEnv: all envs in one kernel call, fastest), dummy (SB3 DummyVecEnv of
    single InventoryEnv's) or subproc (SubprocVecEnv, one process per env)."""
    seed: int = 0
    """Seed of the networks, the training envs and the exploration."""
    device: str = "auto"
    """auto (CUDA when available), cpu or cuda."""
    torch_threads: int = 1
    """torch.set_num_threads for training (1 is fastest for small networks on CPU)."""
    reward_offset: float | str = "auto"
    """reward = -(cost - offset) * scale per SKU; auto: offset = the SKU's cost per period under the tuned
    base-stock policy on the training demand."""
    reward_scale: float | str = "auto"
    """auto: 1 / (reward_scale_ratio * offset), so rewards are O(0.1) for every SKU volume."""
    reward_scale_ratio: float = 1.6
    """Used by reward_scale auto (1.6 gives -(cost - 6.3) / 10 on lost-sales-L2-p9, the measured setting)."""
    obs_clip: float = 6.0
    """Normalised observations are clipped to [-obs_clip, obs_clip]."""
    lr_schedule: str = "linear"
    """linear (learning rate decays to 0 at the end of training) or constant."""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the algorithm's constructor (learning_rate is the initial rate)."""
    eval_freq: int = 100_000
    """Evaluate on the fixed validation traces every this many steps (0: only at the end)."""
    eval_episodes: int = 32
    """Validation episodes (parametric scenarios; data scenarios replay every SKU's validation window)."""
    eval_periods: int = 1000
    """Periods per validation episode after 100 warm-up periods (stationary parametric scenarios)."""
    checkpoint_freq: int = 100_000
    """Write a resumable checkpoint every this many steps (0: never)."""
    progress: bool = True
    """Show a progress bar (tqdm) on a terminal."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise PresetError(f"unknown config field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**copy.deepcopy(d))

    def check(self) -> None:
        if self.algo not in ALGOS:
            raise PresetError(f"algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.algorithm not in ALGORITHM_CLASSES:
            raise PresetError(f"algorithm must be one of {', '.join(ALGORITHM_CLASSES)}, got {self.algorithm!r}")
        if self.algorithm not in ALGO_ALGORITHMS[self.algo]:
            raise PresetError(f"algo {self.algo!r} cannot train algorithm {self.algorithm!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise PresetError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.vec_env not in ("vector", "dummy", "subproc"):
            raise PresetError(f"vec_env must be vector, dummy or subproc, got {self.vec_env!r}")
        if self.lr_schedule not in ("linear", "constant"):
            raise PresetError(f"lr_schedule must be linear or constant, got {self.lr_schedule!r}")
        for name in ("timesteps", "n_envs", "eval_episodes", "eval_periods", "torch_threads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise PresetError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("eval_freq", "checkpoint_freq"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise PresetError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        for name in ("reward_offset", "reward_scale"):
            v = getattr(self, name)
            if v != "auto" and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise PresetError(f"{name} must be a finite number or 'auto', got {v!r}")
        if self.reward_scale != "auto" and self.reward_scale <= 0:
            raise PresetError(f"reward_scale must be > 0 (or 'auto'), got {self.reward_scale!r}")
        if self.n_envs > MAX_N_ENVS:
            raise PresetError(f"n_envs must be at most {MAX_N_ENVS:,} (each env keeps its own state), got "
                              f"{self.n_envs:,}")
        check_hyperparams(self.algorithm, self.hyperparams)
        for name in ("reward_scale_ratio", "obs_clip"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise PresetError(f"{name} must be a finite number > 0, got {v!r}")

    def markdown(self) -> str:
        """The config as a Markdown table (TensorBoard's text plugin renders it)."""
        rows = ["| field | value |", "|---|---|"]
        for k, v in self.to_dict().items():
            if isinstance(v, dict):
                for k2, v2 in _flatten(v).items():
                    rows.append(f"| {k}.{k2} | `{v2!r}` |")
            else:
                rows.append(f"| {k} | `{v!r}` |")
        return "\n".join(rows)


MAX_N_ENVS = 10_000
MAX_LAYER = 4096
MAX_LAYERS = 16
_HP_FLOAT = ("gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "tau", "learning_rate", "clip_range",
             "exploration_fraction", "exploration_initial_eps", "exploration_final_eps", "target_kl")
_HP_INT = ("n_steps", "batch_size", "n_epochs", "buffer_size", "learning_starts", "gradient_steps",
           "target_update_interval")


def check_hyperparams(algorithm: str, hp: dict[str, Any]) -> None:
    """The SB3 hyperparameters (``hp.*``) that SB3 takes unchecked: numbers where numbers go (finite; counts
    integers), network sizes bounded (:data:`MAX_LAYER` units, :data:`MAX_LAYERS` layers); SB3 checks the rest
    when the model is built. HDPO checks its own (:class:`agents.hdpo.HDPOSettings`)."""
    if algorithm == "HDPO":
        return
    for k in _HP_FLOAT:
        v = hp.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            raise PresetError(f"hp.{k} must be a finite number, got {str(v)[:60]!r}")
    for k in _HP_INT:
        v = hp.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < (0 if k == "learning_starts" else 1)):
            raise PresetError(f"hp.{k} must be an integer >= {0 if k == 'learning_starts' else 1}, got {str(v)[:60]!r}")
    pk = hp.get("policy_kwargs") or {}
    if not isinstance(pk, dict):
        raise PresetError(f"hp.policy_kwargs must be a mapping, got {str(pk)[:60]!r}")
    arch = pk.get("net_arch")
    if arch is not None:
        layers = [arch] if isinstance(arch, list) else list(arch.values()) if isinstance(arch, dict) else None
        if layers is None or any(not isinstance(x, list) or len(x) > MAX_LAYERS or any(
                isinstance(u, bool) or not isinstance(u, int) or not 1 <= u <= MAX_LAYER for u in x) for x in layers):
            raise PresetError(f"hp.policy_kwargs.net_arch must list up to {MAX_LAYERS} layer sizes in 1..{MAX_LAYER} "
                              f"(or pi/vf lists), got {str(arch)[:80]}")
    nq = pk.get("n_quantiles")
    if nq is not None and (isinstance(nq, bool) or not isinstance(nq, int) or not 1 <= nq <= 1000):
        raise PresetError(f"hp.policy_kwargs.n_quantiles must be an integer in 1..1000, got {str(nq)[:60]!r}")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge (extra wins); scenario override keys are merged as flat dotted keys."""
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def preset_file(algo: str) -> Path:
    return PRESET_DIR / f"{algo}.yaml"


def load_presets(algo: str) -> dict[str, dict[str, Any]]:
    path = preset_file(algo)
    try:
        raw = yamlio.load_file(path)
    except OSError as e:
        raise PresetError(f"cannot read preset file {path}: {e.strerror or e}") from None
    except yamlio.YamlLimitError as e:
        raise PresetError(str(e)) from None
    except yaml.YAMLError as e:
        raise PresetError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict) or "default" not in raw:
        raise PresetError(f"{path}: expected a mapping of preset names with a 'default' entry")
    return raw


def load_preset(algo: str, name: str | None, scenario_name: str) -> tuple[str, dict[str, Any]]:
    """(entry name, merged settings) of the preset for `algo`: `name` if given, else the scenario's own entry,
    else the first glob key matching the scenario name, else ``default``."""
    presets = load_presets(algo)
    if name is not None:
        if name not in presets:
            raise PresetError(f"unknown preset {name!r} for {algo}; known presets: {', '.join(presets)}")
        key = name
    elif scenario_name in presets:
        key = scenario_name
    else:
        key = next((k for k in presets if k != "default" and fnmatch.fnmatchcase(scenario_name, k)), "default")
    entry = presets[key] or {}
    if not isinstance(entry, dict):
        raise PresetError(f"{preset_file(algo)}: preset {key!r} must be a mapping")
    merged = _merge(presets["default"] or {}, entry) if key != "default" else copy.deepcopy(entry)
    return key, merged


def _set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise PresetError(f"override {key}: {p!r} is not a mapping")
    d[parts[-1]] = value


def resolve_config(algo: str, scenario: str, scenario_name: str, preset: str | None = None,
                   flags: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The run config: preset default -> preset entry -> flags (TrainConfig fields) -> KEY=VALUE overrides."""
    if algo not in ALGOS:
        raise PresetError(f"--algo must be one of {', '.join(ALGOS)}, got {algo!r}")
    key, settings = load_preset(algo, preset, scenario_name)
    settings = dict(settings)
    settings.setdefault("algorithm", ALGO_ALGORITHMS[algo][0])
    settings["scenario_overrides"] = dict(settings.pop("scenario", None) or {})
    settings.update({"algo": algo, "scenario": scenario, "preset": key})
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    for k, v in (flags or {}).items():
        if v is not None:
            settings[k] = v
    for k, v in (overrides or {}).items():
        if k.startswith("hp."):
            settings.setdefault("hyperparams", {})
            _set_dotted(settings["hyperparams"], k[3:], v)
        elif k in known and k not in ("scenario_overrides", "hyperparams", "scenario", "algo", "preset"):
            settings[k] = v
        else:
            settings["scenario_overrides"][k] = v
    cfg = TrainConfig.from_dict(settings)
    cfg.check()
    return cfg
