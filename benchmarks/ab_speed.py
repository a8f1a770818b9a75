"""Same-process A/B of the simulator's speed: this checkout's ``envs`` against the ``envs`` of a git revision.

    python benchmarks/ab_speed.py f57d78b [--rounds 40]

The reference revision's ``envs/`` is extracted (``git archive``) into a temporary folder as the package
``envs_ref`` and imported beside this checkout's ``envs`` in one process (its Gymnasium registration is
skipped). Each round times every case once with each version, alternating which goes first, in CPU seconds
(``time.process_time``); the table prints the median rate of each and the median of the per-round ratios
(this / reference) with its interquartile range: on a shared machine single timings swing by several times,
the ratio of two timings taken back to back much less. Cases: the single env (random actions, resets
included) on ``lost-sales-L2-p9`` and ``demo``, and the SB3 ``InventoryVecEnv`` at N = 256, 1024, 4096.

The reference must be a revision whose ``envs`` imports nothing of this project outside ``envs`` (true of
every revision up to f57d78b; later ones import ``invcore``, which then comes from this checkout).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def extract_reference(rev: str, into: Path) -> None:
    try:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "envs"], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        sys.exit(f"ab_speed.py: git archive {rev} envs failed: {e.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(into, filter="data")
    (into / "envs").rename(into / "envs_ref")
    init = into / "envs_ref" / "__init__.py"
    src = init.read_text()
    init.write_text(src.replace("if ENV_ID not in registry:", "if False:  # ab_speed: registered by envs"))


def single_rate(env, steps: int, actions: np.ndarray) -> float:
    t0 = time.process_time()
    for i in range(steps):
        _, _, _, truncated, _ = env.step(actions[i & 4095])
        if truncated:
            env.reset()
    return steps / (time.process_time() - t0)


def vec_rate(v, steps: int, actions: np.ndarray, n: int) -> float:
    t0 = time.process_time()
    for i in range(steps):
        v.step(actions[i & 63])
    return n * steps / (time.process_time() - t0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rev", help="the reference git revision (e.g. f57d78b)")
    ap.add_argument("--rounds", type=int, default=40)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ab_speed_"))
    extract_reference(args.rev, tmp)
    sys.path.insert(0, str(tmp))
    import envs_ref.vector as ref_vector
    from envs_ref.inventory_env import InventoryEnv as RefEnv

    from envs.inventory_env import InventoryEnv
    from envs.sb3_vec import InventoryVecEnv
    RefVec = getattr(ref_vector, "InventoryVecEnv", None)
    if RefVec is None:
        from envs_ref.sb3_vec import InventoryVecEnv as RefVec

    rng = np.random.default_rng(0)
    cases = {}
    for scen in ("lost-sales-L2-p9", "demo"):
        pair = (RefEnv(scen), InventoryEnv(scen))
        for e in pair:
            e.reset(seed=0)
        acts = rng.integers(0, pair[1].action_space.n, 4096)
        cases[f"single env {scen}"] = lambda order, p=pair, a=acts: [single_rate(p[j], 60_000, a) for j in order]
    for n, steps in ((256, 1500), (1024, 500), (4096, 150)):
        pair = (RefVec("lost-sales-L2-p9", n), InventoryVecEnv("lost-sales-L2-p9", n))
        acts = rng.integers(0, pair[1].action_space.n, size=(64, n))
        for v in pair:
            v.seed(0)
            v.reset()
            for i in range(20):  # warm-up (compiled kernels loaded, buffers touched)
                v.step(acts[i])
        cases[f"InventoryVecEnv N={n}"] = (lambda order, p=pair, a=acts, n=n, s=steps:
                                          [vec_rate(p[j], s, a, n) for j in order])
    res = {k: ([], []) for k in cases}
    for r in range(args.rounds):
        for k, f in cases.items():
            if r % 2 == 0:
                ref, new = f((0, 1))
            else:
                new, ref = f((1, 0))
            res[k][0].append(ref)
            res[k][1].append(new)
    print(f"{'case (SKU-steps per CPU-second)':<34} {'ref ' + args.rev:>16} {'this checkout':>16} "
          f"{'this / ref (median, IQR)':>28}")
    for k, (ref, new) in res.items():
        ratios = [b / a for a, b in zip(ref, new)]
        q1, q3 = np.percentile(ratios, [25, 75])
        print(f"{k:<34} {statistics.median(ref):>16,.0f} {statistics.median(new):>16,.0f} "
              f"{statistics.median(ratios):>12.3f} ({q1:.3f}-{q3:.3f})")


if __name__ == "__main__":
    main()
