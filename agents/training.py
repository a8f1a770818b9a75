"""Training: build the normalised vectorised env, the SB3 model and the callbacks; write the run folder.

:func:`train` is what ``train.py`` calls; tests and scripts call it directly. (``algorithm_class`` lives in
:mod:`agents.config`, the normalisation and the training envs in :mod:`agents.normalization`.)
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import TensorBoardOutputFormat, configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from baselines.evaluation import evaluate_on, kpis_from_totals, make_policies
from envs.batch import simulate
from envs.episodes import STREAMS, Episodes, make_episodes
from envs.problem import Problem
from envs.scenario import ScenarioError

from .config import PresetError, TrainConfig, algorithm_class
from .normalization import Normalization, build_normalization, normalized_env, normalized_vec_env
from .policy import AgentPolicy, exact_cost
from .runs import (
    RunError,
    append_command,
    atomic_save_model,
    atomic_save_replay_buffer,
    atomic_write_text,
    load_policy_weights,
    read_checkpoint,
    read_config,
    trim_eval_csv,
    write_run_files,
)

VAL_SEED = STREAMS["validation"]  # seed of the validation traces (training uses cfg.seed, evaluation.py others)


class TrainingInterrupted(Exception):
    """Training stopped by Ctrl-C / SIGTERM after its checkpoint was saved: ``--resume run_dir`` continues."""

    def __init__(self, run_dir: Path, step: int, total: int):
        super().__init__(f"interrupted at step {step:,} of {total:,}")
        self.run_dir, self.step, self.total = Path(run_dir), step, total


class LinearSchedule:
    """Learning rate decaying linearly from `start` to 0 over training (SB3 passes progress_remaining 1 -> 0),
    never below 0: SB3 finishes the last rollout past the step budget (e.g. 1,003,520 of 1,000,000 steps), where
    progress_remaining < 0 would give a negative rate (a step up the loss)."""

    def __init__(self, start: float):
        self.start = float(start)

    def __call__(self, progress_remaining: float) -> float:
        return self.start * max(progress_remaining, 0.0)


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise PresetError("--device cuda asked for, but torch sees no CUDA device (use --device auto or cpu)")
    return device


# ----------------------------------------------------------------------------------------- validation
VERDICT_EXCLUDE = ("dp_optimal",)
"""Not rules a planner runs (the exact optimum is reported as its own gap); bounds that see the future are
excluded too."""


@dataclass
class Validation:
    """Fixed validation traces, the cost of every classical rule on them (fitted on the training data, as
    evaluate.py fits them), the strongest of those and the exact optimum where one exists."""

    episodes: Episodes
    warmup: int
    base_stock_cost: float
    optimum: float | None
    label: str
    baselines: dict[str, float] = field(default_factory=dict)
    """Validation cost per period of every applicable classical rule."""
    best_baseline: str | None = None
    best_baseline_cost: float | None = None

    @classmethod
    def build(cls, problem: Problem, cfg: TrainConfig) -> Validation:
        src = problem.source
        if src.replays_windows:
            window = "val" if len(src.skus_in("val")) else "train"
            eps, warmup = make_episodes(problem, window, replay=True), 0
            label = f"{window} window of every SKU"
            trained_on = problem.scenario.data.window
            if trained_on == "fit" or trained_on == window:  # the agent trained on these periods: say so
                label += f" (inside the training window '{trained_on}': in sample, not a held-out score)"
            elif window == "val" and problem.scenario.data.scale_window == "fit":
                label += " (the demand scale, data.scale_window fit, reads it: not a held-out score)"
        else:
            warmup = 100 if src.long_run else 0
            periods = cfg.eval_periods if src.long_run else problem.scenario.episode_length
            eps = make_episodes(problem, "val", seed=VAL_SEED, n=cfg.eval_episodes, periods=periods + warmup)
            label = f"{cfg.eval_episodes} simulated episodes x {periods} periods (seed {VAL_SEED})"
        # the classical rules (not the learned forecasters, whose fits would cost a training run minutes; the
        # verdict of `invrl evaluate --model` ranks the agent among all of them)
        rules = [p for p in make_policies("classical", problem) if not p.uses_future and p.name not in VERDICT_EXCLUDE]
        ev = evaluate_on(problem, rules, eps, warmup, record=0)
        costs = {r.name: r.kpis["avg_cost"] for r in ev.results}
        best = min(costs, key=lambda n: (costs[n], n))
        optimum = None
        from baselines.dp_policy import DPOptimal

        if DPOptimal.supports(problem):
            optimum = DPOptimal().fit(problem, None).exact_avg_cost
        return cls(eps, warmup, costs["base_stock"], optimum, label, costs, best, costs[best])

    def verdict(self, best: dict[str, Any] | None, final: dict[str, Any]) -> str:
        """One line: the validation cost of the model a run's users get (best_model.*, the one ``invrl evaluate
        --model`` and ``invrl export`` load: `best`, its eval.csv row, see :func:`best_eval_row`) against the
        strongest classical rule (and base-stock), then the final model's (`final`, its evaluation row)."""
        row = best if best is not None else final
        agent_cost = float(row["avg_cost"])
        gap = 100 * (agent_cost - self.best_baseline_cost) / self.best_baseline_cost
        word = "below" if gap < 0 else "above"
        which = f"best model (step {int(row['step']):,}, best_model.npz)" if best is not None else "final model"
        return (f"verdict on the validation traces ({self.label}): {which} {agent_cost:.4f}, {abs(gap):.2f} % "
                f"{word} the strongest of {len(self.baselines)} classical rules, {self.best_baseline} "
                f"{self.best_baseline_cost:.4f} (base-stock {self.base_stock_cost:.4f}); final model "
                f"{float(final['avg_cost']):.4f}")

    def evaluate(self, problem: Problem, agent: AgentPolicy) -> dict[str, float | None]:
        agent.start(self.episodes)
        totals, _ = simulate(problem, self.episodes, lambda sim: agent.act(sim.observe(), sim.raw),
                             warmup=self.warmup, order_up_to=agent.order_up_to)
        k = kpis_from_totals(totals, ci=False)
        out = {key: k[key] for key in ("avg_cost", "fill_rate", "holding", "shortage", "ordering", "purchase")}
        out["gap_to_base_stock_pct"] = 100 * (k["avg_cost"] - self.base_stock_cost) / self.base_stock_cost \
            if self.base_stock_cost else None
        b = self.best_baseline_cost
        out["gap_to_best_baseline_pct"] = 100 * (k["avg_cost"] - b) / b if b else None
        out["gap_to_optimal_pct"] = 100 * (k["avg_cost"] - self.optimum) / self.optimum if self.optimum else None
        return out


# ----------------------------------------------------------------------------------------- callbacks
class _Every(BaseCallback):
    """Calls ``fire()`` at the first step at or past each multiple of ``self.freq`` timesteps (0 = never),
    counting from the run's step count at (re)start, so a resumed run keeps the same schedule."""

    freq: int = 0
    _next: int | None = None

    def _on_training_start(self) -> None:
        self._next = (self.num_timesteps // self.freq + 1) * self.freq if self.freq else None

    def _on_step(self) -> bool:
        if self._next is not None and self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.freq + 1) * self.freq
            self.fire()
        return True

    def fire(self) -> None:
        raise NotImplementedError


class EvalOnTraces(_Every):
    """Every `freq` steps: evaluate the deterministic policy on the validation traces, log ``eval/...``,
    append to eval.csv and save best_model.zip/.npz when the selection score improves (on Zipkin instances, where
    the DP optimum applies, also ``eval/exact_avg_cost``, the policy's exact long-run cost, which then selects
    the best model)."""

    def __init__(self, problem: Problem, validation: Validation, norm: Normalization, agent_action,
                 run_dir: Path, freq: int, best_cost: float = float("inf")):
        super().__init__()
        self.problem, self.validation, self.norm, self.agent_action = problem, validation, norm, agent_action
        self.run_dir, self.freq, self.best_cost = run_dir, freq, best_cost
        self.last: dict[str, Any] | None = None

    def fire(self) -> None:
        self.run_eval()

    def run_eval(self) -> dict[str, Any]:
        agent = AgentPolicy(self.model, self.norm, self.agent_action)
        row = eval_record(self.problem, self.validation, agent, self.logger, self.num_timesteps, self.run_dir)
        score = selection_score(row)
        if score < self.best_cost or not (self.run_dir / "best_model.npz").exists():
            self.best_cost = score
            atomic_save_model(self.model, self.run_dir / "best_model.zip")
        self.last = row
        return row


def eval_record(problem: Problem, validation: Validation, agent: AgentPolicy, logger, step: int,
                run_dir: Path) -> dict[str, Any]:
    """Evaluate an agent on the validation traces, log the ``eval/`` tags at `step`, append the row to
    eval.csv and return it (the periodic evaluation of every algorithm: PPO, DQN, HDPO)."""
    t0 = time.process_time()
    res = validation.evaluate(problem, agent)
    for k, v in res.items():
        if v is not None:
            logger.record(f"eval/{'avg_cost_' + k if k in ('holding', 'shortage', 'ordering', 'purchase') else k}", v)
    if validation.optimum is not None:  # Zipkin instances: the exact long-run cost is cheap
        exact = exact_cost(agent, problem)
        if exact is not None:
            res["exact_avg_cost"] = exact
            res["exact_gap_to_optimal_pct"] = 100 * (exact - validation.optimum) / validation.optimum
            logger.record("eval/exact_avg_cost", exact)
            logger.record("eval/exact_gap_to_optimal_pct", res["exact_gap_to_optimal_pct"])
    logger.record("eval/cpu_s", time.process_time() - t0)
    logger.dump(step)
    row = {"step": step, **res, "cpu_s": round(time.process_time(), 2)}
    _append_csv(run_dir / "eval.csv", row)
    return row


def selection_score(row: dict[str, Any]) -> float:
    """What selects the best model: the exact long-run cost where it is known and finite (Zipkin instances),
    else the validation cost. An untrained policy's exact cost is often ``inf`` (its chain leaves the capped
    states); scoring those ``inf`` kept the first evaluation's model as the best of a short run."""
    exact = row.get("exact_avg_cost")
    score = float(exact) if exact is not None and math.isfinite(exact) else float(row["avg_cost"])
    return math.inf if math.isnan(score) else score  # a NaN would never be replaced (NaN < x is false)


def best_eval_row(run_dir: Path) -> dict[str, Any] | None:
    """The eval.csv row of the model that best_model.* holds: the first row of the lowest selection score (a later
    evaluation replaces the best model only when its score is strictly lower); None without rows."""
    path = run_dir / "eval.csv"
    if not path.is_file():
        return None
    best, best_score = None, math.inf
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        try:
            score = selection_score({k: (float(v) if v not in ("", None) else None) for k, v in row.items()
                                     if k in ("avg_cost", "exact_avg_cost")})
            int(float(row["step"]))
        except (TypeError, ValueError, KeyError):
            continue  # a torn line
        if best is None or score < best_score:
            best, best_score = row, score
    return best


def _append_csv(path: Path, row: dict[str, Any]) -> None:
    old = path.read_text() if path.exists() else ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(row))
    if not old:
        w.writeheader()
    w.writerow(row)
    atomic_write_text(path, old + buf.getvalue())


def tensorboard_logger(run_dir: Path):
    """SB3's TensorBoard logger on ``run_dir/tb``. A failed write in TensorBoard's writer thread (the run folder
    turned read-only, a full disk) is raised again in the training thread at its next write, which train.py
    reports in one line; the thread's own traceback is not printed as well (:func:`_quiet_writer_thread`)."""
    _quiet_writer_thread()
    return configure(str(run_dir / "tb"), ["tensorboard"])


def _quiet_writer_thread() -> None:
    import threading

    prev = threading.excepthook
    if getattr(prev, "invrl_quiet_writer", False):
        return

    def hook(args) -> None:
        if type(args.thread).__name__ == "_AsyncWriterThread" and isinstance(args.exc_value, OSError):
            return  # tensorboard.summary.writer.event_file_writer: the writer raises it on the next write
        prev(args)

    hook.invrl_quiet_writer = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _writers(logger):
    return [fmt.writer for fmt in logger.output_formats if isinstance(fmt, TensorBoardOutputFormat)]


def log_run_texts(logger, cfg: TrainConfig, norm: Normalization) -> None:
    """The config and the normalisation as TensorBoard text tables (TEXT tab), at the start of a run."""
    for writer in _writers(logger):
        writer.add_text("config", cfg.markdown(), 0)
        writer.add_text("normalization", "```\n" + json.dumps(norm.to_dict(), indent=1) + "\n```", 0)
        writer.flush()


DIVERGED = 1.5
"""A best validation cost above this multiple of the strongest rule's is reported as a failed training."""


def training_warning(best_cost: float, best_baseline: str | None, best_baseline_cost: float | None) -> str | None:
    """One line when the best model's validation cost is more than :data:`DIVERGED` x the strongest classical
    rule's (or not finite): the agent diverged or did not learn the problem, and must not pass for a result."""
    if best_baseline_cost is None or best_baseline_cost <= 0:
        return None
    if math.isfinite(best_cost) and best_cost <= DIVERGED * best_baseline_cost:
        return None
    gap = f"{100 * (best_cost / best_baseline_cost - 1):.0f} % above" if math.isfinite(best_cost) else "not below"
    return (f"warning: the best validation cost {best_cost:.4f} is {gap} the strongest classical rule "
            f"{best_baseline} ({best_baseline_cost:.4f}): this training diverged or did not learn the problem; do "
            "not deploy this model (more steps, another preset, or an action range that reaches the rule's orders)")


def log_verdict(logger, validation: Validation, step: int) -> None:
    """The strongest classical rule on the validation traces and every rule's cost (the ``verdict`` text)."""
    for writer in _writers(logger):
        rows = "\n".join(f"| {n} | {c:.4f} |" for n, c in sorted(validation.baselines.items(), key=lambda x: x[1]))
        writer.add_text("verdict", f"strongest classical rule on the validation traces ({validation.label}): "
                        f"**{validation.best_baseline}** {validation.best_baseline_cost:.4f}; "
                        "`eval/gap_to_best_baseline_pct` is the agent's gap to it.\n\n| rule | validation "
                        f"cost |\n|---|---|\n{rows}", step)
        writer.flush()


class AtomicCheckpoint(_Every):
    """Every `freq` steps: checkpoint/model.zip (weights, optimiser state, step count), the replay buffer for
    off-policy algorithms and state.json, each written atomically (the state file last)."""

    def __init__(self, run_dir: Path, freq: int, eval_cb: EvalOnTraces):
        super().__init__()
        self.dir = run_dir / "checkpoint"
        self.freq = freq
        self.eval_cb = eval_cb

    def fire(self) -> None:
        self.save()

    def save(self) -> None:
        if hasattr(self.model, "replay_buffer") and self.model.replay_buffer is not None:
            atomic_save_replay_buffer(self.model, self.dir / "replay_buffer.pkl")
        atomic_save_model(self.model, self.dir / "model.zip")
        atomic_write_text(self.dir / "state.json", json.dumps(
            {"num_timesteps": int(self.model.num_timesteps), "best_cost": self.eval_cb.best_cost}))


class ProgressLines(_Every):
    """Outside a terminal (a log file, CI, nohup): one line every `freq` steps, with the steps done, the CPU
    seconds of this process and the latest validation cost (the tqdm bar needs a terminal)."""

    def __init__(self, total: int, freq: int, eval_cb: EvalOnTraces, log=print):
        super().__init__()
        self.total, self.freq, self.eval_cb, self.log = total, freq, eval_cb, log
        self.t0 = time.process_time()

    def fire(self) -> None:
        last = self.eval_cb.last
        val = f"latest validation cost {last['avg_cost']:.4f}" if last else "no validation yet"
        self.log(f"step {self.num_timesteps:,} of {self.total:,}, {time.process_time() - self.t0:.1f} CPU-s, {val}")
        sys.stdout.flush()


class ProgressBar(BaseCallback):
    """tqdm progress bar over environment steps (SB3's own bar needs `rich`)."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total
        self.bar = None

    def _on_training_start(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=self.total, initial=self.num_timesteps, unit="step", unit_scale=True,
                        desc="training", dynamic_ncols=True)

    def _on_step(self) -> bool:
        self.bar.update(self.num_timesteps - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        self.bar.close()


# ----------------------------------------------------------------------------------------- training
def make_vec_env(problem: Problem, cfg: TrainConfig, norm: Normalization):
    """The training VecEnv: the envs compute the run's reward (``reward=norm.reward()``), the wrappers of
    :mod:`agents.normalization` normalise the observations."""
    if cfg.vec_env == "vector":
        return normalized_vec_env(problem, cfg.n_envs, norm)
    sc = problem.scenario

    def make():
        return Monitor(normalized_env(sc, norm))

    fns = [make for _ in range(cfg.n_envs)]
    if cfg.vec_env == "subproc":
        return SubprocVecEnv(fns, start_method="fork")
    return DummyVecEnv(fns)


def _hyperparams(cfg: TrainConfig) -> dict[str, Any]:
    hp = copy.deepcopy(cfg.hyperparams)
    lr = float(hp.pop("learning_rate", 3e-4))
    hp["learning_rate"] = LinearSchedule(lr) if cfg.lr_schedule == "linear" else lr
    pk = hp.get("policy_kwargs") or {}
    if cfg.algorithm != "QRDQN":
        pk.pop("n_quantiles", None)
    if "activation_fn" in pk and isinstance(pk["activation_fn"], str):
        pk["activation_fn"] = getattr(torch.nn, pk["activation_fn"])
    if pk:
        hp["policy_kwargs"] = pk
    return hp


@dataclass
class TrainResult:
    run_dir: Path
    num_timesteps: int
    cpu_s: float
    final_eval: dict[str, Any]
    best_cost: float
    exact_cost: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def train(cfg: TrainConfig, run_dir: str | Path, command: str = "", resume: bool = False,
          log=print) -> TrainResult:
    """Train (or resume) a run into `run_dir`. Returns the final evaluation on the validation traces."""
    if cfg.algorithm == "HDPO":
        from .hdpo import train_hdpo

        if Problem(cfg.scenario, **cfg.scenario_overrides).ops:
            raise ScenarioError(f"--algo hdpo: its differentiable twin (agents/twin.py) does not model random lead "
                                f"times, perishable stock or shared limits, which scenario {cfg.scenario!r} has; "
                                "train it with --algo ppo or dqn")

        return train_hdpo(cfg, run_dir, command, resume=resume, log=log)
    t_start = time.process_time()
    run_dir = Path(run_dir)
    torch.set_num_threads(cfg.torch_threads)
    device = resolve_device(cfg.device)
    problem = Problem(cfg.scenario, **cfg.scenario_overrides)
    action = problem.scenario.action
    if cfg.algorithm != "PPO" and action.mode == "continuous":
        raise PresetError(f"{cfg.algorithm} needs a discrete action (action.mode units, order_up_to or reorder_point), "
                          "the scenario has action.mode continuous")
    cls = algorithm_class(cfg.algorithm)
    best_cost = float("inf")
    if resume:
        ckpt = run_dir / "checkpoint" / "model.zip"
        _, best_cost, norm = read_checkpoint(run_dir, ckpt)
        append_command(run_dir, command)
    else:
        norm = build_normalization(problem, cfg)
        write_run_files(run_dir, cfg, problem.scenario.to_dict(), norm, command, device)
    venv = make_vec_env(problem, cfg, norm)
    if resume:
        try:
            model = cls.load(str(ckpt), env=venv, device=device)
        except Exception as e:  # a corrupt zip raises many kinds of errors
            raise RunError(f"{ckpt}: cannot load the checkpoint ({type(e).__name__}: {e})") from None
        model.set_random_seed(cfg.seed + model.num_timesteps)
        rb = run_dir / "checkpoint" / "replay_buffer.pkl"
        if hasattr(model, "replay_buffer") and rb.is_file():
            model.load_replay_buffer(str(rb))
        log(f"resuming {run_dir} at step {model.num_timesteps:,} of {cfg.timesteps:,}")
    else:
        try:
            model = cls("MlpPolicy", venv, seed=cfg.seed, device=device, verbose=0, **_hyperparams(cfg))
        except (AssertionError, ValueError, TypeError) as e:  # SB3 checks hyperparameters with assert
            msg = " ".join(str(e).split())[:300]
            raise PresetError(f"{cfg.algorithm} rejects the hyperparameters (hp.*): {msg}") from None
    logger = tensorboard_logger(run_dir)
    model.set_logger(logger)
    if not resume:
        log_run_texts(logger, cfg, norm)
    validation = Validation.build(problem, cfg)
    log_verdict(logger, validation, model.num_timesteps)
    eval_cb = EvalOnTraces(problem, validation, norm, action, run_dir, cfg.eval_freq, best_cost)
    checkpoint = AtomicCheckpoint(run_dir, cfg.checkpoint_freq, eval_cb)
    callbacks = [eval_cb, checkpoint]
    if cfg.progress and sys.stderr.isatty():
        callbacks.append(ProgressBar(cfg.timesteps))
    elif cfg.progress:
        callbacks.append(ProgressLines(cfg.timesteps, max(cfg.timesteps // 20, 1), eval_cb, log))
    remaining = max(cfg.timesteps - model.num_timesteps, 0)
    if remaining:
        try:
            model.learn(total_timesteps=remaining, callback=CallbackList(callbacks), reset_num_timesteps=not resume,
                        progress_bar=False)
        except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, which train.py turns into one): keep what was learnt
            checkpoint.init_callback(model)
            checkpoint.save()
            raise TrainingInterrupted(run_dir, int(model.num_timesteps), cfg.timesteps) from None
    eval_cb.init_callback(model)
    # init_callback leaves num_timesteps at 0: a finished run resumed with no steps left logged its final
    # evaluation at step 0
    eval_cb.num_timesteps = model.num_timesteps
    last = eval_cb.last  # a periodic evaluation at the last step is the final one (not a second eval.csv row)
    if resume and not remaining:  # a finished run resumed: its final evaluation is done again, not twice listed
        trim_eval_csv(run_dir, model.num_timesteps - 1)
    final = last if last is not None and last["step"] == model.num_timesteps else eval_cb.run_eval()
    atomic_save_model(model, run_dir / "model.zip")
    exact = None
    if validation.optimum is not None:
        best = AgentPolicy(load_policy_weights(run_dir / "best_model.npz", cfg.algorithm), norm, action)
        exact = exact_cost(best, problem)
        if exact is not None:
            atomic_write_text(run_dir / "exact_cost.json", json.dumps(
                {"best_model_exact_avg_cost": exact, "optimum": validation.optimum,
                 "gap_to_optimal_pct": 100 * (exact - validation.optimum) / validation.optimum,
                 "base_stock_validation_cost": validation.base_stock_cost}))
    warning = training_warning(eval_cb.best_cost, validation.best_baseline, validation.best_baseline_cost)
    if warning:
        for writer in _writers(logger):
            writer.add_text("warning", warning, int(model.num_timesteps))
            writer.flush()
    venv.close()
    logger.close()
    return TrainResult(run_dir, int(model.num_timesteps), time.process_time() - t_start, final,
                       eval_cb.best_cost, exact, {"validation": validation.label,
                                                  "base_stock_cost": validation.base_stock_cost,
                                                  "best_baseline": validation.best_baseline,
                                                  "best_baseline_cost": validation.best_baseline_cost,
                                                  "verdict": validation.verdict(best_eval_row(run_dir), final),
                                                  "optimum": validation.optimum})


def resume_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder {path} does not exist")
    return read_config(path)
