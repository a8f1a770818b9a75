"""Evaluation reports: the verdict, report.html (self-contained, rendered in headless Chromium), report.md's
summary, turns per year, trajectories with dates and stockouts.

The agent here is a classical rule flagged ``learned`` (what ``agents.policy.AgentPolicy`` sets): the report
only reads that flag, so no training is needed; tests/test_agents.py drives the real ``--model`` path.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baselines import report
from baselines.base_stock import BaseStock, CappedBaseStock
from baselines.evaluation import episode_costs, evaluate, make_policies, paired_gap
from baselines.report_html import report_html
from envs import Problem
from envs.batch import STOCKOUTS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class FakeAgent(BaseStock):
    """A base-stock rule `shift` units off its fitted levels, reported as a trained agent."""

    learned = True

    def __init__(self, shift: float = 1.0, name: str = "ppo:fake"):
        super().__init__()
        self.name, self.shift = name, shift

    def fit(self, problem, train):
        super().fit(problem, train)
        self.levels = self.levels + self.shift
        return self


def _parametric(shift: float = 1.0, record=3):
    pb = Problem("lost-sales-L2-p9")
    pols = make_policies(["base_stock", "capped_base_stock", "safety_stock_RS"], pb) + [FakeAgent(shift)]
    return evaluate(pb, pols, episodes=12, periods=150, record=record)


@pytest.fixture(scope="module")
def parametric_ev():
    return _parametric()


@pytest.fixture(scope="module")
def weekly_data(tmp_path_factory) -> Path:
    rng = np.random.default_rng(1)
    dates = pd.date_range("2022-01-03", periods=104, freq="W-MON")
    rows = [pd.DataFrame({"date": dates, "sku": f"P{k}", "demand": rng.poisson(lam, dates.size)})
            for k, lam in enumerate([0.3, 2.0, 8.0, 30.0, 1.0, 0.1])]
    path = tmp_path_factory.mktemp("data") / "demand.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def data_ev(weekly_data):
    pb = Problem("lost-sales-L1-p9", **{"data.path": str(weekly_data), "data.test": 0.25})
    pols = make_policies(["base_stock", "safety_stock_sS", "hindsight_base_stock"], pb) + [FakeAgent(-1.0)]
    return evaluate(pb, pols, record=["P2", "P0"])


# ------------------------------------------------------------------------------------------------ verdict

def test_verdict_ranks_the_agent_against_the_strongest_rule(parametric_ev):
    ev = parametric_ev
    rule = report.strongest_rule(ev)
    assert rule is not None and not rule.learned
    assert rule.kpis["avg_cost"] == min(r.kpis["avg_cost"] for r in ev.results if not r.learned)
    (v,) = report.verdicts(ev)
    agent = next(r for r in ev.results if r.learned)
    fair = [r.name for r in ev.ranked() if not r.uses_future]
    assert v.agent == "ppo:fake" and v.rank == fair.index("ppo:fake") + 1 and v.of == len(fair) == 4
    gap, half = paired_gap(episode_costs(agent.totals), episode_costs(rule.totals))
    assert (v.gap_pct, v.ci95, v.rule) == (gap, half, rule.name) and v.n == 12 and v.unit == "episodes"
    assert v.gap_pct > 0 and f"{v.gap_pct:.2f} % ±{v.ci95:.2f} above the strongest classical rule {rule.name}" \
        in v.text()


def test_an_agent_that_wins_ranks_first_and_is_still_compared_with_a_rule():
    """With the agent the cheapest policy, gap_to_best is 0 for it: the verdict compares it with the strongest
    rule instead, a gap below 0 (the agent: capped base-stock, 3 % below base-stock at L = 2)."""
    class Capped(CappedBaseStock):
        learned = True
        name = "ppo:capped"

    pb = Problem("lost-sales-L2-p9")
    ev = evaluate(pb, make_policies(["base_stock", "safety_stock_RS"], pb) + [Capped()], episodes=12, periods=150,
                  record=0)
    (v,) = report.verdicts(ev)
    assert v.rank == 1 and v.rule == "base_stock" and v.gap_pct < -v.ci95 < 0 and v.significant
    assert next(r for r in ev.results if r.learned).kpis["gap_to_best_pct"] == 0.0
    assert " below the strongest classical rule base_stock" in v.text() and "a significant difference" in v.text()


def test_without_an_agent_the_verdict_says_so_and_names_the_strongest_rule():
    pb = Problem("lost-sales-L2-p9")
    ev = evaluate(pb, make_policies(["base_stock", "capped_base_stock"], pb), episodes=4, periods=50, record=0)
    assert report.verdicts(ev) == []
    (line,) = report.verdict_lines(ev)
    assert "no trained agent" in line and report.strongest_rule(ev).name in line


# ---------------------------------------------------------------------------------------------- contents

def test_group_costs_are_per_period(data_ev):
    """One group holding every SKU: its cost is each policy's avg_cost (the mean over SKUs of cost per period)."""
    labels = np.array(["all"] * data_ev.episodes.n, dtype=object)
    _, counts, costs = report.group_costs(data_ev, labels)
    assert counts == [data_ev.episodes.n]
    for r in data_ev.results:
        assert costs[r.name][0] == pytest.approx(r.kpis["avg_cost"], rel=1e-12)


def test_trajectories_carry_dates_and_the_stockouts_of_the_totals(data_ev):
    """Lost sales: a recorded period with unmet demand is a stockout period of the totals (same count), and the
    recorded SKUs are the ones asked for, dated from their test window's first week."""
    pb, eps = data_ev.problem, data_ev.episodes
    for r in data_ev.results:
        tr = r.trajectory
        assert [pb.sku_name(int(eps.sku[c])) for c in tr.episodes] == ["P2", "P0"]
        for j, col in enumerate(tr.episodes):
            n = int(eps.lengths[col])
            assert report.stockouts(tr, j)[:n].sum() == r.totals[col, STOCKOUTS]
    col = int(data_ev.results[0].trajectory.episodes[0])
    dates = report.trajectory_dates(data_ev, col, 3)
    first_test = pb.source.data.dates[pb.source.data.n_periods - int(eps.lengths[col])]
    assert dates[0] == first_test and np.all(np.diff(dates) == np.timedelta64(7, "D"))


def test_turns_per_year_from_the_weekly_grid(data_ev, tmp_path):
    per_year = report.periods_per_year(data_ev)
    assert per_year == pytest.approx(52.1775)
    r = data_ev.results[0]
    assert report.turns_per_year(data_ev, r, per_year) == pytest.approx(r.kpis["turnover"] * 52.1775)
    page = report_html(data_ev)
    assert "turns/year" in page and f"{r.kpis['turnover'] * 52.1775:.2f}" in page
    assert report.periods_per_year(_parametric(record=0)) is None  # Zipkin's periods have no dates


def test_demo_periods_are_days_from_its_start_date():
    pb = Problem("demo")
    ev = evaluate(pb, make_policies(["base_stock"], pb), episodes=2, periods=30, record=1)
    assert report.period_freq(ev) == "D" and report.periods_per_year(ev) == pytest.approx(365.2425)
    dates = report.trajectory_dates(ev, 0, 30)
    assert dates[0] == np.datetime64("2024-01-01") and dates[-1] == np.datetime64("2024-01-30")


def test_plot_skus_names_an_unknown_sku(weekly_data, tmp_path):
    r = subprocess.run([sys.executable, "evaluate.py", "--scenario", "lost-sales-L1-p9", "--data", str(weekly_data),
                        "--policies", "base_stock", "--plot-skus", "P1,NOPE", "data.test=0.25"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["error: --plot-skus: SKU 'NOPE' is not among the evaluated SKUs (data "
                                             "scenarios: SKUs with data in the test window)"]


def _external_references(page: str) -> list[str]:
    refs = re.findall(r"""(?:src|href|action)\s*=\s*["']([^"'#][^"']*)["']""", page, flags=re.I)
    refs += re.findall(r"url\(\s*['\"]?([^)#'\"][^)'\"]*)", page, flags=re.I)
    refs += re.findall(r"@import[^;]*", page, flags=re.I)
    return refs


def test_report_html_is_self_contained(parametric_ev, data_ev):
    for ev in (parametric_ev, data_ev):
        page = report_html(ev, "python evaluate.py --scenario x")
        assert _external_references(page) == []
        assert "<link" not in page and not re.search(r"<script[^>]+src", page)
        assert page.count("<svg") == 2 + len(ev.results[0].trajectory.episodes)
        assert re.search(r'<tr class="agent"><td data-v="ppo:fake">ppo:fake</td>', page)
        assert page.index('id="verdict"') < page.index('id="kpi"')  # the verdict first


def test_report_md_starts_with_the_summary(data_ev):
    md = report.report_md(data_ev, "python evaluate.py", [])
    head = md.split("## Policies")[0]
    assert head.startswith("# Evaluation report\n\n## Summary\n\n- verdict: ppo:fake ranks")
    assert "per year" in head and "report.html" in head


def test_evaluate_cli_writes_report_html_with_the_verdict(tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "evaluate.py", "--scenario", "lost-sales-L1-p4", "--episodes", "4",
                        "--periods", "60", "--policies", "base_stock,capped_base_stock", "--out", str(out),
                        "--no-progress"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "verdict: no trained agent" in r.stdout and f"wrote {out / 'report.html'}" in r.stdout
    page = (out / "report.html").read_text()
    assert "no trained agent" in page and page.count("<svg") == 2 + 3  # 3 recorded episodes by default
    res = json.loads((out / "results.json").read_text())
    assert res["verdict"] == [] and res["periods_per_year"] is None


# --------------------------------------------------------------------------------------- headless Chromium

def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=5000", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium; .ci/run does)")
def test_report_html_renders_in_headless_chromium(data_ev, tmp_path):
    """Chromium loads the page offline, runs its script (the per-SKU table sorted by the agent's cost minus the
    strongest rule's, worst first) and shows the agent's row and every chart; the screenshot is not blank."""
    page = tmp_path / "report.html"
    page.write_text(report_html(data_ev, "python evaluate.py ..."))
    p = _chromium("--dump-dom", page.as_uri())
    assert p.returncode == 0, p.stderr[-2000:]
    dom = p.stdout
    assert 'data-ready="1"' in dom  # the inline script ran to its end
    assert re.search(r'<tr class="agent"><td data-v="ppo:fake">ppo:fake</td>', dom)
    for chart in ('id="tradeoff"', 'id="breakdown"', 'data-sku="P2"', 'data-sku="P0"'):
        assert re.search(chart + r"[^>]*><svg", dom), chart
    head = re.search(r'<table id="skus".*?</thead>', dom, flags=re.S).group(0)
    assert re.search(r'<th aria-sort="descending">ppo:fake - [^<]+</th>', head)
    body = re.search(r'<table id="skus".*?<tbody>(.*?)</tbody>', dom, flags=re.S).group(1)
    deltas = [float(v) for v in re.findall(r'<td data-v="([^"]+)">[+-][0-9.]+</td></tr>', body)]
    assert len(deltas) == data_ev.episodes.n and deltas == sorted(deltas, reverse=True)

    shot = tmp_path / "shot.png"
    p = _chromium(f"--screenshot={shot}", "--window-size=1400,2200", page.as_uri())
    assert p.returncode == 0 and shot.is_file(), p.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (2200, 1400)
    assert (img.min(axis=2) < 0.5).mean() > 0.01  # text and charts drawn, not a blank page
