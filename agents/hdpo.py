"""Hindsight differentiable policy optimisation (HDPO; Alvo, Russo and Kanoria; "direct backprop" in Madeka
et al.): the policy network's parameters get the pathwise gradient of the total cost of batches of demand
traces, simulated by the torch twin of the kernel (:mod:`agents.twin`).

One global network over SKUs acts on the env's own observation (``Problem.obs_fields``: quantities divided by
each SKU's demand scale), normalised by the run's fixed map (:mod:`agents.normalization`), and outputs the
continuous action of the scenario's ``action.mode: continuous`` (a in [-1, 1] -> order
``rint((a + 1) / 2 * (n - 1) * step * scale)``), so evaluation (:class:`agents.policy.AgentPolicy`), the exact
cost, the ONNX export and ``deploy.recommend`` take it as they take PPO. Two heads:

* ``order``: a = tanh(MLP(x)), the order itself (what the HDPO authors use);
* ``sS``: the MLP outputs levels s and S (in demand scales, state-dependent); order S - IP when IP <= s, else 0
  (an (s, S) rule whose levels the network sets), then mapped to the same continuous action.

What gets a gradient (``hp.`` settings, :class:`HDPOSettings`): the rounding of the request to units
(``rounding: ste`` -- forward rint, backward identity -- or ``none``), the order rules (``relax: ste`` or
``none``, :func:`agents.twin.constrain`), and the fixed order cost K [q > 0] through a smoothed indicator
(``sigmoid((s - IP) / tau)`` for the sS head, ``sigmoid((q - 1/2) / (tau scale))`` for the order head) with a
temperature annealed geometrically from ``tau_start`` to ``tau_end`` (demand scales), used straight-through
(``fixed_cost: ste``: exact cost forward) or in place of the indicator (``fixed_cost: soft``).

The weights are saved without pickle: ``.npz`` (``np.load(allow_pickle=False)``), the network rebuilt from the
run's config and normalisation.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from envs import kernel
from envs.episodes import initial_states, make_episodes
from envs.problem import Problem
from envs.scenario import ScenarioError, resolve_scenario
from invcore.atomic import atomic_write_bytes, atomic_write_text

from . import twin
from .config import PresetError, TrainConfig
from .normalization import Normalization, build_normalization
from .policy import AgentPolicy, exact_cost
from .runs import RunError, append_command, npz_bytes, read_checkpoint, read_npz, write_run_files

HEADS = ("order", "sS")
MODEL_FILES = {"model": "model.npz", "best": "best_model.npz", "checkpoint": "checkpoint/model.npz"}


@dataclass
class HDPOSettings:
    """HDPO's hyperparameters (``hp.NAME=VALUE`` on the command line, ``hyperparams:`` in the preset)."""

    batch: int = 1024
    """Demand traces (SKU-episodes) per gradient step."""
    periods: int = 64
    """Periods of each trace that count in the loss."""
    warmup: int = 16
    """Periods simulated before the loss counts (from the scenario's initial state)."""
    learning_rate: float = 3e-3
    """Adam's initial rate (the run's lr_schedule: linear to 0, or constant)."""
    net_arch: list[int] = field(default_factory=lambda: [32, 32])
    """Hidden layer sizes of the MLP."""
    activation: str = "relu"
    """relu or tanh (what the ONNX exporter writes)."""
    head: str = "order"
    """order (the network outputs the order) or sS (it outputs levels s and S)."""
    rounding: str = "ste"
    """ste: requests rounded to units forward, identity backward; none: continuous requests in training."""
    relax: str = "ste"
    """ste: the order rules (MOQ, pack, max order, capacity) forward, relaxed backward; none: relaxed only."""
    fixed_cost: str = "ste"
    """ste: K [q > 0] forward, the smoothed indicator's gradient backward; soft: K x the smoothed indicator;
    amortized (sS head): K [q > 0] forward, the gradient of K x q / (S - s) backward (the fixed cost spread over
    the units of a lot: its sum over time is K x demand / lot, so the lot gets the EOQ trade-off's gradient);
    rate (sS head): K [q > 0] forward, the gradient of K / (S - s) backward: the order rate of an (s, S) rule at
    mean demand (orders per period = 1 / lot in demand scales), so that only the lot feels the fixed cost -- the
    smoothed indicator's gradient pushes s down (raising s fires orders earlier, but not more often)."""
    tau_start: float = 1.0
    """Temperature of the smoothed order indicator at the start (demand scales)."""
    tau_end: float = 0.05
    """... and at the end (geometric in between)."""
    level_scale: float = 4.0
    """sS head: s = s0 + level_scale x o0 and S - s = level_scale x softplus(o1) (demand scales), so that Adam's
    steps (about learning_rate per weight) move the levels by level_scale x as much: lots of 10+ periods of
    demand are reachable in a few dozen steps."""
    lot: str = "free"
    """sS head: free (S - s = level_scale x softplus(o1)) or eoq (S - s = level_scale x softplus(o1) x max(eoq, 1),
    eoq = the observation's ``eoq_cover``: the lot starts at the SKU's economic lot and the network scales it)
    or eoq_fixed (S - s = max(eoq, 1): the network sets s alone; with trigger: hard the pathwise gradient of s is
    then exact, as S - s fixed leaves the order times of the sample path unchanged when s moves)."""
    lot_factor: float = 1.0
    """lot: eoq_fixed: S - s = lot_factor x max(eoq, 1)."""
    lot_max: float | None = None
    """lot: eoq, eoq_fixed: the lot S - s at most this many demand scales (None: no cap). Below the action's largest
    order (action.n - 1) x action.step, an order S - IP is capped at that largest order only after a demand of more
    than the difference, so the level s keeps its pathwise gradient: where S - s itself reaches the largest order,
    every order is capped and no gradient reaches s (hp.trigger=hard)."""
    trigger: str = "smooth"
    """sS head, the order's gradient: smooth (the order S - IP weighted by the smoothed indicator backward: raising
    s "would have ordered a lot"), hard (only where IP <= s, through S - IP: the levels' pathwise gradient) or
    rounded (as smooth, with the smoothed indicator multiplying the order as the order rules place it -- rounded to
    units, the MOQ, the pack size -- so that firing an order is charged what it buys: a pack of 500 for a request
    of 2 units; the forward values are hard's)."""
    state_inputs: bool = True
    """false (sS head): the levels s, S do not see the inventory state (on hand, pipeline, inventory position:
    the first layer's weights of those fields are held at 0), only the demand history, calendar and SKU fields
    -- levels set from the demand, as the classical rules set them; the state enters through IP <= s alone."""
    s0: float | None = None
    """sS head: the level s at the start, in demand scales (None: the scenario's lead_time L + 1, the mean demand
    over the protection period, no safety stock; with per-SKU lead times from an item table that is the scenario's
    L, not each SKU's: man_weekly's 7 + 1 = 8 for SKUs of 7 and 16 weeks)."""
    level_fd: float | None = None
    """sS head: the gradient of the level s along a common shift of each trace's levels from a central finite
    difference of the trace's cost (its forward value, the true cost: orders, rounding, MOQ, packs as placed),
    shifting s and S by +- max(level_fd, one unit) demand scales, in place of the pathwise gradient in that
    direction (the pathwise gradient stays in every other). None: the pathwise gradient alone. Where the cost is
    a step function of s -- slow SKUs whose orders are whole units of many demand scales, packs of a year of
    demand -- the pathwise gradient of s is zero or its straight-through stand-in: on man_weekly it agreed with
    the finite difference on average over batches, but batch by batch it was noise, of either sign (docs/agents.md, "man_weekly: the level's gradient"). Two more forward passes a
    step (no backward): about 1.4 x the training time (man_weekly: 128 against 92 CPU-s)."""
    grad_clip: float = 10.0
    """Max gradient norm (0: no clipping)."""
    dtype: str = "float32"
    """The twin's float type in training (float64 is the parity type, slower)."""

    @classmethod
    def from_hyperparams(cls, hp: dict[str, Any]) -> HDPOSettings:
        known = {f.name for f in fields(cls)}
        bad = sorted(set(hp) - known)
        if bad:
            raise PresetError(f"unknown HDPO hyperparameter(s) {', '.join('hp.' + b for b in bad)}; known: "
                              f"{', '.join('hp.' + k for k in sorted(known))}")
        s = cls(**hp)
        s.check()
        return s

    def check(self) -> None:
        for name in ("batch", "periods"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise PresetError(f"hp.{name} must be an integer >= 1, got {v!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise PresetError(f"hp.warmup must be an integer >= 0, got {self.warmup!r}")
        for name in ("learning_rate", "tau_start", "tau_end", "level_scale", "lot_factor"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise PresetError(f"hp.{name} must be a number > 0, got {v!r}")
        if self.lot_max is not None and (isinstance(self.lot_max, bool) or not isinstance(self.lot_max, (int, float))
                                         or not self.lot_max >= 1):
            raise PresetError(f"hp.lot_max must be a number >= 1 (demand scales) or null, got {self.lot_max!r}")
        if self.lot_max is not None and (self.head != "sS" or self.lot == "free"):
            raise PresetError("hp.lot_max caps the economic lot of hp.head=sS with hp.lot=eoq or eoq_fixed, "
                              f"the run has hp.head={self.head} hp.lot={self.lot}")
        if self.s0 is not None and (isinstance(self.s0, bool) or not isinstance(self.s0, (int, float))
                                    or not math.isfinite(self.s0) or self.s0 < 0):
            raise PresetError(f"hp.s0 must be a number >= 0 (demand scales) or null, got {self.s0!r}")
        if not isinstance(self.state_inputs, bool):
            raise PresetError(f"hp.state_inputs must be true or false, got {self.state_inputs!r}")
        if self.trigger == "rounded" and self.head != "sS":
            raise PresetError("hp.trigger=rounded needs hp.head=sS (it weights the (s, S) rule's order)")
        if self.level_fd is not None and (isinstance(self.level_fd, bool) or not isinstance(self.level_fd, (int, float))
                                          or not self.level_fd > 0):
            raise PresetError(f"hp.level_fd must be a number > 0 (demand scales) or null, got {self.level_fd!r}")
        if self.level_fd is not None and self.head != "sS":
            raise PresetError("hp.level_fd needs hp.head=sS (it is the gradient of the level s)")
        if not self.state_inputs and self.head != "sS":
            raise PresetError("hp.state_inputs=false needs hp.head=sS (the order head must see the inventory)")
        if isinstance(self.grad_clip, bool) or not isinstance(self.grad_clip, (int, float)) or self.grad_clip < 0:
            raise PresetError(f"hp.grad_clip must be a number >= 0, got {self.grad_clip!r}")
        if not isinstance(self.net_arch, list) or not self.net_arch or any(
                isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.net_arch):
            raise PresetError(f"hp.net_arch must be a list of layer sizes >= 1, e.g. [32, 32], got {self.net_arch!r}")
        for name, allowed in (("activation", ("relu", "tanh")), ("head", HEADS), ("rounding", ("ste", "none")),
                              ("relax", ("ste", "none")), ("fixed_cost", ("ste", "soft", "amortized", "rate")),
                              ("lot", ("free", "eoq", "eoq_fixed")), ("trigger", ("smooth", "hard", "rounded")),
                              ("dtype", ("float32", "float64"))):
            if getattr(self, name) not in allowed:
                raise PresetError(f"hp.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    @property
    def torch_dtype(self):
        return torch.float64 if self.dtype == "float64" else torch.float32


def action_range(action) -> float:
    """The largest order of the continuous action, in demand scales: (n - 1) * step."""
    if action.mode != "continuous" or not action.relative:
        raise PresetError("HDPO needs action.mode=continuous and action.relative=true (its orders are in demand "
                          f"scales), the scenario has action.mode={action.mode} action.relative={action.relative}")
    return float((action.n - 1) * action.step)


def _cost_indicator(q: torch.Tensor, S: torch.Tensor, s: torch.Tensor, ind: torch.Tensor, fixed_cost: str):
    """What carries the fixed cost's gradient for an sS order q (demand scales): amortized, K x q / (S - s), the EOQ
    trade-off's gradient in the lot; rate, K / (S - s), orders per period at mean demand (a gradient in the lot
    only); otherwise the smoothed indicator itself."""
    if fixed_cost == "amortized":
        return q / (S - s).clamp(min=1e-3)
    if fixed_cost == "rate":
        return 1.0 / (S - s).clamp(min=1e-3)
    return ind


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """relu(x) + log(1 + exp(-|x|)): the form the ONNX graph computes (no overflow for large x)."""
    return torch.relu(x) + torch.log(1.0 + torch.exp(-torch.abs(x)))


class HDPONet(nn.Module):
    """MLP on the normalised observation -> the deterministic continuous action (see the module docstring)."""

    def __init__(self, obs_dim: int, settings: HDPOSettings, qmax: float, ip_index: int, ip_shift: float,
                 ip_scale: float, s0: float, lot: tuple[int, float, float] | None = None):
        super().__init__()
        act = nn.ReLU if settings.activation == "relu" else nn.Tanh
        layers: list[nn.Module] = []
        d = obs_dim
        for h in settings.net_arch:
            layers += [nn.Linear(d, h), act()]
            d = h
        out = nn.Linear(d, 1 if settings.head == "order" else 2)
        layers.append(out)
        self.mlp = nn.Sequential(*layers)
        self.head = settings.head
        self.qmax, self.ip_index, self.ip_shift, self.ip_scale, self.s0 = qmax, ip_index, ip_shift, ip_scale, s0
        self.level_scale = float(settings.level_scale)
        self.lot = lot  # (index, shift, scale) of eoq_cover in the input (lot: eoq, eoq_fixed), else None
        self.lot_fixed = settings.lot == "eoq_fixed"
        self.lot_factor = float(settings.lot_factor)
        self.lot_max = None if settings.lot_max is None else float(settings.lot_max)
        with torch.no_grad():  # start near one period of demand per period (order head) or s = s0, S = s0 + 1
            out.weight.mul_(0.1)
            if self.head == "order":
                out.bias.fill_(math.atanh(min(max(2.0 / qmax - 1.0, -0.99), 0.99)))
            else:
                out.bias.copy_(torch.tensor([0.0, math.log(math.expm1(1.0 / self.level_scale))]))

    def mask_inputs(self, columns: list[int]) -> None:
        """Hold the first layer's weights of these input columns at 0 (their gradient is zeroed, so Adam never
        moves them): the levels do not depend on those fields, and the exported graph needs no mask."""
        first = self.mlp[0]
        cols = torch.tensor(columns, dtype=torch.long)
        with torch.no_grad():
            first.weight[:, cols] = 0.0

        def zero(grad: torch.Tensor) -> torch.Tensor:
            grad = grad.clone()
            grad[:, cols] = 0.0
            return grad

        first.weight.register_hook(zero)

    # the deterministic action, float32, op for op as the ONNX graph (agents.export.build_onnx)
    def levels(self, x: torch.Tensor, offset: torch.Tensor | None = None):
        o = self.mlp(x)
        c = torch.tensor(self.level_scale, dtype=o.dtype)
        s = o[:, 0:1] * c + torch.tensor(self.s0, dtype=o.dtype)
        if offset is not None:  # training only (hp.level_fd): s and S shifted per row, demand scales
            s = s + offset[:, None].to(o.dtype)
        gap = _softplus(o[:, 1:2]) * c
        if self.lot is not None:
            k, shift, scale = self.lot
            eoq = x[:, k:k + 1] / torch.tensor(scale, dtype=o.dtype) - torch.tensor(shift, dtype=o.dtype)
            lot = torch.clamp(eoq, min=1.0)
            gap = lot * torch.tensor(self.lot_factor, dtype=o.dtype) if self.lot_fixed else gap * lot
            if self.lot_max is not None:
                gap = torch.clamp(gap, max=self.lot_max)
        S = s + gap
        ip = x[:, self.ip_index:self.ip_index + 1] / torch.tensor(self.ip_scale, dtype=o.dtype) \
            - torch.tensor(self.ip_shift, dtype=o.dtype)
        return s, S, ip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.head == "order":
            return torch.tanh(self.mlp(x))
        s, S, ip = self.levels(x)
        q = torch.where(ip <= s, torch.relu(S - ip), torch.zeros_like(ip))
        q = torch.minimum(q, torch.tensor(self.qmax, dtype=q.dtype))
        return torch.clamp(q * torch.tensor(2.0 / self.qmax, dtype=q.dtype) - 1.0, -1.0, 1.0)

    def train_order(self, x: torch.Tensor, scale: torch.Tensor, tau: float, fixed_cost: str,
                    trigger: str = "smooth", rules=None, offset: torch.Tensor | None = None):
        """(order in units [B] as training sees it, before rounding; smoothed order indicator [B]).

        trigger rounded: `rules` maps requested units to the units the order rules make of them (rounding, MOQ,
        pack, caps: their value forward, relaxed backward), and the smoothed indicator multiplies that order, so
        the gradient of firing an order is the order as it will be placed (a pack of 500 for a request of 2).
        sS head: `offset` shifts each row's s and S (demand scales)."""
        if self.head == "order":
            if fixed_cost in ("amortized", "rate"):
                raise PresetError(f"hp.fixed_cost={fixed_cost} needs hp.head=sS (it spreads K over the lot S - s)")
            a = torch.tanh(self.mlp(x))[:, 0]
            q = (a + 1.0) * 0.5 * self.qmax * scale
            return q, torch.sigmoid((q - 0.5) / (tau * scale))
        s, S, ip = self.levels(x, offset)
        s, S, ip = s[:, 0], S[:, 0], ip[:, 0]
        ind = torch.sigmoid((s - ip) / tau)
        up = torch.minimum(torch.relu(S - ip), torch.tensor(self.qmax, dtype=S.dtype))
        soft = ind * up
        hard = torch.where(ip <= s, up, torch.zeros_like(up))
        if trigger == "rounded":
            placed = rules(up * scale)
            hard = torch.where(ip <= s, placed, torch.zeros_like(placed))
            soft = ind.to(placed.dtype) * placed
            q = soft if fixed_cost == "soft" else twin.ste(hard, soft)
            return q, _cost_indicator(q / scale, S, s, ind, fixed_cost)   # q in units already
        q = soft if fixed_cost == "soft" else hard if trigger == "hard" else twin.ste(hard, soft)
        return q * scale, _cost_indicator(q, S, s, ind, fixed_cost)


class HDPO:
    """A trained HDPO network behind the SB3 model calls the project uses (``policy.predict``, ``predict``,
    ``num_timesteps``), so :class:`agents.policy.AgentPolicy` and the exporter take it as they take PPO."""

    def __init__(self, net: HDPONet, settings: HDPOSettings, num_timesteps: int = 0):
        self.net = net
        self.settings = settings
        self.num_timesteps = num_timesteps
        self.policy = self

    def predict(self, obs: np.ndarray, deterministic: bool = True):
        with torch.no_grad():
            a = self.net(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
        return a.numpy(), None

    @classmethod
    def build(cls, cfg: TrainConfig, norm: Normalization, seed: int | None = None) -> HDPO:
        settings = HDPOSettings.from_hyperparams(cfg.hyperparams)
        sc = resolve_scenario(cfg.scenario, **cfg.scenario_overrides)
        qmax = action_range(sc.action)
        if "inventory_position" not in norm.obs_names:
            raise RunError("the observation has no inventory_position field")
        i = norm.obs_names.index("inventory_position")
        max_lead = max(int(sc.lead_time), 0)
        lot = None
        if settings.head == "sS" and settings.lot != "free":
            if "eoq_cover" not in norm.obs_names:
                raise PresetError(f"hp.lot={settings.lot} needs the observation's eoq_cover field (observation.eoq: true, or a "
                                  "fixed order cost K > 0 with observation.eoq: auto)")
            k = norm.obs_names.index("eoq_cover")
            lot = (k, float(norm.shift[k]), float(norm.scale[k]))
        if seed is not None:
            torch.manual_seed(seed)
        net = HDPONet(len(norm.obs_names), settings, qmax, i, float(norm.shift[i]), float(norm.scale[i]),
                      float(max_lead + 1) if settings.s0 is None else float(settings.s0), lot)
        if not settings.state_inputs:
            state = [k for k, name in enumerate(norm.obs_names)
                     if name in ("on_hand", "inventory_position") or name.startswith("pipeline_")]
            net.mask_inputs(state)
        return cls(net, settings)

    # ------------------------------------------------------------------ files (npz, no pickle)
    def to_bytes(self, extra: dict[str, np.ndarray] | None = None) -> bytes:
        arrays = {f"net/{k}": v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}
        arrays["num_timesteps"] = np.array(self.num_timesteps, dtype=np.int64)
        arrays.update(extra or {})
        return npz_bytes(arrays)

    def save(self, path: str | Path, extra: dict[str, np.ndarray] | None = None) -> None:
        atomic_write_bytes(path, self.to_bytes(extra))

    @classmethod
    def load(cls, path: str | Path, cfg: TrainConfig, norm: Normalization, device: str = "cpu") -> HDPO:
        """The network rebuilt from the run's config and normalisation, its weights from `path` (npz)."""
        model = cls.build(cfg, norm)
        arrays = read_npz(path, "HDPO weights")
        state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net/")}
        try:
            model.net.load_state_dict(state)
        except RuntimeError as e:
            raise RunError(f"{path}: the weights do not fit the run's network ({str(e).splitlines()[0]})") from None
        model.num_timesteps = int(arrays.get("num_timesteps", 0))
        model.arrays = arrays
        return model

    def onnx_network(self) -> tuple[list[tuple], str, dict[str, Any]]:
        """(layers, head, sizes) for :func:`agents.export.build_onnx`."""
        from .export import _mlp_layers

        layers = _mlp_layers([self.net.mlp])
        if self.net.head == "order":
            return layers + [("tanh",)], "continuous", {"low": -1.0, "high": 1.0}
        n = self.net
        sizes = {"low": -1.0, "high": 1.0, "qmax": n.qmax, "ip_index": n.ip_index, "ip_shift": n.ip_shift,
                 "ip_scale": n.ip_scale, "s0": n.s0, "level_scale": n.level_scale}
        if n.lot is not None:
            sizes.update(lot_index=n.lot[0], lot_shift=n.lot[1], lot_scale=n.lot[2], lot_fixed=n.lot_fixed,
                         lot_factor=n.lot_factor, lot_max=n.lot_max)
        return layers, "sS", sizes


# ----------------------------------------------------------------------------------------- training
def _every(freq: int, before: int, after: int) -> bool:
    """A multiple of `freq` lies in (before, after]."""
    return bool(freq) and after // freq > before // freq


class Trainer:
    """One HDPO run: the problem, the normalisation, the network, Adam, the trace stream."""

    def __init__(self, cfg: TrainConfig, problem: Problem, norm: Normalization, model: HDPO, device: str):
        self.cfg, self.problem, self.norm, self.model = cfg, problem, norm, model
        self.s = model.settings
        self.device = device
        self.dtype = self.s.torch_dtype
        self.net = model.net.to(device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.s.learning_rate)
        self.rng = np.random.default_rng(cfg.seed)
        self.iteration = 0
        self.per_iter = self.s.batch * (self.s.warmup + self.s.periods)
        self.iterations = max(1, math.ceil(cfg.timesteps / self.per_iter))
        self.shift = torch.as_tensor(norm.shift, dtype=torch.float32, device=device)
        self.nscale = torch.as_tensor(norm.scale, dtype=torch.float32, device=device)
        self.weight = norm.reward_scale  # per-SKU loss weight 1 / (1.6 c_ref): SKUs of any volume count alike
        # the training traces' window: data.window (train, or fit = train + val for a final agent) for data
        self.split = problem.scenario.data.window if problem.source.replays_windows else "train"
        self.pool = problem.source.skus_in(self.split)
        if self.pool.size == 0:
            raise ScenarioError(f"no SKU has data in the {self.split} window")
        self.uncounted = 0  # SKUs of the pool whose window is no longer than hp.warmup: their traces count nothing
        if problem.source.replays_windows:
            spans = np.array([e - s for s, e in (problem.source.window_range(self.split, int(i)) for i in self.pool)])
            longest = int(spans.max())
            self.uncounted = int(np.count_nonzero(spans <= self.s.warmup))
            if self.s.warmup >= longest:  # every trace ends (at its window's end) before a period counts
                raise PresetError(f"hp.warmup {self.s.warmup}: the {self.split} windows are at most {longest} "
                                  f"periods long, so no period would count in the loss and the network would "
                                  f"not train; use hp.warmup < {longest}")

    def tau(self, it: int) -> float:
        frac = it / max(self.iterations - 1, 1)
        return float(self.s.tau_start * (self.s.tau_end / self.s.tau_start) ** frac)

    def lr(self, it: int) -> float:
        if self.cfg.lr_schedule == "linear":
            return self.s.learning_rate * (1.0 - it / self.iterations)
        return self.s.learning_rate

    def traces(self):
        pb, s = self.problem, self.s
        T = s.warmup + s.periods
        if pb.source.replays_windows:
            skus = self.rng.choice(self.pool, s.batch)
        else:
            skus = np.arange(s.batch) % pb.n_skus
        eps = make_episodes(pb, self.split, rng=self.rng, skus=skus, periods=T, sampler="inverse_cdf",
                            with_past=False)
        params = pb.params[eps.sku]
        init = initial_states(pb.scenario.initial_state, params, kernel.PIPE + max(pb.max_lead, 1), self.rng)
        return eps, params, init

    def loss(self, eps, params, init, tau: float, offset: torch.Tensor | None = None, per_trace: bool = False,
             inputs_out: list | None = None) -> torch.Tensor:
        """Mean normalised cost per counted period of the batch, through the twin (differentiable); per_trace:
        each trace's share of it [B] (they sum to the mean). `offset` [B] shifts the sS head's levels s and S
        of each trace (demand scales); `inputs_out` collects the network's input of each period (detached)."""
        pb, s, dev, dt = self.problem, self.s, self.device, self.dtype
        p = twin.TwinParams.from_rows(params, dtype=dt, device=dev)
        P = p.slots
        net = torch.as_tensor(init[:, kernel.NET], dtype=dt, device=dev)
        recv = torch.as_tensor(init[:, kernel.RECV], dtype=dt, device=dev)
        pipe = torch.as_tensor(init[:, kernel.PIPE:kernel.PIPE + P], dtype=dt, device=dev)
        T = eps.periods
        exo = torch.as_tensor(twin.exogenous_features(pb, eps), device=dev)
        demand = torch.as_tensor(eps.demand[eps.history:], dtype=dt, device=dev)
        alive = torch.as_tensor(np.arange(T)[:, None] < eps.lengths[None, :], dtype=dt, device=dev)
        w = torch.as_tensor(self.weight[eps.sku], dtype=dt, device=dev)
        total = torch.zeros(len(eps.sku), dtype=dt, device=dev)
        # the stock left at the end of a trace is credited at unit cost, as the evaluator does (envs.batch
        # TOTAL_KEYS): c x (the final inventory position - the position when counting starts, 0 without a
        # warm-up); without it the loss pays for stock bought in the counted periods and not for a backlog still
        # to buy, and the network learns to run its stock down towards the end of every trace
        unit = params[:, kernel.UNIT_COST]
        credit = bool(np.any(unit != 0))
        if credit:
            c_w = torch.as_tensor(unit, dtype=dt, device=dev) * w
            ends = torch.as_tensor(np.minimum(eps.lengths, T), device=dev)  # a trace ends at its length or T
            ip0 = torch.zeros_like(net)
        for t in range(T):
            if credit and t == s.warmup and s.warmup > 0:
                ip0 = twin.inventory_position(net, pipe)
            obs = torch.cat([twin.observe_state(net, pipe, p.scale, pb.n_pipe).float(), exo[t]], dim=1)
            x = torch.clamp((obs + self.shift) * self.nscale, -self.norm.clip, self.norm.clip)
            rules = None
            if s.trigger == "rounded":  # the order as the rules will place it (see HDPONet.train_order)
                def rules(want, net=net, pipe=pipe):
                    want = want.to(dt)
                    want = twin.ste(torch.round(want), want) if s.rounding == "ste" else want
                    return twin.constrain(want, twin.pipeline_sum(net, pipe), p, s.relax)
            if inputs_out is not None:
                inputs_out.append(x.detach())
            q, ind = self.net.train_order(x, p.scale.float(), tau, s.fixed_cost, s.trigger, rules, offset)
            q = q.to(dt)
            req = twin.ste(torch.round(q), q) if s.rounding == "ste" else q
            net, recv, pipe, info = twin.step(net, recv, pipe, p, req, demand[t], pb.scenario.backorder, False,
                                              s.relax, ind.to(dt), s.fixed_cost)
            if t >= s.warmup:
                total = total + info.cost * w * alive[t]
                if credit:
                    ended = (ends == t + 1).to(dt)
                    total = total - c_w * (info.inventory_position - ip0) * ended
        counted = alive[s.warmup:].sum().clamp(min=1.0)
        return total / counted if per_trace else total.sum() / counted

    def step(self) -> tuple[float, float]:
        it = self.iteration
        tau = self.tau(it)
        for g in self.opt.param_groups:
            g["lr"] = self.lr(it)
        eps, params, init = self.traces()
        self.opt.zero_grad(set_to_none=True)
        if self.s.level_fd is None:
            loss = self.loss(eps, params, init, tau)
            loss.backward()
        else:
            loss = self.level_fd_backward(eps, params, init, tau)
        if self.s.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.s.grad_clip)
        self.opt.step()
        self.iteration += 1
        self.model.num_timesteps = self.iteration * self.per_iter
        return float(loss.detach()), tau

    def level_fd_backward(self, eps, params, init, tau: float) -> torch.Tensor:
        """Backward of the loss with hp.level_fd: the pathwise gradient, less its component along a common shift
        of each trace's levels, plus that component from a central finite difference of the trace's cost.

        With s_jt the level of trace j in period t and g_j the pathwise derivative of the loss in a shift of all
        of trace j's levels (the gradient of a zero offset), the backward pass runs on
        ``loss + sum_j (fd_j - g_j) * mean_t s(x_jt)`` (fd_j, g_j and the inputs x_jt held constant; the mean over
        the trace's periods):
        along a common shift of trace j's levels the total derivative is then fd_j, the finite difference
        ``(cost_j(s + d_j) - cost_j(s - d_j)) / (2 d_j)`` of the loss's forward value (d_j = max(hp.level_fd,
        one unit / the SKU's scale) demand scales), and in every other direction it is the pathwise one."""
        dev, dt = self.device, self.dtype
        scale = np.maximum(params[:, kernel.SCALE], 1e-12)
        d = torch.as_tensor(np.maximum(self.s.level_fd, 1.0 / scale), dtype=dt, device=dev)
        with torch.no_grad():
            fd = (self.loss(eps, params, init, tau, offset=d, per_trace=True)
                  - self.loss(eps, params, init, tau, offset=-d, per_trace=True)) / (2.0 * d)
        zero = torch.zeros(len(eps.sku), dtype=dt, device=dev, requires_grad=True)
        inputs: list[torch.Tensor] = []
        loss = self.loss(eps, params, init, tau, offset=zero, inputs_out=inputs)
        (g,) = torch.autograd.grad(loss, zero, retain_graph=True)
        # the levels of the inputs the trace saw, held fixed: the correction moves s where the network sets it,
        # the pathwise term carries what a level does to later states
        T, B = len(inputs), len(eps.sku)
        s = self.net.levels(torch.cat(inputs))[0][:, 0].reshape(T, B).to(dt)
        alive = torch.as_tensor(np.arange(T)[:, None] < eps.lengths[None, :], dtype=dt, device=dev)
        mean_s = (s * alive).sum(0) / alive.sum(0).clamp(min=1.0)
        (loss + ((fd - g).detach() * mean_s).sum()).backward()
        return loss

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        sd = self.opt.state_dict()
        for i, st in sd["state"].items():
            for k, v in st.items():
                out[f"opt/{i}/{k}"] = torch.as_tensor(v).detach().cpu().numpy()
        return out

    def restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        sd = self.opt.state_dict()
        opt_state: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in arrays.items():
            if k.startswith("opt/"):
                _, i, name = k.split("/")
                opt_state.setdefault(int(i), {})[name] = torch.from_numpy(np.array(v))
        sd["state"] = opt_state
        self.opt.load_state_dict(sd)
        self.iteration = int(state["iteration"])
        self.model.num_timesteps = self.iteration * self.per_iter
        self.rng.bit_generator.state = state["rng"]


def _rng_state_json(rng: np.random.Generator) -> dict[str, Any]:
    return json.loads(json.dumps(rng.bit_generator.state))


def train_hdpo(cfg: TrainConfig, run_dir: str | Path, command: str = "", resume: bool = False, log=print):
    """Train (or resume) an HDPO run into `run_dir` (the run folder of :mod:`agents.runs`, weights as npz).
    Returns :class:`agents.training.TrainResult`, as PPO's training does."""
    from .training import (
        TrainResult,
        Validation,
        best_eval_row,
        eval_record,
        log_run_texts,
        log_verdict,
        resolve_device,
        selection_score,
        tensorboard_logger,
    )

    t_start = time.process_time()
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    HDPOSettings.from_hyperparams(cfg.hyperparams)  # validate the hp. settings before any work
    problem = Problem(cfg.scenario, **cfg.scenario_overrides)
    action = problem.scenario.action
    action_range(action)
    best_cost = float("inf")
    if resume:
        ckpt = run_dir / MODEL_FILES["checkpoint"]
        state, best_cost, norm = read_checkpoint(run_dir, ckpt)
        model = HDPO.load(ckpt, cfg, norm)
        append_command(run_dir, command)
    else:
        norm = build_normalization(problem, cfg)
        write_run_files(run_dir, cfg, problem.scenario.to_dict(), norm, command, device)
        model = HDPO.build(cfg, norm, seed=cfg.seed)
    trainer = Trainer(cfg, problem, norm, model, device)
    if trainer.uncounted:
        log(f"note: {trainer.uncounted} of {trainer.pool.size} SKUs ({100 * trainer.uncounted / trainer.pool.size:.1f} "
            f"%) have {trainer.split} windows of hp.warmup ({trainer.s.warmup}) periods or fewer: their traces count "
            "no period in the loss")
    if resume:
        try:
            trainer.restore(model.arrays, state)
        except (KeyError, ValueError, RuntimeError, TypeError) as e:
            raise RunError(f"{run_dir}: corrupt checkpoint ({type(e).__name__}: {e})") from None
        log(f"resuming {run_dir} at step {model.num_timesteps:,} of {cfg.timesteps:,}")
    logger = tensorboard_logger(run_dir)
    if not resume:
        log_run_texts(logger, cfg, norm)
    validation = Validation.build(problem, cfg)
    log_verdict(logger, validation, model.num_timesteps)

    def evaluate(which_net: HDPO) -> dict[str, Any]:
        nonlocal best_cost
        which_net.net.to("cpu")
        agent = AgentPolicy(which_net, norm, action)
        row = eval_record(problem, validation, agent, logger, which_net.num_timesteps, run_dir)
        which_net.net.to(device)
        score = selection_score(row)
        if score < best_cost or not (run_dir / MODEL_FILES["best"]).exists():
            best_cost = score
            which_net.save(run_dir / MODEL_FILES["best"])
        return row

    def checkpoint() -> None:
        model.save(run_dir / MODEL_FILES["checkpoint"], trainer.checkpoint_arrays())
        atomic_write_text(run_dir / "checkpoint" / "state.json", json.dumps(
            {"num_timesteps": int(model.num_timesteps), "iteration": trainer.iteration, "best_cost": best_cost,
             "rng": _rng_state_json(trainer.rng)}))

    bar = None
    if cfg.progress and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=trainer.iterations * trainer.per_iter, initial=model.num_timesteps, unit="step",
                   unit_scale=True, desc="training", dynamic_ncols=True)
    train_cpu = 0.0
    while trainer.iteration < trainer.iterations:
        before = model.num_timesteps
        t0 = time.process_time()
        loss, tau = trainer.step()
        train_cpu += time.process_time() - t0
        after = model.num_timesteps
        if bar is not None:
            bar.update(after - before)
        if _every(max(cfg.eval_freq // 20, 1) if cfg.eval_freq else 0, before, after) or \
                trainer.iteration == trainer.iterations:
            logger.record("train/loss", loss)
            logger.record("train/tau", tau)
            logger.record("train/learning_rate", trainer.lr(trainer.iteration - 1))
            logger.record("time/gradient_cpu_s", train_cpu)
            logger.dump(after)
        if _every(cfg.eval_freq, before, after) and trainer.iteration < trainer.iterations:
            evaluate(model)
        if _every(cfg.checkpoint_freq, before, after):
            checkpoint()
    if bar is not None:
        bar.close()
    final = evaluate(model)
    model.save(run_dir / MODEL_FILES["model"])
    checkpoint()
    exact = None
    if validation.optimum is not None:
        best = HDPO.load(run_dir / MODEL_FILES["best"], cfg, norm)
        exact = exact_cost(AgentPolicy(best, norm, action), problem)
        if exact is not None:
            atomic_write_text(run_dir / "exact_cost.json", json.dumps(
                {"best_model_exact_avg_cost": exact, "optimum": validation.optimum,
                 "gap_to_optimal_pct": 100 * (exact - validation.optimum) / validation.optimum,
                 "base_stock_validation_cost": validation.base_stock_cost}))
    logger.close()
    return TrainResult(run_dir, int(model.num_timesteps), time.process_time() - t_start, final, best_cost, exact,
                       {"validation": validation.label, "base_stock_cost": validation.base_stock_cost,
                        "best_baseline": validation.best_baseline,
                        "best_baseline_cost": validation.best_baseline_cost,
                        "verdict": validation.verdict(best_eval_row(run_dir), final), "optimum": validation.optimum,
                        "gradient_cpu_s": train_cpu})
