"""The policy file format shared by the exporter (``agents.export``) and the deploy path (``deploy.recommend``).

Two kinds of policy file, both carrying the same JSON metadata (key :data:`METADATA_KEY`):

* ``.onnx``: the network of a trained agent with the observation normalisation folded in. Input ``obs``
  float32 [N, obs_dim] (the env's raw observation: quantities divided by the SKU's demand scale); output
  ``action``: the deterministic action, float32 [N, 1] in [-1, 1] for a continuous action (the policy mean,
  clipped) or int64 [N] (argmax of the logits / Q-values / mean quantiles) for a discrete one. The metadata
  is a JSON string in the model's ``metadata_props``.
* ``.json``: a classical baseline fitted at export time, as per-SKU levels (``kind: levels``): order
  ``min(S - IP, cap)`` when the inventory position IP is at or below ``s`` (base-stock: s = S, no cap); or the
  learned forecaster ``lgbm_quantile`` (``kind: lgbm``: LightGBM's model text, the features, per-SKU safety
  stocks; the level is computed from the demand history at deploy time, :mod:`deploy.learned`).

This module imports numpy only. The maths both sides share (observation layout, action -> units, order rules,
calendar features) lives in :mod:`invcore`, which needs neither numba nor gymnasium; the names are re-exported
here for the exporter and older callers.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from invcore import constraints as _constraints
from invcore.calendar import calendar_features
from invcore.constraints import constrain, level_units
from invcore.observation import KNOWN_FIELDS, OBS_LAYOUT_VERSION, build_observations, known_field

__all__ = ["FORMAT", "FORMAT_VERSION", "KNOWN_FIELDS", "METADATA_KEY", "OBS_LAYOUT_VERSION", "SKU_PARAMS",
           "PolicyFileError", "build_observations", "calendar_features", "check_metadata", "constrain", "dumps",
           "level_units", "requested_units", "sku_params", "sku_table"]

METADATA_KEY = "invrl"
FORMAT = "invrl-policy"
FORMAT_VERSION = 1
SKU_PARAMS = ("demand_scale", "lead_time", "moq", "pack_size", "max_order", "capacity", "holding_cost",
              "shortage_cost", "order_cost", "unit_cost")


class PolicyFileError(ValueError):
    """A policy file that cannot be used: not a policy, corrupt, or for another observation layout."""


# ----------------------------------------------------------------------------------------- metadata
def dumps(meta: dict[str, Any]) -> str:
    return json.dumps(meta, allow_nan=False, separators=(",", ":"))


def _finite_or_none(x: np.ndarray) -> list:
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(x, dtype=np.float64)]


def sku_table(names, params: dict[str, np.ndarray]) -> dict[str, list]:
    """JSON-able per-SKU table (infinite max_order/capacity are written as null)."""
    out: dict[str, list] = {"sku": [str(s) for s in names]}
    for k in SKU_PARAMS:
        out[k] = _finite_or_none(params[k])
    return out


def check_metadata(meta: Any, source: str) -> dict[str, Any]:
    """Validate the metadata of a policy file; returns it. Errors name the file and what is wrong."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise PolicyFileError(f"{source}: not an invrl policy file (metadata 'format' is not {FORMAT!r}); "
                              "export one with python -m agents.export")
    if meta.get("format_version") != FORMAT_VERSION:
        raise PolicyFileError(f"{source}: policy file format version {meta.get('format_version')!r}; this "
                              f"recommend reads version {FORMAT_VERSION}: re-export the policy")
    for key in ("kind", "skus", "mode", "observation"):
        if key not in meta:
            raise PolicyFileError(f"{source}: corrupt policy metadata (no {key!r})")
    skus = meta["skus"]
    if not isinstance(skus, dict) or any(k not in skus for k in ("sku", *SKU_PARAMS)):
        raise PolicyFileError(f"{source}: corrupt policy metadata (the SKU table needs columns sku, "
                              f"{', '.join(SKU_PARAMS)})")
    n = len(skus["sku"])
    if any(len(skus[k]) != n for k in SKU_PARAMS):
        raise PolicyFileError(f"{source}: corrupt policy metadata (SKU table columns of different lengths)")
    if meta["kind"] == "onnx":
        if meta.get("obs_layout_version") != OBS_LAYOUT_VERSION:
            raise PolicyFileError(
                f"{source}: the policy was exported for observation layout version "
                f"{meta.get('obs_layout_version')!r}; this recommend builds layout version {OBS_LAYOUT_VERSION} "
                f"({', '.join(KNOWN_FIELDS)}): export the policy with the same version of invrl as recommend")
        names = meta.get("obs_names")
        if not isinstance(names, list) or not names:
            raise PolicyFileError(f"{source}: corrupt policy metadata (no obs_names)")
        bad = [nm for nm in names if not known_field(nm)]
        if bad:
            raise PolicyFileError(f"{source}: the policy's observation has field(s) {', '.join(map(repr, bad))} "
                                  f"that observation layout version {OBS_LAYOUT_VERSION} does not define "
                                  f"(known: {', '.join(KNOWN_FIELDS)})")
        if "action" not in meta:
            raise PolicyFileError(f"{source}: corrupt policy metadata (no 'action')")
    elif meta["kind"] == "levels":
        lv = meta.get("levels")
        if not isinstance(lv, dict) or any(len(lv.get(k) or []) != n for k in ("S", "s", "cap")):
            raise PolicyFileError(f"{source}: corrupt level policy (levels S, s, cap must list one value per SKU)")
    elif meta["kind"] == "lgbm":
        ss = meta.get("safety_stock")
        if not isinstance(meta.get("model"), str) or not isinstance(meta.get("features"), dict) \
                or not isinstance(ss, list) or len(ss) != n:
            raise PolicyFileError(f"{source}: corrupt LightGBM policy (expected the model text, the features and "
                                  "one safety stock per SKU)")
    else:
        raise PolicyFileError(f"{source}: unknown policy kind {meta['kind']!r} (expected onnx, levels or lgbm)")
    return meta


def sku_params(meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The metadata's SKU table as float arrays (null max_order/capacity = inf)."""
    skus = meta["skus"]
    out = {}
    for k in SKU_PARAMS:
        v = np.array([np.inf if x is None else x for x in skus[k]], dtype=np.float64)
        out[k] = v
    return out


# ----------------------------------------------------------------------------------------- actions
def requested_units(action: np.ndarray, spec: dict[str, Any], scale: np.ndarray,
                    ip: np.ndarray) -> np.ndarray:
    """:func:`invcore.constraints.requested_units` for the metadata's ``action`` spec; an unknown action mode
    is a :class:`PolicyFileError`."""
    if spec["mode"] not in _constraints.ACTION_MODES:
        raise PolicyFileError(f"unknown action mode {spec['mode']!r}")
    return _constraints.requested_units(action, spec, scale, ip)
