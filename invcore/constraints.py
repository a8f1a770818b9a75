"""Order rules and action -> units, vectorised over SKUs (numpy).

:func:`constrain` is the rule of ``envs.kernel.constrain`` (numba, one SKU at a time), bit for bit (and
:func:`shared_cut` that of ``envs.kernel.shared_cut``);
:func:`action_table` / :func:`requested_units` map actions to units as ``envs.problem.Problem`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .observation import eoq_cover

EPS = 1e-9
"""Tolerance of the order rules: a request <= EPS is no order; pack rounding forgives EPS packs."""
ACTION_MODES = ("units", "order_up_to", "continuous", "reorder_point")
LEVEL_MODES = ("order_up_to", "reorder_point")
"""Modes whose discrete action is a level (not rounded to units): the target position, or the reorder point s."""


def constrain(want: np.ndarray, ip: np.ndarray, moq: np.ndarray, pack: np.ndarray, max_order: np.ndarray,
              capacity: np.ndarray) -> np.ndarray:
    """Units actually ordered for requested quantities `want` at inventory positions `ip` (arrays that
    broadcast; float64):

    1. nothing (0) if want <= 1e-9;  2. at least moq;  3. rounded up to a multiple of the pack size,
       ``ceil(q / pack - 1e-9) * pack``;  4. at most ``min(max_order, capacity - ip)``: above it, the order is
       ``floor(limit / pack + 1e-9) * pack``, and nothing if that is below moq or <= 0.
    """
    want = np.asarray(want, dtype=np.float64)
    pos = want > EPS
    q = np.where(want > moq, want, moq)
    q = np.ceil(q / pack - EPS) * pack + 0.0  # + 0.0: -0.0 (a ceil in (-1, 0)) becomes 0.0, as in the kernel
    limit = np.minimum(max_order, capacity - ip)
    over = q > limit
    if over.any():
        with np.errstate(invalid="ignore"):
            cut = np.floor(limit / pack + EPS) * pack
        cut = np.where((cut < moq) | (cut <= 0.0), 0.0, cut)
        q = np.where(over, cut, q)
    return np.where(pos, q, 0.0)


def shared_cut(q: np.ndarray, ip: np.ndarray, moq: np.ndarray, pack: np.ndarray, volume: np.ndarray,
               unit_cost: np.ndarray, capacity: float, budget: float) -> np.ndarray:
    """The orders of one warehouse after its shared limits, the rule of ``envs.kernel.shared_cut``: when the
    orders q (after :func:`constrain`) ask for more than the room (capacity - sum volume x ip, >= 0) or the
    budget (sum unit_cost x q), every order is multiplied by the same factor, rounded down to its pack and
    dropped if below its moq. inf: no limit."""
    q = np.asarray(q, dtype=np.float64)
    f = 1.0
    room = max(capacity - float(np.sum(volume * ip)), 0.0)
    asked = float(np.sum(volume * q))
    if asked > room + EPS:
        f = room / asked
    spend = float(np.sum(unit_cost * q))
    if spend > budget + EPS:
        f = min(f, budget / spend)
    if f >= 1.0:
        return q
    c = np.floor(f * q / pack + EPS) * pack
    c = np.where((c < moq) | (c < 0.0), 0.0, c)
    return np.where(q > 0.0, c, q)


def action_unit(relative: bool, scale: np.ndarray) -> np.ndarray:
    """Units of one action step per SKU: the demand scale if `relative`, else 1."""
    scale = np.asarray(scale, dtype=np.float64)
    return scale if relative else np.ones_like(scale)


def action_table(mode: str, n: int, step: float, relative: bool, scale: np.ndarray) -> np.ndarray:
    """[N, n] level of discrete action i for each SKU: ``i * step * unit``, rounded to units in mode units
    (order_up_to: the target inventory position; reorder_point: the reorder point s; continuous: the grid of the
    range)."""
    _check_mode(mode)
    steps = np.arange(n, dtype=np.float64) * step
    table = steps[None, :] * action_unit(relative, scale)[:, None]
    return np.rint(table) if mode == "units" else table


def continuous_max(n: int, step: float, relative: bool, scale: np.ndarray) -> np.ndarray:
    """Largest request of a continuous action per SKU: ``(n - 1) * step * unit`` (at a = 1)."""
    return (n - 1) * step * action_unit(relative, scale)


def action_requests(action: np.ndarray, mode: str, n: int, step: float, relative: bool,
                    scale: np.ndarray) -> np.ndarray:
    """What the action table gives for the deterministic actions of N SKUs: units to order (modes units and
    continuous), the target inventory position (order_up_to) or the reorder point s (reorder_point: the units
    are :func:`reorder_units`), before the order rules; the env's mapping (``Problem.action_table`` /
    ``continuous_max``), written once for agents and deploy.

    continuous: ``rint((clip(a, -1, 1) + 1) / 2 * ((n - 1) * step * unit))``; units: ``rint(a * step * unit)``;
    order_up_to, reorder_point: ``a * step * unit``; unit = the demand scale if relative, else 1."""
    unit = action_unit(relative, scale)
    if mode == "continuous":
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(len(unit), -1)[:, 0], -1.0, 1.0)
        return np.rint((a + 1.0) * 0.5 * ((n - 1) * step * unit))
    _check_mode(mode)
    level = (np.asarray(action).reshape(-1).astype(np.float64) * step) * unit
    return np.rint(level) if mode == "units" else level


def requested_units(action: np.ndarray, spec: Mapping[str, Any], scale: np.ndarray,
                    ip: np.ndarray, lot: np.ndarray | None = None) -> np.ndarray:
    """Units requested by the deterministic actions of N SKUs, before the order rules, as the env maps them
    (``envs.problem.Problem.request``, the kernel's order-up-to step and ``envs.kernel.reorder_requests``).
    spec: mode, n, step, relative (the scenario's action settings); lot: the economic lot in units per SKU
    (:func:`reorder_lot`), needed by mode reorder_point only.

    continuous: ``rint((clip(a, -1, 1) + 1) / 2 * (n - 1) * step * unit)``; units: ``rint(a * step * unit)``;
    order_up_to: ``a * step * unit - IP``; reorder_point: s = ``a * step * unit``, then :func:`reorder_units`;
    unit = the demand scale if relative, else 1."""
    mode = spec["mode"]
    req = action_requests(action, mode, int(spec["n"]), float(spec["step"]), spec["relative"], scale)
    if mode == "reorder_point":
        if lot is None:
            raise ValueError("action mode reorder_point needs the lot per SKU (invcore.constraints.reorder_lot)")
        return reorder_units(req, ip, lot)
    return req - ip if mode == "order_up_to" else req


def reorder_lot(order_cost, holding_cost, scale) -> np.ndarray:
    """The lot of action mode reorder_point per SKU, in units: ``max(eoq_cover, 1) x scale``, eoq_cover =
    sqrt(2 K / (h scale)) (:func:`invcore.observation.eoq_cover`; 0 when K = 0, so the lot is one period of demand,
    1000 periods when h = 0): the economic order quantity sqrt(2 K scale / h), at least one period of mean demand
    (HDPO's ``hp.lot=eoq_fixed``). ``envs.kernel.reorder_requests`` computes the same number (parity-tested)."""
    s = np.asarray(scale, dtype=np.float64)
    return np.maximum(eoq_cover(order_cost, holding_cost, s), 1.0) * s


def reorder_units(s: np.ndarray, ip: np.ndarray, lot: np.ndarray) -> np.ndarray:
    """Units requested by an (s, S = s + lot) rule at inventory position IP: ``s + lot - IP`` when ``IP <= s``,
    else 0 (action mode reorder_point; the order rules come after)."""
    s = np.asarray(s, dtype=np.float64)
    return np.where(ip <= s, s + lot - ip, 0.0)


def level_units(levels: Mapping[str, np.ndarray], ip: np.ndarray) -> np.ndarray:
    """Requested units of an (s, S, cap) level policy: ``min(S - IP, cap)`` when ``IP <= s``, else 0."""
    want = np.where(ip <= levels["s"], levels["S"] - ip, 0.0)
    return np.minimum(want, levels["cap"])


def _check_mode(mode: str) -> None:
    if mode not in ACTION_MODES:
        raise ValueError(f"unknown action mode {mode!r}")
