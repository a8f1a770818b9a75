"""Export a trained agent to ONNX (or a classical baseline to a JSON level table) for ``deploy.recommend``.

Usage::

    python -m agents.export RUN_DIR --out policy.onnx [--model auto|best|model|checkpoint] [--best] [--check]
    python -m agents.export --baseline base_stock (RUN_DIR | --scenario NAME [KEY=VALUE ...]) --out base_stock.json
    python -m agents.export --baseline lgbm_quantile --scenario configs/m5_tiny.yaml --out lgbm.json
    python -m agents.export --baseline gru_quantile --scenario configs/m5_tiny.yaml --out gru.onnx

The ONNX graph is built by hand with ``onnx.helper`` from the SB3 weights rather than traced with
``torch.onnx.export``: the networks are small MLPs (Gemm + Tanh/ReLU), so the graph is a handful of nodes,
needs no exporter (no onnxscript, no TorchScript/dynamo differences between torch versions) and is byte-for-
byte deterministic. It computes, in float32::

    x = clip((obs + shift) * scale, -clip, clip)           # the run's fixed normalisation, folded in
    h = act(W_k h + b_k) ...                               # the policy MLP (PPO: policy_net + action_net;
                                                           #  DQN: q_net; QR-DQN: quantile_net)
    action = clip(mean, -1, 1)                             # PPO with a continuous action (SB3 predict clips)
           | argmax(logits) | argmax(Q) | argmax(mean over quantiles of Z)

Everything the deploy side needs (observation names and layout version, action mapping, per-SKU demand scales,
lead times, MOQ, pack size and costs, scenario, run id, library versions) goes into the model's
``metadata_props`` as one JSON string (key ``invrl``) and into a sidecar ``<out>.json`` for people to read.
Nothing is pickled, and nothing pickled is read: the run's ``.npz`` weights (:mod:`agents.runs`), never its SB3
zips. ``--check`` runs the parity check (:func:`parity`) on up to 10,000 evaluation observations before the file
is written.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from deploy import policyfile as pf
from envs.episodes import STREAMS

from .policy import AgentPolicy
from .runs import Run, RunError, atomic_write_bytes, atomic_write_text, load_run

OPSET = 17
IR_VERSION = 8


class ExportError(ValueError):
    """A model or baseline that cannot be exported."""


# ----------------------------------------------------------------------------------------- network -> layers
def _mlp_layers(modules) -> list[tuple]:
    """[("gemm", W [out, in], b [out]) | ("tanh",) | ("relu",)] for a chain of torch modules."""
    import torch.nn as nn

    out: list[tuple] = []
    for m in modules:
        if isinstance(m, nn.Sequential):
            out += _mlp_layers(list(m))
        elif isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().numpy().astype(np.float32)
            b = (m.bias.detach().cpu().numpy() if m.bias is not None else np.zeros(w.shape[0])).astype(np.float32)
            out.append(("gemm", w, b))
        elif isinstance(m, nn.Tanh):
            out.append(("tanh",))
        elif isinstance(m, nn.ReLU):
            out.append(("relu",))
        elif isinstance(m, (nn.Flatten, nn.Identity)) or type(m).__name__ == "FlattenExtractor":
            continue  # observations are already flat [N, D]
        else:
            raise ExportError(f"cannot export layer {type(m).__name__} (supported: Linear, Tanh, ReLU, Flatten)")
    return out


def network_of(model) -> tuple[list[tuple], str, dict[str, int]]:
    """The deterministic-action network of an SB3 model: (layers, head, sizes). head: continuous, argmax or
    quantile_argmax."""
    from stable_baselines3.common.preprocessing import is_image_space
    from torch.nn import Flatten

    if hasattr(model, "onnx_network"):  # HDPO (agents.hdpo): the network says what it is
        return model.onnx_network()
    policy = model.policy
    name = getattr(model, "algorithm", type(model).__name__)  # agents.runs.SavedPolicy, or an SB3 model
    space = model.action_space
    if is_image_space(model.observation_space):
        raise ExportError("image observations are not supported")
    if name == "PPO":
        if getattr(policy, "use_sde", False) or getattr(policy, "squash_output", False):
            raise ExportError("PPO with gSDE / squashed output is not supported by the exporter")
        fe = policy.pi_features_extractor if not policy.share_features_extractor else policy.features_extractor
        if not isinstance(getattr(fe, "flatten", None), Flatten):
            raise ExportError(f"unsupported features extractor {type(fe).__name__} (only FlattenExtractor)")
        layers = _mlp_layers([policy.mlp_extractor.policy_net, policy.action_net])
        if type(space).__name__ == "Box":
            if space.shape != (1,):
                raise ExportError(f"continuous action of shape {space.shape}; the env's is (1,)")
            return layers, "continuous", {"low": float(space.low[0]), "high": float(space.high[0])}
        if type(space).__name__ == "Discrete":
            return layers, "argmax", {"n_actions": int(space.n)}
        raise ExportError(f"unsupported action space {space}")
    if name == "DQN":
        return _mlp_layers([policy.q_net.features_extractor, policy.q_net.q_net]), "argmax", \
            {"n_actions": int(space.n)}
    if name == "QRDQN":
        qn = policy.quantile_net
        return _mlp_layers([qn.features_extractor, qn.quantile_net]), "quantile_argmax", \
            {"n_actions": int(space.n), "n_quantiles": int(qn.n_quantiles)}
    raise ExportError(f"cannot export a {name} model (PPO, DQN, QRDQN)")


def build_onnx(layers: list[tuple], head: str, sizes: dict[str, int], shift: np.ndarray, scale: np.ndarray,
               clip: float, metadata: dict[str, Any]):
    """The ONNX model: normalisation, MLP, deterministic-action head; metadata as JSON in metadata_props."""
    from onnx import TensorProto, helper, numpy_helper

    obs_dim = int(shift.shape[0])
    inits = []
    nodes = []

    def const(name: str, value) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    nodes.append(helper.make_node("Add", ["obs", const("norm_shift", shift.astype(np.float32))], ["obs_shifted"]))
    nodes.append(helper.make_node("Mul", ["obs_shifted", const("norm_scale", scale.astype(np.float32))],
                                  ["obs_scaled"]))
    nodes.append(helper.make_node("Clip", ["obs_scaled", const("clip_lo", np.float32(-clip)),
                                           const("clip_hi", np.float32(clip))], ["x0"]))
    x = "x0"
    for i, layer in enumerate(layers):
        y = f"x{i + 1}"
        if layer[0] == "gemm":
            nodes.append(helper.make_node("Gemm", [x, const(f"W{i}", layer[1]), const(f"b{i}", layer[2])], [y],
                                          transB=1))
        elif layer[0] == "tanh":
            nodes.append(helper.make_node("Tanh", [x], [y]))
        else:
            nodes.append(helper.make_node("Relu", [x], [y]))
        x = y
    if head == "continuous":
        nodes.append(helper.make_node("Clip", [x, const("act_lo", np.float32(sizes["low"])),
                                               const("act_hi", np.float32(sizes["high"]))], ["action"]))
        out = helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 1])
    elif head == "sS":
        _ss_head(nodes, const, x, sizes)
        out = helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 1])
    elif head == "argmax":
        nodes.append(helper.make_node("ArgMax", [x], ["action"], axis=1, keepdims=0))
        out = helper.make_tensor_value_info("action", TensorProto.INT64, ["N"])
    else:
        shape = np.array([-1, sizes["n_quantiles"], sizes["n_actions"]], dtype=np.int64)
        nodes.append(helper.make_node("Reshape", [x, const("quantile_shape", shape)], ["quantiles"]))
        nodes.append(helper.make_node("ReduceMean", ["quantiles"], ["q_values"], axes=[1], keepdims=0))
        nodes.append(helper.make_node("ArgMax", ["q_values"], ["action"], axis=1, keepdims=0))
        out = helper.make_tensor_value_info("action", TensorProto.INT64, ["N"])
    graph = helper.make_graph(nodes, "invrl_policy",
                              [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", obs_dim])], [out],
                              initializer=inits)
    return _finish_model(graph, metadata)


def _finish_model(graph, metadata: dict[str, Any]):
    """The ONNX model of `graph` (this project's opset and IR version) with the policy metadata, checked."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="invrl",
                              producer_version=str(metadata.get("versions", {}).get("invrl", "")),
                              ir_version=IR_VERSION)
    helper.set_model_props(model, {pf.METADATA_KEY: pf.dumps(metadata)})
    onnx.checker.check_model(model)
    return model


def build_gru_onnx(w: dict[str, np.ndarray], d: int, hidden: int, metadata: dict[str, Any]):
    """The learned forecaster gru_quantile as ONNX, built by hand like :func:`build_onnx`: ONNX's own GRU
    operator (``linear_before_reset=1``, torch's GRU; gates reordered from torch's r, z, n to ONNX's z, r, h)
    over ``x`` float32 [T, N, d] from ``h0`` [1, N, hidden], then the head ``Gemm`` on [h_T, lh] (``lh`` [N] =
    log(L + 2)): output ``mean`` [N]. Weights from :meth:`baselines.learned.GRUForecast.gru_weights`."""
    from onnx import TensorProto, helper, numpy_helper

    H = int(hidden)

    def zrh(a: np.ndarray) -> np.ndarray:  # torch's rows r, z, n -> ONNX's z, r, h
        return np.concatenate([a[H:2 * H], a[:H], a[2 * H:]]).astype(np.float32)

    inits = [numpy_helper.from_array(zrh(w["gru.weight_ih_l0"])[None], "W"),
             numpy_helper.from_array(zrh(w["gru.weight_hh_l0"])[None], "R"),
             numpy_helper.from_array(np.concatenate([zrh(w["gru.bias_ih_l0"]), zrh(w["gru.bias_hh_l0"])])[None], "B"),
             numpy_helper.from_array(w["head.weight"].astype(np.float32), "head_W"),
             numpy_helper.from_array(w["head.bias"].astype(np.float32), "head_b"),
             numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1")]
    nodes = [helper.make_node("GRU", ["x", "W", "R", "B", "", "h0"], ["", "h_last"], hidden_size=H,
                              linear_before_reset=1),
             helper.make_node("Squeeze", ["h_last", "axis0"], ["h"]),
             helper.make_node("Unsqueeze", ["lh", "axis1"], ["lh_col"]),
             helper.make_node("Concat", ["h", "lh_col"], ["head_in"], axis=1),
             helper.make_node("Gemm", ["head_in", "head_W", "head_b"], ["head_out"], transB=1),
             helper.make_node("Squeeze", ["head_out", "axis1"], ["mean"])]
    graph = helper.make_graph(
        nodes, "invrl_gru_forecaster",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "N", int(d)]),
         helper.make_tensor_value_info("h0", TensorProto.FLOAT, [1, "N", H]),
         helper.make_tensor_value_info("lh", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N"])], initializer=inits)
    return _finish_model(graph, metadata)


def _ss_head(nodes: list, const, x: str, sizes: dict[str, Any]) -> None:
    """HDPO's (s, S) head (:class:`agents.hdpo.HDPONet`, op for op): s = c o0 + s0, S = s + c softplus(o1), IP
    (demand scales) recovered from the normalised input, order = S - IP when IP <= s (at most qmax), as the
    continuous action clip(2 order / qmax - 1, -1, 1)."""
    from onnx import helper

    f32 = np.float32
    nodes.append(helper.make_node("Gather", [x, const("ss_i0", np.array([0], dtype=np.int64))], ["ss_o0"], axis=1))
    nodes.append(helper.make_node("Gather", [x, const("ss_i1", np.array([1], dtype=np.int64))], ["ss_o1"], axis=1))
    nodes.append(helper.make_node("Mul", ["ss_o0", const("ss_c", f32(sizes["level_scale"]))], ["ss_o0c"]))
    nodes.append(helper.make_node("Add", ["ss_o0c", const("ss_s0", f32(sizes["s0"]))], ["ss_s"]))
    # softplus(o1) = relu(o1) + log(1 + exp(-|o1|))
    nodes.append(helper.make_node("Relu", ["ss_o1"], ["ss_r"]))
    nodes.append(helper.make_node("Abs", ["ss_o1"], ["ss_abs"]))
    nodes.append(helper.make_node("Neg", ["ss_abs"], ["ss_nabs"]))
    nodes.append(helper.make_node("Exp", ["ss_nabs"], ["ss_exp"]))
    nodes.append(helper.make_node("Add", [const("ss_one", f32(1.0)), "ss_exp"], ["ss_1p"]))
    nodes.append(helper.make_node("Log", ["ss_1p"], ["ss_log"]))
    nodes.append(helper.make_node("Add", ["ss_r", "ss_log"], ["ss_sp"]))
    gap = "ss_gap"
    if "lot_index" in sizes:  # hp.lot=eoq: the gap times max(eoq_cover, 1), eoq_cover read back from the input
        gap = "ss_gap0"
        nodes.append(helper.make_node("Gather", ["x0", const("ss_ilot", np.array([sizes["lot_index"]], dtype=np.int64))],
                                      ["ss_lotn"], axis=1))
        nodes.append(helper.make_node("Div", ["ss_lotn", const("ss_lotscale", f32(sizes["lot_scale"]))], ["ss_lotd"]))
        nodes.append(helper.make_node("Sub", ["ss_lotd", const("ss_lotshift", f32(sizes["lot_shift"]))], ["ss_lot0"]))
        nodes.append(helper.make_node("Max", ["ss_lot0", const("ss_lotmin", f32(1.0))], ["ss_lot"]))
    if sizes.get("lot_fixed"):  # hp.lot=eoq_fixed: S - s = lot_factor x max(eoq_cover, 1)
        nodes.append(helper.make_node("Mul", ["ss_lot", const("ss_lotf", f32(sizes["lot_factor"]))], ["ss_gap"]))
    else:
        nodes.append(helper.make_node("Mul", ["ss_sp", "ss_c"], [gap]))
        if gap != "ss_gap":
            nodes.append(helper.make_node("Mul", [gap, "ss_lot"], ["ss_gap"]))
    if sizes.get("lot_max") is not None:  # hp.lot_max: S - s at most lot_max demand scales
        nodes.append(helper.make_node("Min", ["ss_gap", const("ss_lotmax", f32(sizes["lot_max"]))], ["ss_gapc"]))
        nodes.append(helper.make_node("Add", ["ss_s", "ss_gapc"], ["ss_S"]))
    else:
        nodes.append(helper.make_node("Add", ["ss_s", "ss_gap"], ["ss_S"]))
    nodes.append(helper.make_node("Gather", ["x0", const("ss_iip", np.array([sizes["ip_index"]], dtype=np.int64))],
                                  ["ss_ipn"], axis=1))
    nodes.append(helper.make_node("Div", ["ss_ipn", const("ss_ipscale", f32(sizes["ip_scale"]))], ["ss_ipd"]))
    nodes.append(helper.make_node("Sub", ["ss_ipd", const("ss_ipshift", f32(sizes["ip_shift"]))], ["ss_ip"]))
    nodes.append(helper.make_node("Sub", ["ss_S", "ss_ip"], ["ss_up0"]))
    nodes.append(helper.make_node("Relu", ["ss_up0"], ["ss_up"]))
    nodes.append(helper.make_node("LessOrEqual", ["ss_ip", "ss_s"], ["ss_cond"]))
    nodes.append(helper.make_node("Where", ["ss_cond", "ss_up", const("ss_zero", f32(0.0))], ["ss_q0"]))
    nodes.append(helper.make_node("Min", ["ss_q0", const("ss_qmax", f32(sizes["qmax"]))], ["ss_q"]))
    nodes.append(helper.make_node("Mul", ["ss_q", const("ss_k", f32(2.0 / sizes["qmax"]))], ["ss_a0"]))
    nodes.append(helper.make_node("Sub", ["ss_a0", const("ss_one2", f32(1.0))], ["ss_a1"]))
    nodes.append(helper.make_node("Clip", ["ss_a1", const("act_lo", f32(sizes["low"])),
                                           const("act_hi", f32(sizes["high"]))], ["action"]))


# ----------------------------------------------------------------------------------------- metadata
def problem_metadata(problem) -> dict[str, Any]:
    """SKU table, observation layout and cost/mode facts of a Problem (shared by ONNX and level exports)."""
    from envs import kernel

    p = problem.params
    sc = problem.scenario
    params = {"demand_scale": p[:, kernel.SCALE], "lead_time": p[:, kernel.LEAD], "moq": p[:, kernel.MOQ],
              "pack_size": p[:, kernel.PACK], "max_order": p[:, kernel.MAX_ORDER],
              "capacity": p[:, kernel.CAPACITY], "holding_cost": p[:, kernel.HOLD],
              "shortage_cost": p[:, kernel.SHORT], "order_cost": p[:, kernel.ORDER_COST],
              "unit_cost": p[:, kernel.UNIT_COST]}
    defaults = {"lead_time": sc.lead_time, "moq": sc.moq, "pack_size": max(sc.pack_size, 1),
                "max_order": sc.max_order, "capacity": sc.capacity, "holding_cost": sc.holding_cost,
                "shortage_cost": sc.shortage_cost, "order_cost": sc.order_cost, "unit_cost": sc.unit_cost}
    daily = problem.n_calendar == 4
    return {
        "mode": sc.mode,
        "obs_layout_version": pf.OBS_LAYOUT_VERSION,
        "obs_names": [f.name for f in problem.obs_fields],
        "observation": {"n_pipe": problem.n_pipe, "max_lead": problem.max_lead, "demand_window": problem.n_lags,
                        "forecast_window": problem.n_forecast,
                        "forecast_alpha": problem.forecast[1] if problem.forecast else None,
                        "n_calendar": problem.n_calendar, "calendar_daily": daily, "lead_norm": problem.lead_norm,
                        "with_lead": problem.with_lead, "with_period": problem.with_period,
                        "with_eoq": problem.with_eoq, "with_scale": problem.with_scale,
                        "with_order": problem.with_order,
                        "trained_lead_times": sorted({int(v) for v in p[:, kernel.LEAD]})},
        "skus": pf.sku_table([problem.sku_name(i) for i in range(problem.n_skus)], params),
        "defaults": defaults,
        "operations": operations_metadata(problem),
        "demand_scale_meaning": "mean demand per period of the SKU on its training data (parametric: the "
                                "scenario's mean); observations are quantities / demand scale",
    }


def operations_metadata(problem) -> dict[str, Any]:
    """Random lead times and perishable stock of a Problem (issue 16): per-SKU lead-time distributions (None:
    fixed), whether orders may cross, shelf lives (0: not perishable), issuing rule and outdating costs."""
    from envs import kernel

    p = problem.params
    dist = problem.lead_dist
    return {"lead_time_dist": None if dist is None else [[float(v) for v in row] for row in dist],
            "crossing": bool(problem.crossing), "shelf_life": [int(v) for v in p[:, kernel.SHELF]],
            "issuing": problem.scenario.issuing, "outdating_cost": [float(v) for v in p[:, kernel.OUTDATE]],
            "shared": {"capacity": None if not np.isfinite(problem.shared[0]) else float(problem.shared[0]),
                       "budget": None if not np.isfinite(problem.shared[1]) else float(problem.shared[1])},
            "volume": [float(v) for v in p[:, kernel.VOLUME]]}


def _versions(run: Run | None) -> dict[str, Any]:
    import numpy
    import onnx

    out: dict[str, Any] = {"export_python": platform.python_version(), "export_numpy": numpy.__version__,
                           "export_onnx": onnx.__version__}
    try:
        from importlib.metadata import version

        out["invrl"] = version("invrl")
    except Exception:  # not installed as a package
        out["invrl"] = "source"
    if run is not None:
        vf = run.path / "versions.json"
        if vf.is_file():
            try:
                out["training"] = json.loads(vf.read_text())
            except json.JSONDecodeError:
                out["training"] = "unreadable versions.json"
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_policy(out: Path, data: bytes, meta: dict[str, Any], sidecar: bool) -> None:
    atomic_write_bytes(out, data)
    if sidecar:
        atomic_write_text(out.with_name(out.name + ".json"), json.dumps(meta, indent=1, allow_nan=False))


# ----------------------------------------------------------------------------------------- export
def export_run(run_dir: str | Path, out: str | Path, which: str = "auto", sidecar: bool = True,
               check: bool = False, n_check: int = 10_000) -> dict[str, Any]:
    """Export the model of a run folder to ONNX at `out` (+ sidecar ``out.json``). Returns the metadata (with
    ``parity``, the result of :func:`parity`, when `check`). The file is written only once onnxruntime loads
    the graph and, with `check`, once its orders match the run's policy on the evaluation observations: a
    failed export leaves `out` as it was."""
    import torch

    from envs.scenario import resolve_scenario

    run = load_run(run_dir, which)
    model = run.load_model(device="cpu")
    torch.set_num_threads(1)
    layers, head, sizes = network_of(model)
    problem = run.problem()
    sc = resolve_scenario(run.config.scenario, **run.config.scenario_overrides)
    norm = run.normalization
    names = [f.name for f in problem.obs_fields]
    if names != norm.obs_names:
        raise ExportError(f"{run.path}: normalization.json lists observation {norm.obs_names}, the run's scenario "
                          f"gives {names}")
    if layers[0][0] != "gemm" or layers[0][1].shape[1] != len(names):
        raise ExportError(f"{run.model_path}: the network's input size does not match the observation "
                          f"({len(names)} fields)")
    meta = {
        "format": pf.FORMAT, "format_version": pf.FORMAT_VERSION, "kind": "onnx",
        "algorithm": getattr(model, "algorithm", type(model).__name__), "head": head, "input": "obs", "output": "action",
        "action": {"mode": sc.action.mode, "n": sc.action.n, "step": sc.action.step, "relative": sc.action.relative,
                   "output": "float32 [N, 1] in [-1, 1]" if head in ("continuous", "sS")
                   else "int64 [N] action index",
                   **({"lot": "max(eoq_cover, 1) x demand_scale per SKU, eoq_cover = sqrt(2 order_cost / "
                              "(holding_cost demand_scale)); order s + lot - IP when IP <= s = index x step "
                              "(x demand_scale if relative), else 0"}
                      if sc.action.mode == "reorder_point" else {})},
        **problem_metadata(problem),
        "normalization": {"obs_names": norm.obs_names, "shift": norm.shift.tolist(), "scale": norm.scale.tolist(),
                          "clip": norm.clip, "formula": "clip((obs + shift) * scale, -clip, clip), in the graph"},
        "scenario": {"name": problem.scenario.name, "config": run.config.scenario,
                     "overrides": run.config.scenario_overrides},
        "costs": {"holding_cost": sc.holding_cost, "shortage_cost": sc.shortage_cost, "order_cost": sc.order_cost,
                  "unit_cost": sc.unit_cost, "per_sku": "see skus"},
        "run": {"id": f"{run.name}:{run.model_path.name}:{_sha256(run.model_path)[:12]}", "path": str(run.path),
                "model_file": run.model_path.name, "model_sha256": _sha256(run.model_path),
                "num_timesteps": int(model.num_timesteps), "seed": run.config.seed, "preset": run.config.preset},
        "versions": _versions(run),
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    data = build_onnx(layers, head, sizes, norm.shift, norm.scale, norm.clip, meta).SerializeToString()
    # a model that the runtime cannot load is an export error, not a deploy-time surprise
    import onnxruntime as ort

    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own exception types
        raise ExportError(f"onnxruntime cannot load the exported graph ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:200]}); nothing written") from None
    result = dict(meta)
    if check:
        r = _parity(run, model, data, n_check, STREAMS["export"])
        if r["unit_mismatches"]:
            raise ExportError(f"parity check failed: the ONNX graph's orders differ from the run's policy on "
                              f"{r['unit_mismatches']} of {r['n']} evaluation observations; {out} not written")
        result["parity"] = r
    _write_policy(Path(out), data, meta, sidecar)
    return result


LEVEL_BASELINES = ("base_stock", "capped_base_stock", "safety_stock_RS", "safety_stock_RS_tuned", "safety_stock_sS",
                   "safety_stock_sS_tuned")
LEARNED_BASELINES = ("lgbm_quantile", "lgbm_quantile_tuned", "gru_quantile", "gru_quantile_tuned")
"""``lgbm_*`` exported as a JSON file of ``kind: lgbm`` (the booster in LightGBM's text format, the features, the
safety stocks), ``gru_*`` as an ONNX file of ``kind: gru`` (the GRU and its head; the same metadata in
``metadata_props``): the order-up-to level is computed at deploy time from the demand history (and the known
covariates of a scenario with ``data: covariates``), :mod:`deploy.learned`."""


def export_baseline(name: str, problem, out: str | Path, scenario_info: dict[str, Any],
                    sidecar: bool = False) -> dict[str, Any]:
    """Fit a classical baseline on the problem's training data and write its per-SKU levels as a JSON policy
    (``kind: levels``): S (order-up-to level), s (review: order when IP <= s), cap (largest order)."""
    from baselines.base import train_data
    from baselines.evaluation import make_policies

    if name in LEARNED_BASELINES:
        return _export_learned(name, problem, out, scenario_info)
    if name not in LEVEL_BASELINES:
        raise ExportError(f"baseline {name!r} cannot be exported; choose one of "
                          f"{', '.join(LEVEL_BASELINES + LEARNED_BASELINES)}")
    (pol,) = make_policies([name], problem)
    pol.fit(problem, train_data(problem))
    n = problem.n_skus
    skus = np.arange(n)
    if hasattr(pol, "caps"):  # capped base-stock
        S, s, cap = pol.levels, pol.levels, pol.caps
    elif hasattr(pol, "levels"):  # base-stock
        S, s, cap = pol.levels, pol.levels, np.full(n, np.inf)
    else:  # (R,S) / (R,s,S) safety-stock rules
        s = pol.reorder_point(pol.z, skus)
        S = s + pol.lot if name.startswith("safety_stock_sS") else s
        cap = np.full(n, np.inf)
    meta = {
        "format": pf.FORMAT, "format_version": pf.FORMAT_VERSION, "kind": "levels", "baseline": name,
        "describe": pol.describe(),
        "rule": "order min(S - IP, cap) when IP <= s, then MOQ / pack size / max order / capacity",
        **problem_metadata(problem),
        "levels": {"S": pf._finite_or_none(S), "s": pf._finite_or_none(s), "cap": pf._finite_or_none(cap)},
        "scenario": scenario_info, "versions": _versions(None),
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(Path(out), json.dumps(meta, indent=1, allow_nan=False))
    return meta


def _export_learned(name: str, problem, out: str | Path, scenario_info: dict[str, Any]) -> dict[str, Any]:
    """lgbm_quantile(_tuned) / gru_quantile(_tuned) fitted as evaluate() fits them for the test window (train +
    val where there is a validation window), written as a JSON policy of kind ``lgbm`` / an ONNX policy of kind
    ``gru``."""
    from baselines.base import fit_window, train_data
    from baselines.evaluation import make_policies

    gru = name.startswith("gru")
    want = ".onnx" if gru else ".json"
    if Path(out).suffix.lower() != want:
        raise ExportError(f"--out {out}: baseline {name!r} is written as a {want} file; expected --out ending in {want}")
    (pol,) = make_policies([name], problem)
    pol.fit(problem, train_data(problem, window=fit_window(problem, "test")))
    return write_learned(pol, problem, out, scenario_info)


def write_learned(pol, problem, out: str | Path, scenario_info: dict[str, Any]) -> dict[str, Any]:
    """Write a fitted learned forecaster (:func:`_export_learned`) as its policy file; returns the metadata."""
    from invcore.forecast_features import Features

    name = pol.name
    gru = name.startswith("gru")
    try:
        payload = pol.export_payload()
    except ValueError as e:
        raise ExportError(f"baseline {name!r} cannot be exported: {e}") from None
    versions = _versions(None) if gru else {**_versions(None), "export_lightgbm": _lightgbm_version()}
    meta = {
        "format": pf.FORMAT, "format_version": pf.FORMAT_VERSION, "kind": "gru" if gru else "lgbm",
        "baseline": name, "describe": pol.describe(), **problem_metadata(problem), **payload,
        "scenario": scenario_info, "versions": versions,
        "exported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if gru:
        spec = Features.from_json(payload["features"], str(out))
        model = build_gru_onnx(pol.gru_weights(), 4 + spec.n_calendar + len(spec.covariate_names), pol.hidden, meta)
        _write_policy(Path(out), model.SerializeToString(), meta, sidecar=False)
        return meta
    atomic_write_text(Path(out), json.dumps(meta, indent=1, allow_nan=False))
    return meta


def _lightgbm_version() -> str:
    import lightgbm

    return lightgbm.__version__


# ----------------------------------------------------------------------------------------- parity
def evaluation_observations(run: Run, n: int = 10_000, seed: int = STREAMS["export"],
                            model=None) -> tuple[np.ndarray, np.ndarray, Any]:
    """`n` raw observations of the run's evaluation env: parametric episodes (data: test windows) stepped
    with the agent's own deterministic orders from a random initial stock. Returns (obs [n, D] float32, the
    SKU index of each row, the problem)."""
    from envs.batch import simulate
    from envs.episodes import make_episodes
    from envs.problem import Problem

    overrides = dict(run.config.scenario_overrides)
    problem = Problem(run.config.scenario, **overrides)
    # data: every SKU's test window; parametric: 50 episodes long enough for n observations
    eps = make_episodes(problem, "test", seed=seed, n=50, periods=max(1, n // 50) + 1)
    from envs.scenario import resolve_scenario

    sc = resolve_scenario(run.config.scenario, **overrides)
    agent = AgentPolicy(model if model is not None else run.load_model(), run.normalization, sc.action)
    agent.fit(problem, None)
    rows, skus = [], []

    def act(sim):  # the agent's own orders; the observations of the episodes still running are recorded
        obs = sim.observe().copy()
        if sum(r.shape[0] for r in rows) < n:
            live = sim.raw.active
            rows.append(obs[live])
            skus.append(eps.sku[live])
        return agent.act(obs, sim.raw)

    simulate(problem, eps, act, initial_state="random", seed=seed, order_up_to=agent.order_up_to)
    got = sum(r.shape[0] for r in rows)
    if not got:  # a small data set has fewer: the check runs on the observations there are
        raise ExportError(f"no evaluation observations: the run's scenario {problem.scenario.name!r} has no test "
                          "periods to check the export on")
    return np.concatenate(rows)[:n], np.concatenate(skus)[:n], problem


def parity(run_dir: str | Path, policy: str | Path, n: int = 10_000, which: str = "auto",
           seed: int = STREAMS["export"]) -> dict[str, Any]:
    """Compare the ONNX policy (a file, or its bytes) with ``model.predict(normalised obs, deterministic=True)`` on
    up to `n` evaluation observations (fewer where the data has fewer; ``n`` in the result says how many):
    identical actions (discrete) / identical order units and the max |raw action difference| (continuous)."""
    run = load_run(run_dir, which)
    return _parity(run, run.load_model(), policy if isinstance(policy, bytes) else str(policy), n, seed)


def _parity(run: Run, model, policy: str | bytes, n: int, seed: int) -> dict[str, Any]:
    import onnxruntime as ort

    obs, sku, problem = evaluation_observations(run, n, seed, model=model)
    n = len(obs)
    ref, _ = model.predict(run.normalization.apply(obs), deterministic=True)
    sess = ort.InferenceSession(policy, providers=["CPUExecutionProvider"])
    got = sess.run(["action"], {"obs": obs.astype(np.float32)})[0]
    meta = json.loads(sess.get_modelmeta().custom_metadata_map[pf.METADATA_KEY])
    from envs import kernel

    scale = problem.params[sku, kernel.SCALE]
    ip = obs[:, [f.name for f in problem.obs_fields].index("inventory_position")].astype(np.float64) * scale
    lot = pf.reorder_lot(problem.params[sku, kernel.ORDER_COST], problem.params[sku, kernel.HOLD], scale)
    units_ref = pf.requested_units(ref, meta["action"], scale, ip, lot)
    units_got = pf.requested_units(got, meta["action"], scale, ip, lot)
    out = {"n": int(n), "algorithm": meta["algorithm"], "head": meta["head"],
           "action_mismatches": int((np.asarray(ref).reshape(len(obs), -1)[:, 0]
                                     != np.asarray(got).reshape(len(obs), -1)[:, 0]).sum()),
           "unit_mismatches": int((units_ref != units_got).sum())}
    if meta["head"] in ("continuous", "sS"):
        out["max_abs_action_diff"] = float(np.abs(np.asarray(ref, np.float64).reshape(-1)
                                                  - np.asarray(got, np.float64).reshape(-1)).max())
    return out


# ----------------------------------------------------------------------------------------- CLI
def _parse_overrides(items: list[str]) -> dict[str, Any]:
    from invcore import yamlio

    out = {}
    for it in items:
        if "=" not in it:
            raise ExportError(f"override {it!r}: expected KEY=VALUE")
        k, v = it.split("=", 1)
        try:
            out[k.strip()] = yamlio.safe_load(v, f"override {k.strip()[:60]!r}")
        except yamlio.YamlLimitError as e:
            raise ExportError(str(e)) from None
    return out


def main(argv: list[str] | None = None, prog: str = "python -m agents.export") -> int:
    from invcore.cli import HelpFormatter

    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    ap.add_argument("run_dir", nargs="?", help="run folder written by train.py")
    ap.add_argument("overrides", nargs="*", help="KEY=VALUE scenario overrides (with --scenario)")
    ap.add_argument("--out", required=True, help="policy file to write (.onnx for an agent, .json for a baseline)")
    ap.add_argument("--model", default="auto", choices=("auto", "best", "model", "checkpoint"),
                    help="which model of the run (auto: best_model.npz if there is one, else model.npz; read "
                         "without pickle)")
    ap.add_argument("--best", action="store_true", help="same as --model best")
    ap.add_argument("--no-sidecar", action="store_true", help="do not write the readable OUT.json beside OUT")
    ap.add_argument("--check", action="store_true", help="parity check on up to 10,000 evaluation observations "
                    "before writing (a mismatch writes nothing)")
    ap.add_argument("--baseline", help=f"export a baseline instead, fitted on the run's scenario or --scenario: "
                                       f"a level table .json ({', '.join(LEVEL_BASELINES)}), a LightGBM forecaster "
                                       ".json (lgbm_quantile, lgbm_quantile_tuned) or a GRU forecaster .onnx "
                                       "(gru_quantile, gru_quantile_tuned); the learned ones read the scenario's "
                                       "known covariates too (data.covariates=...; recommend --covariates)")
    ap.add_argument("--scenario", help="scenario for --baseline (instead of a run folder)")
    args = ap.parse_intermixed_args(argv)  # KEY=VALUE may come before or after the options
    try:
        from invcore.atomic import output_file_error

        problem = output_file_error(args.out)
        if problem:
            raise ExportError(f"--out {args.out}: {problem}")
        if args.baseline:
            from envs.problem import Problem

            if args.run_dir and "=" in args.run_dir and args.scenario:
                args.overrides.insert(0, args.run_dir)
                args.run_dir = None
            if args.run_dir:
                run = load_run(args.run_dir)
                scen, ov = run.config.scenario, dict(run.config.scenario_overrides)
            elif args.scenario:
                scen, ov = args.scenario, _parse_overrides(args.overrides)
            else:
                raise ExportError("--baseline needs a run folder or --scenario")
            problem = Problem(scen, **ov)
            meta = export_baseline(args.baseline, problem, args.out,
                                   {"name": problem.scenario.name, "config": scen, "overrides": ov})
            print(f"wrote {args.out}: {meta['describe']} ({len(meta['skus']['sku'])} SKUs)")
            return 0
        if not args.run_dir:
            raise ExportError("give a run folder (or --baseline NAME --scenario NAME)")
        if args.overrides:
            raise ExportError(f"unexpected arguments {args.overrides} (scenario overrides go with --baseline)")
        which = "best" if args.best else args.model
        meta = export_run(args.run_dir, args.out, which, sidecar=not args.no_sidecar, check=args.check)
        print(f"wrote {args.out}: {meta['algorithm']} ({meta['head']}), observation {', '.join(meta['obs_names'])}, "
              f"action {meta['action']['mode']} n={meta['action']['n']}, run {meta['run']['id']}")
        if args.check:
            r = meta["parity"]
            print(f"orders agree: {r['n']} / {r['n']} evaluation observations (ONNX file vs the run's policy"
                  + (f"; raw actions differ on {r['action_mismatches']}, max |diff| "
                     f"{r.get('max_abs_action_diff', 0):.3g}, without changing an order)"
                     if r["action_mismatches"] else ")"))
        return 0
    except (ExportError, RunError, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
