"""The ``invrl`` command (:mod:`invrl.cli`) and the modules behind train.py and evaluate.py.

The top level of the product: it imports envs, baselines, agents and deploy lazily, inside each command, so
that ``invrl --help`` and the data commands start without torch.
"""

from pathlib import Path

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
"""The scenario YAML files and training presets of the checkout (agents.config reads its presets there too)."""
