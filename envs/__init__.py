"""Inventory simulator: scenarios, demand sources and the episode factory, the one dynamics kernel and batched
engine, the Gymnasium env ``Inventory-v0`` and its vectorised twin. May import numpy, numba, pandas (data
loading only), gymnasium, pyyaml and invcore; never agents, baselines or deploy.

Importing ``envs`` only registers ``Inventory-v0`` (string entry points, as Gymnasium's registry does); the
classes below load on first use.
"""

from gymnasium.envs.registration import register, registry

ENV_ID = "Inventory-v0"

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="envs.inventory_env:InventoryEnv",
             vector_entry_point="envs.vector:VectorInventoryEnv")

_LAZY = {
    "InventoryEnv": ("envs.inventory_env", "InventoryEnv"),
    "INFO_KEYS": ("envs.kernel", "INFO_KEYS"),
    "Problem": ("envs.problem", "Problem"),
    "Scenario": ("envs.scenario", "Scenario"),
    "ScenarioError": ("envs.scenario", "ScenarioError"),
    "builtin_names": ("envs.scenario", "builtin_names"),
    "resolve_scenario": ("envs.scenario", "resolve_scenario"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'envs' has no attribute {name!r}")


__all__ = ["ENV_ID", "INFO_KEYS", "InventoryEnv", "Problem", "Scenario", "ScenarioError", "builtin_names",
           "resolve_scenario"]
