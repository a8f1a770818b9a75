"""benchmarks/agents.py's comparison with Deep Controlled Learning (the table, the verdict, the flag checks)."""

import importlib.util
import sys
from pathlib import Path

import pytest

from envs.scenario import resolve_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    """benchmarks/agents.py by its path (benchmarks/ is not put on sys.path: its agents.py would shadow agents)."""
    spec = importlib.util.spec_from_file_location("bench_agents", ROOT / "benchmarks" / "agents.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dcl12_names_are_the_instances_they_say(bench):
    assert len(bench.DCL12) == 12
    for name, (base_stock, dcl) in bench.DCL12.items():
        sc = resolve_scenario(name)
        L, p = int(name.split("-L")[1].split("-")[0]), float(name.split("-p")[1])
        assert (sc.lead_time, sc.shortage_cost, sc.holding_cost) == (L, p, 1.0)
        assert L in (6, 8, 10) and p in (4, 9, 19, 39)
        assert dcl < base_stock  # DCL's learned policy beats the best base-stock on every instance


def test_against_dcl_reads_the_interval(bench):
    assert bench.against_dcl(4.90, 0.01, 4.92) == "below"
    assert bench.against_dcl(4.90, 0.01, 4.88) == "above"
    assert bench.against_dcl(4.90, 0.03, 4.88) == "tie"
    assert bench.against_dcl(4.90, 0.03, 4.92) == "tie"


@pytest.mark.parametrize("names, says", [
    (["lost-sales-L7-p9"], "no exact optimum for L > 4"),
    (["lost-sales-L6-p4", "lost-sales-L2-p9"], "with DCL's instances expected one of dcl12"),
])
def test_bad_instances_fail_with_one_line(bench, monkeypatch, capsys, names, says):
    monkeypatch.setattr(sys, "argv", ["agents.py", "--instances", *names])
    with pytest.raises(SystemExit) as e:
        bench.main()
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and err.count("\n") == 1
