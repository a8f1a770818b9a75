"""Is HDPO's pathwise gradient the gradient of the cost? Finite differences against autograd on fixed batches
(a measurement, not a test).

    python benchmarks/hdpo_gradient_check.py RUN_DIR [--batches 4] [--seed 123]

RUN_DIR: a finished HDPO run folder (e.g. `invrl train --algo hdpo --scenario demo --run-dir RUN_DIR`). For its
best model (best_model.npz) and its final model (model.npz), on the same `--batches` training batches (the
trainer's own trace stream, seeded): the twin's loss (the training objective, per-SKU weighted, and unweighted)
and the kernel's cost of the same traces; then the derivative of the unweighted loss (1) with respect to a shift
of every level s (hp.s0, sS head), (2) along the unit pathwise gradient g and (3) along sign(g) (the direction
Adam's first steps take), each by central finite differences at two step sizes beside autograd's value.
Where (1) agrees and (2)/(3) do not, the pathwise gradient misses the jumps of the cost when order times change
(the hard trigger IP <= s has no gradient).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import numpy as np
    import torch

    from agents.hdpo import HDPO, Trainer
    from agents.policy import AgentPolicy
    from agents.runs import load_run, read_config
    from baselines.evaluation import kpis_from_totals
    from envs import Problem
    from envs.batch import simulate

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--seed", type=int, default=123)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = read_config(args.run_dir)
    problem = Problem(cfg.scenario, **cfg.scenario_overrides)
    norm = load_run(args.run_dir, "best").normalization
    models = {"best": HDPO.load(args.run_dir / "best_model.npz", cfg, norm),
              "final": HDPO.load(args.run_dir / "model.npz", cfg, norm)}
    tr = Trainer(cfg, problem, norm, models["best"], "cpu")
    tr.rng = np.random.default_rng(args.seed)
    batches = [tr.traces() for _ in range(args.batches)]
    weights = tr.weight.copy()

    def loss(weighted: bool = False) -> torch.Tensor:
        tr.weight = weights if weighted else np.ones_like(weights)
        return sum(tr.loss(*b, tr.tau(0)) for b in batches) / len(batches)

    def fd(net, move, h) -> float:
        with torch.no_grad():
            move(net, h)
            lp = float(loss())
            move(net, -2 * h)
            lm = float(loss())
            move(net, h)
        return (lp - lm) / (2 * h)

    print(f"{'model':6s} {'twin loss (weighted)':>21s} {'twin loss':>10s} {'kernel cost':>12s}")
    for name, m in models.items():
        tr.net = m.net
        with torch.no_grad():
            lw, lu = float(loss(True)), float(loss())
        costs = []
        for eps, _, _ in batches:
            agent = AgentPolicy(m, norm, problem.scenario.action)
            agent.start(eps)
            tot, _ = simulate(problem, eps, lambda sim, a=agent: a.act(sim.observe(), sim.raw), warmup=0,
                              order_up_to=agent.order_up_to)
            costs.append(kpis_from_totals(tot, ci=False)["avg_cost"])
        print(f"{name:6s} {lw:21.4f} {lu:10.4f} {np.mean(costs):12.4f}")
    print(f"\n{'model':6s} {'direction':10s} {'autograd':>9s} {'fd h1':>9s} {'fd h2':>9s}   (d loss / d step)")
    for name, m in models.items():
        net = tr.net = m.net
        params = list(net.parameters())
        net.zero_grad()
        loss().backward()
        g = [p.grad.detach().clone() for p in params]
        if net.head == "sS":
            auto = params[-1].grad[0].item() / net.level_scale  # s = o_0 x level_scale + s0

            def shift(n, h):
                n.s0 += h

            print(f"{name:6s} {'s0 shift':10s} {auto:9.4f} {fd(net, shift, 0.5):9.4f} {fd(net, shift, 0.25):9.4f}")
        gn = torch.sqrt(sum((x * x).sum() for x in g))
        for label, d in (("g", [x / gn for x in g]), ("sign(g)", [torch.sign(x) for x in g])):
            dn = torch.sqrt(sum((x * x).sum() for x in d))
            d = [x / dn for x in d]
            auto = float(sum((a * b).sum() for a, b in zip(g, d)))

            def along(n, h, d=d, params=params):
                for p, x in zip(params, d):
                    p.add_(h * x)

            print(f"{name:6s} {label:10s} {auto:9.4f} {fd(net, along, 0.01):9.4f} {fd(net, along, 0.003):9.4f}")


if __name__ == "__main__":
    main()
