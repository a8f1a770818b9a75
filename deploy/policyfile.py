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
  stocks; the level is computed from the demand history at deploy time, :mod:`deploy.learned`). The learned
  forecaster ``gru_quantile`` is an ``.onnx`` file of ``kind: gru`` (the GRU and its head; the same metadata).

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
from invcore.observation import (
    FORECAST_FIELDS,
    KNOWN_FIELDS,
    OBS_LAYOUT_VERSION,
    build_observations,
    known_field,
)

__all__ = ["FORECAST_FIELDS", "FORMAT", "FORMAT_VERSION", "KNOWN_FIELDS", "METADATA_KEY", "OBS_LAYOUT_VERSION",
           "SKU_PARAMS",
           "PolicyFileError", "build_observations", "calendar_features", "check_metadata", "constrain", "dumps",
           "forecast_spec", "level_units", "reorder_lot", "requested_units", "sku_params", "sku_table"]

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
    if any(not isinstance(skus[k], list) for k in ("sku", *SKU_PARAMS)) or \
            any(not isinstance(x, str) for x in skus["sku"]):
        raise PolicyFileError(f"{source}: corrupt policy metadata (the SKU table's columns must be lists, sku of "
                              "text)")
    n = len(skus["sku"])
    if any(len(skus[k]) != n for k in SKU_PARAMS):
        raise PolicyFileError(f"{source}: corrupt policy metadata (SKU table columns of different lengths)")
    for k in SKU_PARAMS:
        _check_sku_column(skus, k, source)
    _check_fields(meta, source)
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
    elif meta["kind"] == "gru":
        ss, gru = meta.get("safety_stock"), meta.get("gru")
        if not isinstance(meta.get("features"), dict) or not isinstance(ss, list) or len(ss) != n \
                or not isinstance(gru, dict) or not isinstance(gru.get("hidden"), int) \
                or not isinstance(meta.get("freq"), str):
            raise PolicyFileError(f"{source}: corrupt GRU policy (expected the features, gru.hidden, the period grid "
                                  "freq and one safety stock per SKU)")
    else:
        raise PolicyFileError(f"{source}: unknown policy kind {meta['kind']!r} (expected onnx, levels, lgbm or gru)")
    return meta


_SKU_RULES = {  # column: (lowest value, integer, null allowed (= no limit))
    "demand_scale": (None, False, False), "lead_time": (0.0, True, False), "moq": (0.0, False, False),
    "pack_size": (1.0, True, False), "max_order": (0.0, False, True), "capacity": (0.0, False, True),
    "holding_cost": (0.0, False, False), "shortage_cost": (0.0, False, False), "order_cost": (0.0, False, False),
    "unit_cost": (0.0, False, False)}
MAX_LEAD_TIME = 1000
"""As the scenario's bound on lead times (envs.scenario)."""


def _check_sku_column(skus: dict[str, list], k: str, source: str) -> None:
    """Every value of SKU column `k` a finite number in range (demand scale > 0, pack size an integer >= 1, ...);
    a tampered or hand-edited table would otherwise order ``inf`` units or nothing, silently."""
    low, integer, nullable = _SKU_RULES[k]
    for i, x in enumerate(skus[k]):
        if x is None and nullable:
            continue
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        if ok and k == "demand_scale":
            ok = x > 0
        elif ok:
            ok = x >= low and (not integer or float(x).is_integer()) and (k != "lead_time" or x <= MAX_LEAD_TIME)
        if not ok:
            want = {"demand_scale": "a number > 0 (mean demand per period)",
                    "pack_size": "an integer >= 1", "lead_time": f"an integer in 0 .. {MAX_LEAD_TIME}"}.get(
                        k, f"a number >= 0{' or null (no limit)' if nullable else ''}")
            raise PolicyFileError(f"{source}: corrupt policy metadata: {k} of SKU {str(skus['sku'][i])[:60]!r} is "
                                  f"{str(x)[:40]}; expected {want}")


def _check_fields(meta: dict[str, Any], source: str) -> None:
    """The types of the metadata fields that recommend reads (a tampered file fails here, in one line)."""
    def bad(what: str) -> PolicyFileError:
        return PolicyFileError(f"{source}: corrupt policy metadata ({what})")

    def count(d: dict, key: str, top: int) -> None:
        v = d.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= top:
            raise bad(f"{key} must be an integer in 0 .. {top}, got {str(v)[:40]}")

    if meta["mode"] not in ("lost_sales", "backorder"):
        raise bad(f"mode must be lost_sales or backorder, got {str(meta['mode'])[:40]}")
    ob = meta["observation"]
    if not isinstance(ob, dict):
        raise bad("observation must be a table")
    count(ob, "n_pipe", MAX_LEAD_TIME)
    if meta["kind"] == "onnx":
        count(ob, "demand_window", 1000)
        if any(nm in FORECAST_FIELDS for nm in meta.get("obs_names") or []):  # (older policies have no forecast)
            count(ob, "forecast_window", 1000)
            alpha = ob.get("forecast_alpha")
            if ob["forecast_window"] < 2 or not isinstance(alpha, (int, float)) or isinstance(alpha, bool) \
                    or not 0 < alpha <= 1:
                raise bad(f"forecast_window must be >= 2 and forecast_alpha a number in (0, 1], got "
                          f"{ob['forecast_window']} and {str(alpha)[:40]}")
        lead_norm = ob.get("lead_norm")
        if not isinstance(lead_norm, (int, float)) or isinstance(lead_norm, bool) or not math.isfinite(lead_norm) \
                or lead_norm <= 0:
            raise bad(f"lead_norm must be a number > 0, got {str(lead_norm)[:40]}")
        names = meta.get("obs_names")
        if isinstance(names, list) and any(not isinstance(nm, str) for nm in names):
            raise bad("obs_names must be text")
        act = meta.get("action")
        if not isinstance(act, dict) or act.get("mode") not in _constraints.ACTION_MODES:
            raise bad(f"action must be a table with a mode of {', '.join(_constraints.ACTION_MODES)}")
        count(act, "n", 10_000)
        step = act.get("step")
        if not isinstance(step, (int, float)) or isinstance(step, bool) or not math.isfinite(step) or step <= 0:
            raise bad(f"action step must be a number > 0, got {str(step)[:40]}")
        if not isinstance(act.get("relative"), bool):
            raise bad("action relative must be true or false")
        if not isinstance(meta.get("algorithm"), str) or not isinstance(meta.get("run"), dict) or \
                not isinstance(meta["run"].get("id"), str):
            raise bad("algorithm and run.id must be text")
    elif meta["kind"] == "levels":
        if not isinstance(meta.get("baseline"), str):
            raise bad("baseline must be text")
        lv = meta.get("levels")
        for k in ("S", "s", "cap"):
            vals = lv.get(k) if isinstance(lv, dict) else None
            if not isinstance(vals, list) or any(
                    x is not None and (not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x))
                    for x in vals):
                raise bad(f"levels {k} must list a number (or null) per SKU")


def forecast_spec(meta: dict[str, Any]) -> tuple[int, float] | None:
    """(F, alpha) of the observation's forecast fields (``invcore.observation.forecast_fields``), or None."""
    if not any(nm in FORECAST_FIELDS for nm in meta.get("obs_names") or []):
        return None
    ob = meta["observation"]
    return int(ob["forecast_window"]), float(ob["forecast_alpha"])


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
                    ip: np.ndarray, lot: np.ndarray | None = None) -> np.ndarray:
    """:func:`invcore.constraints.requested_units` for the metadata's ``action`` spec (lot: the economic lot
    per SKU, :func:`reorder_lot`, for action mode reorder_point); an unknown action mode is a
    :class:`PolicyFileError`."""
    if spec["mode"] not in _constraints.ACTION_MODES:
        raise PolicyFileError(f"unknown action mode {spec['mode']!r}")
    return _constraints.requested_units(action, spec, scale, ip, lot)


def reorder_lot(order_cost: np.ndarray, holding_cost: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The lot of action mode reorder_point per SKU (:func:`invcore.constraints.reorder_lot`)."""
    return _constraints.reorder_lot(order_cost, holding_cost, scale)
