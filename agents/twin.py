"""The torch twin of the one dynamics kernel (:mod:`envs.kernel`): the same period, batched over rows (SKU x
episode), differentiable, for hindsight differentiable policy optimisation (:mod:`agents.hdpo`).

Built from the kernel's named pieces, one torch function each: :func:`constrain`, :func:`serve`,
:func:`period_cost`, :func:`advance_pipeline`, put together by :func:`step` in the kernel's order (arrival ->
order -> demand -> cost; see the ``envs.kernel`` docstring). The forward values are the kernel's, bit for bit in
float64 (``tests/test_hdpo.py`` pins them to the numba engine); what differs is only what the gradient sees:

* ``constrain``: ``relax="ste"`` gives the kernel's units (MOQ, pack rounding, max order, capacity) in the
  forward pass and the gradient of the relaxed order ``min(max(want, 0), limit)`` in the backward pass (a
  straight-through estimator); ``relax="none"`` uses the relaxed order in both (no MOQ or pack rounding: what
  the HDPO authors train with, orders rounded only at test time);
* the fixed order cost ``K * [q > 0]`` has no gradient; :func:`step` takes an optional ``order_ind``, the
  indicator the policy head computed with its own surrogate (:mod:`agents.hdpo`), used instead of ``[q > 0]``.

State layout (tensors, one row per SKU-episode): ``net`` [B] (net inventory after this period's arrival),
``recv`` [B] (units that arrived at the start of the period), ``pipe`` [B, P] (slot k arrives in k + 1
periods; slot L-1 is empty before the order; slots >= L stay 0), P = max(L_max, 1). Parameter rows are the
kernel's ``params`` columns (``kernel.LEAD, HOLD, ...``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from envs import kernel

EPS = 1e-9
"""The kernel's tolerance (``envs.kernel._EPS``, ``invcore.constraints.EPS``)."""


def ste(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Straight-through: the value of `hard`, the gradient of `soft`."""
    return soft + (hard - soft).detach()


@dataclass
class TwinParams:
    """The kernel's parameter columns as tensors [B] (one row per SKU-episode), plus the pipeline masks."""

    lead: torch.Tensor
    hold: torch.Tensor
    short: torch.Tensor
    order_cost: torch.Tensor
    unit_cost: torch.Tensor
    moq: torch.Tensor
    pack: torch.Tensor
    max_order: torch.Tensor
    capacity: torch.Tensor
    scale: torch.Tensor
    last_slot: torch.Tensor
    """[B, P] float: 1 at slot L - 1 (where an order with lead time L >= 1 goes), else 0."""
    zero_lead: torch.Tensor
    """[B] bool: L = 0 (the order is added to stock at once)."""
    slots: int

    @classmethod
    def from_rows(cls, params: np.ndarray, dtype=torch.float64, device="cpu") -> TwinParams:
        def col(c):
            return torch.as_tensor(np.ascontiguousarray(params[:, c]), dtype=dtype, device=device)

        lead = params[:, kernel.LEAD].astype(np.int64)
        P = max(int(lead.max()), 1)
        last = (np.arange(P)[None, :] == (lead - 1)[:, None]).astype(np.float64)
        return cls(col(kernel.LEAD), col(kernel.HOLD), col(kernel.SHORT), col(kernel.ORDER_COST),
                   col(kernel.UNIT_COST), col(kernel.MOQ), col(kernel.PACK), col(kernel.MAX_ORDER),
                   col(kernel.CAPACITY), col(kernel.SCALE), torch.as_tensor(last, dtype=dtype, device=device),
                   torch.as_tensor(lead == 0, device=device), P)


def pipeline_sum(net: torch.Tensor, pipe: torch.Tensor, slots: int | None = None) -> torch.Tensor:
    """net + pipe[:, 0] + pipe[:, 1] + ... in the kernel's order (the same float64 rounding)."""
    out = net
    for k in range(pipe.shape[1] if slots is None else slots):
        out = out + pipe[:, k]
    return out


def constrain(want: torch.Tensor, ip: torch.Tensor, p: TwinParams, relax: str = "ste") -> torch.Tensor:
    """Units ordered for requests `want` at inventory positions `ip`: ``envs.kernel.constrain`` (forward, with
    relax ste) -- 0 if want <= 1e-9; at least moq; up to a multiple of the pack size; at most max order and
    capacity - ip (rounded down to the pack size; 0 if that is below moq)."""
    limit = torch.minimum(p.max_order, p.capacity - ip)
    soft = torch.minimum(torch.relu(want), limit)
    if relax == "none":
        return soft
    pos = want > EPS
    q = torch.maximum(want, p.moq)
    q = torch.ceil(q / p.pack - EPS) * p.pack
    cut = torch.floor(limit / p.pack + EPS) * p.pack
    cut = torch.where((cut < p.moq) | (cut <= 0.0), torch.zeros_like(cut), cut)
    q = torch.where(q > limit, cut, q)
    hard = torch.where(pos, q, torch.zeros_like(q)).detach()
    return ste(hard, soft)


def serve(net: torch.Tensor, d: torch.Tensor, backorder: bool, short: torch.Tensor):
    """``envs.kernel.serve``: (net stock at the end, sales (d with backorders), units lost, backorders at the
    end, shortage cost)."""
    if backorder:
        end = net - d
        back = torch.relu(-end)
        return end, d, torch.zeros_like(end), back, short * back
    sales = torch.clamp(torch.minimum(d, net), min=0.0)
    end = net - sales
    lost = d - sales
    return end, sales, lost, torch.zeros_like(end), short * lost


def period_cost(end: torch.Tensor, q: torch.Tensor, p: TwinParams, order_ind: torch.Tensor | None = None):
    """``envs.kernel.period_cost``: (on hand, h * on hand, K * [q > 0] (or K * order_ind), c * q)."""
    on_hand = torch.relu(end)
    ind = (q > 0.0).to(q.dtype) if order_ind is None else order_ind
    return on_hand, p.hold * on_hand, p.order_cost * ind, p.unit_cost * q


def advance_pipeline(pipe: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``envs.kernel.advance_pipeline`` for every row: (what arrives now = slot 0, the shifted pipeline). Rows
    with L = 0 have an empty pipeline, so they receive 0 as in the kernel."""
    return pipe[:, 0], torch.cat([pipe[:, 1:], torch.zeros_like(pipe[:, :1])], dim=1)


@dataclass
class Period:
    """What happened in one period (the kernel's ``info`` columns that the cost and the tests need)."""

    order: torch.Tensor
    sales: torch.Tensor
    lost: torch.Tensor
    backordered: torch.Tensor
    received: torch.Tensor
    on_hand: torch.Tensor
    inventory_position: torch.Tensor
    holding_cost: torch.Tensor
    shortage_cost: torch.Tensor
    ordering_cost: torch.Tensor
    purchase_cost: torch.Tensor

    @property
    def cost(self) -> torch.Tensor:
        return self.holding_cost + self.shortage_cost + self.ordering_cost + self.purchase_cost


def inventory_position(net: torch.Tensor, pipe: torch.Tensor) -> torch.Tensor:
    return pipeline_sum(net, pipe)


def step(net: torch.Tensor, recv: torch.Tensor, pipe: torch.Tensor, p: TwinParams, request: torch.Tensor,
         d: torch.Tensor, backorder: bool, order_up_to: bool = False, relax: str = "ste",
         order_ind: torch.Tensor | None = None, fixed_cost: str = "ste"):
    """One period of every row: ``envs.kernel.step``. Returns (net, recv, pipe) at the next decision point and
    the :class:`Period`. request: units to order (or, order_up_to, the target inventory position).
    order_ind: a smoothed indicator of ordering for the fixed cost's gradient, used straight-through
    (fixed_cost ste: the value [q > 0]) or as it is (fixed_cost soft); None: [q > 0], no gradient."""
    ip = pipeline_sum(net, pipe)
    want = request - ip if order_up_to else request
    q = constrain(want, ip, p, relax)
    zq = torch.where(p.zero_lead, q, torch.zeros_like(q))
    net = net + zq
    received = recv + zq
    pipe = pipe + p.last_slot * q[:, None]
    end, sales, lost, back, short_cost = serve(net, d, backorder, p.short)
    if backorder:  # units shipped: backorders first, then this period's demand, from what is on hand
        prev_end = net - received
        available = torch.relu(prev_end) + received
        sales = torch.minimum(torch.relu(-prev_end) + d, available)
    if order_ind is not None and fixed_cost != "soft":
        order_ind = ste((q > 0.0).to(q.dtype), order_ind)
    on_hand, hold_cost, ord_cost, pur_cost = period_cost(end, q, p, order_ind)
    pos = pipeline_sum(end, pipe)
    arrival, pipe = advance_pipeline(pipe)
    info = Period(q, sales, lost, back, received, on_hand, pos, hold_cost, short_cost, ord_cost, pur_cost)
    return end + arrival, arrival, pipe, info


def observe_state(net: torch.Tensor, pipe: torch.Tensor, scale: torch.Tensor, n_pipe: int) -> torch.Tensor:
    """The state part of the env's observation (``envs.kernel.observe``): on hand, pipeline_1..n_pipe,
    inventory position, each / scale, [B, n_pipe + 2] (the caller appends the exogenous fields)."""
    ip = pipeline_sum(net, pipe, n_pipe)
    cols = [net / scale] + [pipe[:, k] / scale for k in range(n_pipe)] + [ip / scale]
    return torch.stack(cols, dim=1)


def exogenous_features(problem, episodes, t0: int = 0, periods: int | None = None) -> np.ndarray:
    """The observation fields that do not depend on the policy (demand lags, calendar, period, lead time, eoq,
    log scale, forecast), for every period of `episodes`: float32 [T, N, fields], in ``Problem.obs_fields`` order after the inventory
    position, computed as ``envs.engine.Engine.observe`` does."""
    H, W = problem.window, problem.n_lags
    T = episodes.periods if periods is None else periods
    n = episodes.n
    params = problem.params[episodes.sku]
    scale = params[:, kernel.SCALE]
    parts = []
    t = np.arange(t0, t0 + T)
    if W:
        rows = t[:, None] + (H - W) + np.arange(W)[None, :]             # [T, W]
        lags = episodes.demand[rows]                                     # [T, W, N]
        parts.append(np.transpose(lags, (0, 2, 1)) / scale[None, :, None])
    if problem.n_calendar:
        cal_rows = episodes.calendar_rows()[H + t]                       # [T, N]
        cal_rows = np.minimum(cal_rows, episodes.calendar.shape[0] - 1)
        parts.append(episodes.calendar[cal_rows])                       # [T, N, n_calendar]
    if problem.with_period:
        parts.append((t[:, None] / np.maximum(episodes.lengths, 1)[None, :])[:, :, None])
    if problem.with_lead:
        parts.append(np.broadcast_to((params[:, kernel.LEAD] * problem.lead_norm)[None, :, None], (T, n, 1)))
    if problem.with_eoq:
        from invcore.observation import eoq_cover

        v = eoq_cover(params[:, kernel.ORDER_COST], params[:, kernel.HOLD], scale)
        parts.append(np.broadcast_to(v[None, :, None], (T, n, 1)))
    if problem.with_scale:
        from invcore.observation import log_scale

        parts.append(np.broadcast_to(log_scale(scale)[None, :, None], (T, n, 1)))
    if problem.with_order:
        from invcore.observation import order_cover

        v = order_cover(params[:, kernel.MOQ], params[:, kernel.PACK], scale)
        parts.append(np.broadcast_to(v[None, :, None], (T, n, 1)))
    if problem.forecast is not None:
        from invcore.observation import ses_window

        F, alpha = problem.forecast
        past = episodes.demand[t0 + H - F:t0 + H + T - 1]               # the F demands before each period
        level, err = ses_window(np.lib.stride_tricks.sliding_window_view(past, F, axis=0), alpha)  # [T, N]
        parts.append((level * (params[:, kernel.LEAD] + 1.0)[None, :] / scale[None, :])[:, :, None])
        parts.append((err / scale[None, :])[:, :, None])
    if not parts:
        return np.zeros((T, n, 0), dtype=np.float32)
    return np.concatenate([np.asarray(x, dtype=np.float64) for x in parts], axis=2).astype(np.float32)
