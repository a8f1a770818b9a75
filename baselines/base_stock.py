"""Base-stock policies tuned by simulation, the capped base-stock policy, and the hindsight bound.

Base-stock (order-up-to) policy: every period order ``max(0, S - IP)`` where IP is the inventory position
(on hand + outstanding orders - backorders). Optimal for backorders without order cost (Karlin & Scarf
1958); for lost sales it is the classical heuristic, asymptotically optimal as p/h grows (Huh, Janakiraman,
Muckstadt & Rusmevichientong 2009). S is chosen per SKU to minimise the simulated average cost on the
training window (data), or on simulated demand (parametric scenarios), with common random numbers across
candidate levels.

Capped base-stock (Xin 2021, "Understanding the performance of capped base-stock policies in lost-sales
inventory models", Operations Research 69(1)): order ``min(r, max(0, S - IP))``; S and the cap r are tuned
together. It is asymptotically optimal as the lead time grows and close to optimal for short ones.

Hindsight (data scenarios only): the best single base-stock level per SKU chosen *on the test window
itself*. It sees the future, so it is a bound on static rules, reported but never ranked as a competitor.
"""

from __future__ import annotations

import numpy as np

from envs import kernel
from envs.batch import simulate
from envs.episodes import make_episodes

from .base import LevelPolicy, Policy, TrainData, lead_times, rolling_sums
from .tuning import (
    Rule,
    capped_search,
    critical_z,
    level_grid,
    nearest,
    refine_grid,
    rule_search,
    training_episodes,
)


def upper_level(problem, train: TrainData) -> np.ndarray:
    """A level no sensible policy exceeds: 1.5 x the largest (L+1)-period training demand + 2 scales (L: the
    longest lead time)."""
    L = problem.params[:, kernel.LEAD].astype(np.int64)
    scale = problem.params[:, kernel.SCALE]
    out = np.empty(problem.n_skus)
    for i, d in enumerate(train.demand):
        top = rolling_sums(d, int(L[i]) + 1).max() if d.size else 0.0
        out[i] = 1.5 * top + 2 * scale[i]
    return out


def _level_values(values: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, None]:
    return values, None


def tune_base_stock(problem, train: TrainData, window: str | None = None, **episode_kw) -> np.ndarray:
    """Best level per SKU: a coarse grid of 61 levels 0..upper, then every integer within one coarse step of
    the best (simulated by :func:`baselines.tuning.rule_search`: the costs of ``grid_search`` with
    ``order_up_to``, bit for bit, in one fused numba pass). Kept in ``train.cache`` per problem, window and
    episode settings: base-stock and capped base-stock evaluated together tune the levels once. `window`:
    the data window the levels are tuned on (default: ``train.window``, the window `train` holds)."""
    window = window or train.window
    key = ("base_stock_levels", window, tuple(sorted(episode_kw.items())))
    hit = train.cache.get(key)
    if hit is not None and hit[0] is problem:
        return hit[1].copy()
    levels = _tune_base_stock(problem, train, window, **episode_kw)
    train.cache[key] = (problem, levels)
    return levels.copy()


def _tune_base_stock(problem, train: TrainData, window: str, **episode_kw) -> np.ndarray:
    eps, warmup = training_episodes(problem, window=window, **episode_kw)
    return levels_on(problem, train, eps, warmup)


def levels_on(problem, train: TrainData, eps, warmup: int = 0) -> np.ndarray:
    """The best base-stock level per SKU on episodes `eps` (the search of :func:`tune_base_stock`; the grid's
    upper end and the pilot from `train`). SKUs without an episode get the first candidate (0): callers that
    tune a subset of SKUs replace those."""
    coarse = level_grid(upper_level(problem, train))
    best, _ = rule_search(problem, eps, warmup, coarse, Rule.LEVEL, _level_values,
                          pilot=nearest(coarse, rule_of_thumb_level(problem, train)))
    fine = refine_grid(best, coarse)
    best, _ = rule_search(problem, eps, warmup, fine, Rule.LEVEL, _level_values, pilot=nearest(fine, best))
    return best


def rule_of_thumb_level(problem, train: TrainData) -> np.ndarray:
    """mu (L+1) + z sigma sqrt(L+1) with z the normal quantile of p / (p + h): only the pilot of the pruned
    level search (the candidate simulated first, whose cost bounds the others), never the answer."""
    H = lead_times(problem) + 1.0
    return train.mean() * H + critical_z(problem) * train.std() * np.sqrt(H)


class BaseStock(LevelPolicy):
    """Base-stock level S per SKU, tuned by simulated cost on the training window (or simulated demand)."""

    def __init__(self):
        super().__init__("base_stock")

    def fit(self, problem, train: TrainData) -> BaseStock:
        self.problem = problem
        self.levels = tune_base_stock(problem, train)
        return self


class Hindsight(LevelPolicy):
    """The best static base-stock level per SKU chosen on the evaluated (test) window: a bound, not a policy."""

    uses_future = True

    def __init__(self, window: str = "test"):
        super().__init__("hindsight_base_stock")
        self.window = window

    def fit(self, problem, train: TrainData) -> Hindsight:
        if not problem.source.replays_windows:
            raise ValueError("the hindsight bound is defined for data scenarios only")
        self.problem = problem
        test = TrainData(problem.source.window_demand(self.window), simulated=False)
        self.levels = tune_base_stock(problem, test, window=self.window)
        return self


class RecentBaseStock(LevelPolicy):
    """Base-stock tuned on only the most recent k periods of each SKU's training window, one k for all SKUs
    chosen on held-out data (level drift: retuning on recent history beat the full window by 18 % on car parts,
    ../shared/notes/real-data-baselines-measured.md).

    Selection never sees the window it is scored on. Fitted on train + val (``train.window == "fit"``: scored on
    the test window), the held-out part is each SKU's validation window; fitted on the train window (an agent's
    validation, or no validation window), it is the last :attr:`HOLDOUT` share of each SKU's train window. For
    each candidate k (fractions of the window before the held-out part, :attr:`FRACTIONS`) the levels are tuned
    on the last k periods before the held-out part and scored by simulation on it (steady start, total cost over
    SKUs); the best k is then used to tune the final levels on the last k periods of the whole fitting window
    (the held-out part included). SKUs whose recent window would be empty keep the full-window level.
    Parametric demand is stationary or restarts each episode: the full (simulated) training data is used
    (k = all)."""

    FRACTIONS = (0.125, 0.25, 0.5, 1.0)
    HOLDOUT = 0.2
    sku_separable = False  # one k for all SKUs, chosen on their summed held-out cost

    def __init__(self):
        super().__init__("recent_base_stock_tuned")
        self.k_fraction: float | None = None
        self.holdout_costs: dict[float, float] = {}

    def fit(self, problem, train: TrainData) -> RecentBaseStock:
        self.problem = problem
        full = tune_base_stock(problem, train)
        self.levels = full
        src = problem.source
        if not src.replays_windows:
            self.k_fraction = 1.0
            return self
        window = train.window
        r = src._ranges[window]
        s, e = r[:, 0].astype(np.int64), r[:, 1].astype(np.int64)
        length = e - s
        hold = np.floor(self.HOLDOUT * length).astype(np.int64)
        if window == "fit":  # the validation window is the held-out part (where the SKU has one)
            v = src._ranges["val"]
            val_len = (v[:, 1] - v[:, 0]).astype(np.int64)
            hold = np.where(val_len >= 1, val_len, hold)
        val_start = e - hold
        ok = (hold >= 1) & (val_start - s >= 2)  # SKUs with a held-out part and something before it
        if not ok.any():
            self.k_fraction = 1.0
            return self
        skus = np.flatnonzero(ok)
        val_eps = make_episodes(problem, window, replay=True, skus=skus, start=val_start[skus])
        self.holdout_costs = {}
        for f in self.FRACTIONS:
            levels = self._recent_levels(problem, full, s[skus], val_start[skus], f, skus, window)
            self.holdout_costs[f] = self._cost(problem, val_eps, levels)
        self.k_fraction = min(self.holdout_costs, key=lambda f: (self.holdout_costs[f], -f))
        everyone = np.arange(problem.n_skus)
        self.levels = self._recent_levels(problem, full, s, e, self.k_fraction, everyone, window)
        return self

    @staticmethod
    def _recent_levels(problem, full: np.ndarray, start: np.ndarray, end: np.ndarray, fraction: float,
                       skus: np.ndarray, window: str = "train") -> np.ndarray:
        """Levels tuned on the last max(2, fraction x (end - start)) periods before `end` of each SKU in `skus`
        (the others keep `full`)."""
        out = full.copy()
        k = np.maximum(np.ceil(fraction * (end - start)).astype(np.int64), 2)
        begin = np.maximum(start, end - k)
        keep = end - begin >= 2
        if not keep.any():
            return out
        sk, b, n = skus[keep], begin[keep], (end - begin)[keep]
        eps = make_episodes(problem, window, replay=True, skus=sk, start=b, periods=n)
        demand = [np.empty(0)] * problem.n_skus
        for j, i in enumerate(sk.tolist()):
            demand[i] = eps.episode_demand(j)
        sub = TrainData(demand, simulated=False)
        levels = levels_on(problem, sub, eps, 0)
        out[sk] = levels[sk]
        return out

    @staticmethod
    def _cost(problem, eps, levels: np.ndarray) -> float:
        totals, _ = simulate(problem, eps, lambda sim: levels[sim.episodes.sku], order_up_to=True)
        return float(totals[:, kernel.I_COST].sum())

    def describe(self) -> str:
        if self.k_fraction is None:
            return self.name
        costs = ", ".join(f"{f:g}: {c:.6g}" for f, c in self.holdout_costs.items())
        return (f"{self.name}: levels tuned on the last {self.k_fraction:g} of each training window (held-out "
                f"costs by fraction: {costs or 'n/a'}); " + super().describe().split(": ", 1)[1])


class CappedBaseStock(Policy):
    """Order min(r, max(0, S - IP)) each period; S and the cap r tuned together per SKU (Xin 2021)."""

    name = "capped_base_stock"
    sku_fields = ("levels", "caps")
    CAP_MULTIPLES = np.array([0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, np.inf])

    def fit(self, problem, train: TrainData) -> CappedBaseStock:
        self.problem = problem
        eps, warmup = training_episodes(problem, window=train.window)
        S0 = tune_base_stock(problem, train)
        mean = np.maximum(train.mean(), 1e-9)
        # levels from 0.7 S* to 1.6 S* (the cap lets a higher S pay off), caps in multiples of mean demand
        s_grid = np.rint(S0[:, None] * np.linspace(0.7, 1.6, 19)[None, :] + np.arange(19)[None, :] * 0.0)
        s_grid = np.maximum(s_grid, 0)
        caps = np.ceil(mean[:, None] * self.CAP_MULTIPLES[None, :])
        grid = np.stack(np.broadcast_arrays(s_grid[:, :, None], caps[:, None, :]), axis=-1)
        grid = grid.reshape(problem.n_skus, -1, 2)

        def values(v: np.ndarray, sku: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            # order min(r, max(0, S - IP)) (CappedBaseStock.act), simulated in one fused pass
            return v[:, 0], v[:, 1]

        # the same grid search, simulated by capped_search (pruned, caps that never bind copied); its pilot:
        # S = S* (the base-stock level), no cap
        pilot = np.full(problem.n_skus, 6 * self.CAP_MULTIPLES.size + self.CAP_MULTIPLES.size - 1)
        best, _ = capped_search(problem, eps, warmup, grid, pilot)
        # integer refinement of S around the best, cap fixed
        s_fine = np.maximum(best[:, :1] + np.arange(-3, 4)[None, :], 0)
        grid2 = np.stack(np.broadcast_arrays(s_fine, best[:, 1:2]), axis=-1)
        best, _ = rule_search(problem, eps, warmup, grid2, Rule.CAPPED, values, pilot=np.full(problem.n_skus, 3))
        self.levels, self.caps = best[:, 0], best[:, 1]
        return self

    def start(self, episodes) -> None:
        super().start(episodes)
        self._S = self.levels[episodes.sku]
        self._r = self.caps[episodes.sku]

    def act(self, obs, state) -> np.ndarray:
        return np.minimum(np.maximum(self._S - state.inventory_position, 0.0), self._r)

    def describe(self) -> str:
        if self.levels.size == 1:
            return f"{self.name}: S = {self.levels[0]:g}, cap r = {self.caps[0]:g}"
        return f"{self.name}: S and cap per SKU (median S {np.median(self.levels):g})"
