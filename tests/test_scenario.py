"""Scenario names, YAML files and overrides: what is accepted and the messages for what is not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from envs import InventoryEnv, ScenarioError, builtin_names, resolve_scenario
from envs.scenario import parse_override

ROOT = Path(__file__).resolve().parents[1]


def test_builtins_cover_the_zipkin_grid_and_their_backorder_twins():
    names = builtin_names()
    ops = [n for n in names if n.endswith("-demo")]  # the operations demos (random lead times, perishable, ...)
    assert len(names) == 2 * 10 * 4 + 1 + len(ops) and "demo" in names and "random-lead-demo" in ops
    for name in ("lost-sales-L1-p4", "lost-sales-L10-p39", "backorder-L4-b19"):
        sc = resolve_scenario(name)
        assert sc.holding_cost == 1 and sc.demand.mean == 5 and sc.order_cost == 0 and sc.unit_cost == 0
    assert resolve_scenario("backorder-L3-b9").mode == "backorder"
    assert resolve_scenario("lost-sales-L7-p19").lead_time == 7


@pytest.mark.parametrize("name", ["lost-sales-L11-p9", "lost-sales-L2-p5", "backorder-L0-b4", "nope"])
def test_unknown_builtin(name):
    with pytest.raises(ScenarioError, match="unknown scenario"):
        resolve_scenario(name)


def test_yaml_scenario_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("mode: backorder\nlead_time: 3\nshortage_cost: 2.5\ndemand: {kind: normal, mean: 20, std: 4}\n"
                 "action: {mode: order_up_to, n: 40, step: 2}\n")
    sc = resolve_scenario(str(f), holding_cost=0.5, **{"demand.std": 5})
    assert (sc.name, sc.mode, sc.lead_time, sc.shortage_cost, sc.holding_cost) == ("mine", "backorder", 3, 2.5, 0.5)
    assert (sc.demand.kind, sc.demand.mean, sc.demand.std) == ("normal", 20.0, 5.0)
    env = InventoryEnv(str(f))
    assert env.action_space.n == 40


@pytest.mark.parametrize("text,message", [
    ("lead_tme: 3\n", "unknown field 'lead_tme'"),
    ("demand: {kind: poisson, meen: 3}\n", "unknown field 'demand.meen'"),
    ("lead_time: two\n", "field 'lead_time' expects an integer, got 'two'"),
    ("lead_time: 2.5\n", "field 'lead_time' expects an integer"),
    ("holding_cost: [1, 2]\n", "field 'holding_cost' expects a number"),
    ("mode: lost\n", "field 'mode' expects one of 'lost_sales', 'backorder'"),
    ("holding_cost: -1\n", "'holding_cost' must be a finite number >= 0"),
    ("lead_time: -2\n", "'lead_time' must be an integer in 0..1000"),
    ("demand: {kind: negative_binomial, mean: 5, std: 1}\n", "std**2 > mean"),
    ("demand: 5\n", "field 'demand' expects a mapping"),
    ("- a\n- b\n", "expected a mapping"),
    ("", "empty"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_yaml_names_file_field_and_expectation(tmp_path, text, message):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as e:
        resolve_scenario(str(f))
    assert message in str(e.value)
    assert str(f) in str(e.value)


def test_missing_yaml_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        resolve_scenario(str(tmp_path / "absent.yaml"))


def test_python_overrides_are_checked():
    with pytest.raises(ScenarioError, match="unknown field 'lead'"):
        InventoryEnv("lost-sales-L2-p9", lead=3)
    with pytest.raises(ScenarioError, match="expects an integer"):
        InventoryEnv("lost-sales-L2-p9", episode_length="long")
    assert parse_override("demand.mean=6.5") == ("demand.mean", 6.5)
    assert parse_override("max_order=null") == ("max_order", None)
    with pytest.raises(ScenarioError, match="KEY=VALUE"):
        parse_override("lead_time")


def test_unquoted_dates_are_the_dates_written(tmp_path):
    """YAML reads an unquoted 2001-04-01 as a date: a window start given that way (in a file or as a CLI
    override data.val=2001-04-01) is the text written, not a type error."""
    key, value = parse_override("data.val=2001-04-01")
    sc = resolve_scenario("lost-sales-L2-p9", **{key: value, "data.path": "d.csv", "data.test": "2001-10-01"})
    assert sc.data.val == "2001-04-01" and sc.data.test == "2001-10-01"
    f = tmp_path / "s.yaml"
    f.write_text("data: {path: d.csv, val: 2001-04-01, test: 2001-10-01}\n")
    assert resolve_scenario(f).data.val == "2001-04-01"


def test_cli_reports_bad_scenario_without_traceback(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("lead_time: [1]\n")
    r = subprocess.run([sys.executable, "-m", "envs.simulate", "--scenario", str(f)], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "error:" in r.stderr and "lead_time" in r.stderr and "Traceback" not in r.stderr


def test_cli_runs_the_demo():
    r = subprocess.run([sys.executable, "-m", "envs.simulate", "--scenario", "demo", "--episodes", "2"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "avg_cost" in r.stdout and "fill_rate" in r.stdout


@pytest.mark.parametrize("override,fragment", [
    ({"lead_time": 10**6}, "'lead_time' must be an integer in 0..1000"),
    ({"max_order": float("nan")}, "'max_order' must be null (no limit) or a finite number >= 0, got nan"),
    ({"capacity": float("nan")}, "'capacity' must be null (no limit) or a finite number >= 0, got nan"),
    ({"capacity": float("inf")}, "'capacity' must be null (no limit) or a finite number >= 0, got inf"),
    ({"action.step": float("nan")}, "'action.step' a finite number > 0, got n=21, step=nan"),
    ({"action.n": 10**8}, "'action.n' must be an integer in 2..10000"),
    ({"action.mode": "sS"}, "'action.mode' expects one of 'units', 'order_up_to', 'continuous', 'reorder_point', got 'sS'"),
    ({"reward_scale": float("nan")}, "'reward_scale' must be a finite number > 0, got nan"),
    ({"reward_offset": float("inf")}, "'reward_offset' must be a finite number, got inf"),
    ({"moq": 10, "max_order": 5}, "'moq' 10 is above 'max_order' 5: no order could ever be placed"),
    ({"observation.demand_window": 10**9}, "'observation.demand_window' must be an integer in 0..1000"),
])
def test_out_of_range_and_nan_fields_are_one_line_errors(override, fragment):
    """Fields that used to be accepted (NaN limits and steps, lead times that exhaust memory, an MOQ above the
    order cap): each is an error naming the field and the allowed range."""
    from envs import Problem

    with pytest.raises(ScenarioError) as e:
        Problem("lost-sales-L2-p9", **override)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_item_table_moq_above_max_order_names_the_sku(tmp_path):
    from envs import Problem

    (tmp_path / "d.csv").write_text("date,sku,demand\n" + "".join(f"2020-01-{d:02d},A,1\n2020-01-{d:02d},B,2\n"
                                                                  for d in range(1, 21)))
    (tmp_path / "i.csv").write_text("sku,moq\nA,2\nB,50\n")
    with pytest.raises(ScenarioError, match="SKU 'B' has moq 50 above max_order 10 \\(1 SKUs\\)"):
        Problem("lost-sales-L2-p9", **{"data.path": str(tmp_path / "d.csv"), "data.items": str(tmp_path / "i.csv"),
                                       "max_order": 10})


def test_exponent_floats_are_numbers(tmp_path):
    """'1e-3' is a float on the command line and in YAML files (PyYAML's YAML 1.1 rules alone read it as a
    string, so hp.learning_rate=1e-3 was refused); dates, words and integers keep their types."""
    from agents.config import resolve_config

    assert parse_override("hp.learning_rate=1e-3") == ("hp.learning_rate", 0.001)
    assert parse_override("holding_cost=5E-1") == ("holding_cost", 0.5)
    assert parse_override("lead_time=3") == ("lead_time", 3) and parse_override("name=e5") == ("name", "e5")
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nholding_cost: 2e-1\nshortage_cost: 9\n")
    assert resolve_scenario(str(path)).holding_cost == 0.2
    cfg = resolve_config("ppo", "lost-sales-L2-p9", "lost-sales-L2-p9", None, {}, {"hp.learning_rate": 1e-3})
    assert cfg.hyperparams["learning_rate"] == 0.001
