"""Evaluate policies side by side on the same demand traces (common random numbers) and compute the KPIs.

One path for everything: every policy (baseline or, later, learned agent) is fitted on the training data,
then simulated by :func:`envs.batch.simulate` on the same :class:`envs.episodes.Episodes`: several simulated
episodes for parametric scenarios, the test window of every SKU for data scenarios.

The KPIs are the one table of :mod:`envs.kpis` (definitions there); evaluation adds the comparisons:

- ``gap_to_best_pct``: cost above the cheapest policy that does not see the future, in % of its cost;
  ``gap_to_best_ci95``: half-width of the paired 95 % confidence interval of that gap, from the per-episode
  (per-SKU for data) differences on the common traces: ``100 * 1.96 * sd(c_i - b_i) / sqrt(n) / mean(b)``, c_i
  and b_i the policy's and the best policy's cost per period in episode i (null with fewer than 2 episodes).
  Paired, so much narrower than the per-policy ``avg_cost_ci95``: two policies differ significantly when the
  gap exceeds its half-width;
- ``gap_to_optimal_pct``: cost above the exact optimum (``dp_optimal``'s relative value iteration), where the
  scenario has one; ``gap_to_optimal_ci95``: the half-width of its 95 % interval (the exact optimum is a
  number, the simulated cost an estimate: ``100 * 1.96 * sd(c_i) / sqrt(n) / optimum``). A simulated policy
  can come out a little below the optimum (dp_optimal itself does); the interval says whether that is noise.
"""

from __future__ import annotations

import copy
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from envs import kernel
from envs.batch import PERIODS, TOTAL_KEYS, Trajectory, simulate
from envs.episodes import STREAMS, Episodes, make_episodes
from envs.kpis import KPI_KEYS, kpis_from_totals  # noqa: F401  (re-exported: the one KPI table)
from envs.problem import Problem
from envs.scenario import ScenarioError

from .base import Policy, TrainData, fit_window, train_data
from .base_stock import BaseStock, CappedBaseStock, Hindsight, RecentBaseStock
from .safety_stock import EOQReorderPoint, MinMax, OrderUpTo


def _registry() -> dict[str, Callable[[], Policy]]:
    reg: dict[str, Callable[[], Policy]] = {
        "base_stock": BaseStock,
        "capped_base_stock": CappedBaseStock,
        "recent_base_stock_tuned": RecentBaseStock,
        "safety_stock_RS": OrderUpTo,
        "safety_stock_RS_tuned": lambda: OrderUpTo(tuned=True),
        "safety_stock_sS": MinMax,
        "safety_stock_sS_tuned": lambda: MinMax(tuned=True),
        "eoq_sQ": EOQReorderPoint,
        "eoq_sQ_tuned": lambda: EOQReorderPoint(tuned=True),
    }
    try:
        from .forecast import FORECAST_POLICIES
    except ImportError:
        FORECAST_POLICIES = {}
    reg.update(FORECAST_POLICIES)
    from .learned import LEARNED_POLICIES

    reg.update(LEARNED_POLICIES)
    from .dp_policy import DPOptimal

    reg["dp_optimal"] = DPOptimal
    from .lp_allocation import LPAllocation

    reg["lp_allocation"] = LPAllocation
    reg["hindsight_base_stock"] = Hindsight
    return reg


def known_policies() -> list[str]:
    return list(_registry())


def applicable(problem: Problem, name: str) -> bool:
    if name == "hindsight_base_stock":
        return problem.source.replays_windows
    if name == "dp_optimal":
        from .dp_policy import DPOptimal

        return DPOptimal.supports(problem)
    if name == "lp_allocation":
        return bool(np.isfinite(problem.shared).any())
    return True


POLICY_GROUPS = ("all", "classical", "learned")
"""Names that stand for several policies in :func:`make_policies`: all = every policy that applies to the
problem; learned = the learned forecasters (``baselines.learned``: a global model fitted per evaluation, 5-18 x
the CPU of the rest); classical = all but those."""


def make_policies(names: list[str] | str, problem: Problem) -> list[Policy]:
    """Policies by name or group (:data:`POLICY_GROUPS`, applicable policies only); unknown names list the
    known."""
    from .learned import LEARNED_POLICIES

    reg = _registry()
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    expanded: list[str] = []
    for n in names:
        if n in POLICY_GROUPS:
            group = [k for k in reg if applicable(problem, k)
                     and (n == "all" or (k in LEARNED_POLICIES) == (n == "learned"))]
        else:
            group = [n]
        expanded += [k for k in group if k not in expanded]
    names = expanded
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise ScenarioError(f"unknown policy {', '.join(map(repr, unknown))}; known policies: {', '.join(reg)} "
                            f"(groups: {', '.join(POLICY_GROUPS)})")
    bad = [n for n in names if not applicable(problem, n)]
    if bad:
        raise ScenarioError(f"policy {', '.join(bad)} does not apply to scenario {problem.scenario.name!r} "
                            "(dp_optimal: parametric Poisson lost sales, L <= 4, K = c = 0, no constraints; "
                            "hindsight_base_stock: data scenarios; lp_allocation: a shared capacity or budget)")
    return [reg[n]() for n in names]


@dataclass
class PolicyResult:
    name: str
    description: str
    totals: np.ndarray  # [N episodes, len(TOTAL_KEYS)]
    uses_future: bool
    fit_cpu_s: float
    eval_cpu_s: float
    trajectory: Trajectory | None
    kpis: dict[str, float | None] = field(default_factory=dict)
    learned: bool = False
    """A trained agent (``Policy.learned``): the verdict compares it with the strongest classical rule."""


@dataclass
class Evaluation:
    problem: Problem
    episodes: Episodes
    results: list[PolicyResult]
    optimal_avg_cost: float | None
    warmup: int
    fit_window: str = "train"
    """The data window the classical rules were fitted and tuned on (``fit``: train + val)."""
    window: str = "test"
    """The window scored (data scenarios; :func:`evaluate`'s `window`)."""

    @property
    def periods(self) -> int:
        return self.episodes.periods

    def ranked(self) -> list[PolicyResult]:
        return sorted(self.results, key=lambda r: (r.kpis["avg_cost"], r.name))


def evaluation_episodes(problem: Problem, *, episodes: int = 100, periods: int | None = None, seed: int = 0,
                        window: str = "test") -> tuple[Episodes, int]:
    """The common demand traces: `episodes` simulated episodes (parametric; + 100 warm-up periods when the
    demand is stationary, so the figures estimate the long-run average cost), or every SKU's `window`."""
    if problem.source.replays_windows:
        return make_episodes(problem, window, replay=True), 0
    periods = periods or problem.scenario.episode_length
    warmup = 100 if problem.source.long_run else 0
    return make_episodes(problem, window, seed=seed + STREAMS["test"], n=episodes, periods=periods + warmup), warmup


AUTO_CHUNK_ABOVE = 20_000
AUTO_CHUNK_SKUS = 10_000
"""A data scenario of more than AUTO_CHUNK_ABOVE SKUs is evaluated in chunks of AUTO_CHUNK_SKUS by default
(:func:`evaluate`): the SKU-separable policies' fits and simulations then hold one chunk at a time (issue 17:
100,000 SKUs x 365 days peaked at 8.8 GiB whole)."""


def evaluate(problem: Problem, policies: list[Policy], *, episodes: int = 100, periods: int | None = None,
             seed: int = 0, window: str = "test", record: int | list[str] = 1, progress: bool = False,
             train: TrainData | None = None, chunk_skus: int | None = None,
             map_chunks: MapChunks | None = None) -> Evaluation:
    """Fit every policy on the data before `window` (:func:`baselines.base.fit_window`: train + val for the test
    window of a data scenario with a validation window) and simulate it on the same traces of `window`; KPIs
    in result.kpis.

    ``chunk_skus`` (data scenarios): fit and simulate the SKU-separable policies in chunks of that many SKUs
    (:func:`evaluate_chunk`, bounded memory per chunk), ``map_chunks`` maps the chunks (default: one after the
    other in this process; :func:`baselines.cluster.ray_map_chunks`: Ray tasks). The result is the unchunked
    one, bit for bit (tests/test_ray.py). Without either, a data scenario of more than
    :data:`AUTO_CHUNK_ABOVE` SKUs is chunked by :data:`AUTO_CHUNK_SKUS`."""
    if chunk_skus is None and map_chunks is None and train is None and problem.source.replays_windows \
            and problem.n_skus > AUTO_CHUNK_ABOVE:  # bounded memory by default (same results, bit for bit)
        chunk_skus = AUTO_CHUNK_SKUS
    if (chunk_skus is not None or map_chunks is not None) and train is None and problem.source.replays_windows \
            and all(p.sku_separable for p in policies):  # every policy runs in the chunks: no whole traces
        eps, sums = outline_episodes(problem, window)
        ev = evaluate_chunked(problem, policies, eps, window, record=record, chunk_skus=chunk_skus,
                              map_chunks=map_chunks, progress=progress, window_sums=sums)
    else:
        eps, warmup = evaluation_episodes(problem, episodes=episodes, periods=periods, seed=seed, window=window)
        if chunk_skus is None and map_chunks is None:
            if train is None:
                train = train_data(problem, window=fit_window(problem, window))
            ev = evaluate_on(problem, policies, eps, warmup, record=record, progress=progress, train=train)
        else:
            ev = evaluate_chunked(problem, policies, eps, window, record=record, chunk_skus=chunk_skus,
                                  map_chunks=map_chunks, progress=progress, train=train, warmup=warmup)
    ev.window = window
    return ev


def outline_episodes(problem: Problem, window: str = "test", block: int = AUTO_CHUNK_SKUS
                     ) -> tuple[Episodes, np.ndarray]:
    """The replayed `window` of every SKU of a data scenario as :func:`make_episodes` builds it, but without
    its demand traces (the SKUs, lengths, calendar offsets and label; ``demand`` is a read-only zero view of
    the whole shape, 8 bytes), and each episode's total demand (what :func:`_recorded` ranks by). Built
    `block` SKUs at a time by the one factory, so a chunked evaluation's driver never holds the whole
    catalogue's traces ([periods, SKUs] float64: 2.9 GB for 1,000,000 SKUs x 365 days); each chunk builds its
    own (:func:`chunk_episodes`)."""
    pool = problem.source.skus_in(window)
    if len(pool) == 0:
        raise ScenarioError(f"no SKU has data in the {window} window")
    parts, sums, T, first = [], [], 0, None
    for a in range(0, len(pool), block):
        e = make_episodes(problem, window, replay=True, skus=pool[a:a + block], with_past=False)
        first = e if first is None else first
        parts.append((e.lengths, e.cal_offset))
        sums.append(e.demand[e.history:].sum(axis=0))
        T = max(T, e.periods)
        del e
    eps = replace(first, sku=np.asarray(pool, dtype=np.int64), lengths=np.concatenate([p[0] for p in parts]),
                  cal_offset=np.concatenate([p[1] for p in parts]),
                  demand=np.broadcast_to(np.zeros(1), (first.history + T, len(pool))), leads=None,
                  label=f"{window} window of {problem.source.data.path}: {len(pool)} SKUs, up to {T} periods")
    return eps, np.concatenate(sums)


def _recorded(problem: Problem, eps: Episodes, record: int | list[str],
              window_sums: np.ndarray | None = None) -> np.ndarray | None:
    """Trace columns whose trajectory is kept: the `record` busiest SKUs (data) or first episodes (parametric),
    or the columns of the SKUs named in `record` (data: each SKU's window; parametric: its first episode).
    `window_sums`: each episode's total demand where `eps` holds no traces (:func:`outline_episodes`)."""
    if not isinstance(record, int):
        cols = []
        for name in record:
            try:
                c = np.flatnonzero(eps.sku == problem.sku_index(name))
            except ScenarioError:
                c = np.zeros(0, dtype=np.int64)
            if not c.size:
                raise ScenarioError(f"--plot-skus: SKU {name!r} is not among the evaluated SKUs (data scenarios: "
                                    "SKUs with data in the test window)")
            cols.append(int(c[0]))
        return np.array(cols, dtype=np.int64) if cols else None
    if not record:
        return None
    if problem.source.replays_windows:
        sums = eps.demand[eps.history:].sum(axis=0) if window_sums is None else window_sums
        busiest = np.argsort(-sums, kind="stable")
        return busiest[:record]
    return np.arange(min(record, eps.n))


def evaluate_on(problem: Problem, policies: list[Policy], eps: Episodes, warmup: int = 0, *,
                record: int | list[str] = 1,
                progress: bool = False, train: TrainData | None = None) -> Evaluation:
    """:func:`evaluate` on given episodes (e.g. training's validation traces): every policy fitted on the
    training data, simulated on `eps` after `warmup` periods, the KPIs and the comparisons filled in."""
    train = train if train is not None else train_data(problem)
    results = run_policies(problem, policies, eps, warmup, _recorded(problem, eps, record), progress=progress,
                           train=train)
    return _finish(problem, policies, eps, results, warmup, train.window)


def run_policies(problem: Problem, policies: list[Policy], eps: Episodes, warmup: int, rec: np.ndarray | None, *,
                 train: TrainData, progress: bool = False) -> list[PolicyResult]:
    """Fit each policy on `train` and simulate it on `eps` (trajectories of the columns `rec`)."""
    results = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(policies), desc="policies", unit="policy", leave=False)
    for pol in policies:
        if bar is not None:
            bar.set_postfix_str(pol.name)
        t0 = time.process_time()
        pol.fit(problem, train)
        t1 = time.process_time()
        pol.start(eps)
        needs_obs = pol.needs_obs
        totals, traj = simulate(problem, eps,
                                lambda sim, pol=pol, needs_obs=needs_obs: pol.act(sim.observe() if needs_obs else None,
                                                                                  sim.raw),
                                record=rec, warmup=warmup, order_up_to=pol.order_up_to)
        t2 = time.process_time()
        results.append(PolicyResult(pol.name, pol.describe(), totals, pol.uses_future, t1 - t0, t2 - t1, traj,
                                    learned=pol.learned))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return results


def _finish(problem: Problem, policies: list[Policy], eps: Episodes, results: list[PolicyResult],
            warmup: int, window: str) -> Evaluation:
    optimal = None
    for pol in policies:
        if getattr(pol, "exact_avg_cost", None) is not None:
            optimal = float(pol.exact_avg_cost)
    ev = Evaluation(problem, eps, results, optimal, warmup, window)
    _fill_kpis(ev)
    return ev


# ------------------------------------------------------------------------------------ SKU-chunked evaluation

@dataclass(frozen=True)
class ChunkTask:
    """One chunk: the SKUs [start, stop) of a data scenario, whose episodes are the trace columns
    [col_start, col_stop) of the whole evaluation (replayed windows are in SKU order), padded to `periods`
    rows; the policies are fitted on `fit_window` (the whole catalogue's :func:`baselines.base.fit_window`: a
    chunk may have no SKU with a validation window); ``record`` pairs (position in the recorded list, local
    column) of the recorded columns it holds."""

    start: int
    stop: int
    col_start: int
    col_stop: int
    window: str
    periods: int
    fit_window: str = "train"
    record: tuple[tuple[int, int], ...] = ()


@dataclass
class ChunkResult:
    """What a chunk sends back: per policy (in the order given) the totals of its columns, the fit and
    simulation CPU-s, its recorded trajectories and the per-SKU fields its description reads; the chunk's own
    CPU-s, the peak RSS of the process that ran it (bytes; shared pages it read count in it, e.g. a Ray worker's
    rows of the object store, which stay mapped across its tasks) and its private (anonymous) RSS at the end of
    the chunk (Linux; 0 elsewhere)."""

    task: ChunkTask
    totals: list[np.ndarray]
    fit_cpu_s: list[float]
    eval_cpu_s: list[float]
    trajectories: list[Trajectory | None]
    fields: list[dict[str, np.ndarray]]
    cpu_s: float
    peak_rss: int
    private_rss: int = 0


MapChunks = Callable[[Problem, list[Policy], list[ChunkTask]], list[ChunkResult]]
"""Runs :func:`evaluate_chunk` on every task and returns the results in the order of the tasks."""


def sku_chunks(problem: Problem, eps: Episodes, window: str, chunk_skus: int,
               rec: np.ndarray | None = None) -> list[ChunkTask]:
    """The SKUs of a data scenario cut into chunks of `chunk_skus` consecutive SKUs (every SKU is fitted in
    exactly one chunk; the evaluated SKUs of `eps`, in SKU order, fall in theirs)."""
    if np.isfinite(problem.shared).any():
        raise ScenarioError("--chunk-skus / --ray: the scenario's shared capacity or budget couples every SKU of "
                            "the warehouse, so its SKUs cannot be simulated in separate chunks")
    if not problem.source.replays_windows:
        raise ScenarioError("only data scenarios are evaluated in SKU chunks (parametric demand draws all SKUs "
                            "from one random stream)")
    if chunk_skus < 1:
        raise ValueError(f"chunk size must be >= 1 SKU, got {chunk_skus}")
    if eps.n > 1 and not np.all(np.diff(eps.sku) > 0):
        raise ValueError("SKU chunks need the episodes in SKU order (one per SKU)")
    rec = np.zeros(0, dtype=np.int64) if rec is None else np.asarray(rec)
    tasks = []
    for a in range(0, problem.n_skus, chunk_skus):
        b = min(a + chunk_skus, problem.n_skus)
        c0, c1 = (int(x) for x in np.searchsorted(eps.sku, [a, b]))
        mine = tuple((int(k), int(c) - c0) for k, c in enumerate(rec) if c0 <= c < c1)
        tasks.append(ChunkTask(a, b, c0, c1, window, eps.periods, fit_window(problem, window), mine))
    return tasks


def chunk_episodes(sub: Problem, task: ChunkTask) -> Episodes | None:
    """The chunk's replayed windows, padded with zero demand to the whole evaluation's length (an ended
    episode is stepped on zero demand either way); None when none of its SKUs has data in the window."""
    if task.col_stop == task.col_start:
        return None
    eps = make_episodes(sub, task.window, replay=True)
    if eps.n != task.col_stop - task.col_start:
        raise ValueError(f"chunk {task.start}..{task.stop}: {eps.n} episodes, expected "
                         f"{task.col_stop - task.col_start}")
    pad = task.periods - eps.periods
    if pad > 0:
        eps = replace(eps, demand=np.vstack([eps.demand, np.zeros((pad, eps.n))]))
    return eps


def evaluate_chunk(problem: Problem, policies: list[Policy], task: ChunkTask) -> ChunkResult:
    """Fit and simulate (copies of) `policies` on the chunk's SKUs only (``problem.subset``): the one chunk
    function of the serial chunked evaluation and of the Ray tasks. Memory: the chunk's rows of the data and
    its episodes, never the whole catalogue's (beyond what `problem` already holds)."""
    t0 = time.process_time()
    sub = problem.subset(np.arange(task.start, task.stop))
    pols = [copy.deepcopy(p) for p in policies]
    eps = chunk_episodes(sub, task)
    train = train_data(sub, window=task.fit_window)
    if eps is None:  # nothing to simulate: fit only (the SKUs' fitted parameters still describe the fit)
        results = []
        for pol in pols:
            t1 = time.process_time()
            pol.fit(sub, train)
            results.append(PolicyResult(pol.name, "", np.zeros((0, len(TOTAL_KEYS))), pol.uses_future,
                                        time.process_time() - t1, 0.0, None))
    else:
        rec = np.array([c for _, c in task.record], dtype=np.int64) if task.record else None
        results = run_policies(sub, pols, eps, 0, rec, train=train)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return ChunkResult(task, [r.totals for r in results], [r.fit_cpu_s for r in results],
                       [r.eval_cpu_s for r in results], [r.trajectory for r in results],
                       [{f: np.asarray(getattr(p, f)) for f in p.sku_fields} for p in pols],
                       time.process_time() - t0, peak, _private_rss())


def _private_rss() -> int:
    """RssAnon of this process (bytes; Linux /proc), 0 where unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def serial_map_chunks(problem: Problem, policies: list[Policy], tasks: list[ChunkTask]) -> list[ChunkResult]:
    """The chunks one after the other in this process."""
    return [evaluate_chunk(problem, policies, t) for t in tasks]


def merge_chunks(policies: list[Policy], parts: list[ChunkResult], n_record: int, periods: int) -> list[PolicyResult]:
    """The chunks' results as the whole evaluation's: totals stacked in column order, CPU-s summed,
    trajectories placed by their position in the recorded list, the description of the fit over all SKUs
    (the per-SKU fields concatenated in SKU order). The policies in `policies` get those fields."""
    parts = sorted(parts, key=lambda p: p.task.start)
    out = []
    for i, pol in enumerate(policies):
        for f in pol.sku_fields:
            setattr(pol, f, np.concatenate([p.fields[i][f] for p in parts]))
        traj = None
        if n_record:
            traj = Trajectory(np.zeros((periods, n_record)), np.zeros((periods, n_record)),
                              np.zeros((periods, n_record)), np.zeros(n_record, dtype=np.int64),
                              np.zeros((periods, n_record)))
            for p in parts:
                t = p.trajectories[i]
                for j, (k, c) in enumerate(p.task.record):
                    traj.on_hand[:, k], traj.order[:, k], traj.demand[:, k] = t.on_hand[:, j], t.order[:, j], t.demand[:, j]
                    traj.sales[:, k] = t.sales[:, j]
                    traj.episodes[k] = p.task.col_start + c
        out.append(PolicyResult(pol.name, pol.describe(), np.concatenate([p.totals[i] for p in parts]),
                                pol.uses_future, float(sum(p.fit_cpu_s[i] for p in parts)),
                                float(sum(p.eval_cpu_s[i] for p in parts)), traj, learned=pol.learned))
    return out


def evaluate_chunked(problem: Problem, policies: list[Policy], eps: Episodes, window: str = "test", *,
                     record: int | list[str] = 1, chunk_skus: int | None = None, map_chunks: MapChunks | None = None,
                     progress: bool = False, train: TrainData | None = None, warmup: int = 0,
                     window_sums: np.ndarray | None = None) -> Evaluation:
    """:func:`evaluate_on` with the SKU-separable policies (``Policy.sku_separable``) fitted and simulated in
    SKU chunks (:func:`evaluate_chunk`, mapped by `map_chunks`); the others, and every policy of a parametric
    scenario (one random stream for all SKUs), whole in this process. Same results, same order. Every policy
    is fitted on :func:`baselines.base.fit_window` (`train` would apply to the whole-catalogue ones only)."""
    if train is not None:
        raise ValueError("a chunked evaluation builds each chunk's training data; train= cannot be given")
    rec = _recorded(problem, eps, record, window_sums)
    fit = fit_window(problem, window)
    chunked = [p for p in policies if p.sku_separable] if problem.source.replays_windows else []
    whole = [p for p in policies if not any(p is q for q in chunked)]
    by_id: dict[int, PolicyResult] = {}
    if chunked:
        tasks = sku_chunks(problem, eps, window, chunk_skus or problem.n_skus, rec)
        parts = (map_chunks or serial_map_chunks)(problem, chunked, tasks)
        merged = merge_chunks(chunked, parts, 0 if rec is None else len(rec), eps.periods)
        by_id.update((id(p), r) for p, r in zip(chunked, merged))
    if whole:
        train = train_data(problem, window=fit)
        for p, r in zip(whole, run_policies(problem, whole, eps, warmup, rec, progress=progress, train=train)):
            by_id[id(p)] = r
    return _finish(problem, policies, eps, [by_id[id(p)] for p in policies], warmup, fit)


def episode_costs(totals: np.ndarray) -> np.ndarray:
    """Cost per period of each episode (SKU): the numbers ``avg_cost`` is the mean of."""
    return totals[:, kernel.I_COST] / np.maximum(totals[:, PERIODS], 1)


def paired_gap(costs: np.ndarray, best: np.ndarray) -> tuple[float, float | None]:
    """Gap of mean(costs) over mean(best) in %, and the half-width of its paired 95 % interval from the
    per-episode differences (None with fewer than 2 episodes)."""
    b = float(best.mean())
    gap = 100 * (float(costs.mean()) - b) / b if b else None
    n = costs.shape[0]
    if gap is None or n < 2:
        return gap, None
    return gap, float(100 * 1.96 * np.std(costs - best, ddof=1) / np.sqrt(n) / b)


def _fill_kpis(ev: Evaluation) -> None:
    ci = not ev.problem.source.replays_windows
    for r in ev.results:
        r.kpis = kpis_from_totals(r.totals, ci)
    fair = [r for r in ev.results if not r.uses_future]
    best = min(fair, key=lambda r: (r.kpis["avg_cost"], r.name)) if fair else None
    best_costs = episode_costs(best.totals) if best is not None else None
    opt = ev.optimal_avg_cost
    for r in ev.results:
        costs = episode_costs(r.totals)
        gap, half = paired_gap(costs, best_costs) if best is not None else (None, None)
        r.kpis["gap_to_best_pct"], r.kpis["gap_to_best_ci95"] = gap, half
        if opt:
            n = costs.shape[0]
            r.kpis["gap_to_optimal_pct"] = 100 * (r.kpis["avg_cost"] - opt) / opt
            r.kpis["gap_to_optimal_ci95"] = float(100 * 1.96 * costs.std(ddof=1) / np.sqrt(n) / opt) if n > 1 else None
        else:
            r.kpis["gap_to_optimal_pct"] = r.kpis["gap_to_optimal_ci95"] = None


def per_sku_kpis(ev: Evaluation, result: PolicyResult) -> list[dict]:
    """One row per SKU (data scenarios) or per episode (parametric), with the same KPIs, the periods counted
    and the total cost over them (``periods``, ``total_cost``: so that totals over SKUs add up)."""
    rows = []
    pb = ev.problem
    for j in range(ev.episodes.n):
        k = kpis_from_totals(result.totals[j:j + 1], ci=False)
        rows.append({"policy": result.name, "sku": pb.sku_name(int(ev.episodes.sku[j])), "episode": j, **k,
                     "periods": int(result.totals[j, PERIODS]), "total_cost": float(result.totals[j, kernel.I_COST])})
    return rows
