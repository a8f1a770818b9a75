"""The one dynamics kernel: a period of inventory dynamics for a batch of SKUs (numba-compiled).

Every simulator in this project (the Gymnasium env, batched rollouts, later the vectorised env) calls
:func:`step` and :func:`observe`; the period timing, the order constraints and the costs are written here only.

Layouts (float64 arrays, one row per SKU):

``state``  [n, 2 + max_lead]
    ``NET``   net inventory at the decision point of the current period, after this period's arrival
              (on hand; negative = backorders in backorder mode)
    ``RECV``  units that arrived at the start of the current period
    ``PIPE + k``, k = 0..L-1: units arriving at the start of period t + 1 + k. Before the order of period t
              is placed slot L-1 is empty; the order of period t goes to slot L-1 (with L = 0 it is added
              to stock at once).
``AGE + a`` (perishable problems only, after the pipeline columns; the offset is ``Problem.age_off``): units
              on hand of age a = 0..m-1 at the decision point (a = 0: arrived this period); their sum is
              max(NET, 0).
``params`` [n, N_PARAMS]: lead time L (with random lead times: the longest possible one, the pipeline's
           length), h, p/b, K, c, moq, pack size, max order, capacity, demand scale, shelf life m (0: the
           stock does not perish), outdating cost per unit that expires, volume per unit (the shared capacity's unit).
``info``   [n, N_INFO]: what happened in the period (columns in :data:`INFO_KEYS`).

Period t (the lost-sales literature's convention, Zipkin 2008):
  1. the order of period t - L has arrived (done at the end of the previous call, or by the initial state);
  2. the requested order is turned into units: order-up-to targets minus inventory position, then
     :func:`constrain` (pack size, MOQ, max order, capacity);
  3. demand is served from stock (backorders first in backorder mode); unmet demand is lost or backordered;
  4. cost = h * on hand at end + (p * lost | b * backorders at end) + K * [order > 0] + c * order;
  then the pipeline advances and the arrival of period t + 1 is added to stock.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# state columns
NET, RECV, PIPE = 0, 1, 2
# params columns
LEAD, HOLD, SHORT, ORDER_COST, UNIT_COST, MOQ, PACK, MAX_ORDER, CAPACITY, SCALE, SHELF, OUTDATE, VOLUME = range(13)
N_PARAMS = 13
# info columns
INFO_KEYS = (
    "demand", "sales", "lost", "backordered", "received", "order", "on_hand", "inventory_position",
    "cost", "holding_cost", "shortage_cost", "ordering_cost", "purchase_cost", "outdated", "outdating_cost",
    "cut",
)
(I_DEMAND, I_SALES, I_LOST, I_BACK, I_RECV, I_ORDER, I_ON_HAND, I_IP,
 I_COST, I_HOLD, I_SHORT, I_ORDERING, I_PURCHASE, I_OUTDATED, I_OUTDATING, I_CUT) = range(len(INFO_KEYS))
N_INFO = len(INFO_KEYS)

_EPS = 1e-9
EOQ_COVER_CAP = 1000.0  # = invcore.observation.EOQ_COVER_CAP (the observation's eoq_cover field)
SMALLEST_REQUEST = 1.0  # = invcore.observation.SMALLEST_REQUEST (the observation's order_cover field)


@njit(cache=True, inline="always")
def constrain(want: float, ip: float, moq: float, pack: float, max_order: float, capacity: float) -> float:
    """Units actually ordered for a requested quantity `want` given inventory position `ip`.

    1. nothing (0) if want <= 0;  2. at least moq;  3. rounded up to a multiple of the pack size;
    4. at most max order and at most capacity - ip (both rounded down to the pack size); if that leaves
       less than moq, nothing is ordered.
    """
    if not (want > _EPS):
        return 0.0
    q = want if want > moq else moq
    if pack == 1.0:  # the same number as the general expression (q / 1.0 == q, x * 1.0 == x), minus a division
        q = math.ceil(q - _EPS)
    else:
        q = math.ceil(q / pack - _EPS) * pack
    limit = max_order
    room = capacity - ip
    if room < limit:
        limit = room
    if q > limit:
        q = math.floor(limit / pack + _EPS) * pack
        if q < moq or q <= 0.0:
            q = 0.0
    return q


@njit(cache=True, inline="always")
def serve(net: float, d: float, backorder: bool, short: float) -> tuple[float, float, float, float, float]:
    """Demand d served from net stock `net` (after this period's arrival and an L = 0 order): (net stock at the
    end, units that leave the inventory position (d with backorders, the sales with lost sales), units lost,
    backorders at the end, shortage cost: p * lost or b * backorders at the end)."""
    if backorder:
        end = net - d
        back = -end if end < 0.0 else 0.0
        return end, d, 0.0, back, short * back
    sales = d if d < net else net
    if sales < 0.0:
        sales = 0.0
    end = net - sales
    lost = d - sales
    return end, sales, lost, 0.0, short * lost


@njit(cache=True, inline="always")
def period_cost(end: float, q: float, hold: float, order_cost: float, unit_cost: float
                ) -> tuple[float, float, float, float]:
    """(on hand at the end, holding cost h * on hand, ordering cost K * [q > 0], purchase cost c * q)."""
    on_hand = end if end > 0.0 else 0.0
    return on_hand, hold * on_hand, order_cost if q > 0.0 else 0.0, unit_cost * q


@njit(cache=True, inline="always")
def advance_pipeline(pipe: np.ndarray, i: int, offset: int, L: int) -> float:
    """Shift row i's pipeline (columns offset .. offset + L - 1, slot k arriving in k + 1 periods) by one
    period and return what arrives now (0 with L = 0)."""
    if L == 0:  # (an early return: the form numba compiles as fast as the loop written out in place)
        return 0.0
    arrival = pipe[i, offset]
    for k in range(L - 1):
        pipe[i, offset + k] = pipe[i, offset + k + 1]
    pipe[i, offset + L - 1] = 0.0
    return arrival


@njit(cache=True)
def inventory_position(state: np.ndarray, params: np.ndarray, out: np.ndarray) -> None:
    """Net inventory + all outstanding orders, per SKU, at the decision point."""
    for i in range(state.shape[0]):
        L = int(params[i, LEAD])
        ip = state[i, NET]
        for k in range(L):
            ip += state[i, PIPE + k]
        out[i] = ip


@njit(cache=True)
def reorder_requests(state: np.ndarray, params: np.ndarray, request: np.ndarray) -> None:
    """Action mode reorder_point, in place: request[i] holds the reorder point s; it becomes the units of the
    (s, S = s + lot) rule, ``s + lot - IP`` when IP <= s, else 0, with lot = max(eoq_cover, 1) x scale
    (``invcore.constraints.reorder_lot`` / ``reorder_units``, the same arithmetic). Called before :func:`step`
    (units, not order-up-to); the order rules apply to the result as to any request."""
    for i in range(state.shape[0]):
        L = int(params[i, LEAD])
        ip = state[i, NET]
        for k in range(L):
            ip += state[i, PIPE + k]
        s = request[i]
        if ip <= s:
            K, h, scale = params[i, ORDER_COST], params[i, HOLD], params[i, SCALE]
            v = 0.0
            if K > 0.0:
                v = EOQ_COVER_CAP
                if h > 0.0:
                    v = min(math.sqrt(2.0 * K / (h * scale)), EOQ_COVER_CAP)
            request[i] = s + max(v, 1.0) * scale - ip
        else:
            request[i] = 0.0


@njit(cache=True)
def step(state: np.ndarray, params: np.ndarray, request: np.ndarray, demand: np.ndarray,
         backorder: bool, order_up_to: bool, info: np.ndarray) -> None:
    """Advance every SKU by one period in place (see the module docstring for the timing).

    request[i]: units to order, or (order_up_to) the target inventory position. demand[i]: this period's demand.
    """
    for i in range(state.shape[0]):
        L = int(params[i, LEAD])
        net = state[i, NET]
        received = state[i, RECV]
        ip = net
        for k in range(L):
            ip += state[i, PIPE + k]
        want = request[i] - ip if order_up_to else request[i]
        q = constrain(want, ip, params[i, MOQ], params[i, PACK], params[i, MAX_ORDER], params[i, CAPACITY])
        if L == 0:
            net += q
            received += q
        else:
            state[i, PIPE + L - 1] = q
        d = demand[i]
        end, sales, lost, back, short_cost = serve(net, d, backorder, params[i, SHORT])
        if backorder:  # units shipped: backorders first, then this period's demand, from what is on hand
            prev_end = net - received  # net inventory at the end of the previous period
            prev_back = -prev_end if prev_end < 0.0 else 0.0
            available = (prev_end if prev_end > 0.0 else 0.0) + received
            due = prev_back + d
            sales = due if due < available else available
        on_hand, hold_cost, ord_cost, pur_cost = period_cost(end, q, params[i, HOLD], params[i, ORDER_COST],
                                                             params[i, UNIT_COST])
        pos = end
        for k in range(L):
            pos += state[i, PIPE + k]
        arrival = advance_pipeline(state, i, PIPE, L)  # the arrival of period t + 1
        state[i, NET] = end + arrival
        state[i, RECV] = arrival
        info[i, I_DEMAND] = d
        info[i, I_SALES] = sales
        info[i, I_LOST] = lost
        info[i, I_BACK] = back
        info[i, I_RECV] = received
        info[i, I_ORDER] = q
        info[i, I_ON_HAND] = on_hand
        info[i, I_IP] = pos
        info[i, I_HOLD] = hold_cost
        info[i, I_SHORT] = short_cost
        info[i, I_ORDERING] = ord_cost
        info[i, I_PURCHASE] = pur_cost
        info[i, I_COST] = hold_cost + short_cost + ord_cost + pur_cost


@njit(cache=True, inline="always")
def issue(ages: np.ndarray, i: int, off: int, m: int, take: float, lifo: bool) -> None:
    """Take `take` units (<= their sum) from row i's on-hand ages ``off .. off + m - 1``: oldest first (FIFO) or
    newest first (LIFO)."""
    for j in range(m):
        if not (take > 0.0):
            break
        a = off + (j if lifo else m - 1 - j)
        v = ages[i, a]
        if v > take:
            ages[i, a] = v - take
            take = 0.0
        else:
            take -= v
            ages[i, a] = 0.0


@njit(cache=True)
def shared_cut(params: np.ndarray, group: np.ndarray, shared: np.ndarray, sums: np.ndarray, q: np.ndarray,
               ip: np.ndarray, cut: np.ndarray) -> None:
    """The shared limits of the SKUs of one warehouse (rows with the same ``group``): ``shared`` = (capacity on
    sum(VOLUME x inventory position after ordering), budget on sum(UNIT_COST x order) per period; inf = none).
    Where a group's orders q (already through :func:`constrain`) exceed a limit, every order of the group is
    cut by the same factor f = min(room / asked) over the binding limits (room = capacity - sum(volume x ip),
    at least 0; the budget), then rounded down to its pack size, and set to 0 if that is below its moq, so the
    limits always hold. q is changed in place; cut[i] = units removed. sums: [groups, 3] scratch."""
    cap, budget = shared[0], shared[1]
    sums[:, :] = 0.0
    for i in range(q.shape[0]):
        g = group[i]
        sums[g, 0] += params[i, VOLUME] * ip[i]
        sums[g, 1] += params[i, VOLUME] * q[i]
        sums[g, 2] += params[i, UNIT_COST] * q[i]
    for g in range(sums.shape[0]):
        f = 1.0
        room = cap - sums[g, 0]
        if room < 0.0:
            room = 0.0
        if sums[g, 1] > room + _EPS:
            f = room / sums[g, 1]
        if sums[g, 2] > budget + _EPS:
            fb = budget / sums[g, 2]
            if fb < f:
                f = fb
        sums[g, 0] = f
    for i in range(q.shape[0]):
        f = sums[group[i], 0]
        if f < 1.0 and q[i] > 0.0:
            pack = params[i, PACK]
            c = math.floor(f * q[i] / pack + _EPS) * pack
            if c < params[i, MOQ] or c < 0.0:
                c = 0.0
            cut[i] = q[i] - c
            q[i] = c
        else:
            cut[i] = 0.0


@njit(cache=True)
def observe_ages(state: np.ndarray, params: np.ndarray, n_age: int, age_off: int, col: int, obs: np.ndarray) -> None:
    """Perishable stock: obs[i, col + a] = units of age a on hand / scale (a < n_age; 0 beyond the SKU's own
    shelf life), the observation's ``on_hand_age_*`` fields (after those :func:`observe` writes)."""
    for i in range(state.shape[0]):
        scale = params[i, SCALE]
        for a in range(n_age):
            obs[i, col + a] = state[i, age_off + a] / scale


@njit(cache=True)
def shared_room(state: np.ndarray, params: np.ndarray, group: np.ndarray, capacity: float, sums: np.ndarray,
                room: np.ndarray) -> None:
    """room[i] = the free shared capacity of row i's warehouse / capacity, at the decision point (before
    ordering): (capacity - sum of VOLUME x inventory position over the warehouse) / capacity; sums scratch."""
    sums[:, 0] = 0.0
    for i in range(state.shape[0]):
        L = int(params[i, LEAD])
        ip = state[i, NET]
        for k in range(L):
            ip += state[i, PIPE + k]
        sums[group[i], 0] += params[i, VOLUME] * ip
    for i in range(state.shape[0]):
        room[i] = (capacity - sums[group[i], 0]) / capacity if capacity > 0.0 else 0.0


@njit(cache=True)
def step_ext(state: np.ndarray, params: np.ndarray, request: np.ndarray, demand: np.ndarray, lead: np.ndarray,
             backorder: bool, order_up_to: bool, crossing: bool, lifo: bool, age_off: int,
             info: np.ndarray, group: np.ndarray, shared: np.ndarray, sums: np.ndarray) -> None:
    """:func:`step` with the operations of an ``envs.problem.Problem`` whose ``ops`` is set (the same pieces, the
    same arithmetic in the same order, plus):

    * random lead times (``lead`` [n] >= 0: the lead time drawn for this period's order of each row; an empty
      array: every row's fixed ``LEAD``): the order goes to pipeline slot lead - 1 (added to what is there;
      lead 0: to stock at once). Without ``crossing`` an order never arrives before an earlier one: its lead
      time is raised to that of the latest outstanding units (they then arrive together);
    * perishable stock (``SHELF`` m > 0; ages at columns ``age_off ..``): demand is issued from the oldest
      units (FIFO) or the newest (``lifo``); units of age m - 1 left at the end of the period expire
      (``outdated``, at ``OUTDATE`` per unit), after holding is charged on them; the others age by one;
      arrivals enter at age 0 (after any backorders are filled from them);
    * shared limits across the SKUs of a warehouse (``group`` [n] warehouse of each row, ``shared`` = (capacity,
      budget), inf = none; ``sums`` [warehouses, 3] scratch): the orders after :func:`constrain` are cut by
      :func:`shared_cut` (info ``cut``: units removed).
    """
    randlead = lead.shape[0] > 0
    n = state.shape[0]
    for i in range(n):  # the orders (info's order and position columns as scratch until they are written)
        L = int(params[i, LEAD])
        ip = state[i, NET]
        for k in range(L):
            ip += state[i, PIPE + k]
        want = request[i] - ip if order_up_to else request[i]
        info[i, I_ORDER] = constrain(want, ip, params[i, MOQ], params[i, PACK], params[i, MAX_ORDER],
                                     params[i, CAPACITY])
        info[i, I_IP] = ip
        info[i, I_CUT] = 0.0
    if shared[0] < math.inf or shared[1] < math.inf:
        shared_cut(params, group, shared, sums, info[:, I_ORDER], info[:, I_IP], info[:, I_CUT])
    for i in range(n):
        L = int(params[i, LEAD])
        net = state[i, NET]
        received = state[i, RECV]
        q = info[i, I_ORDER]
        ell = int(lead[i]) if randlead else L
        if not crossing and q > 0.0:
            for k in range(L - 1, ell - 1, -1):  # the latest slot holding units, if later than ell - 1
                if state[i, PIPE + k] != 0.0:
                    ell = k + 1
                    break
        m = int(params[i, SHELF])
        if ell == 0:
            if m > 0 and q > 0.0:  # (sum of ages = max(net, 0): backorders are filled first)
                state[i, age_off] += q if net >= 0.0 else max(net + q, 0.0)
            net += q
            received += q
        else:
            state[i, PIPE + ell - 1] += q
        d = demand[i]
        if m > 0:
            stock = net if net > 0.0 else 0.0
            issue(state, i, age_off, m, d if d < stock else stock, lifo)
        end, sales, lost, back, short_cost = serve(net, d, backorder, params[i, SHORT])
        if backorder:  # units shipped: backorders first, then this period's demand, from what is on hand
            prev_end = net - received  # net inventory at the end of the previous period
            prev_back = -prev_end if prev_end < 0.0 else 0.0
            available = (prev_end if prev_end > 0.0 else 0.0) + received
            due = prev_back + d
            sales = due if due < available else available
        on_hand, hold_cost, ord_cost, pur_cost = period_cost(end, q, params[i, HOLD], params[i, ORDER_COST],
                                                             params[i, UNIT_COST])
        outdated = 0.0
        if m > 0:
            outdated = state[i, age_off + m - 1]
            if outdated > 0.0:
                end -= outdated
            for a in range(m - 1, 0, -1):
                state[i, age_off + a] = state[i, age_off + a - 1]
            state[i, age_off] = 0.0
        pos = end
        for k in range(L):
            pos += state[i, PIPE + k]
        arrival = advance_pipeline(state, i, PIPE, L)  # the arrival of period t + 1
        if m > 0 and arrival > 0.0:
            state[i, age_off] = arrival if end >= 0.0 else max(end + arrival, 0.0)
        state[i, NET] = end + arrival
        state[i, RECV] = arrival
        out_cost = outdated * params[i, OUTDATE]
        info[i, I_DEMAND] = d
        info[i, I_SALES] = sales
        info[i, I_LOST] = lost
        info[i, I_BACK] = back
        info[i, I_RECV] = received
        info[i, I_ORDER] = q
        info[i, I_ON_HAND] = on_hand
        info[i, I_IP] = pos
        info[i, I_HOLD] = hold_cost
        info[i, I_SHORT] = short_cost
        info[i, I_ORDERING] = ord_cost
        info[i, I_PURCHASE] = pur_cost
        info[i, I_OUTDATED] = outdated
        info[i, I_OUTDATING] = out_cost
        if m > 0:
            info[i, I_COST] = hold_cost + short_cost + ord_cost + pur_cost + out_cost
        else:
            info[i, I_COST] = hold_cost + short_cost + ord_cost + pur_cost


@njit(cache=True)
def accumulate(info: np.ndarray, active: np.ndarray, totals: np.ndarray) -> None:
    """Add a period's info to per-SKU totals for active rows; totals columns: the N_INFO info columns, then
    stockout periods (lost > 0 or backorders at the end), orders placed, sum of order^2, sum of demand^2,
    periods counted."""
    for i in range(info.shape[0]):
        if not active[i]:
            continue
        for c in range(N_INFO):
            totals[i, c] += info[i, c]
        if info[i, I_LOST] > 0.0 or info[i, I_BACK] > 0.0:
            totals[i, N_INFO] += 1.0
        q = info[i, I_ORDER]
        if q > 0.0:
            totals[i, N_INFO + 1] += 1.0
        totals[i, N_INFO + 2] += q * q
        totals[i, N_INFO + 3] += info[i, I_DEMAND] * info[i, I_DEMAND]
        totals[i, N_INFO + 4] += 1.0


@njit(cache=True)
def observe(state: np.ndarray, params: np.ndarray, trace: np.ndarray, t: int, window: int,
            calendar: np.ndarray, cal_offset: np.ndarray, n_calendar: int, period_frac: float,
            with_period: bool, lead_norm: float, with_lead: bool, n_pipe: int, with_eoq: bool,
            with_scale: bool, with_order: bool, n_lags: int, n_forecast: int, forecast_alpha: float, fc_buf: np.ndarray,
            obs: np.ndarray) -> None:
    """Write the observation of every SKU at period t (see InventoryEnv's docstring for the layout).

    trace: [history + periods, n] demand (column i = SKU i), history = `window` leading periods, so the
    demand of period t is trace[t + window]; the observation's n_lags (<= window) demand lags are
    trace[t + window - n_lags : t + window] and the forecast fields (n_forecast > 0 periods, <= window;
    0: none) are computed from trace[t + window - n_forecast : t + window] (fc_buf: float64 scratch [>= 2 n],
    used only then). calendar: [rows, n_calendar] feature rows; SKU i in period t uses row cal_offset[i] + t.
    """
    for i in range(state.shape[0]):
        scale = params[i, SCALE]
        L = int(params[i, LEAD])
        j = 0
        obs[i, j] = state[i, NET] / scale
        j += 1
        ip = state[i, NET]
        for k in range(n_pipe):
            v = state[i, PIPE + k] if k < L else 0.0
            obs[i, j] = v / scale
            ip += v
            j += 1
        obs[i, j] = ip / scale
        j += 1
        first = t + window - n_lags
        for k in range(n_lags):
            obs[i, j] = trace[first + k, i] / scale
            j += 1
        if n_calendar:
            # clamped: a finished slot of a batch whose episodes differ in length (data windows) keeps
            # being observed after its last period; its row is never used, but must not be read out of bounds
            row = min(cal_offset[i] + t, calendar.shape[0] - 1)
            for k in range(n_calendar):
                obs[i, j] = calendar[row, k]
                j += 1
        if with_period:
            obs[i, j] = period_frac
            j += 1
        if with_lead:
            obs[i, j] = L * lead_norm
            j += 1
        if with_eoq:  # invcore.observation.eoq_cover, scalar by scalar
            K, h = params[i, ORDER_COST], params[i, HOLD]
            v = 0.0
            if K > 0.0:
                v = EOQ_COVER_CAP
                if h > 0.0:
                    v = min(math.sqrt(2.0 * K / (h * scale)), EOQ_COVER_CAP)
            obs[i, j] = v
            j += 1
        if with_scale:  # log_scale: invcore.observation.log_scale
            obs[i, j] = math.log(scale)
            j += 1
        if with_order:  # order_cover: invcore.observation.order_cover, the smallest order the rules place
            smallest = constrain(SMALLEST_REQUEST, 0.0, params[i, MOQ], params[i, PACK], math.inf, math.inf)
            obs[i, j] = math.log1p(smallest / scale)
            j += 1
    if n_forecast > 0:  # (outside the loop above: no work per SKU without the forecast fields)
        col = 2 + n_pipe + n_lags + n_calendar + int(with_period) + int(with_lead) + int(with_eoq) \
            + int(with_scale) + int(with_order)
        observe_forecast(params, trace, t + window - n_forecast, n_forecast, forecast_alpha, col, fc_buf, obs)


@njit(cache=True)
def observe_forecast(params: np.ndarray, trace: np.ndarray, first: int, n_forecast: int, alpha: float, col: int,
                     buf: np.ndarray, obs: np.ndarray) -> None:
    """The forecast fields of :func:`observe` (columns col, col + 1) from the demand trace[first : first +
    n_forecast]: ``invcore.observation.ses_window`` and ``forecast_fields``, the same operations in the same
    order per SKU (the same float64 numbers), period by period over all SKUs (contiguous rows of the trace;
    SKU i's level and error accumulate in buf[i], buf[n + i])."""
    n = obs.shape[0]
    for i in range(2 * n):
        buf[i] = 0.0
    for k in range(n_forecast):
        for i in range(n):
            buf[i] += trace[first + k, i]
    for i in range(n):
        buf[i] = buf[i] / n_forecast
    for k in range(n_forecast):
        for i in range(n):
            e = trace[first + k, i] - buf[i]
            buf[n + i] += abs(e)
            buf[i] = buf[i] + alpha * e
    for i in range(n):
        scale = params[i, SCALE]
        obs[i, col] = buf[i] * (int(params[i, LEAD]) + 1.0) / scale
        obs[i, col + 1] = buf[n + i] / n_forecast / scale


# the single env's per-episode constants for step_observe, one float64 vector (fewer arguments to unbox per call)
(C_WINDOW, C_BACKORDER, C_ORDER_UP_TO, C_N_CALENDAR, C_PERIODS, C_WITH_PERIOD, C_LEAD_NORM, C_WITH_LEAD,
 C_N_PIPE, C_WITH_EOQ, C_WITH_SCALE, C_WITH_ORDER, C_N_LAGS, C_N_FORECAST, C_FORECAST_ALPHA) = range(15)
N_CFG = 15


@njit(cache=True)
def step_observe(state: np.ndarray, params: np.ndarray, request: np.ndarray, trace: np.ndarray, t: int,
                 calendar: np.ndarray, cal_offset: np.ndarray, cfg: np.ndarray, obs: np.ndarray,
                 info: np.ndarray) -> None:
    """:func:`step` of period t then :func:`observe` at period t + 1, in one call (the single env's step: one
    dispatch instead of two). cfg holds the other arguments (columns ``C_*``) and then observe's scratch
    (``fc_buf``: 2 n entries, n = the rows of state); the period feature is (t + 1) / cfg[C_PERIODS], the
    same float division the env would do."""
    window = int(cfg[C_WINDOW])
    step(state, params, request, trace[t + window], cfg[C_BACKORDER] != 0.0, cfg[C_ORDER_UP_TO] != 0.0, info)
    observe(state, params, trace, t + 1, window, calendar, cal_offset, int(cfg[C_N_CALENDAR]),
            (t + 1) / cfg[C_PERIODS], cfg[C_WITH_PERIOD] != 0.0, cfg[C_LEAD_NORM], cfg[C_WITH_LEAD] != 0.0,
            int(cfg[C_N_PIPE]), cfg[C_WITH_EOQ] != 0.0, cfg[C_WITH_SCALE] != 0.0, cfg[C_WITH_ORDER] != 0.0,
            int(cfg[C_N_LAGS]), int(cfg[C_N_FORECAST]),
            cfg[C_FORECAST_ALPHA], cfg[N_CFG:], obs)
