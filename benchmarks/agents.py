"""Learned agents against the exact optimum and the best base-stock policy (measurements, not tests).

    python benchmarks/agents.py --algo ppo --instances lost-sales-L2-p9 [--timesteps N] [--seeds 0 1]
    python benchmarks/agents.py --algo ppo --instances zipkin16          # L = 1..4, p in 4, 9, 19, 39
    python benchmarks/agents.py --algo hdpo --instances zipkin16         # HDPO (preset configs/presets/hdpo.yaml)
    python benchmarks/agents.py --algo ppo --data-scenario configs/m5_tiny.yaml   # global policy on real data
    python benchmarks/agents.py --algo ppo --instances dcl12             # L = 6, 8, 10 x p = 4, 9, 19, 39 vs DCL

Zipkin instances: each run is trained with its preset (train.py's code path, run folders under --out), and its
best model (chosen on the validation traces) and final model are scored by their EXACT long-run average cost
(value determination on the policy's Markov chain, baselines.dp_optimal.policy_cost). Prints: instance,
optimum, best base-stock, agent cost (best model; final model), gap to optimum %, gap to base-stock %, CPU-s
of training (time.process_time of this process: with DummyVecEnv all of training runs here).

DCL instances (``--instances dcl12``, or names among them): no exact optimum exists for L >= 6, so each run's
best model (chosen on the validation traces) and its final model are scored by simulation, `--episodes` x
`--periods` (default 200 x 5100, after 100 warm-up periods: ``invrl evaluate --model RUN --episodes 200 --periods
5100 --policies base_stock`` gives the same numbers), beside the base-stock policy tuned here on the same traces.
Prints the agent's cost with the half-width of its 95 % interval, Deep Controlled Learning's cost and best
base-stock cost (:data:`DCL12`, from DCL's log), the simulated base-stock's cost, the agent's paired gap to it
(95 %), and the agent against DCL: ``below`` (the interval's upper end below DCL's cost), ``above`` (its lower end
above it) or ``tie`` (the interval holds DCL's cost: not distinguishable).

Data scenario: one global policy is trained on the training window of every SKU and evaluated on the test
window beside the tuned baselines (baselines.evaluation.evaluate, the same traces for all).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ZIPKIN16 = [f"lost-sales-L{L}-p{p}" for L in (1, 2, 3, 4) for p in (4, 9, 19, 39)]

DCL12 = {  # (best base-stock cost, DCL cost): Temizoz et al.'s Deep Controlled Learning, Poisson(5), h = 1; from
    # tarkantemizoz/DynaPlex, DeepControlledLearning/lostsales-DCL.out (5000 samples per generation)
    "lost-sales-L6-p4": (5.5079, 4.8803), "lost-sales-L6-p9": (7.8864, 7.2325),
    "lost-sales-L6-p19": (10.1843, 9.6556), "lost-sales-L6-p39": (12.3587, 11.9582),
    "lost-sales-L8-p4": (5.7197, 4.9615), "lost-sales-L8-p9": (8.3181, 7.5226),
    "lost-sales-L8-p19": (10.905, 10.1956), "lost-sales-L8-p39": (13.3863, 12.8338),
    "lost-sales-L10-p4": (5.8709, 5.0185), "lost-sales-L10-p9": (8.6414, 7.6915),
    "lost-sales-L10-p19": (11.4746, 10.7576), "lost-sales-L10-p39": (14.2357, 13.9569),
}


def _train_run(args, name: str, seed: int):
    """Train one run of `args.algo` on `name` with its preset (the run folder under --out, replaced)."""
    from agents.config import resolve_config
    from agents.training import train

    flags = {"timesteps": args.timesteps, "seed": seed, "progress": False, "device": "cpu"}
    cfg = resolve_config(args.algo, name, name, args.preset, flags, dict(args.override or []))
    run_dir = Path(args.out) / f"{args.algo}-{name}-s{seed}"
    if (run_dir / "config.yaml").exists():
        import shutil

        shutil.rmtree(run_dir)
    res = train(cfg, run_dir, "python benchmarks/agents.py " + " ".join(sys.argv[1:]), log=lambda *a: None)
    return cfg, run_dir, res


def against_dcl(verdict_cost: float, half: float, dcl: float) -> str:
    """``below`` / ``above`` when the 95 % interval cost +- half lies wholly below / above DCL's cost, else
    ``tie`` (DCL's cost is inside the interval: not distinguishable)."""
    if verdict_cost + half < dcl:
        return "below"
    if verdict_cost - half > dcl:
        return "above"
    return "tie"


def dcl(args) -> None:
    from agents.evaluation import agent_policies, model_problem_args
    from agents.runs import load_run
    from baselines import evaluation
    from baselines.evaluation import episode_costs, paired_gap
    from envs import Problem

    names = list(DCL12) if args.instances == ["dcl12"] else args.instances
    bad = [n for n in names if n not in DCL12]
    if bad:
        _fail(f"--instances {bad[0]!r}: with DCL's instances expected one of dcl12, " + ", ".join(DCL12))
    episodes, periods = args.episodes or 200, args.periods or 5100
    print(f"{'instance':18s} {'seed':>4s} {'DCL':>8s} {'DCL-bs':>8s} {'bs(sim)':>8s} {'agent':>8s} {'+-95%':>6s} "
          f"{'final':>8s} {'vs_bs%':>7s} {'+-':>5s} {'vs DCL':>6s} {'gapDCL%':>7s} {'CPU-s':>7s}"
          f"   (simulated: {episodes} x {periods} periods after 100 warm-up, seed 0; vs_bs: paired 95 %)",
          flush=True)
    rows = []
    for name in names:
        dcl_bs, dcl_cost = DCL12[name]
        for seed in args.seeds:
            cfg, run_dir, res = _train_run(args, name, seed)
            runs, scenario, overrides = model_problem_args([str(run_dir)], None, {})
            problem = Problem(scenario, **overrides)
            final_run = load_run(run_dir, "model")
            pols = evaluation.make_policies("base_stock", problem) + agent_policies(runs + [final_run], problem)
            ev = evaluation.evaluate(problem, pols, episodes=episodes, periods=periods, seed=0, record=0)
            bs, agent, final = ev.results
            cost, half = agent.kpis["avg_cost"], agent.kpis["avg_cost_ci95"]
            gap_bs, half_bs = paired_gap(episode_costs(agent.totals), episode_costs(bs.totals))
            row = {"instance": name, "seed": seed, "dcl": dcl_cost, "dcl_base_stock": dcl_bs,
                   "base_stock_sim": bs.kpis["avg_cost"], "agent": cost, "agent_ci95": half,
                   "final": final.kpis["avg_cost"], "final_ci95": final.kpis["avg_cost_ci95"],
                   "gap_bs_pct": gap_bs, "gap_bs_ci95": half_bs, "vs_dcl": against_dcl(cost, half, dcl_cost),
                   "gap_dcl_pct": 100 * (cost - dcl_cost) / dcl_cost, "cpu_s": res.cpu_s,
                   "timesteps": res.num_timesteps, "gradient_cpu_s": res.extra.get("gradient_cpu_s"),
                   "episodes": episodes, "periods": periods}
            rows.append(row)
            print(f"{name:18s} {seed:4d} {dcl_cost:8.4f} {dcl_bs:8.4f} {row['base_stock_sim']:8.4f} {cost:8.4f} "
                  f"{half:6.4f} {row['final']:8.4f} {gap_bs:+7.2f} {half_bs:5.2f} {row['vs_dcl']:>6s} "
                  f"{row['gap_dcl_pct']:+7.3f} {res.cpu_s:7.1f}", flush=True)
            (Path(args.out) / f"{args.algo}-dcl-results.json").write_text(json.dumps(rows, indent=1))
    if rows:
        count = {w: sum(r["vs_dcl"] == w for r in rows) for w in ("below", "tie", "above")}
        print(f"agent against DCL on {len(rows)} runs: significantly below {count['below']}, not distinguishable "
              f"{count['tie']}, significantly above {count['above']}; at or below DCL's cost (point estimate) "
              f"{sum(r['agent'] <= r['dcl'] for r in rows)}; mean gap to DCL "
              f"{sum(r['gap_dcl_pct'] for r in rows) / len(rows):+.3f} %")


def zipkin(args) -> None:
    from agents.policy import AgentPolicy, exact_cost
    from agents.runs import load_run
    from baselines.dp_optimal import best_base_stock, solve_lost_sales
    from envs import Problem

    names = ZIPKIN16 if args.instances == ["zipkin16"] else args.instances
    rows = []
    head = (f"{'instance':18s} {'seed':>4s} {'optimum':>8s} {'base-stk':>8s} {'agent':>8s} {'final':>8s} "
            f"{'gap_opt%':>8s} {'gap_bs%':>8s} {'CPU-s':>7s}")
    print(head + ("  (HDPO: CPU-s of the whole run; of it, the gradient steps in brackets)" if args.algo == "hdpo"
                  else ""), flush=True)
    for name in names:
        L, p = int(name.split("-L")[1].split("-")[0]), float(name.split("-p")[1])
        opt = solve_lost_sales(5.0, L, 1.0, p).avg_cost
        _, bs = best_base_stock(5.0, L, 1.0, p)
        for seed in args.seeds:
            cfg, run_dir, res = _train_run(args, name, seed)
            problem = Problem(cfg.scenario, **cfg.scenario_overrides)
            final_cost = exact_cost(AgentPolicy.from_run(load_run(run_dir, "model")), problem)
            agent = res.exact_cost
            row = {"instance": name, "seed": seed, "optimum": opt, "best_base_stock": bs, "agent": agent,
                   "final": final_cost, "gap_opt_pct": 100 * (agent - opt) / opt,
                   "gap_bs_pct": 100 * (agent - bs) / bs, "cpu_s": res.cpu_s, "timesteps": res.num_timesteps,
                   "gradient_cpu_s": res.extra.get("gradient_cpu_s")}
            rows.append(row)
            print(f"{name:18s} {seed:4d} {opt:8.4f} {bs:8.4f} {agent:8.4f} {final_cost:8.4f} "
                  f"{row['gap_opt_pct']:+8.3f} {row['gap_bs_pct']:+8.2f} {res.cpu_s:7.1f}"
                  + (f" ({row['gradient_cpu_s']:.1f})" if row["gradient_cpu_s"] is not None else ""), flush=True)
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / f"{args.algo}-results.json").write_text(json.dumps(rows, indent=1))
    if rows:
        n_below = sum(r["agent"] <= r["best_base_stock"] for r in rows)
        print(f"agent at or below the best base-stock on {n_below} of {len(rows)} runs; "
              f"mean gap to optimum {sum(r['gap_opt_pct'] for r in rows) / len(rows):+.3f} %, largest "
              f"{max(r['gap_opt_pct'] for r in rows):+.3f} %")


def rescore(args) -> None:
    """Exact costs of the best and final models of finished run folders (with the current exact_cost)."""
    from agents.policy import AgentPolicy, exact_cost
    from agents.runs import load_run
    from baselines.dp_optimal import best_base_stock, solve_lost_sales

    print(f"{'run':28s} {'optimum':>8s} {'base-stk':>8s} {'best':>8s} {'final':>8s} {'gap_opt%':>8s} "
          f"{'gap_bs%':>8s}  (gaps of the better of best/final)")
    for d in args.rescore:
        run = load_run(d, "model")
        pb = run.problem()
        name = pb.scenario.name
        L, p = int(name.split("-L")[1].split("-")[0]), float(name.split("-p")[1])
        opt = solve_lost_sales(5.0, L, 1.0, p).avg_cost
        _, bs = best_base_stock(5.0, L, 1.0, p)
        final = exact_cost(AgentPolicy.from_run(run), pb)
        best = exact_cost(AgentPolicy.from_run(load_run(d, "best")), pb)
        c = min(final, best)
        print(f"{Path(d).name:28s} {opt:8.4f} {bs:8.4f} {best:8.4f} {final:8.4f} {100 * (c - opt) / opt:+8.2f} "
              f"{100 * (c - bs) / bs:+8.2f}", flush=True)


def data(args) -> None:
    from agents.config import resolve_config
    from agents.policy import AgentPolicy
    from agents.runs import load_run
    from agents.training import train
    from baselines import evaluation
    from envs import Problem
    from envs.scenario import resolve_scenario

    scenario = str(Path(args.data_scenario).resolve())
    name = resolve_scenario(scenario).name
    seed = args.seeds[0]
    cfg = resolve_config(args.algo, scenario, name, args.preset,
                         {"timesteps": args.timesteps, "seed": seed, "progress": False, "device": "cpu"},
                         dict(args.override or []))
    run_dir = Path(args.out) / f"{args.algo}-{name}-s{seed}"
    if not (args.reuse and (run_dir / "model.zip").exists()):
        if (run_dir / "config.yaml").exists():
            import shutil

            shutil.rmtree(run_dir)
        res = train(cfg, run_dir, "python benchmarks/agents.py " + " ".join(sys.argv[1:]))
        print(f"trained {res.num_timesteps:,} steps in {res.cpu_s:.1f} CPU-s; validation {res.final_eval}")
    run = load_run(run_dir)
    problem = Problem(cfg.scenario, **cfg.scenario_overrides)  # evaluate() replays the test window
    t0 = time.process_time()
    agents = [AgentPolicy.from_run(run, name=f"{args.algo}_global")]
    pols = evaluation.make_policies(args.policies, problem) + agents
    ev = evaluation.evaluate(problem, pols)
    from baselines import report

    print(report.header(ev))
    print(report.table(ev))
    tot = {r.name: (r.totals[:, 8].sum(), r.kpis["fill_rate"]) for r in ev.results}
    print("total test-window cost (all SKUs) and fill rate:")
    for k, (c, f) in sorted(tot.items(), key=lambda kv: kv[1][0]):
        print(f"  {k:32s} {c:14.1f} {f:.4f}")
    print(f"({time.process_time() - t0:.1f} CPU-s evaluation)")


def main() -> None:
    import torch

    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--algo", default="ppo", choices=["ppo", "dqn", "hdpo"])
    ap.add_argument("--instances", nargs="+", default=["lost-sales-L2-p9"], help="names, or zipkin16, or dcl12")
    ap.add_argument("--episodes", type=int, help="DCL instances: simulated episodes (default 200)")
    ap.add_argument("--periods", type=int, help="DCL instances: periods per episode (default 5100)")
    ap.add_argument("--data-scenario", help="a data scenario YAML (global policy, test window vs baselines)")
    ap.add_argument("--policies", default="base_stock,capped_base_stock,safety_stock_RS_tuned,ses_tuned,tsb_tuned",
                    help="baselines to compare with (data scenario)")
    ap.add_argument("--timesteps", type=int)
    ap.add_argument("--preset")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", default="runs/bench")
    ap.add_argument("--rescore", nargs="+", metavar="RUN_DIR", help="only score finished Zipkin run folders")
    ap.add_argument("--reuse", action="store_true", help="data scenario: reuse a finished run folder")
    ap.add_argument("--override", nargs="*", type=lambda s: tuple(_kv(s)), help="KEY=VALUE (see train.py)")
    args = ap.parse_args()
    if args.rescore:
        rescore(args)
    elif args.data_scenario:
        data(args)
    elif args.instances == ["dcl12"] or any(n in DCL12 for n in args.instances):
        dcl(args)
    else:
        long = [n for n in args.instances if n != "zipkin16" and _lead(n) > 4]
        if long:
            _fail(f"--instances {long[0]!r}: no exact optimum for L > 4 here; by simulation against DCL: dcl12 "
                  "or one of " + ", ".join(DCL12))
        zipkin(args)


def _fail(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(2)


def _lead(name: str) -> int:
    """The lead time of a ``lost-sales-L{L}-p{p}`` name (0 if it is not one)."""
    import re

    m = re.match(r"^lost-sales-L(\d+)-p\d+$", name)
    return int(m.group(1)) if m else 0


def _kv(s: str):
    from envs.scenario import parse_override

    return parse_override(s)


if __name__ == "__main__":
    main()
