"""The `invrl` command: help with defaults, the scenario list, a tiny evaluation, and every subcommand reaching
the module that does the work (train.py / evaluate.py / python -m ... stay the same commands: the other test
files drive those)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from invrl import cli

ROOT = Path(__file__).resolve().parents[1]


def _invrl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "invrl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def test_pyproject_declares_the_command():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["invrl"] == "invrl.cli:main"
    assert "invrl" in meta["tool"]["setuptools"]["packages"]
    assert meta["tool"]["setuptools"]["package-data"]["baselines"] == ["templates/*.j2"]
    assert (ROOT / "baselines" / "templates" / "report.html.j2").is_file()


def test_help_lists_every_command_without_importing_torch():
    p = _invrl("--help")
    assert p.returncode == 0, p.stderr
    for name in ("train", "evaluate", "sweep", "export", "recommend", "data", "init"):
        assert f"\n  {name} " in p.stdout
    p = subprocess.run([sys.executable, "-c", "import sys, contextlib, io\nfrom invrl.cli import main\n"
                        "with contextlib.redirect_stdout(io.StringIO()):\n    main([])\n"
                        "print(sorted(m for m in ('torch', 'stable_baselines3', 'baselines', 'agents') "
                        "if m in sys.modules))"], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout.strip() == "[]", p.stderr
    p = _invrl()
    assert p.returncode == 2 and "commands:" in p.stdout
    p = _invrl("nope")
    assert p.returncode == 2 and "invalid choice: 'nope'" in p.stderr


@pytest.mark.parametrize("command,shows", [
    ("train", ["usage: invrl train", "--resume RUN_DIR"]),
    ("evaluate", ["usage: invrl evaluate", "(default: 100)", "(default: 0)", "--list-scenarios"]),
    ("sweep", ["usage: invrl sweep", "--seeds"]),
    ("export", ["usage: invrl export", "(default: auto)"]),
    ("recommend", ["usage: invrl recommend", "--policy POLICY"]),
    ("data", ["usage: invrl data", "--dayfirst"]),
    ("init", ["usage: invrl init", "--out OUT.yaml"]),
])
def test_every_command_has_help_with_its_defaults(command, shows):
    p = _invrl(command, "--help")
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())  # argparse wraps to the terminal's width
    for part in shows:
        assert part in text, part
    assert "(default: None)" not in text and "(default: False)" not in text


def test_the_wrappers_are_the_same_commands():
    for script, usage in (("train.py", "usage: train.py"), ("evaluate.py", "usage: evaluate.py")):
        p = subprocess.run([sys.executable, script, "--help"], cwd=ROOT, capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout.startswith(usage), p.stderr
    import evaluate
    import train
    from invrl import evaluate as inv_evaluate
    from invrl import train as inv_train

    assert train.main is inv_train.main and evaluate.main is inv_evaluate.main


def test_list_scenarios():
    p = _invrl("evaluate", "--list-scenarios")
    assert p.returncode == 0, p.stderr
    assert "lost-sales-L<1..10>-p<4|9|19|39>" in p.stdout and "\n  demo " in p.stdout
    from envs.scenario import builtin_names

    names = builtin_names()
    assert "configs/carparts.yaml" in p.stdout and f"{len(names)} names" in p.stdout
    assert all(f"\n  {n} " in p.stdout for n in names if not n[-1].isdigit())  # every named scenario is listed


def test_a_tiny_evaluation_through_invrl(tmp_path):
    out = tmp_path / "ev"
    p = _invrl("evaluate", "--scenario", "lost-sales-L1-p4", "--policies", "base_stock", "--episodes", "2",
               "--periods", "20", "--no-progress", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "base_stock" in p.stdout and "verdict: no trained agent" in p.stdout
    md = (out / "report.md").read_text()
    assert "```\ninvrl evaluate --scenario lost-sales-L1-p4" in md and (out / "report.html").is_file()
    p = _invrl("evaluate", "--episodes", "0")
    assert p.returncode == 2 and "--episodes must be >= 1" in p.stderr


@pytest.mark.parametrize("command,module", [
    ("train", "invrl.train"), ("evaluate", "invrl.evaluate"), ("sweep", "agents.sweep"),
    ("export", "agents.export"), ("recommend", "deploy.recommend"), ("data", "envs.data"),
])
def test_each_command_dispatches_to_its_module(command, module, monkeypatch):
    mod = pytest.importorskip(module)
    calls = []
    monkeypatch.setattr(mod, "main", lambda argv, prog: calls.append((argv, prog)) or 7)
    assert cli.main([command, "A", "--flag", "B"]) == 7
    assert calls == [(["A", "--flag", "B"], f"invrl {command}")]


@pytest.fixture()
def demand_file(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2023-01-02", periods=60, freq="W-MON")
    df = pd.concat([pd.DataFrame({"Datum": dates.strftime("%d.%m.%Y"), "Artikel": f"A{k}",
                                  "Menge": rng.poisson(3.0, dates.size)}) for k in range(3)])
    path = tmp_path / "export.csv"
    df.to_csv(path, sep=";", index=False)
    return path


def test_data_and_init_on_an_erp_export(demand_file, tmp_path):
    read = ["--columns", "date=Datum,sku=Artikel,demand=Menge", "--date-format", "%d.%m.%Y"]
    p = _invrl("data", str(demand_file), *read, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "3" in p.stdout and "W-MON" in p.stdout
    p = _invrl("init", str(demand_file), *read, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    scenario = tmp_path / "export.yaml"
    assert scenario.is_file() and "Datum" in scenario.read_text()
    p = _invrl("init", str(demand_file), *read, cwd=tmp_path)  # never overwrites
    assert p.returncode == 2 and "exists" in p.stderr
    out = tmp_path / "other.yaml"
    assert cli.main(["init", str(demand_file), *read, "--out", str(out)]) == 0 and out.is_file()
    assert cli.default_scenario_name("x/sales.csv.gz") == "sales.yaml"
    assert cli.default_scenario_name("sales.parquet") == "sales.yaml"
