"""The policy file format shared by the exporter (``agents.export``) and the deploy path (``deploy.recommend``).

Two kinds of policy file, both carrying the same JSON metadata (key :data:`METADATA_KEY`):

* ``.onnx``: the network of a trained agent with the observation normalisation folded in. Input ``obs``
  float32 [N, obs_dim] (the env's raw observation: quantities divided by the SKU's demand scale); output
  ``action``: the deterministic action, float32 [N, 1] in [-1, 1] for a continuous action (the policy mean,
  clipped) or int64 [N] (argmax of the logits / Q-values / mean quantiles) for a discrete one. The metadata
  is a JSON string in the model's ``metadata_props``.
* ``.json``: a classical baseline fitted at export time, as per-SKU levels (``kind: levels``): order
  ``min(S - IP, cap)`` when the inventory position IP is at or below ``s`` (base-stock: s = S, no cap).

This module imports numpy only. The maths here (observation layout, action -> units, order constraints) is
the deploy-side copy of ``envs.problem`` / ``envs.kernel`` (which need numba and gymnasium);
tests/test_export.py checks the two agree.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

METADATA_KEY = "invrl"
FORMAT = "invrl-policy"
FORMAT_VERSION = 1
OBS_LAYOUT_VERSION = 1
"""Version of the observation layout of ``envs.problem.Problem._layout`` that :func:`build_observations`
reproduces: on_hand, pipeline_1..n, inventory_position, demand_lag_W..1, calendar_*, period, lead_time,
quantities divided by the demand scale. Bump it (in both places) when the env's layout changes."""

KNOWN_FIELDS = ("on_hand", "pipeline_<k>", "inventory_position", "demand_lag_<k>", "calendar_month_sin",
                "calendar_month_cos", "calendar_dow_sin", "calendar_dow_cos", "period", "lead_time")
SKU_PARAMS = ("demand_scale", "lead_time", "moq", "pack_size", "max_order", "capacity", "holding_cost",
              "shortage_cost", "order_cost", "unit_cost")
_EPS = 1e-9


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
        bad = [nm for nm in names if not _known_field(nm)]
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
    else:
        raise PolicyFileError(f"{source}: unknown policy kind {meta['kind']!r} (expected onnx or levels)")
    return meta


def _known_field(name: str) -> bool:
    if name in ("on_hand", "inventory_position", "period", "lead_time") or name.startswith("calendar_"):
        return name in KNOWN_FIELDS
    for prefix in ("pipeline_", "demand_lag_"):
        if name.startswith(prefix):
            k = name[len(prefix):]
            return k.isdigit() and int(k) >= 1
    return False


def sku_params(meta: dict[str, Any]) -> dict[str, np.ndarray]:
    """The metadata's SKU table as float arrays (null max_order/capacity = inf)."""
    skus = meta["skus"]
    out = {}
    for k in SKU_PARAMS:
        v = np.array([np.inf if x is None else x for x in skus[k]], dtype=np.float64)
        out[k] = v
    return out


# ----------------------------------------------------------------------------------------- observations
def calendar_features(dates: np.ndarray, daily: bool) -> np.ndarray:
    """Same as ``envs.demand.calendar_features``: sin/cos of the month, and of the weekday for daily data."""
    d = dates.astype("datetime64[D]")
    months = d.astype("datetime64[M]").astype(np.int64) % 12
    cols = [np.sin(2 * np.pi * months / 12), np.cos(2 * np.pi * months / 12)]
    if daily:
        dow = (d.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        cols += [np.sin(2 * np.pi * dow / 7), np.cos(2 * np.pi * dow / 7)]
    return np.stack(cols, axis=1).astype(np.float64)


def build_observations(names: list[str], *, net: np.ndarray, pipeline: np.ndarray, lags: np.ndarray,
                       scale: np.ndarray, lead: np.ndarray, lead_norm: float, calendar: np.ndarray | None = None,
                       extra: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The env's observation (``envs.kernel.observe``) for N SKUs at the decision point, float32 [N, D].

    net: net inventory after this period's arrival; pipeline [N, P]: column k-1 = units arriving in k
    periods; lags [N, W]: column k-1 = demand k periods ago; calendar [N, 2 or 4] calendar features of the
    period being planned; extra: any other field by name (``period``)."""
    n = net.shape[0]
    obs = np.empty((n, len(names)), dtype=np.float32)
    ip = net.copy()
    for k in range(pipeline.shape[1]):  # sequential sum, as the kernel does
        ip += pipeline[:, k]
    cal_cols = {"calendar_month_sin": 0, "calendar_month_cos": 1, "calendar_dow_sin": 2, "calendar_dow_cos": 3}
    for j, name in enumerate(names):
        if name == "on_hand":
            obs[:, j] = net / scale
        elif name == "inventory_position":
            obs[:, j] = ip / scale
        elif name.startswith("pipeline_"):
            obs[:, j] = pipeline[:, int(name[9:]) - 1] / scale
        elif name.startswith("demand_lag_"):
            obs[:, j] = lags[:, int(name[11:]) - 1] / scale
        elif name in cal_cols:
            obs[:, j] = calendar[:, cal_cols[name]]
        elif name == "lead_time":
            obs[:, j] = lead * lead_norm
        else:
            obs[:, j] = extra[name]
    return obs


# ----------------------------------------------------------------------------------------- actions
def requested_units(action: np.ndarray, spec: dict[str, Any], scale: np.ndarray,
                    ip: np.ndarray) -> np.ndarray:
    """Units requested by the deterministic action, before the order constraints, as the env maps it
    (``envs.problem.Problem.request`` and the kernel's order-up-to step):

    continuous: ``rint((clip(a, -1, 1) + 1) / 2 * (n - 1) * step * unit)``; units: ``rint(a * step * unit)``;
    order_up_to: ``a * step * unit - IP``; unit = the demand scale if relative, else 1."""
    mode, n, step = spec["mode"], int(spec["n"]), float(spec["step"])
    unit = scale if spec["relative"] else np.ones_like(scale)
    if mode == "continuous":
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(len(scale), -1)[:, 0], -1.0, 1.0)
        return np.rint((a + 1.0) * 0.5 * ((n - 1) * step * unit))
    k = np.asarray(action).reshape(-1).astype(np.float64)
    level = (k * step) * unit
    if mode == "units":
        return np.rint(level)
    if mode == "order_up_to":
        return level - ip
    raise PolicyFileError(f"unknown action mode {mode!r}")


def level_units(levels: dict[str, np.ndarray], ip: np.ndarray) -> np.ndarray:
    """Requested units of a level policy: ``min(S - IP, cap)`` when ``IP <= s``, else 0."""
    want = np.where(ip <= levels["s"], levels["S"] - ip, 0.0)
    return np.minimum(want, levels["cap"])


def constrain(want: np.ndarray, ip: np.ndarray, moq: np.ndarray, pack: np.ndarray, max_order: np.ndarray,
              capacity: np.ndarray) -> np.ndarray:
    """Vectorised ``envs.kernel.constrain``: 0 if want <= 0; at least the MOQ; rounded up to the pack size;
    at most max order and capacity - IP (rounded down to the pack size; less than the MOQ: nothing)."""
    pos = want > _EPS
    q = np.where(want > moq, want, moq)
    q = np.ceil(q / pack - _EPS) * pack
    limit = np.minimum(max_order, capacity - ip)
    over = q > limit
    if over.any():
        with np.errstate(invalid="ignore"):
            cut = np.floor(limit / pack + _EPS) * pack
        cut = np.where((cut < moq) | (cut <= 0.0), 0.0, cut)
        q = np.where(over, cut, q)
    return np.where(pos, q, 0.0)
