"""HDPO: the torch twin against the numba engine (parity), the pathwise gradient, training, run folders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import twin
from envs import kernel
from envs.engine import Engine
from envs.episodes import make_episodes
from envs.problem import Problem

CASES = {
    "lost-sales": dict(mode="lost_sales"),
    "backorder": dict(mode="backorder"),
    "moq-pack": dict(mode="lost_sales", moq=4, pack_size=3),
    "max-order-capacity": dict(mode="backorder", max_order=7, capacity=25, pack_size=2),
    "costs": dict(mode="lost_sales", order_cost=5.0, unit_cost=0.7, holding_cost=0.3, shortage_cost=4.5),
    "everything": dict(mode="backorder", order_cost=2.5, unit_cost=1.25, moq=2, pack_size=2, max_order=11,
                       capacity=30),
}
LEADS = np.array([0, 1, 2, 4, 3, 1])


def _engine_and_twin(overrides, order_up_to, seed=0, T=40):
    pb = Problem("lost-sales-L2-p9", **{"demand.mean": [5.0, 3.0, 8.0, 2.0, 6.0, 4.0], "lead_time": 4,
                                        **overrides})
    pb.params[:, kernel.LEAD] = LEADS  # per-SKU lead times 0..4 (the engine reads them from the rows)
    eps = make_episodes(pb, "train", seed=seed, n=12, periods=T)
    eng = Engine(pb, eps.n, action_table=False)
    eng.load(eps, "random", np.random.default_rng(seed))
    return pb, eps, eng


@pytest.mark.parametrize("order_up_to", [False, True], ids=["units", "order-up-to"])
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_twin_matches_engine(case, order_up_to):
    """Same demand, same requests: identical states and every info column, float64, every period."""
    pb, eps, eng = _engine_and_twin(CASES[case], order_up_to)
    rng = np.random.default_rng(1)
    p = twin.TwinParams.from_rows(eng.params)
    P = p.slots
    net = torch.tensor(eng.state[:, kernel.NET].copy())
    recv = torch.tensor(eng.state[:, kernel.RECV].copy())
    pipe = torch.tensor(eng.state[:, kernel.PIPE:kernel.PIPE + P].copy())
    assert not eng.state[:, kernel.PIPE + P:].any()
    demand = eps.demand[eps.history:]
    for t in range(eps.periods):
        scale = eng.params[:, kernel.SCALE]
        if order_up_to:
            req = np.round(rng.uniform(-2, 9, eps.n) * scale, 1)
        else:
            req = np.where(rng.random(eps.n) < 0.3, 0.0, np.round(rng.uniform(-1, 3, eps.n) * scale, 2))
        eng.step(req.copy(), order_up_to)
        net, recv, pipe, info = twin.step(net, recv, pipe, p, torch.tensor(req), torch.tensor(demand[t]),
                                          pb.scenario.backorder, order_up_to)
        np.testing.assert_array_equal(net.numpy(), eng.state[:, kernel.NET])
        np.testing.assert_array_equal(recv.numpy(), eng.state[:, kernel.RECV])
        np.testing.assert_array_equal(pipe.numpy(), eng.state[:, kernel.PIPE:kernel.PIPE + P])
        for name, col in (("order", kernel.I_ORDER), ("sales", kernel.I_SALES), ("lost", kernel.I_LOST),
                          ("backordered", kernel.I_BACK), ("received", kernel.I_RECV),
                          ("on_hand", kernel.I_ON_HAND), ("inventory_position", kernel.I_IP),
                          ("holding_cost", kernel.I_HOLD), ("shortage_cost", kernel.I_SHORT),
                          ("ordering_cost", kernel.I_ORDERING), ("purchase_cost", kernel.I_PURCHASE),
                          ("cost", kernel.I_COST)):
            np.testing.assert_array_equal(getattr(info, name).numpy(), eng.info[:, col], err_msg=f"{name} t={t}")
    assert (eng.info[:, kernel.I_ORDER] > 0).any()


@pytest.mark.parametrize("scenario,overrides", [
    ("lost-sales-L3-p9", {}),
    ("demo", {}),
    ("lost-sales-L2-p9", {"observation.demand_window": 3, "observation.period": True}),
], ids=["zipkin", "demo-calendar-lags", "lags-period"])
def test_twin_observation_matches_engine(scenario, overrides):
    """The twin's observation (state part + exogenous fields) is the engine's, float32 bit for bit."""
    pb = Problem(scenario, **overrides)
    eps = make_episodes(pb, "train", seed=3, n=8, periods=30)
    eng = Engine(pb, eps.n, action_table=False)
    eng.load(eps, "random", np.random.default_rng(3))
    p = twin.TwinParams.from_rows(eng.params)
    net = torch.tensor(eng.state[:, kernel.NET].copy())
    recv = torch.tensor(eng.state[:, kernel.RECV].copy())
    pipe = torch.tensor(eng.state[:, kernel.PIPE:kernel.PIPE + p.slots].copy())
    exo = twin.exogenous_features(pb, eps)
    rng = np.random.default_rng(0)
    for t in range(eps.periods):
        obs = torch.cat([twin.observe_state(net, pipe, p.scale, pb.n_pipe).float(), torch.from_numpy(exo[t])], 1)
        np.testing.assert_array_equal(obs.numpy(), eng.observe(), err_msg=f"t={t}")
        req = np.rint(rng.uniform(0, 2, eps.n) * eng.params[:, kernel.SCALE])
        eng.step(req.copy())
        net, recv, pipe, _ = twin.step(net, recv, pipe, p, torch.tensor(req),
                                       torch.tensor(eps.demand[eps.history + t]), pb.scenario.backorder)
