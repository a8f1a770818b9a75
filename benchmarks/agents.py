"""Learned agents against the exact optimum and the best base-stock policy (measurements, not tests).

    python benchmarks/agents.py --algo ppo --instances lost-sales-L2-p9 [--timesteps N] [--seeds 0 1]
    python benchmarks/agents.py --algo ppo --instances zipkin16          # L = 1..4, p in 4, 9, 19, 39
    python benchmarks/agents.py --algo hdpo --instances zipkin16         # HDPO (preset configs/presets/hdpo.yaml)
    python benchmarks/agents.py --algo ppo --data-scenario configs/m5_tiny.yaml   # global policy on real data

Zipkin instances: each run is trained with its preset (train.py's code path, run folders under --out), and its
best model (chosen on the validation traces) and final model are scored by their EXACT long-run average cost
(value determination on the policy's Markov chain, baselines.dp_optimal.policy_cost). Prints: instance,
optimum, best base-stock, agent cost (best model; final model), gap to optimum %, gap to base-stock %, CPU-s
of training (time.process_time of this process: with DummyVecEnv all of training runs here).

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


def zipkin(args) -> None:
    from agents.config import resolve_config
    from agents.policy import AgentPolicy, exact_cost
    from agents.runs import load_run
    from agents.training import train
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
            overrides = dict(args.override or [])
            flags = {"timesteps": args.timesteps, "seed": seed, "progress": False, "device": "cpu"}
            cfg = resolve_config(args.algo, name, name, args.preset, flags, overrides)
            run_dir = Path(args.out) / f"{args.algo}-{name}-s{seed}"
            if (run_dir / "config.yaml").exists():
                import shutil

                shutil.rmtree(run_dir)
            res = train(cfg, run_dir, "python benchmarks/agents.py " + " ".join(sys.argv[1:]), log=lambda *a: None)
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
    ap.add_argument("--instances", nargs="+", default=["lost-sales-L2-p9"], help="names, or zipkin16")
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
    else:
        zipkin(args)


def _kv(s: str):
    from envs.scenario import parse_override

    return parse_override(s)


if __name__ == "__main__":
    main()
