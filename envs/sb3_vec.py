"""The Stable-Baselines3 ``VecEnv`` adapter over :class:`envs.vector.VectorInventoryEnv` (``InventoryVecEnv``).
May import stable-baselines3, gymnasium, numpy and envs.vector.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from .reward import Reward
from .scenario import Scenario
from .vector import VectorInventoryEnv

try:  # the SB3 adapter; stable-baselines3 is a dependency, but the simulator itself does not need it
    from stable_baselines3.common.vec_env import VecEnv as _SB3VecEnv
except ImportError:  # pragma: no cover
    _SB3VecEnv = None


class _NoInfo(dict):
    """The info of a slot whose episode did not end: empty and read-only, one object shared by all such slots
    (building thousands of fresh dicts per step would cost more than the simulation)."""

    def _read_only(self, *args, **kwargs):
        raise TypeError("the infos of slots whose episode did not end are one shared read-only empty dict; "
                        "copy it (dict(info)) to add keys")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = __ior__ = _read_only


_NO_INFO = _NoInfo()


if _SB3VecEnv is not None:

    class InventoryVecEnv(_SB3VecEnv):
        """Stable-Baselines3 ``VecEnv`` over a :class:`VectorInventoryEnv`: ``PPO("MlpPolicy",
        InventoryVecEnv("lost-sales-L2-p9", num_envs=256))`` trains one policy on all slots.

        Arguments as for :class:`VectorInventoryEnv` (or ``venv=`` an existing one). ``step`` returns
        ``(obs, rewards, dones, infos)``: at an episode end ``infos[i]`` holds ``terminal_observation``,
        ``TimeLimit.truncated`` (always True: episodes only end by truncation) and ``episode`` (``r``: the
        episode's return, ``l``: its length, ``t``: wall seconds since this VecEnv was made), as SB3's Monitor
        would; the other slots'
        infos are one shared, read-only empty dict (``info="dicts"``: the single env's info dicts); the returned
        observation is the first one of the next episode. ``seed(s)`` seeds the next ``reset`` (one random
        stream for all slots). ``get_attr``/``set_attr``/``env_method`` act on the one underlying
        :class:`VectorInventoryEnv` (its attributes are shared by all slots) and return one value per index.
        """

        def __init__(self, scenario: str | Scenario = "lost-sales-L2-p9", num_envs: int | None = None, *,
                     venv: VectorInventoryEnv | None = None, **kwargs: Any):
            self.venv = venv if venv is not None else VectorInventoryEnv(num_envs, scenario, **kwargs)
            v = self.venv
            self.problem = v.problem
            self._actions: np.ndarray | None = None
            self._t_start = time.time()  # Monitor's "t": seconds since the start, at each episode's end
            super().__init__(v.num_envs, v.single_observation_space, v.single_action_space)

        def reset(self):
            seed = self._seeds[0] if self._seeds else None
            opts = self._options[0] if self._options else {}
            obs, info = self.venv.reset(seed=seed, options=opts or None)
            self.reset_infos = [{} for _ in range(self.num_envs)]
            self._reset_seeds()
            self._reset_options()
            return obs

        def step_async(self, actions: np.ndarray) -> None:
            self._actions = actions

        def step_wait(self):
            v = self.venv
            done, final_obs, dicts = v.step_slots(self._actions)
            n = self.num_envs
            infos = dicts if dicts is not None else [_NO_INFO] * n
            dones = np.zeros(n, dtype=bool)
            if done is not None:
                dones[done] = True
                now = time.time()
                # the period just played; the episode's length is period + 1
                ret, length = v.final_returns.tolist(), (v.period[done] + 1).tolist()
                elapsed = round(now - self._t_start, 6)
                for j, i in enumerate(done.tolist()):
                    info = {} if dicts is None else infos[i]
                    info["terminal_observation"] = final_obs[j]
                    info["TimeLimit.truncated"] = True
                    info["episode"] = {"r": ret[j], "l": length[j], "t": elapsed}
                    infos[i] = info
            eng = v.engine
            return eng.obs.copy(), eng.rewards.copy(), dones, infos

        def close(self) -> None:
            self.venv.close()

        @property
        def reward(self) -> Reward:
            """The underlying :class:`VectorInventoryEnv`'s reward (settable; applies from the next episodes)."""
            return self.venv.reward

        @reward.setter
        def reward(self, value: Reward) -> None:
            self.venv.reward = value

        def _indices(self, indices) -> list[int]:
            if indices is None:
                return list(range(self.num_envs))
            if isinstance(indices, int):
                return [indices]
            return list(indices)

        def get_attr(self, attr_name: str, indices=None) -> list[Any]:
            value = getattr(self.venv, attr_name)
            return [value for _ in self._indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
            setattr(self.venv, attr_name, value)

        def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
            result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
            return [result for _ in self._indices(indices)]

        def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices=None) -> list[bool]:
            return [False for _ in self._indices(indices)]

        def seed(self, seed: int | None = None) -> Sequence[int | None]:
            if seed is None:
                seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
            self._seeds = [seed + i for i in range(self.num_envs)]
            return self._seeds

        def get_images(self):  # pragma: no cover
            raise NotImplementedError("InventoryVecEnv does not render")


def make_vec(scenario: str | Scenario = "lost-sales-L2-p9", num_envs: int | None = None, **kwargs: Any):
    """The SB3 vectorised env for a scenario (``InventoryVecEnv``)."""
    if _SB3VecEnv is None:  # pragma: no cover
        raise ImportError("stable-baselines3 is needed for InventoryVecEnv")
    return InventoryVecEnv(scenario, num_envs, **kwargs)


__all__ = ["InventoryVecEnv", "make_vec"]
