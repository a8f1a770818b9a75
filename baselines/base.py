"""The one policy interface that baselines and learned agents share, and the training data they are fit on.

Life of a policy::

    policy.fit(problem, train)          # once: estimate parameters on the training window (or simulated demand)
    policy.start(episodes)              # before an evaluation batch: per-episode set-up (SKU levels, forecasts
                                        # rolled forward over the demand observed before the episode)
    orders = policy.act(obs, state)     # every period, batched over the episodes: requested order units [N]

``state`` is an :class:`envs.batch.RawState` (on hand, pipeline, inventory position, last period's demand,
per-episode parameters); ``obs`` is the env's observation matrix [N, obs_dim] (only built for policies with
``needs_obs``). A policy sees the demand of periods before t only: the simulator hands it
``state.last_demand`` after the period is over, never the future. The one exception is labelled
``uses_future`` (the hindsight bound) and is reported, never ranked as a competitor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs import kernel
from envs.batch import RawState
from envs.episodes import STREAMS, Episodes
from envs.problem import Problem


@dataclass(frozen=True)
class TrainData:
    """Training demand per SKU (index = the problem's SKU index).

    For data scenarios: each SKU's demand in `window`: ``train``, or ``fit`` (train + val) for rules scored on
    the test window (:func:`fit_window`); rules that tune parameters by simulation replay the same window
    (``baselines.tuning.training_episodes(problem, window=train.window)``). For parametric scenarios: `periods`
    periods simulated from the scenario's own demand model with a seed that evaluation does not use (whole
    episodes, concatenated, when the demand has a trend or season that restarts each episode).
    """

    demand: list[np.ndarray]
    simulated: bool
    window: str = "train"
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    """Results computed from this training data that several policies need (e.g. the tuned base-stock levels,
    which capped base-stock starts from): computed once per evaluation. Keys name what and for which problem."""

    def mean(self) -> np.ndarray:
        if "mean" not in self.cache:
            self.cache["mean"] = np.array([d.mean() if d.size else 0.0 for d in self.demand])
        return self.cache["mean"].copy()

    def std(self) -> np.ndarray:
        if "std" not in self.cache:
            self.cache["std"] = np.array([d.std(ddof=1) if d.size > 1 else 0.0 for d in self.demand])
        return self.cache["std"].copy()


def train_data(problem: Problem, periods: int = 20_000, seed: int = STREAMS["fit"], window: str = "train"
               ) -> TrainData:
    """Each SKU's training demand (:class:`TrainData`), from the demand source (``train_demand``): its train
    window, or `window` (see :func:`fit_window`; parametric scenarios have no windows)."""
    src = problem.source
    if not src.replays_windows:
        window = "train"
    return TrainData(src.train_demand(problem, periods, seed, window), simulated=not src.replays_windows,
                     window=window)


def fit_window(problem: Problem, window: str) -> str:
    """The window classical rules are fitted and tuned on before they are scored on `window`: everything
    before it. Scored on the test window: ``fit`` (train + val) when the scenario has a validation window,
    else ``train``; on the val window (an agent's validation): ``train``, never the window scored on."""
    src = problem.source
    if window == "test" and src.replays_windows and len(src.skus_in("val")):
        return "fit"
    return "train"


class Policy:
    """Base class: subclasses set `name` and implement `act` (and usually `fit`)."""

    name: str = "policy"
    needs_obs: bool = False
    uses_future: bool = False
    learned: bool = False
    """A trained agent (``agents.policy.AgentPolicy``), not a classical rule: reports give it the verdict."""
    order_up_to: bool = False
    """act() returns target inventory positions rather than order quantities."""
    sku_separable: bool = True
    """Fitted SKU by SKU: fitting on a subset of the SKUs (``Problem.subset``) gives the same parameters for
    them, so an evaluation may fit and simulate the catalogue in SKU chunks (``baselines.evaluation``). False
    where a fit chooses across SKUs (one k for all SKUs, the largest SKUs get a model)."""
    sku_fields: tuple[str, ...] = ()
    """Per-SKU fitted arrays (first axis = SKU) that :meth:`describe` reads: a chunked evaluation concatenates
    them over the chunks to describe the whole catalogue's fit."""

    def fit(self, problem: Problem, train: TrainData) -> Policy:
        self.problem = problem
        return self

    def start(self, episodes: Episodes) -> None:
        self.episodes = episodes

    def act(self, obs: np.ndarray | None, state: RawState) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        """One line for reports: the policy and its fitted parameters (summarised over SKUs)."""
        return self.name


class LevelPolicy(Policy):
    """Order up to a per-SKU level S on inventory position each period (base-stock, (R,S) with R = 1)."""

    order_up_to = True
    sku_fields = ("levels",)

    def __init__(self, name: str):
        self.name = name
        self.levels: np.ndarray = np.zeros(0)

    def start(self, episodes: Episodes) -> None:
        super().start(episodes)
        self._S = self.levels[episodes.sku]

    def act(self, obs, state: RawState) -> np.ndarray:
        return self._S

    def describe(self) -> str:
        lv = self.levels
        if lv.size == 1:
            return f"{self.name}: S = {lv[0]:g}"
        return f"{self.name}: S per SKU, median {np.median(lv):g} (min {lv.min():g}, max {lv.max():g})"


def lead_times(problem: Problem) -> np.ndarray:
    """The lead time per SKU that rules protect against: the fixed one, or with random lead times the mean
    rounded to whole periods (tuned rules then find their levels by simulation)."""
    if problem.lead_dist is not None:
        mean = problem.lead_dist @ np.arange(problem.lead_dist.shape[1])
        return np.rint(mean).astype(np.int64)
    return problem.params[:, kernel.LEAD].astype(np.int64)


def rolling_sums(demand: np.ndarray, k: int) -> np.ndarray:
    """Sums of k consecutive periods (the demand over a protection interval), all windows."""
    if demand.size < k:
        return np.array([demand.sum() * k / max(demand.size, 1)])
    c = np.concatenate([[0.0], np.cumsum(demand)])
    return c[k:] - c[:-k]
