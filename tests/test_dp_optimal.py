"""The exact lost-sales optimum (baselines.dp_optimal): published values, exact base-stock costs, an independent
Monte-Carlo check of the optimal policy, an independent brute-force DP, truncation, and policy structure."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from baselines.dp_optimal import DPSolution, best_base_stock, morton_bound, policy_cost, solve_lost_sales

MEAN, H = 5.0, 1.0

# Zipkin (2008), "Old and new methods for lost-sales inventory systems", optimal average cost, Poisson(5), h=1
ZIPKIN = {
    (1, 4): 4.0407, (1, 9): 5.4382, (1, 19): 6.6757, (1, 39): 7.8359,
    (2, 4): 4.3953, (2, 9): 6.0936, (2, 19): 7.6644, (2, 39): 9.1064,
    (3, 4): 4.5987, (3, 9): 6.5314, (3, 19): 8.3625, (3, 39): 10.0385,
    (4, 4): 4.7285, (4, 9): 6.8359,
}
# best base-stock policies (L, p, S, cost), same source
BASE_STOCK = [(1, 4, 12, 4.1628), (1, 9, 13, 5.5475), (2, 9, 19, 6.3163), (2, 4, 16, 4.6386)]

_CACHE: dict[tuple[int, float], DPSolution] = {}


def solved(L: int, p: float) -> DPSolution:
    if (L, p) not in _CACHE:
        _CACHE[(L, p)] = solve_lost_sales(MEAN, L, H, p)
    return _CACHE[(L, p)]


def position(sol: DPSolution) -> np.ndarray:
    """Inventory position (on hand + pipeline) of every grid point of sol.policy."""
    return np.indices(sol.policy.shape).sum(0)


# ----------------------------------------------------------------------------------------- published values
@pytest.mark.parametrize("L,p", list(ZIPKIN))
def test_zipkin_optimum(L, p):
    sol = solved(L, p)
    assert sol.avg_cost == pytest.approx(ZIPKIN[(L, p)], abs=1e-3)
    assert sol.lower_bound <= sol.avg_cost <= sol.upper_bound
    assert sol.span < 1e-6 and sol.upper_bound - sol.lower_bound == pytest.approx(sol.span)


def test_lead_time_4_p39_truncation_and_simulation():
    """The largest instance: enlarging the truncation changes nothing, and a simulation agrees."""
    sol = solved(4, 39)
    assert sol.avg_cost == pytest.approx(10.7944, abs=1e-3)
    big = solve_lost_sales(MEAN, 4, H, 39, max_on_hand=sol.max_on_hand + 4)
    assert abs(big.avg_cost - sol.avg_cost) < 1e-4 and big.max_order_up_to == sol.max_order_up_to
    est, se = simulate(sol, n_chains=2000, periods=250, burn=80, seed=4039)
    assert abs(est - sol.avg_cost) < 4 * se, (est, se, sol.avg_cost)


@pytest.mark.parametrize("L,p,S,cost", BASE_STOCK)
def test_base_stock_cost_exact(L, p, S, cost):
    assert policy_cost(S, MEAN, L, H, p) == pytest.approx(cost, abs=5e-4)
    # the same policy as a batched callable gives the same number
    f = lambda oh, pipe: np.maximum(S - oh - pipe.sum(1), 0)  # noqa: E731
    assert policy_cost(f, MEAN, L, H, p, max_position=S + 3) == pytest.approx(policy_cost(S, MEAN, L, H, p),
                                                                             abs=1e-9)


@pytest.mark.parametrize("L,p,S,cost", BASE_STOCK)
def test_best_base_stock(L, p, S, cost):
    s, c = best_base_stock(MEAN, L, H, p)
    assert s == S and c == pytest.approx(cost, abs=5e-4)
    assert solved(L, p).avg_cost < c  # the optimum beats the best base-stock policy


@pytest.mark.parametrize("L,p", [(1, 9), (2, 4), (3, 19)])
def test_policy_cost_of_optimal_policy(L, p):
    sol = solved(L, p)
    assert policy_cost(sol) == pytest.approx(sol.avg_cost, abs=sol.span + 1e-9)


# ------------------------------------------------------------------------------------ independent checks
def simulate(sol: DPSolution, n_chains: int, periods: int, burn: int, seed: int) -> tuple[float, float]:
    """Plain numpy simulation of the lost-sales dynamics under sol's policy: mean cost per period and its
    standard error (independent chains as batches)."""
    rng = np.random.default_rng(seed)
    L, mu, h, p = sol.lead_time, sol.demand_mean, sol.holding_cost, sol.lost_sales_penalty
    on_hand = rng.integers(0, 15, n_chains)
    pipe = rng.integers(0, 8, (n_chains, L - 1))
    total = np.zeros(n_chains)
    for t in range(burn + periods):
        q = sol.orders(on_hand, pipe)
        assert q.dtype.kind == "i" and (q >= 0).all()
        d = rng.poisson(mu, n_chains)
        left = np.maximum(on_hand - d, 0)
        lost = np.maximum(d - on_hand, 0)
        if t >= burn:
            total += h * left + p * lost
        if L == 1:
            on_hand = left + q
        else:  # the oldest pipeline order arrives at the start of the next period
            on_hand = left + pipe[:, 0]
            pipe = np.concatenate([pipe[:, 1:], q[:, None]], axis=1)
    means = total / periods
    return float(means.mean()), float(means.std(ddof=1) / math.sqrt(n_chains))


@pytest.mark.parametrize("L,p", [(1, 9), (2, 9), (3, 19)])
def test_monte_carlo_agrees(L, p):
    sol = solved(L, p)
    est, se = simulate(sol, n_chains=1000, periods=250, burn=60, seed=L * 100 + p)  # 250k periods
    assert se < 0.05
    assert abs(est - sol.avg_cost) < 4 * se, (est, se, sol.avg_cost)


def brute_force(mean: float, L: int, h: float, p: float, B: int, iters: int = 5000) -> tuple[float, dict]:
    """Textbook average-cost value iteration with explicit loops over states, orders and demand values
    (demand truncated far out with the tail folded into 'sell out'); same state set X_B as the solver."""
    states = [x for x in itertools.product(range(B + 1), repeat=L) if sum(x) <= B]
    index = {x: i for i, x in enumerate(states)}
    dmax = 60
    pmf = stats.poisson.pmf(np.arange(dmax + 1), mean)
    trans = []  # per state: list over q of (cost, [(prob, next index)])
    for x in states:
        acts = []
        for q in range(B - sum(x) + 1):
            cost, nxt = 0.0, {}
            for d in range(dmax + 1):
                pr = pmf[d] if d < dmax else 1.0 - pmf[:dmax].sum()
                left = max(x[0] - d, 0)
                cost += pr * (h * left + p * max(d - x[0], 0))
                y = (left + q,) if L == 1 else (left + x[1],) + x[2:] + (q,)
                nxt[index[y]] = nxt.get(index[y], 0.0) + pr
            acts.append((cost, np.array(list(nxt)), np.array(list(nxt.values()))))
        trans.append(acts)
    v = np.zeros(len(states))
    for _ in range(iters):
        w = np.array([min(c + pr @ v[j] for c, j, pr in acts) for acts in trans])
        dlt = w - v
        v = w - w[0]
        if dlt.max() - dlt.min() < 1e-10:
            break
    pol = {x: int(np.argmin([c + pr @ v[j] for c, j, pr in acts])) for x, acts in zip(states, trans, strict=True)}
    return 0.5 * (dlt.max() + dlt.min()), pol


@pytest.mark.parametrize("L,p", [(1, 9), (2, 4), (3, 9)])
def test_matches_brute_force_dp(L, p):
    mean = 1.5
    B = morton_bound(mean, L, H, p) + 1
    g, pol = brute_force(mean, L, H, p, B)
    sol = solve_lost_sales(mean, L, H, p, max_on_hand=B, tol=1e-10)
    assert sol.avg_cost == pytest.approx(g, abs=1e-7)
    for x, q in pol.items():
        assert sol.order(x[0], x[1:]) == q, x


# ------------------------------------------------------------------------------------------- truncation
@pytest.mark.parametrize("L,p", [(1, 39), (2, 9), (2, 39), (3, 4)])
def test_truncation_does_not_bias(L, p):
    sol = solved(L, p)
    big = solve_lost_sales(MEAN, L, H, p, max_on_hand=sol.max_on_hand + 6, max_order=sol.max_order + 6)
    assert big.max_on_hand == sol.max_on_hand + 6
    assert abs(big.avg_cost - sol.avg_cost) < 1e-4
    assert abs(big.avg_cost - sol.avg_cost) <= sol.span + big.span
    assert big.max_order_up_to == sol.max_order_up_to < sol.max_on_hand  # the cap never binds
    small = big.policy[tuple(slice(0, n) for n in sol.policy.shape)]
    inside = position(sol) <= sol.max_on_hand
    np.testing.assert_array_equal(small[inside], sol.policy[inside])


def test_explicit_small_truncation_is_worse():
    """A cap below the optimal order-up-to levels binds and raises the cost (the solver obeys the cap)."""
    sol = solved(2, 9)
    capped = solve_lost_sales(MEAN, 2, H, 9, max_on_hand=sol.max_order_up_to - 2)
    assert capped.max_order_up_to <= capped.max_on_hand
    assert capped.avg_cost > sol.avg_cost + 1e-3
    assert capped.policy.shape == (capped.max_on_hand + 1, capped.max_order + 1)


def test_aperiodicity_transform_same_gain():
    a = solved(2, 19)
    b = solve_lost_sales(MEAN, 2, H, 19, aperiodicity=0.5)
    assert b.avg_cost == pytest.approx(a.avg_cost, abs=1e-6)
    np.testing.assert_array_equal(a.policy, b.policy)


# ------------------------------------------------------------------------------------------- structure
@pytest.mark.parametrize("L,p", [(1, 4), (1, 39), (2, 9), (2, 39), (3, 4), (3, 19)])
def test_bounded_sensitivity(L, p):
    """Karlin & Scarf / Zipkin (2008): the optimal order is non-increasing in on hand and in every pipeline
    entry, and drops by at most one unit per extra unit (checked on the whole state set X_B)."""
    sol = solved(L, p)
    pol = sol.policy.astype(np.int64)
    inside = position(sol) <= sol.max_on_hand
    for k in range(L):
        d = np.diff(pol, axis=k)
        both = np.take(inside, range(1, pol.shape[k]), axis=k)  # x + e_k still in X_B (then so is x)
        assert d[both].max() <= 0 and d[both].min() >= -1, k


@pytest.mark.parametrize("L,p", [(1, 9), (2, 4), (2, 39), (3, 9), (3, 39)])
def test_order_bounded_by_morton_base_stock(L, p):
    """The optimal order never exceeds the base-stock order for Morton's level S_bar (the p/(p+h) quantile of
    L+1 periods' demand), and it is 0 at inventory position >= S_bar."""
    sol = solved(L, p)
    s_bar = morton_bound(MEAN, L, H, p)
    ip = position(sol)
    inside = ip <= sol.max_on_hand
    assert (sol.policy[inside] <= np.maximum(s_bar - ip[inside], 0)).all()
    assert sol.max_order_up_to <= s_bar


@pytest.mark.parametrize("L,p", [(1, 4), (1, 39), (2, 9), (3, 39)])
def test_order_bounded_by_best_base_stock_where_it_holds(L, p):
    """In these instances the optimal order never exceeds the order of the best base-stock policy S*."""
    sol = solved(L, p)
    s_star, _ = best_base_stock(MEAN, L, H, p)
    ip = position(sol)
    inside = ip <= sol.max_on_hand
    assert (sol.policy[inside] <= np.maximum(s_star - ip[inside], 0)).all()


def test_order_can_exceed_best_base_stock_order():
    """...but not in general: q* falls by less than one unit per unit of stock, so it crosses the base-stock
    line. L=1, p=9, S*=13: with 12 on hand the optimum orders 2 (base-stock: 1), and ordering 1 is worse."""
    sol = solve_lost_sales(MEAN, 1, H, 9, keep_values=True)
    assert best_base_stock(MEAN, 1, H, 9)[0] == 13
    assert sol.order(12) == 2 and sol.order(9) == 5 and sol.max_order_up_to == 14
    v, pmf = sol.values, stats.poisson.pmf(np.arange(13), MEAN)

    def q_value(y, q):  # expected relative value after ordering q with y on hand (same cost term)
        probs = np.concatenate([[1 - pmf[:y].sum()], pmf[:y][::-1]])  # P((y - D)^+ = r), r = 0..y
        return float(probs @ v[np.arange(y + 1) + q])

    assert q_value(12, 2) < q_value(12, 1) - 1e-3


# ------------------------------------------------------------------------------------------------- API
def test_api_lookup_and_clipping():
    sol = solved(3, 9)
    assert sol.policy.shape == (sol.max_on_hand + 1, sol.max_order + 1, sol.max_order + 1)
    assert sol.policy.dtype.kind == "i"
    assert (sol.lead_time, sol.demand_mean, sol.holding_cost, sol.lost_sales_penalty) == (3, MEAN, H, 9.0)
    assert sol.iterations > 0 and sol.n_states > 0
    rng = np.random.default_rng(0)
    oh = rng.integers(0, 20, 500)
    pipe = rng.integers(0, 10, (500, 2))
    batch = sol.orders(oh, pipe)
    assert batch.shape == (500,) and batch.dtype == np.int64
    assert all(sol.order(int(a), list(b)) == q for a, b, q in zip(oh[:50], pipe[:50], batch[:50], strict=True))
    assert sol.order(0, [0, 0]) == sol.policy[0, 0, 0] > 0
    # outside the grid: clipped (huge stock -> order nothing; negative -> treated as 0)
    assert sol.order(10_000, [0, 0]) == 0 and sol.order(0, [10_000, 0]) == 0
    assert sol.order(-3, [0, 0]) == sol.order(0, [0, 0])
    # float inputs (as in the env's state arrays) are rounded
    np.testing.assert_array_equal(sol.orders(oh.astype(float), pipe.astype(float)), batch)
    with pytest.raises(ValueError):
        sol.orders(oh, pipe[:, :1])
    one = solved(1, 9)
    assert one.order(3) == one.order(3, []) == int(one.orders(np.array([3]))[0])


def test_policy_cost_rejects_open_policy():
    with pytest.raises(ValueError):
        policy_cost(lambda oh, pipe: np.full(oh.shape, 50), MEAN, 2, H, 9, max_position=30)


def test_capped_policy_cost():
    """A policy within the state set costs what policy_cost says (base-stock S = 19, L = 2, p = 9: Zipkin's
    6.3163); one whose stock grows without bound is reported as inf, not as the cost of its capped chain."""
    from baselines.dp_optimal import capped_policy_cost, policy_cost

    def base_stock(on_hand, pipe):
        return np.maximum(19 - on_hand - pipe.sum(axis=1), 0)

    c = capped_policy_cost(base_stock, 5.0, 2, 1.0, 9.0, max_position=30)
    assert c == pytest.approx(policy_cost(19, 5.0, 2, 1.0, 9.0), abs=1e-9)
    assert c == pytest.approx(6.3163, abs=5e-5)
    assert capped_policy_cost(lambda on_hand, pipe: np.full(on_hand.shape, 8.0), 5.0, 2, 1.0, 9.0,
                              max_position=30) == float("inf")
