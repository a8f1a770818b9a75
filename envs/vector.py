"""Vectorised ``Inventory-v0``: N SKU-episodes stepped in one kernel call, with the exact dynamics of the single env.

Two front ends over one engine:

* :class:`VectorInventoryEnv`, a ``gymnasium.vector.VectorEnv`` (the ``vector_entry_point`` of
  ``Inventory-v0``: ``gymnasium.make_vec("Inventory-v0", num_envs=N, vectorization_mode="vector_entry_point",
  scenario=...)``). Same-step autoreset (``metadata["autoreset_mode"] = AutoresetMode.SAME_STEP``): when a slot's
  episode ends, ``step`` returns the first observation of its next episode and puts the last one in
  ``infos["final_obs"]`` (mask ``infos["_final_obs"]``), as gymnasium's SyncVectorEnv does in that mode.
* :class:`InventoryVecEnv`, a ``stable_baselines3`` ``VecEnv`` (``PPO("MlpPolicy", InventoryVecEnv(scenario,
  num_envs=N))``): ``dones``, a list of per-slot ``infos`` with ``terminal_observation``,
  ``TimeLimit.truncated`` and a Monitor-style ``episode`` summary at episode ends.

Dynamics, costs, constraints and observations come from :mod:`envs.kernel` through the batched
:class:`envs.engine.Engine` (which owns the slots' state, parameters, demand and clocks) and the tables of
:class:`envs.problem.Problem`; episodes come from the one factory (:func:`envs.episodes.make_episodes`); this
module maps actions to requests exactly as ``InventoryEnv`` does, computes rewards with the env's
:class:`envs.reward.Reward`, and restarts the slots whose episode ended. The SB3 adapter is in
:mod:`envs.sb3_vec`, the fast demand sampler in :mod:`envs.sampling`.

Slots and SKUs: by default slot i runs SKU ``pool[i mod len(pool)]`` (the pool: every SKU of a parametric
scenario, the SKUs with data in the window of a data scenario), so ``num_envs`` = the number of SKUs runs the
whole catalogue once; ``skus="random"`` draws the SKU of each new episode uniformly from the pool, like the
single env; an array gives each slot its SKU (indices or names).

Episodes are drawn like the single env's (same distributions, another random stream): stationary parametric
demand by inversion (:mod:`envs.sampling`), other parametric demand for all slots that start an episode in one
call (with promotions, each slot draws its own promotion days); data episodes replay the train window from a random start (or block-bootstrapped) and val/test windows
from their start to their end. Episodes end by truncation only (``episode_length``, or the end of the data
window), never by termination.

Per-slot info: ``info="arrays"`` (default) keeps SB3 ``infos`` small (the fields above only) and gives the
period's figures as arrays in :attr:`VectorInventoryEnv.last_info` (``demand, sales, ..., requested, period,
sku``); ``info="dicts"`` also puts the single env's info dict (same keys and values) in every slot's info: exact
but slow (a Python dict per SKU and step), meant for tests and small N.
"""


from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from . import kernel
from .engine import Engine
from .episodes import INITIAL_STATES, Episodes, make_episodes
from .problem import Problem
from .reward import Reward
from .scenario import Scenario, ScenarioError

EpisodeSource = Callable[[np.random.Generator, np.ndarray, np.ndarray], Episodes]
"""``(rng, SKU of each new episode, slot of each) -> Episodes`` for those slots."""


class VectorInventoryEnv(gym.vector.VectorEnv):
    """``num_envs`` SKU-episodes of ``Inventory-v0`` stepped together (see the module docstring).

    ``VectorInventoryEnv(num_envs=None, scenario="lost-sales-L2-p9", *, skus=None, window=None,
    initial_state=None, info="arrays", episode_source=None, reward=None, sampler="inverse_cdf", **overrides)``:
    ``num_envs`` defaults to
    the number of SKUs in the pool; ``scenario`` and ``overrides`` as for ``InventoryEnv``; ``window`` replays
    another data window than the scenario's; ``initial_state`` overrides the scenario's; ``episode_source``
    (:data:`EpisodeSource`) replaces the episode factory (tests use it to replay the single env's demand);
    ``reward`` (:class:`envs.reward.Reward`) replaces the scenario's reward; ``sampler`` see :attr:`sampler`.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, num_envs: int | None = None, scenario: str | Scenario = "lost-sales-L2-p9", *,
                 skus: str | Sequence | np.ndarray | None = None, window: str | None = None,
                 initial_state: str | None = None, info: str = "arrays", episode_source: EpisodeSource | None = None,
                 render_mode: str | None = None, problem: Problem | None = None, reward: Reward | None = None,
                 sampler: str = "inverse_cdf", **overrides: Any):
        pb = problem if problem is not None else Problem(scenario, **overrides)
        self.problem = pb
        self.scenario = sc = pb.scenario
        if render_mode is not None:
            raise ScenarioError("VectorInventoryEnv does not render; use InventoryEnv(render_mode='ansi')")
        self.render_mode = None
        if info not in ("arrays", "dicts"):
            raise ScenarioError(f"info must be 'arrays' or 'dicts', got {info!r}")
        self.info_mode = info
        self.window = window or (sc.data.window if sc.data is not None else "train")
        if self.window not in ("train", "val", "test", "fit"):
            raise ScenarioError(f"window must be train, val, test or fit (train + val), got {self.window!r}")
        pool = pb.source.skus_in(self.window)
        if pool.size == 0:
            raise ScenarioError(f"no SKU has data in the {self.window} window")
        self.pool = pool
        if sampler not in ("inverse_cdf", "per_episode", "joint"):
            raise ScenarioError(f"sampler must be inverse_cdf, per_episode or joint, got {sampler!r}")
        self.sampler = sampler
        """How parametric demand is drawn (:meth:`envs.demand.ParametricDemand.episodes`): ``inverse_cdf`` (default;
        stationary demand by inversion), ``per_episode`` (numpy's samplers, promotion days per episode)."""
        self._source = episode_source or self._episodes
        self._random_sku = isinstance(skus, str) and skus == "random"
        if self._random_sku and np.isfinite(pb.shared).any():
            raise ScenarioError("skus='random' with shared limits: the slots of a warehouse must hold its SKUs "
                                "in lockstep (slot j = SKU j mod n_skus, warehouse j // n_skus)")
        if skus is None or self._random_sku:
            n = int(num_envs) if num_envs is not None else int(pool.size)
            self._fixed_sku = None if self._random_sku else pool[np.arange(n) % pool.size]
        else:
            fixed = np.array([pb.sku_index(s) for s in (skus.tolist() if isinstance(skus, np.ndarray) else skus)],
                             dtype=np.int64)
            n = int(num_envs) if num_envs is not None else fixed.size
            if fixed.size != n:
                raise ScenarioError(f"skus gives {fixed.size} SKUs for {n} slots")
            self._fixed_sku = fixed
        if n < 1:
            raise ScenarioError(f"num_envs must be >= 1, got {n}")
        self.num_envs = n
        self.initial_state = initial_state or sc.initial_state
        if self.initial_state not in INITIAL_STATES:
            raise ScenarioError(f"initial_state must be random, steady or empty, got {self.initial_state!r}")
        self.single_observation_space = pb.observation_space
        self.single_action_space = pb.action_space
        self.observation_space = batch_space(pb.observation_space, n)
        self.action_space = batch_space(pb.action_space, n)
        self.obs_fields = pb.obs_fields
        self.engine = Engine(pb, n)
        self._order_up_to = pb.order_up_to
        self._continuous = sc.action.mode == "continuous"
        self._rows = np.arange(n)
        # per-slot tables of the slot's SKU
        self._cont_max = np.zeros(n)
        self.reward = reward if reward is not None else Reward.from_scenario(sc)
        self.final_returns = np.zeros(0)
        """Returns of the episodes that ended at the last step (in the order of the slots that ended)."""
        self._step_sku = self.engine.sku
        self._rng = np.random.default_rng()
        self._np_random = self._rng
        self._np_random_seed = None
        self._needs_reset = True
        self.closed = False
        self.spec = None

    # the engine's per-slot buffers, by their old names
    state = property(lambda self: self.engine.state)
    params = property(lambda self: self.engine.params)
    sku = property(lambda self: self.engine.sku)
    t = property(lambda self: self.engine.t)
    lengths = property(lambda self: self.engine.lengths)
    period = property(lambda self: self.engine.period)
    rewards = property(lambda self: self.engine.rewards)
    """The last step's rewards [num_envs] (a buffer, overwritten by the next step)."""
    """The period each slot just played (0-based within its episode)."""

    def _episodes(self, rng: np.random.Generator, sku: np.ndarray, slots: np.ndarray) -> Episodes:
        return make_episodes(self.problem, self.window, rng=rng, skus=sku, sampler=self.sampler, with_past=False)

    # ------------------------------------------------------------------ gymnasium VectorEnv API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start a new episode in every slot. ``options``: ``initial_state`` for these episodes."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self._np_random = self._rng
            self._np_random_seed = seed
        options = options or {}
        self._start(self._rows, options.get("initial_state", self.initial_state))
        self.engine.observe()
        self._needs_reset = False
        self.period[:] = 0
        self._step_sku = self.sku
        self.rewards[:] = 0.0
        return self.engine.obs.copy(), {"sku": self.sku.copy(), "scale": self.params[:, kernel.SCALE].copy()}

    def step(self, actions):
        """One period for every slot; slots whose episode ends start a new one (same-step autoreset)."""
        done, final_obs, dicts = self.step_slots(actions)
        rewards = self.rewards.copy()
        info = self.engine.info.copy()
        infos: dict[str, Any] = {k: info[:, c] for c, k in enumerate(kernel.INFO_KEYS)}
        infos.update(requested=self.engine.request.copy(), period=self.period.copy(), sku=self._step_sku.copy())
        if dicts is not None:
            infos["dicts"] = dicts
        if done is not None:
            fo = np.full(self.num_envs, None, dtype=object)
            for j, i in enumerate(done):
                fo[i] = final_obs[j]
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[done] = True
            infos["final_obs"], infos["_final_obs"] = fo, mask
        truncated = np.zeros(self.num_envs, dtype=bool)
        if done is not None:
            truncated[done] = True
        return self.engine.obs.copy(), rewards, np.zeros(self.num_envs, dtype=bool), truncated, infos

    def close_extras(self, **kwargs: Any) -> None:
        pass

    # ------------------------------------------------------------------ the step, for front ends
    def step_slots(self, actions) -> tuple[np.ndarray | None, np.ndarray | None, list[dict] | None]:
        """Advance all slots (actions -> requests -> engine step -> rewards -> restart of ended slots); returns
        (slots that ended or None, their final observations, per-slot info dicts with ``info="dicts"``). The
        period's figures are in :attr:`last_info`, the rewards in :attr:`rewards`, the next observations in
        :attr:`observations`."""
        if self._needs_reset:
            raise RuntimeError("call reset() before step()")
        eng = self.engine
        a = np.asarray(actions)
        n = self.num_envs
        if self._continuous:
            a = np.clip(a.astype(np.float64).reshape(n, -1)[:, 0], -1.0, 1.0)
            eng.request[:] = np.rint((a + 1.0) * 0.5 * self._cont_max)
            ended = eng.step(eng.request, self._order_up_to)
        else:
            a = a.reshape(n)
            if a.dtype.kind not in "iu":
                a = a.astype(np.int64)
            ended = eng.step_actions(a, self._order_up_to)
        self._step_sku = eng.sku
        dicts = self._info_dicts() if self.info_mode == "dicts" else None
        eng.observe()
        if not ended:
            return None, None, dicts
        done = np.flatnonzero(eng.t >= eng.lengths)
        final_obs = eng.obs[done].copy()
        self._step_sku = eng.sku.copy()
        self.final_returns = eng.returns[done].copy()
        self._start(done, self.initial_state)
        eng.observe(done)
        return done, final_obs, dicts

    @property
    def last_info(self) -> dict[str, np.ndarray]:
        """The last period's figures per slot (raw units; the single env's info keys; ``sku`` = SKU index).
        Views, overwritten by the next step."""
        info = self.engine.info
        out = {k: info[:, c] for c, k in enumerate(kernel.INFO_KEYS)}
        out["requested"] = self.engine.request
        out["period"] = self.period
        out["sku"] = self._step_sku
        return out

    def _info_dicts(self) -> list[dict[str, Any]]:
        pb, eng = self.problem, self.engine
        rows = eng.info.tolist()
        req = eng.request.tolist()
        per = self.period.tolist()
        out = []
        for i in range(self.num_envs):
            d = dict(zip(kernel.INFO_KEYS, rows[i]))
            d["requested"] = req[i]
            d["period"] = per[i]
            d["sku"] = pb.sku_name(int(eng.sku[i]))
            L = int(eng.params[i, kernel.LEAD])
            on_order = np.empty(L)
            if L:
                on_order[0] = eng.state[i, kernel.RECV]
                on_order[1:] = eng.state[i, kernel.PIPE:kernel.PIPE + L - 1]
            d["on_order"] = on_order
            out.append(d)
        return out

    def _start(self, slots: np.ndarray, kind: str) -> None:
        """New episodes in `slots`: SKU, demand trace, clock, parameters, initial state, per-slot tables."""
        pb = self.problem
        if self._random_sku:
            sku = self.pool[self._rng.integers(self.pool.size, size=slots.size)]
        else:
            sku = self._fixed_sku[slots]
        eps = self._source(self._rng, sku, slots)
        self.engine.start(slots, eps, kind, self._rng)
        eng = self.engine
        eng.gather(eng.table, slots, pb.action_table, eps.sku)
        if self._continuous:
            eng.gather(self._cont_max, slots, pb._cont_max, eps.sku)
        eng.gather(eng.reward_offset, slots, self._reward_tables[0], eps.sku)
        eng.gather(eng.reward_scale, slots, self._reward_tables[1], eps.sku)

    # ------------------------------------------------------------------ helpers
    @property
    def reward(self) -> Reward:
        """The reward function (:class:`envs.reward.Reward`, the single env's); setting it takes effect for
        the slots' next episodes (call ``reset`` to apply it to every slot at once)."""
        return self._reward

    @reward.setter
    def reward(self, value: Reward) -> None:
        self._reward_tables = value.tables(self.problem.n_skus)
        self._reward = value

    @property
    def inventory_position(self) -> np.ndarray:
        return self.engine.inventory_position()

    @property
    def observations(self) -> np.ndarray:
        """The current observation matrix [num_envs, obs_dim] (a view; copy it to keep it)."""
        return self.engine.obs


def __getattr__(name: str):  # the SB3 adapter moved to envs.sb3_vec; old imports keep working
    if name in ("InventoryVecEnv", "make_vec"):
        from . import sb3_vec

        return getattr(sb3_vec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["EpisodeSource", "VectorInventoryEnv"]
