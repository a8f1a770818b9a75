"""The learned forecaster's order-up-to levels at deploy time (policy files of kind ``lgbm``, written by
``python -m agents.export --baseline lgbm_quantile``).

The file holds the booster in LightGBM's own text format (loaded with ``lightgbm.Booster(model_str=...)``: no
pickle), the features (:class:`invcore.forecast_features.Features`, the same code that made the training rows)
and each SKU's safety stock. From the demand history (``--history``: every period of each SKU since its first,
as the policy saw it in training) and the date of the period being planned (``--date`` or a ``date`` column:
the calendar features), the level is ``S = (L + 1) max(model(features), 0) s + safety_stock`` (s = the SKU's
mean demand over its history); the order is ``S - inventory position`` before MOQ / pack size / caps.

LightGBM is the one library here beyond numpy, pandas and onnxruntime, imported only for this kind of policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invcore.forecast_features import Features, history_inputs

from .errors import DeployError


def load_booster(meta: dict[str, Any], source: str):
    """The booster of a ``kind: lgbm`` policy (metadata already checked by ``policyfile.check_metadata``)."""
    try:
        import lightgbm as lgb
    except ImportError:
        raise DeployError(f"{source}: a LightGBM policy needs the lightgbm package (pip install lightgbm)") from None
    try:
        booster = lgb.Booster(model_str=meta["model"])
    except lgb.basic.LightGBMError as e:
        raise DeployError(f"{source}: corrupt LightGBM model text ({str(e).splitlines()[0]})") from None
    spec = features(meta, source)
    if booster.num_feature() != len(spec.names):
        raise DeployError(f"{source}: the LightGBM model reads {booster.num_feature()} features, the policy's feature "
                          f"list has {len(spec.names)}: re-export the policy")
    return booster


def features(meta: dict[str, Any], source: str) -> Features:
    try:
        return Features.from_json(meta["features"], source)
    except ValueError as e:
        raise DeployError(str(e)) from None


def lgbm_levels(policy, history: np.ndarray, calendar: np.ndarray, sku_index: np.ndarray,
                lead: np.ndarray) -> np.ndarray:
    """Order-up-to levels [N] of the state's SKUs: `history` [N, periods] (column k-1 = k periods ago, NaN
    before a SKU's first period), `calendar` [N, c] of the period being planned, the SKUs' rows of the policy's
    SKU table (all known: ``deploy.state.sku_parameters`` refuses others) and their lead times."""
    meta = policy.meta
    spec = features(meta, policy.path)
    names = meta["skus"]["sku"]
    trained = np.array(meta["skus"]["lead_time"], dtype=np.float64)[sku_index]
    bad = np.flatnonzero(trained != lead)
    if bad.size:
        i = int(bad[0])
        raise DeployError(f"SKU {names[sku_index[i]]!r}: lead time {lead[i]:g} but the LightGBM policy's safety stock was "
                          f"computed for lead time {trained[i]:g}; re-export the policy with this lead time")
    buf, total, count = history_inputs(history, spec.window)
    H = lead + 1
    X, scale = spec.compute(buf, total, count, H, calendar)
    mean = np.maximum(np.asarray(policy.session.predict(X, num_threads=1), dtype=np.float64), 0.0) * scale
    return H * mean + np.array(meta["safety_stock"], dtype=np.float64)[sku_index]
