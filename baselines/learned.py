"""Learned forecasters as baselines: one global model per data set, trained on every SKU's fit window, feeding
the order-up-to rule of :mod:`baselines.forecast` (the rules a planning team runs since the M5 competition).

``lgbm_quantile``   :class:`LGBMForecast`: one LightGBM model for all SKUs (Ke et al. 2017, "LightGBM: a highly
                    efficient gradient boosting decision tree", NeurIPS), on lags, rolling means and deviations,
                    intermittency and calendar features (:class:`invcore.forecast_features.Features`, one
                    definition for fitting, evaluation and ``deploy.recommend``);
``gru_quantile``    :class:`GRUForecast`: one small torch GRU for all SKUs (Cho et al. 2014), fed the scaled
                    demand and the calendar period by period.

Both predict the mean demand per period over each SKU's protection interval t .. t + L (``F_t(L+1)`` =
``(L+1)`` times it, the target of a training row being ``(y_t + ... + y_{t+L}) / (L+1)``, in units of the SKU's
expanding mean), and order up to ``S_t = F_t(L+1) + Q(level)``: the empirical quantile of the model's own
(L+1)-period errors on the fit window at the critical ratio p / (p + h) (``SafetyStock.ERROR_QUANTILE`` of
:mod:`baselines.forecast`, the machinery of ``ma_quantile`` etc.). ``*_quantile_tuned`` chooses one level of
``LEVEL_GRID`` for all SKUs on the validation window (``ForecastPolicy._tune_level``: the model is refitted on the
train window alone and the rule simulated on the validation window for each level; the test window is never read).
The alternative -- LightGBM's quantile objective at the critical ratio, no safety stock on top
(``LGBMForecast(objective="quantile")``, not in the registry) -- measured by ``benchmarks/learned.py`` against
``lgbm_quantile``: dearer on carparts (3.1333 vs 3.0948 per SKU-period) and man_weekly (23.3147 vs 22.9755),
cheaper on m5_tiny (9.0848 vs 9.9614; also below ``lgbm_quantile_tuned``'s 9.4021, still above
``holt_winters_quantile_tuned``'s 8.7101). The registry keeps the mean plus the residual quantile: it wins on two
of three, and its level can be tuned on validation without refitting the model for each level.

Known covariates: a scenario with ``data: covariates:`` (M5's price, snap and event columns; loaded by
:func:`envs.data.load_covariates`) adds the covariate columns of :mod:`invcore.forecast_features` to both models'
inputs -- the mean price over the periods being planned against its recent mean and its log, the share of
SNAP / event days among them: values known when the order is placed, so the features of period t read the
covariates of t .. t + L and earlier, and demand before t only. On m5_tiny they leave the test cost where it was
(README: lgbm_quantile_tuned 9.4252 with, 9.4021 without; paired +0.25 ±0.68 %).

Exported for ``deploy.recommend`` by ``agents.export --baseline``: LightGBM as a JSON file (its text model,
:meth:`LGBMForecast.export_payload`), the GRU as an ONNX file (:meth:`GRUForecast.gru_weights`,
``agents.export.build_gru_onnx``); :mod:`deploy.learned` rebuilds the level from the history (and covariates).

Causal by construction: the training rows and the policy's targets come from the same engine
(:class:`_FeatureEngine`, :class:`_GRUEngine`) stepped over the demand one period at a time, so the features of
period t are made from ``y_0 .. y_{t-1}`` only (tests/test_learned.py checks that changing demand from t on leaves
them unchanged, and that the fitted models do not depend on the test window). Seeded and deterministic on CPU
(LightGBM ``deterministic``, one thread; torch one thread, ``torch.manual_seed``).

Fitted once per evaluation: the fitted model is kept in the training data's cache (``TrainData.cache``) under
its settings, so ``lgbm_quantile`` and ``lgbm_quantile_tuned`` share one fit on the fit window (the tuned rule
adds one on the train window). Not SKU-separable (one model learns across SKUs): a chunked evaluation fits them
whole. Optional in an evaluation like every rule: ``--policies`` names the rules to run.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import numpy as np

from envs.problem import Problem
from invcore.forecast_features import CovariateTable, Features
from invcore.forecast_features import gru_inputs as _gru_inputs
from invcore.forecast_features import scale as _scale

from .base import TrainData
from .forecast import ForecastPolicy, SafetyStock, season_length
from .tuning import critical_ratio

__all__ = ["LEARNED_POLICIES", "Features", "GRUForecast", "LGBMForecast"]


# ============================================================================================= features


def features_for(problem: Problem) -> tuple[Features, np.ndarray, CovariateTable | None]:
    """The features of a problem (:class:`invcore.forecast_features.Features`, for its season length,
    :func:`baselines.forecast.season_length`; calendar from the data's dates, phase for parametric demand; the
    data's known covariates, ``data: covariates:``), their calendar table by calendar row and the covariates'
    table [SKU, calendar row] (None without covariates)."""
    src = problem.source
    data = getattr(src, "data", None)
    cov = getattr(src, "covariates", None)
    spec = Features.for_season(season_length(problem), dated=data is not None,
                               daily=bool(getattr(src, "daily_calendar", False)),
                               covariates=() if cov is None else tuple(zip(cov.names, cov.kinds, strict=True)))
    table = None if cov is None else CovariateTable(cov.names, cov.values)
    return spec, spec.calendar_table(None if data is None else data.dates), table


def _calendar_rows(spec: Features, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    if spec.dated:
        return table[np.clip(row, 0, table.shape[0] - 1)]
    return table[row % max(spec.season, 1)] if spec.n_calendar else np.zeros((row.shape[0], 0))


def _known(spec: Features, table: np.ndarray, cov: CovariateTable | None, sku: np.ndarray, row: np.ndarray,
           horizon: np.ndarray) -> np.ndarray:
    """What is known in advance about origin `row` (calendar row) of SKUs `sku` with L + 1 = `horizon`: its
    calendar features and the covariate columns of its protection interval [M, n_calendar + covariates]."""
    cal = _calendar_rows(spec, table, row)
    if not spec.covariates:
        return cal
    return np.concatenate([cal, spec.covariate_features(cov, sku, row, horizon)], axis=1)


class _FeatureEngine:
    """The demand seen so far by N columns (last ``window`` values, expanding sum and count, calendar row of the
    next period) and a forecast from a model of the features: a forecaster engine of :mod:`baselines.forecast`
    (update / forecast, flat: the same per-period forecast for every horizon, the mean over L + 1)."""

    flat = True

    def __init__(self, spec: Features, table: np.ndarray, cov: CovariateTable | None, sku: np.ndarray,
                 horizon: np.ndarray, row0: np.ndarray, predict=None):
        n = horizon.shape[0]
        self.spec, self.table, self.cov, self.predict = spec, table, cov, predict
        self.sku = np.asarray(sku, dtype=np.int64)
        self.horizon = np.asarray(horizon, dtype=np.int64)
        self.buf = np.full((n, spec.window), np.nan)
        self.total = np.zeros(n)
        self.count = np.zeros(n)
        self.row = np.asarray(row0, dtype=np.int64).copy()
        self._cached: np.ndarray | None = None

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        self._cached = None
        y = np.asarray(y, dtype=np.float64)
        if idx is None:
            self.buf[:, :-1] = self.buf[:, 1:]
            self.buf[:, -1] = y
            self.total += y
            self.count += 1
            self.row += 1
            return
        b = self.buf[idx]
        b[:, :-1] = b[:, 1:]
        b[:, -1] = y[idx]
        self.buf[idx] = b
        self.total[idx] += y[idx]
        self.count[idx] += 1
        self.row[idx] += 1

    def features(self) -> tuple[np.ndarray, np.ndarray]:
        return self.spec.compute(self.buf, self.total, self.count, self.horizon,
                                 _known(self.spec, self.table, self.cov, self.sku, self.row, self.horizon))

    def forecast(self, hmax: int) -> np.ndarray:
        if self._cached is None:
            X, scale = self.features()
            self._cached = np.maximum(self.predict(X), 0.0) * scale
        return self._cached


# ============================================================================================= policies


class _LearnedForecast(ForecastPolicy):
    """A global model of the mean demand per period over L + 1 (see the module docstring), fitted in
    ``_prepare`` on rows built by stepping the policy's own engine over each SKU's fit window (a row for every
    period t >= 1 with t + L + 1 inside the window: features of y_0 .. y_{t-1}, target the scaled mean of
    y_t .. y_{t+L}); at most ``max_rows`` rows (a seeded uniform sample beyond)."""

    sku_separable = False  # one model for all SKUs
    model_label = "model"

    def __init__(self, *, seed: int = 0, max_rows: int = 1_000_000, **kw):
        kw.setdefault("safety", SafetyStock.ERROR_QUANTILE)
        super().__init__(**kw)
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.seed, self.max_rows = int(seed), int(max_rows)

    # --------------------------------------------------------------------------------- the fitted model
    def _settings(self) -> tuple:
        """What the fitted model depends on besides the training data (the cache key)."""
        return (type(self).__name__, self.seed, self.max_rows, self.fit_periods)

    def _prepare(self) -> None:
        key = ("learned",) + self._settings()
        hit = self._train.cache.get(key)
        if hit is None or hit[0] is not self.problem:
            import time

            t0 = time.process_time()
            X, y, rows = self._training_rows()
            if rows == 0:
                raise ValueError(f"{self.name}: no SKU has a fit window longer than its lead time + 1: nothing to "
                                 "learn from")
            hit = (self.problem, self._fit_model(X, y), rows, time.process_time() - t0)
            self._train.cache[key] = hit
        self.model, self.n_rows, self.model_cpu_s = hit[1], hit[2], hit[3]

    def _training_rows(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Features [R, F], targets [R] (scaled mean over L + 1) and the number of rows there were before
        sampling, from the engine stepped over the fit window ``self._Y``."""
        n = self.problem.n_skus
        sku = np.arange(n)
        engine = self._make_engine(sku, np.zeros((n, 0)), self._offset)
        H = self._lead + 1
        nobs = self._nobs
        T = int(nobs.max(initial=0))
        cum = np.zeros((T + 1, n))
        np.cumsum(self._Y[:T], axis=0, out=cum[1:])
        valid = (np.arange(T)[:, None] >= 1) & (np.arange(T)[:, None] + H[None, :] <= nobs[None, :])
        total = int(valid.sum())
        if total > self.max_rows:  # a seeded uniform sample of the rows
            rng = np.random.default_rng(self.seed)
            valid &= rng.random(valid.shape) < self.max_rows / total
        Xs, ys = [], []
        for t in range(T):
            cols = np.flatnonzero(valid[t])
            if cols.size:
                X, scale = self._origin_inputs(engine, cols)
                Xs.append(X)
                end = t + H[cols]
                ys.append((cum[end, cols] - cum[t, cols]) / H[cols] / scale)
            engine.update(self._Y[t])
        if not Xs:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.float32), 0
        return np.concatenate(Xs), np.concatenate(ys).astype(np.float32), total

    def _origin_inputs(self, engine, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, scale = engine.features()
        return X[cols], scale[cols]

    def _fit_model(self, X: np.ndarray, y: np.ndarray):
        raise NotImplementedError

    def _model_text(self) -> str:
        # no CPU-s here: a description is a fact of the fit (the same in a chunked evaluation); ``model_cpu_s`` has it
        cov = getattr(self.problem.source, "covariates", None)
        known = "" if cov is None else ", covariates " + ", ".join(
            f"{c} ({k})" for c, k in zip(cov.names, cov.kinds, strict=True))
        return f"{self.model_label} on {self.n_rows:,} rows of all SKUs{known}"


class LGBMForecast(_LearnedForecast):
    """One LightGBM regression model for all SKUs on :class:`Features` (the module docstring).

    ``objective``: ``"mean"`` (L2 on the scaled target; safety stock = the residual quantile, the registry's
    rules) or ``"quantile"`` (LightGBM's quantile loss at the median critical ratio p / (p + h) over the SKUs;
    the prediction is then the order-up-to level itself, no safety stock on top; untuned only). ``rounds``
    boosting rounds of ``num_leaves`` leaves at ``learning_rate``, one thread, deterministic."""

    base_name = "lgbm"
    model_label = "LightGBM"

    def __init__(self, *, objective: str = "mean", rounds: int = 300, learning_rate: float = 0.05,
                 num_leaves: int = 31, min_data_in_leaf: int = 100, **kw):
        super().__init__(**kw)
        if objective not in ("mean", "quantile"):
            raise ValueError(f"objective must be 'mean' or 'quantile', got {objective!r}")
        if objective == "quantile" and self.tuned:
            raise ValueError("the quantile objective predicts the level itself: it has no tuned variant")
        self.objective, self.rounds, self.learning_rate = objective, int(rounds), float(learning_rate)
        self.num_leaves, self.min_data_in_leaf = int(num_leaves), int(min_data_in_leaf)
        if objective == "quantile":
            self.name = "lgbm_quantile_objective"

    def _settings(self) -> tuple:
        alpha = float(np.median(critical_ratio(self.problem))) if self.objective == "quantile" else None
        return super()._settings() + (self.objective, alpha, self.rounds, self.learning_rate, self.num_leaves,
                                      self.min_data_in_leaf)

    def _params(self) -> dict:
        p = {"objective": "l2", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
             "min_data_in_leaf": self.min_data_in_leaf, "feature_fraction": 0.9, "bagging_fraction": 0.8,
             "bagging_freq": 1, "lambda_l2": 1.0, "seed": self.seed, "deterministic": True, "num_threads": 1,
             "force_row_wise": True, "verbosity": -1}
        if self.objective == "quantile":
            p.update(objective="quantile", alpha=float(np.median(critical_ratio(self.problem))))
        return p

    def _fit_model(self, X, y):
        import lightgbm as lgb

        ds = lgb.Dataset(X, y, feature_name=self._spec()[0].names, free_raw_data=True)
        return lgb.train(self._params(), ds, num_boost_round=self.rounds)

    def _spec(self) -> tuple[Features, np.ndarray, CovariateTable | None]:
        spec = getattr(self, "_features", None)
        if spec is None or getattr(self, "_features_for", None) is not self.problem:
            spec = features_for(self.problem)
            self._features, self._features_for = spec, self.problem
        return spec

    def _make_engine(self, sku, theta, count):
        row0 = self._train_start[sku] + count
        model = getattr(self, "model", None)
        predict = None if model is None else partial(model.predict, num_threads=1)
        return _FeatureEngine(*self._spec(), sku, self._lead[sku] + 1, row0, predict)

    def fit(self, problem: Problem, train: TrainData) -> LGBMForecast:
        if self.objective == "mean":
            return super().fit(problem, train)
        self._fit_forecaster(problem, train)
        n = problem.n_skus
        self.level = np.full(n, float(np.median(critical_ratio(problem))))
        self.error_count = np.zeros(n, dtype=np.int64)
        self.safety_stock = np.zeros(n)
        self.holdout_costs = {}
        return self

    def _describe_quantile(self, model: str) -> str:
        if self.objective == "quantile":
            return (f"{self.name}: S = LightGBM's quantile of D(L+1) at the median critical ratio "
                    f"{self.level[0]:g} (quantile loss), no safety stock on top; {model}")
        return super()._describe_quantile(model)

    def model_text(self) -> str:
        """The fitted booster in LightGBM's own text format (what ``agents.export`` writes)."""
        return self.model.model_to_string()

    def export_payload(self) -> dict:
        """What a deployed policy needs besides the SKU table (``agents.export --baseline lgbm_quantile``,
        ``kind: lgbm``; :mod:`deploy.learned` reads it): the features, the booster as LightGBM text (loaded
        with ``lightgbm.Booster(model_str=...)``, no pickle), each SKU's safety stock and the lead times it
        was computed for. Target: S = (L + 1) max(model(features), 0) s + safety stock."""
        if self.objective != "mean":
            raise ValueError("only the mean objective (lgbm_quantile, lgbm_quantile_tuned) is exported")
        spec = self._spec()[0]
        if not spec.dated:
            raise ValueError("a parametric scenario has no dates for the calendar features: export a data scenario")
        return {"features": spec.to_json(), "model": self.model_text(), "freq": self.problem.source.data.freq,
                "safety_stock": [float(v) for v in self.safety_stock],
                "rule": "order up to S = (L+1) * max(model(features of the history), 0) * s + safety_stock, s = the "
                        "SKU's mean demand over its history (invcore.forecast_features)"}


class _GRUEngine:
    """A GRU's hidden state over the demand seen so far by N columns (a forecaster engine, flat): after each
    value y_t it steps the GRU on :func:`_gru_inputs`; the forecast is the head's mean per period over L + 1
    (in units of the expanding mean) times the expanding mean."""

    flat = True

    def __init__(self, net, sku: np.ndarray, horizon: np.ndarray, row0: np.ndarray, spec: Features, table: np.ndarray,
                 cov: CovariateTable | None):
        import torch

        n = horizon.shape[0]
        self.net, self.spec, self.table, self.cov = net, spec, table, cov
        self.sku = np.asarray(sku, dtype=np.int64)
        self.horizon = np.asarray(horizon, dtype=np.int64)
        self.lh = np.log1p(np.asarray(horizon, dtype=np.float64))
        self.h = torch.zeros(1, n, net.hidden)
        self.total = np.zeros(n)
        self.count = np.zeros(n)
        self.row = np.asarray(row0, dtype=np.int64).copy()
        self._cached: np.ndarray | None = None

    def update(self, y: np.ndarray, idx: np.ndarray | None = None) -> None:
        import torch

        self._cached = None
        y = np.asarray(y, dtype=np.float64)
        r = slice(None) if idx is None else np.asarray(idx, dtype=np.int64)
        self.total[r] += y[r]
        self.count[r] += 1
        self.row[r] += 1
        x = _gru_inputs(y[r], self.total[r], self.count[r],
                        _known(self.spec, self.table, self.cov, self.sku[r], self.row[r], self.horizon[r]))
        with torch.no_grad(), _one_thread():
            _, h = self.net.gru(torch.from_numpy(x)[None], self.h[:, r])
        self.h[:, r] = h

    def forecast(self, hmax: int) -> np.ndarray:
        if self._cached is None:
            import torch

            with torch.no_grad(), _one_thread():
                out = self.net.head_out(self.h[0], torch.from_numpy(self.lh.astype(np.float32))).numpy()
            self._cached = np.maximum(out.astype(np.float64), 0.0) * _scale(self.total, self.count)
        return self._cached


@contextmanager
def _one_thread():
    """torch on one thread for the block: the GRU's steps are small (one period of a few hundred SKUs), and
    torch's default thread pool made them cost 6 x the CPU (m5_tiny fit: 58.1 vs 9.4 CPU-s on 2 cores)."""
    import torch

    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _gru_net(d: int, hidden: int):
    import torch
    from torch import nn

    class Net(nn.Module):
        """GRU over the inputs, a linear head on [hidden state, log1p(L + 1)]."""

        def __init__(self):
            super().__init__()
            self.hidden = hidden
            self.gru = nn.GRU(d, hidden)
            self.head = nn.Linear(hidden + 1, 1)

        def head_out(self, h, lh):
            return self.head(torch.cat([h, lh.reshape(-1, 1).expand(h.shape[0], 1)], dim=-1))[..., 0]

    return Net()


class GRUForecast(_LearnedForecast):
    """One small GRU (``hidden`` units, one layer, a linear head) for all SKUs, trained on the fit window.

    Training: ``steps`` Adam steps (learning rate ``lr``), each on ``batch`` SKUs drawn with replacement
    (seeded), over a crop of ``crop`` periods of their series (the first ``warmup`` periods of a crop that
    does not start at the series' start are not scored: the hidden state starts at 0 there); loss: the mean
    squared error of the scaled mean over L + 1 (target after y_t: (y_{t+1} + ... + y_{t+L+1}) / (L+1) / s_t).
    A fixed CPU budget: the number of steps, not a time limit, so the fit is deterministic; one torch thread
    (``torch.set_num_threads(1)``)."""

    base_name = "gru"
    model_label = "GRU"

    def __init__(self, *, hidden: int = 32, steps: int = 300, batch: int = 64, crop: int = 128, warmup: int = 16,
                 lr: float = 3e-3, **kw):
        super().__init__(**kw)
        self.hidden, self.steps, self.batch, self.crop, self.warmup, self.lr = (
            int(hidden), int(steps), int(batch), int(crop), int(warmup), float(lr))

    def _settings(self) -> tuple:
        return super()._settings() + (self.hidden, self.steps, self.batch, self.crop, self.warmup, self.lr)

    def _make_engine(self, sku, theta, count):
        return _GRUEngine(self.model, sku, self._lead[sku] + 1, self._train_start[sku] + count,
                          *features_for(self.problem))

    def _training_rows(self):
        """Inputs [T, n, d] and targets [T, n] (NaN where none) of the whole fit window (the GRU trains on
        sequences, not rows)."""
        spec, table, cov = features_for(self.problem)
        Y = self._Y
        T, n = Y.shape
        H = self._lead + 1
        mask = np.arange(T)[:, None] < self._nobs[None, :]
        total = np.cumsum(Y, axis=0)
        count = np.cumsum(mask, axis=0).astype(np.float64)
        row = self._train_start[None, :] + self._offset[None, :] + np.arange(T)[:, None] + 1
        sku = np.broadcast_to(np.arange(n)[None, :], (T, n)).reshape(-1)
        cal = _known(spec, table, cov, sku, row.reshape(-1), H[sku]).reshape(T, n, -1)
        X = _gru_inputs(Y, total, count, cal)
        cum = np.zeros((T + 1, n))
        cum[1:] = total
        end = np.arange(T)[:, None] + 1 + H[None, :]
        ok = end <= self._nobs[None, :]
        target = (np.take_along_axis(cum, np.minimum(end, T), axis=0) - cum[1:]) / H[None, :] / _scale(total, count)
        target = np.where(ok, target, np.nan).astype(np.float32)
        return X, target, int(ok.sum())

    def _fit_model(self, X, target):
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(self.seed)
            rng = np.random.default_rng(self.seed)
            T, n, d = X.shape
            net = _gru_net(d, self.hidden)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr)
            lh = torch.from_numpy(np.log1p(self._lead + 1).astype(np.float32))
            has = np.flatnonzero(np.isfinite(target).any(axis=0))
            L = min(self.crop, T)
            for _ in range(self.steps):
                cols = has[rng.integers(0, has.size, self.batch)]
                last = np.flatnonzero(np.isfinite(target[:, cols]).any(axis=1)).max()
                s0 = int(rng.integers(0, max(last + 2 - L, 1)))
                x = torch.from_numpy(np.ascontiguousarray(X[s0:s0 + L, cols]))
                y = target[s0:s0 + L, cols].copy()
                if s0 > 0:
                    y[: self.warmup] = np.nan
                ok = torch.from_numpy(np.isfinite(y))
                if not bool(ok.any()):
                    continue
                out, _ = net.gru(x)
                pred = net.head_out(out.reshape(-1, self.hidden), lh[cols].repeat(out.shape[0])).reshape(out.shape[:2])
                yt = torch.from_numpy(np.nan_to_num(y))
                loss = ((pred - yt) ** 2)[ok].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            return net
        finally:
            torch.set_num_threads(threads)


    def gru_weights(self) -> dict[str, np.ndarray]:
        """The fitted GRU's and head's weights (float32, torch's names and gate order r, z, n) for the ONNX graph
        ``agents.export.build_gru_onnx`` builds."""
        return {k: v.detach().numpy().astype(np.float32) for k, v in self.model.state_dict().items()}

    def export_payload(self) -> dict:
        """What a deployed GRU policy needs besides the SKU table and the ONNX graph (``agents.export --baseline
        gru_quantile``, ``kind: gru``; :mod:`deploy.learned` reads it): the features (calendar, covariates),
        the hidden size, the period grid and each SKU's safety stock."""
        spec = features_for(self.problem)[0]
        if not spec.dated:
            raise ValueError("a parametric scenario has no dates for the calendar features: export a data scenario")
        return {"features": spec.to_json(), "gru": {"hidden": self.hidden}, "freq": self.problem.source.data.freq,
                "safety_stock": [float(v) for v in self.safety_stock],
                "rule": "order up to S = (L+1) * max(GRU head after the history, 0) * s + safety_stock, s = the "
                        "SKU's mean demand over its history (invcore.forecast_features.gru_inputs)"}


LEARNED_POLICIES = {
    "lgbm_quantile": LGBMForecast,
    "lgbm_quantile_tuned": partial(LGBMForecast, tuned=True),
    "gru_quantile": GRUForecast,
    "gru_quantile_tuned": partial(GRUForecast, tuned=True),
}
"""Name -> constructor of the learned-forecaster rules (merged into the evaluation registry)."""
