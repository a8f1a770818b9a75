"""Inventory simulator: scenarios, demand sources (parametric and historical), the dynamics kernel and the
Gymnasium env ``Inventory-v0``. May import numpy, numba, pandas (data loading only), gymnasium and pyyaml.
"""

from gymnasium.envs.registration import register, registry

from .inventory_env import InventoryEnv
from .kernel import INFO_KEYS
from .problem import Problem
from .scenario import Scenario, ScenarioError, builtin_names, resolve_scenario

ENV_ID = "Inventory-v0"

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="envs.inventory_env:InventoryEnv",
             vector_entry_point="envs.vector:VectorInventoryEnv")

__all__ = ["ENV_ID", "INFO_KEYS", "InventoryEnv", "Problem", "Scenario", "ScenarioError", "builtin_names",
           "resolve_scenario"]
