"""invcore (the numpy core shared by envs, agents and deploy) against the simulator it was taken from: order
rules bit for bit against the numba kernel, calendar features, the observation layout of Problem, action ->
units; its own import rules (numpy + standard library; pandas only in invcore.tables) and those of the
deploy path; tables and atomic writes.
"""

from __future__ import annotations

import ast
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs import kernel as K
from envs.demand import calendar_features as env_calendar_features
from envs.problem import Problem
from invcore import constraints as C
from invcore.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from invcore.calendar import calendar_features
from invcore.observation import (
    KNOWN_FIELDS,
    OBS_LAYOUT_VERSION,
    forecast_fields,
    known_field,
    obs_layout,
    ses_window,
)
from invcore.tables import TableError, number_column, read_table, sku_column

ROOT = Path(__file__).resolve().parent.parent
INVCORE = ROOT / "invcore"
HEAVY = ("numba", "gymnasium", "torch", "stable_baselines3", "sb3_contrib", "scipy", "envs", "agents",
         "baselines", "yaml", "onnx")


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


# ----------------------------------------------------------------------------------------- order rules
def _cases(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    want = np.concatenate([
        rng.choice([-3.0, -1e-12, 0.0, 1e-12, 1e-9, 2e-9, 1e-8, 0.5, 1.0, 3.0, 7.0, 12.0, 25.0, 99.0], n // 2)
        + rng.integers(0, 3, n // 2) * 0.25,
        rng.uniform(-5.0, 80.0, n - n // 2),  # fractional requests (order-up-to minus IP, continuous actions)
    ])
    ip = np.where(rng.random(n) < 0.7, rng.integers(-5, 60, n).astype(float), rng.uniform(-5.0, 60.0, n))
    moq = rng.choice([0.0, 0.0, 1.0, 2.0, 5.0, 12.5, 30.0], n)
    pack = rng.choice([1.0, 1.0, 2.0, 5.0, 6.0, 12.0], n)
    max_order = rng.choice([np.inf, np.inf, 0.0, 3.0, 10.0, 24.0, 40.5], n)
    cap = rng.choice([np.inf, np.inf, 0.0, 30.0, 50.0, 75.5], n)
    return want, ip, moq, pack, max_order, cap


@pytest.mark.parametrize("seed", [0, 1])
def test_constrain_bit_for_bit_with_kernel(seed):
    """invcore.constraints.constrain (vectorised) == envs.kernel.constrain (numba, scalar), bit for bit (a
    zero is +0.0 on both sides), on pack 1 and larger packs, MOQ 0 and > 0, finite and infinite max order and
    capacity, requests <= 0 and tiny ones."""
    args = _cases(4000, seed)
    ref = np.array([K.constrain(*a) for a in zip(*args)])
    got = C.constrain(*args)
    assert got.dtype == np.float64 and got.shape == ref.shape
    np.testing.assert_array_equal(_bits(got), _bits(ref))
    # the cases are not trivial: orders cut by max order / capacity, MOQ-rounded and zeroed requests occur
    want, ip, moq, pack, max_order, cap = args
    assert ((ref > 0) & (ref < want)).any() and ((ref > 0) & (ref > want)).any() and ((ref == 0) & (want > 1)).any()


def test_constrain_rules():
    inf = np.inf
    cases = [  # want, ip, moq, pack, max_order, capacity -> units
        (0.0, 0.0, 0.0, 1.0, inf, inf, 0.0), (1e-9, 0.0, 0.0, 1.0, inf, inf, 0.0),
        (2e-9, 0.0, 0.0, 6.0, inf, inf, 0.0), (2.2, 0.0, 0.0, 1.0, inf, inf, 3.0),
        (1.0, 0.0, 5.0, 1.0, inf, inf, 5.0), (7.0, 0.0, 0.0, 6.0, inf, inf, 12.0),
        (30.0, 0.0, 0.0, 6.0, 20.0, inf, 18.0), (30.0, 40.0, 0.0, 6.0, inf, 50.0, 6.0),
        (30.0, 40.0, 8.0, 6.0, inf, 50.0, 0.0), (12.0, 6.0000000001, 0.0, 6.0, inf, 18.0, 12.0),
    ]
    for *a, expected in cases:
        got = C.constrain(*(np.array([x]) for x in a))[0]
        assert got == expected and K.constrain(*a) == expected, (a, got)
        assert not np.signbit(got)


def _action_problems() -> list[Problem]:
    return [Problem("lost-sales-L2-p9"), Problem("demo"),
            Problem("lost-sales-L2-p9", **{"action.mode": "order_up_to", "action.n": 9, "action.step": 2.5}),
            Problem("demo", **{"action.mode": "continuous", "action.n": 11, "action.step": 0.3}),
            Problem("demo", **{"action.mode": "units", "action.step": 0.7})]


@pytest.mark.parametrize("problem", _action_problems(), ids=lambda p: f"{p.scenario.name}-{p.scenario.action.mode}")
def test_action_units_match_problem(problem):
    """invcore.constraints.action_table / requested_units == Problem.action_table / Problem.request."""
    a = problem.scenario.action
    spec = {"mode": a.mode, "n": a.n, "step": a.step, "relative": a.relative}
    scale = problem.params[:, K.SCALE]
    n = problem.n_skus
    if a.mode == "continuous":
        np.testing.assert_array_equal(C.continuous_max(a.n, a.step, a.relative, scale), problem._cont_max)
        acts = np.linspace(-1.3, 1.3, 53)
    else:
        np.testing.assert_array_equal(C.action_table(a.mode, a.n, a.step, a.relative, scale), problem.action_table)
        acts = np.arange(a.n)
    ip = np.zeros(n)
    for x in acts:
        action = np.full((n, 1), x, dtype=np.float32) if a.mode == "continuous" else np.full(n, x)
        got = C.requested_units(action, spec, scale, ip)
        ref = np.array([problem.request(action[i], i) for i in range(n)])
        np.testing.assert_array_equal(got, ref)
    if a.mode == "order_up_to":  # requested units = target - IP
        got = C.requested_units(np.full(n, 3), spec, scale, np.full(n, 4.0))
        np.testing.assert_array_equal(got, np.array([problem.request(3, i) for i in range(n)]) - 4.0)
    with pytest.raises(ValueError, match="unknown action mode"):
        C.requested_units(np.zeros(n), {**spec, "mode": "bogus"}, scale, ip)


def test_reorder_point_units_bit_for_bit_with_kernel():
    """Action mode reorder_point: the action table holds reorder points s (i x step x scale, not rounded) and
    invcore.constraints.requested_units (deploy, agents) == kernel.reorder_requests (the envs), bit for bit, on
    random states, order costs (K = 0: lot = one scale; h = 0: the capped EOQ) and levels."""
    pb = Problem("demo", **{"action.mode": "reorder_point", "action.n": 13, "action.step": 0.75})
    scale = pb.params[:, K.SCALE]
    np.testing.assert_array_equal(pb.action_table, np.arange(13) * 0.75 * scale[:, None])
    a = pb.scenario.action
    spec = {"mode": a.mode, "n": a.n, "step": a.step, "relative": a.relative}
    rng = np.random.default_rng(3)
    n = 400
    params = pb.params[rng.integers(0, pb.n_skus, n)].copy()
    params[:, K.ORDER_COST] = rng.choice([0.0, 0.3, 5.0, 40.0], n)
    params[:, K.HOLD] = rng.choice([0.0, 0.05, 1.0], n)
    params[:, K.SCALE] = rng.choice([0.2, 1.0, 4.0, 37.5], n)
    params[:, K.LEAD] = rng.integers(0, 4, n)
    state = np.zeros((n, pb.state_width))
    state[:, K.NET] = rng.integers(-5, 60, n)
    for k in range(3):
        state[:, K.PIPE + k] = np.where(k < params[:, K.LEAD], rng.integers(0, 20, n), 0.0)
    action = rng.integers(0, a.n, n)
    s = action * a.step * params[:, K.SCALE]
    req = s.copy()
    K.reorder_requests(state, params, req)
    ip = np.zeros(n)
    K.inventory_position(state, params, ip)
    lot = C.reorder_lot(params[:, K.ORDER_COST], params[:, K.HOLD], params[:, K.SCALE])
    got = C.requested_units(action, spec, params[:, K.SCALE], ip, lot)
    np.testing.assert_array_equal(_bits(got), _bits(req))
    assert (got == 0).any() and (got > 0).any()
    np.testing.assert_array_equal(got[ip > s], 0.0)
    np.testing.assert_allclose(got[ip <= s] + ip[ip <= s], s[ip <= s] + lot[ip <= s])  # up to S = s + lot
    np.testing.assert_array_equal(lot[params[:, K.ORDER_COST] == 0], params[params[:, K.ORDER_COST] == 0, K.SCALE])
    with pytest.raises(ValueError, match="reorder_point needs the lot"):
        C.requested_units(action, spec, params[:, K.SCALE], ip)


def test_level_units():
    lv = {"S": np.array([10.0, 10.0, 10.0]), "s": np.array([4.0, 4.0, 10.0]), "cap": np.array([np.inf, 3.0, np.inf])}
    np.testing.assert_array_equal(C.level_units(lv, np.array([5.0, 2.0, 10.0])), [0.0, 3.0, 0.0])


# ----------------------------------------------------------------------------------------- calendar
def test_calendar_features_match_env():
    """Bit for bit the env's calendar features (and deploy's name for them is this function)."""
    from deploy import policyfile as pf

    ranges = [("1965-02-20", "1972-03-10"), ("1999-12-01", "2001-03-05"), ("2023-12-25", "2024-03-10")]
    for lo, hi in ranges:
        d = np.arange(np.datetime64(lo), np.datetime64(hi))
        for daily in (True, False):
            got = calendar_features(d, daily)
            assert got.shape == (d.size, 4 if daily else 2) and got.dtype == np.float64
            np.testing.assert_array_equal(_bits(got), _bits(env_calendar_features(d, daily)))
    weekly = pd.date_range("2022-01-03", periods=60, freq="W-MON").to_numpy()  # datetime64[ns] input
    np.testing.assert_array_equal(_bits(calendar_features(weekly, False)), _bits(env_calendar_features(weekly, False)))
    assert pf.calendar_features is calendar_features


# ----------------------------------------------------------------------------------------- observation layout
@pytest.fixture(scope="module")
def weekly_data(tmp_path_factory) -> tuple[Path, Path]:
    """A small weekly data set with per-SKU lead times (calendar: month only; lead time observed: auto)."""
    tmp = tmp_path_factory.mktemp("weekly")
    rng = np.random.default_rng(0)
    dates = pd.date_range("2022-01-03", periods=80, freq="W-MON")
    rows = [pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": rng.poisson(lam, dates.size)})
            for k, lam in enumerate([0.5, 3.0, 9.0])]
    path = tmp / "demand.csv"
    pd.concat(rows).to_csv(path, index=False)
    items = tmp / "items.csv"
    pd.DataFrame({"sku": ["P0", "P1", "P2"], "lead_time": [1, 4, 2]}).to_csv(items, index=False)
    return path, items


SCENARIOS = {  # id: (scenario, overrides)
    "lost-sales-L2-p9": ("lost-sales-L2-p9", {}),
    "demo": ("demo", {}),
    "period": ("lost-sales-L2-p9", {"observation.period": True}),
    "L0": ("lost-sales-L1-p4", {"lead_time": 0, "observation.demand_window": 2}),
    "L1-window": ("backorder-L1-b9", {"observation.demand_window": 4}),
    "L5-everything": ("lost-sales-L5-p19", {"observation.demand_window": 3, "observation.period": True,
                                            "observation.lead_time": True, "observation.calendar": True,
                                            "demand.start_date": "2024-02-27"}),
    "demo-no-calendar": ("demo", {"observation.calendar": False, "observation.demand_window": 0}),
    "backorder-L10": ("backorder-L10-b9", {"observation.period": True, "observation.lead_time": False}),
    "forecast": ("lost-sales-L2-p9", {"observation.demand_window": 2, "observation.forecast": True,
                                      "observation.lead_time": True}),
    "log_scale": ("demo", {"observation.log_scale": True, "observation.forecast": True}),
    "order_cover": ("demo", {"observation.order_cover": True, "observation.log_scale": True, "moq": 7, "pack_size": 5}),
}


def _check_layout(problem: Problem) -> list[str]:
    pairs = obs_layout(problem.n_pipe, problem.n_lags, problem.n_calendar, problem.with_period, problem.with_lead,
                       problem.with_eoq, n_age=problem.n_age, with_room=problem.with_room, forecast=problem.forecast,
                       with_scale=problem.with_scale, with_order=problem.with_order)
    assert [name for name, _ in pairs] == [f.name for f in problem.obs_fields]
    assert pairs == [(f.name, f.meaning) for f in problem.obs_fields]
    assert [f.index for f in problem.obs_fields] == list(range(len(pairs)))
    assert all(known_field(name) for name, _ in pairs)
    return [name for name, _ in pairs]


@pytest.mark.parametrize("case", list(SCENARIOS))
def test_obs_layout_matches_problem(case):
    scenario, overrides = SCENARIOS[case]
    names = _check_layout(Problem(scenario, **overrides))
    if case == "L5-everything":
        assert names == ["on_hand", "pipeline_1", "pipeline_2", "pipeline_3", "pipeline_4", "inventory_position",
                         "demand_lag_3", "demand_lag_2", "demand_lag_1", "calendar_month_sin", "calendar_month_cos",
                         "calendar_dow_sin", "calendar_dow_cos", "period", "lead_time"]
    if case == "demo":  # a fixed order cost: the economic lot is observed (after lead_time)
        assert names[-1] == "eoq_cover"
    if case == "log_scale":  # after eoq_cover, before the forecast fields
        assert names[-4:] == ["eoq_cover", "log_scale", "forecast_lead", "forecast_error"]
    elif case == "order_cover":  # after log_scale
        assert names[-3:] == ["eoq_cover", "log_scale", "order_cover"]
    else:
        assert "log_scale" not in names
    if case != "order_cover":
        assert "order_cover" not in names
    if case == "forecast":  # after lead_time; the history covers the longer of the two windows
        assert names[-5:] == ["demand_lag_2", "demand_lag_1", "lead_time", "forecast_lead", "forecast_error"]
        pb = Problem(scenario, **overrides)
        assert (pb.n_lags, pb.n_forecast, pb.window, pb.forecast) == (2, 28, 28, (28, 0.2))
    elif case not in ("log_scale", "order_cover"):
        assert not any(n.startswith("forecast") for n in names)


def test_obs_layout_matches_problem_on_weekly_data(weekly_data):
    path, items = weekly_data
    problem = Problem("lost-sales-L1-p9", data={"path": str(path), "items": str(items), "test": 0.25},
                      **{"observation.demand_window": 2})
    assert problem.n_calendar == 2 and problem.with_lead and problem.n_pipe == 3
    names = _check_layout(problem)
    assert "calendar_month_sin" in names and "calendar_dow_sin" not in names and names[-1] == "lead_time"


def test_known_fields():
    assert OBS_LAYOUT_VERSION == 1
    for name in ("on_hand", "pipeline_1", "pipeline_12", "demand_lag_3", "calendar_dow_cos", "period", "lead_time",
                 "on_hand_age_0", "on_hand_age_7", "shared_room", "eoq_cover", "log_scale", "order_cover", "forecast_lead",
                 "forecast_error"):
        assert known_field(name), name
    for name in ("pipeline_0", "pipeline_x", "demand_lag_", "calendar_year_sin", "inventory_level", "Period",
                 "on_hand_age_", "on_hand_age_x", "shared_room_1"):
        assert not known_field(name), name
    assert len(KNOWN_FIELDS) == 17


def test_ses_window_is_the_forecast_engines_ses():
    """invcore.observation.ses_window = the SES engine of the forecast baselines (started at the window's mean)
    run over the window, float64 bit for bit; the error is the mean |one-step error|; forecast_fields pads
    missing periods with the scale and scales by (L + 1) / scale."""
    from baselines.forecast_engines import _SESEngine

    rng = np.random.default_rng(4)
    y = rng.poisson(3.0, (6, 11)).astype(float)
    mean = sum(y[:, k] for k in range(11)) / 11  # summed left to right
    for a in (0.05, 0.2, 0.5, 1.0):
        eng = _SESEngine(np.full(6, a), mean)
        err = np.zeros(6)
        for k in range(11):
            err += np.abs(y[:, k] - eng.level)
            eng.update(y[:, k])
        level, mae = ses_window(y, a)
        np.testing.assert_array_equal(level, eng.level)
        np.testing.assert_allclose(mae, err / 11, rtol=1e-15)
    assert ses_window(np.array([[2.0, 2.0, 2.0]]), 0.4) == (2.0, 0.0)
    recent = np.array([[1.0, 3.0, np.nan], [2.0, 2.0, 2.0]])  # column k-1 = k periods ago
    lead_fc, err = forecast_fields(recent, np.array([2.0, 4.0]), np.array([1.0, 0.0]), 4, 0.5)
    lv, e = ses_window(np.array([[2.0, 2.0, 3.0, 1.0], [4.0, 2.0, 2.0, 2.0]]), 0.5)
    np.testing.assert_array_equal(lead_fc, lv * np.array([2.0, 1.0]) / np.array([2.0, 4.0]))
    np.testing.assert_array_equal(err, e / np.array([2.0, 4.0]))


# ----------------------------------------------------------------------------------------- tables
def test_read_table_locations(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("sku,qty\n0042,1\n\nB,x\n")
    df, where = read_table(p, "test table", ["sku", "qty"])
    assert list(df["sku"]) == ["0042", "B"] and list(where.lines) == [2, 4]
    with pytest.raises(TableError, match=r"t\.csv, column 'qty', line 4: qty 'x' is not a number \(SKU 'B'\)"):
        number_column(df, "qty", where, sku_column(df, where), "qty")

    class Mine(ValueError):
        pass

    p.write_text("sku,qty\nA,1\nA,2\n")
    df, where = read_table(p, "test table", ["sku"], error=Mine)
    with pytest.raises(Mine, match="duplicate SKU 'A' in column 'sku': line 2 and line 3"):
        sku_column(df, where)
    with pytest.raises(Mine, match="missing required column 'price' in the test table"):
        read_table(p, "test table", ["sku", "price"], error=Mine)
    with pytest.raises(TableError, match="unsupported file type"):
        read_table(tmp_path / "t.xlsx", "test table", ["sku"])
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"sku": [1, 2], "qty": [1.0, -1.0]}).to_parquet(pq)
    df, where = read_table(pq, "test table", ["sku"])
    assert where.lines is None and list(df["sku"]) == ["1", "2"]
    with pytest.raises(TableError, match=r"column 'qty', row 1: qty -1 \(SKU '2'\); expected a number >= 0"):
        number_column(df, "qty", where, sku_column(df, where), "qty")


# ----------------------------------------------------------------------------------------- atomic writes
def test_atomic_writes(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "one")
    assert target.read_text() == "one" and stat.S_IMODE(target.stat().st_mode) == 0o644
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    with pytest.raises(RuntimeError), atomic_open(target, "w", newline="") as f:
        f.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "two"
    assert sorted(os.listdir(target.parent)) == ["out.txt"]  # no temporary file left behind
    with pytest.raises(ValueError):
        with atomic_open(target, "a"):
            pass


# ----------------------------------------------------------------------------------------- imports
def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_invcore_imports_numpy_and_stdlib_only():
    """Every invcore module imports numpy, the standard library and invcore; pandas in invcore.tables only."""
    allowed = set(sys.stdlib_module_names) | {"numpy", "invcore", "__future__"}
    files = sorted(INVCORE.glob("*.py"))
    assert {f.stem for f in files} >= {"__init__", "calendar", "observation", "constraints", "tables", "atomic"}
    for f in files:
        extra = _imports(f) - allowed - {"tables": {"pandas", "pyarrow"}, "yamlio": {"yaml"}}.get(f.stem, set())
        assert not extra, f"{f.name} imports {sorted(extra)}"


def test_fresh_imports_stay_light():
    """In a fresh interpreter: invcore (all but tables) loads no pandas; invcore + deploy.recommend load none of
    numba, gymnasium, torch, stable-baselines3 (nor the simulator, scipy, yaml, onnx)."""
    code = f"""
import sys
import invcore, invcore.atomic, invcore.calendar, invcore.constraints, invcore.observation
print("CORE", sorted(m for m in sys.modules if m.split(".")[0] in ("pandas", *{HEAVY!r})))
import deploy.recommend, deploy.policyfile, deploy.state, deploy.policy
print("DEPLOY", sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}))
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "CORE []" in p.stdout and "DEPLOY []" in p.stdout, p.stdout
