"""Loading an exported policy for the recommend job: an ONNX agent or a JSON level table, metadata checked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import policyfile as pf
from .errors import DeployError


@dataclass
class DeployedPolicy:
    """A loaded policy file (see :func:`load_policy`); not the baselines' :class:`baselines.base.Policy` interface."""

    path: str
    meta: dict[str, Any]
    session: Any = None  # onnxruntime.InferenceSession for kinds onnx and gru, lightgbm.Booster for kind lgbm

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def label(self) -> str:
        if self.kind in ("levels", "lgbm", "gru"):
            return f"baseline:{self.meta['baseline']}"
        return f"{self.meta['algorithm']}:{self.meta['run']['id']}"


def load_policy(path: str | Path, threads: int = 1) -> DeployedPolicy:
    """Read an ONNX policy (metadata from ``metadata_props``) or a JSON level policy; check its metadata."""
    src = str(path)
    p = Path(path)
    if not p.is_file():
        raise DeployError(f"{src}: no such policy file")
    if p.suffix.lower() == ".json":
        try:
            meta = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DeployError(f"{src}: not a JSON policy file ({e})") from None
        meta = _check(meta, src)
        if meta["kind"] == "lgbm":
            from .learned import load_booster

            return DeployedPolicy(src, meta, load_booster(meta, src))
        if meta["kind"] != "levels":
            raise DeployError(f"{src}: a JSON policy must be a level or LightGBM policy (kind levels or lgbm); this "
                              f"one is {meta['kind']!r} (a sidecar? pass the .onnx file)")
        return DeployedPolicy(src, meta)
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(src, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise DeployError(f"{src}: not a valid ONNX model ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    raw = sess.get_modelmeta().custom_metadata_map.get(pf.METADATA_KEY)
    if raw is None:
        raise DeployError(f"{src}: the ONNX model has no invrl metadata ({pf.METADATA_KEY!r} in metadata_props); "
                          "export it with python -m agents.export")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DeployError(f"{src}: corrupt invrl metadata ({e})") from None
    meta = _check(meta, src)
    if meta["kind"] == "gru":
        from .learned import check_gru_session

        check_gru_session(sess, meta, src)
        return DeployedPolicy(src, meta, sess)
    if meta["kind"] != "onnx":
        raise DeployError(f"{src}: metadata kind {meta['kind']!r} in an ONNX file")
    inputs = sess.get_inputs()
    dim = inputs[0].shape[1] if inputs and len(inputs[0].shape) == 2 else None
    if len(inputs) != 1 or inputs[0].name != "obs" or dim != len(meta["obs_names"]):
        raise DeployError(f"{src}: the network's input ({[(i.name, i.shape) for i in inputs]}) does not match "
                          f"the observation layout of its metadata ({len(meta['obs_names'])} fields "
                          f"{', '.join(meta['obs_names'])})")
    return DeployedPolicy(src, meta, sess)


def _check(meta, src: str) -> dict[str, Any]:
    try:
        return pf.check_metadata(meta, src)
    except pf.PolicyFileError as e:
        raise DeployError(str(e)) from None
