"""What MLPClassifier and MLPRegressor share: scikit-learn's training logic over jaxmlp.

The estimator's public attributes (``coefs_``, ``intercepts_``, ``n_iter_``,
``t_``, ``loss_curve_``, ...) are the state of record, as in scikit-learn: each
``fit``/``partial_fit`` builds a :class:`jaxmlp.sklearn._fit.State` from them,
runs one compiled program and writes the result back. So ``warm_start``,
``partial_fit`` and weights set by hand continue where they are.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple, cast

import jax
import numpy as np
import scipy.optimize
import scipy.special
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from jaxmlp import mlp, validation
from jaxmlp.batches import host_round_keys
from jaxmlp.sklearn import _fit as programs
from jaxmlp.sklearn import _params, _prefit
from jaxmlp.sklearn._data import (
    bucket,
    compute_dtype,
    concat_records,
    fine_bucket,
    init_opt_state,
    pad_weighted,
    to_params,
)

OUTPUT_UNITS = {
    "logistic": scipy.special.expit,
    "softmax": lambda z: scipy.special.softmax(z, axis=1),
    "identity": lambda z: z,
    "exp": np.exp,
}


HIDDEN_UNITS = {
    "identity": lambda s: s,
    "logistic": scipy.special.expit,
    "tanh": np.tanh,
    "relu": lambda s: np.maximum(s, 0),
}


class SolverState(NamedTuple):
    """The stochastic solver between calls: its current rate and optax state (NumPy leaves)."""

    learning_rate: float
    state: object


def rows_bucket(n: int) -> int:
    """The rows a stochastic fit's data is padded to: :func:`bucket` (a power of two)."""
    return bucket(n)


class BaseMLP(BaseEstimator):
    """scikit-learn's ``BaseMultilayerPerceptron`` semantics with jaxmlp's gradients."""

    _parameter_constraints: dict = dict(_params.CONSTRAINTS)

    # ---- subclass hooks ------------------------------------------------------
    def _validate_input(self, X, y, incremental, reset):  # pragma: no cover - abstract
        raise NotImplementedError

    def _output(self, Y) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- network -------------------------------------------------------------
    def network_params(self) -> mlp.Params:
        """The fitted network as jaxmlp params: ``Dense(W (out, in), b (out,))`` per layer.

        The way to save a fitted estimator's network without pickle:
        ``jaxmlp.io.save_params(path, est.network_params(), activation=est.activation)``.
        """
        return jax.device_put(self._params(np.asarray(self.coefs_[0]).dtype))

    def _params(self, dtype) -> mlp.Params:
        return to_params(self.coefs_, self.intercepts_, dtype)

    def _set_params(self, params, dtype) -> None:
        self.coefs_ = [np.asarray(layer.W, dtype).T.copy() for layer in params]
        self.intercepts_ = [np.asarray(layer.b, dtype).copy() for layer in params]

    def _units(self, X) -> np.ndarray:
        """(n, k) output units for validated X, computed in NumPy at X's dtype.

        Prediction is a few matrix products: NumPy row by row, so a row's prediction does
        not depend on the other rows of X (scikit-learn's subset/order invariance checks),
        which XLA's blocked CPU matmuls do not promise to the last bit.
        """
        h = _params.densify(X)
        hidden = HIDDEN_UNITS[self.activation]
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            h = h @ W.astype(X.dtype, copy=False) + b.astype(X.dtype, copy=False)
            if i < len(self.coefs_) - 1:
                h = hidden(h)
        return OUTPUT_UNITS[self.out_activation_](h)

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = validate_data(
                self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False
            )
        return self._units(X)

    def _initialize(self, Y, layer_units, dtype, random_state) -> None:
        """scikit-learn's initialisation, drawing the same numbers from the same RandomState."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output(Y)
        self.coefs_, self.intercepts_ = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:], strict=True):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(random_state.uniform(-bound, bound, fan_out).astype(dtype))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [i.copy() for i in self.intercepts_]
        if self.solver != "lbfgs":
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            self.validation_scores_: list[float] | None = None
            self.best_validation_score_: float | None = None
            self.best_loss_: float | None = np.inf
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_ = [], -np.inf
                self.best_loss_ = None

    # ---- fitting -------------------------------------------------------------
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = _params.hidden_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        X = _params.densify(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1], *hidden, self.n_outputs_]
        self._check_limits(X, layer_units)
        if not first_pass:
            fitted = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
            if fitted != layer_units:
                raise ValueError(
                    f"warm_start continues the fitted network of layer sizes {fitted}, but "
                    f"hidden_layer_sizes and the data now make {layer_units}: set "
                    "warm_start=False (or use a new estimator) to train that network"
                )
        random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_units, X.dtype, random_state)
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight, layer_units)
        else:
            self._fit_stochastic(X, Y, sample_weight, incremental, random_state)
        weights = [*self.coefs_, *self.intercepts_]
        if not all(np.isfinite(w).all() for w in weights):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large"
                " values and need to be preprocessed."
            )
        return self

    def _check_limits(self, X, layer_units) -> None:
        """jaxmlp's limits (:mod:`jaxmlp.validation`), before anything is allocated."""
        if self.max_iter > validation.MAX_STEPS:
            raise ValueError(
                f"max_iter must be <= MAX_STEPS = {validation.MAX_STEPS}, got {self.max_iter}"
            )
        try:
            validation.check_sizes(layer_units)
        except ValueError as e:
            raise ValueError(f"hidden_layer_sizes {self.hidden_layer_sizes!r}: {e}") from None
        dtype = compute_dtype(X.dtype)
        batch = 200 if self.batch_size == "auto" else self.batch_size
        rows = X.shape[0] if self.solver == "lbfgs" else min(X.shape[0], batch)
        training = validation.training_bytes(layer_units, rows=rows, itemsize=dtype.itemsize)
        # the program's data: X, Y and the weights padded to a bucket, and the epoch's copy
        data = 2 * rows_bucket(X.shape[0]) * (layer_units[0] + layer_units[-1] + 1)
        validation.check_memory(training + data * dtype.itemsize, "this fit")
        if X.dtype == dtype:  # validate_data checked X finite; only a narrowing cast can fail
            return
        try:  # float64 X beyond float32: lbfgs returned the untrained network for such X
            validation.check_inputs(X, X.shape[1], dtype=dtype)
        except ValueError as e:  # scikit-learn's words (its tests match them), then ours
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large"
                f" values and need to be preprocessed. (Refused before training: {e}.)"
            ) from None

    def _loss_scale(self) -> float:
        """scikit-learn reports the half squared error as a mean over outputs, others summed."""
        return 1.0 / self.n_outputs_ if self.out_activation_ == "identity" else 1.0

    def _hyper(self, dtype) -> programs.Hyper:
        values = (
            self.alpha,
            self.learning_rate_init,
            self.power_t,
            self.momentum,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.tol,
            self.n_iter_no_change,
            self._loss_scale(),
            programs.SCHEDULES.index(self.learning_rate),
        )
        return programs.Hyper(*(np.asarray(v, dtype) for v in values))  # jit converts

    def _static(self, batch_size: int, record_length: int, *, one_batch: bool) -> programs.Static:
        # options a program does not use are left out of its key: adam's Nesterov, one
        # batch's shuffle (the sgd schedule and every number are traced)
        return programs.Static(
            activation=_params.ACTIVATIONS[self.activation],
            output=self.out_activation_,
            solver=self.solver,
            nesterov=bool(self.nesterovs_momentum) and self.solver == "sgd",
            early_stopping=bool(self.early_stopping),
            shuffle=bool(self.shuffle) and not one_batch,
            batch_size=batch_size,
            record_length=record_length,
        )

    def _split(self, X, Y, sample_weight, random_state):
        """scikit-learn's validation split (stratified for single-output classifiers)."""
        from sklearn.model_selection import train_test_split  # early stopping only: 0.1 s of import

        stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
        X, X_val, Y, Y_val, w, w_val = train_test_split(
            X,
            Y,
            sample_weight,
            random_state=random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        return X, Y, w, X_val, Y_val, w_val

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be"
                " clipped",
                stacklevel=4,
            )
        return int(np.clip(self.batch_size, 1, n))

    def _fit_stochastic(self, X, Y, sample_weight, incremental, random_state):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        dtype = compute_dtype(X.dtype)
        hyper = self._hyper(dtype)
        weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
        if self.early_stopping:
            X, Y, weights, X_val, Y_val, w_val = self._split(X, Y, weights, random_state)
            size = fine_bucket(X_val.shape[0])  # one program per bucket of sizes
            X_val, Y_val, w_val = pad_weighted(size, X_val, Y_val, w_val)
        else:
            X_val, Y_val, w_val = X[:1], Y[:1], weights[:1]
        n_rows, batch_size = X.shape[0], self._batch_size(X.shape[0])
        padded_rows = rows_bucket(n_rows)
        one_batch = batch_size == n_rows
        if one_batch:  # one batch of the padded rows
            batch_size = padded_rows
        # rows padded with weight 0 to a bucket: a search's folds and refit, and partial_fit's
        # batches, share one program (the padding's batches are skipped in the program)
        X, Y, weights = pad_weighted(padded_rows, X, Y, np.asarray(weights))
        max_epochs = 1 if incremental else self.max_iter
        chunk = self._chunk_epochs(padded_rows)
        # partial_fit's one epoch runs in fit's program (records of one chunk's epochs)
        static = self._static(batch_size, bucket(chunk), one_batch=one_batch)
        params = self._params(dtype)
        if incremental and hasattr(self, "_optimizer"):
            opt_state, rate = self._optimizer.state, self._optimizer.learning_rate
        else:
            opt_state = init_opt_state(static, params)
            rate = self.learning_rate_init
        best = self.best_loss_ if getattr(self, "best_loss_", None) is not None else np.inf
        best_score = getattr(self, "best_validation_score_", None)
        best_params = params
        if hasattr(self, "_best_coefs"):
            best_params = to_params(self._best_coefs, self._best_intercepts, dtype)
        state = programs.State(
            params=params,
            opt_state=opt_state,
            learning_rate=np.asarray(rate, dtype),
            no_improvement=np.asarray(getattr(self, "_no_improvement_count", 0), np.int32),
            best_loss=np.asarray(best, dtype),
            best_score=np.asarray(-np.inf if best_score is None else best_score, dtype),
            best_params=best_params,
            samples_seen=np.asarray(self.t_, dtype),
        )
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        as_array = lambda a: np.asarray(a, dtype)  # noqa: E731
        data = tuple(as_array(a) for a in (X, Y, weights, X_val, Y_val, w_val))
        state, record, interrupted = self._run_chunks(
            state, hyper, data, seed, max_epochs, chunk, n_rows, static
        )
        self._store(state, record, dtype, incremental, X_dtype=X.dtype)
        if interrupted:  # the estimator holds the epochs that finished
            raise KeyboardInterrupt(
                f"fit interrupted after {self.n_iter_} of {max_epochs} epochs; the estimator "
                "holds the network after them"
            )

    def _chunk_epochs(self, padded_rows: int) -> int:
        """Epochs per compiled call: about ``validation.CHUNK_FLOPS`` of work (a second of
        one CPU core), so Ctrl-C, handled between calls, stops a fit within about that."""
        sizes = [self.coefs_[0].shape[0]] + [c.shape[1] for c in self.coefs_]
        # from the padded rows: the fits that share a row bucket share the chunk's program
        per_epoch = validation.step_flops(sizes, rows=padded_rows)
        return validation.chunk_length(self.max_iter, per_epoch)

    @staticmethod
    def _run_chunks(state, hyper, data, seed, max_epochs, chunk, n_rows, static):
        """``run_epochs`` in chunks of ``chunk`` epochs, each continuing the last exactly
        (the state, and the shuffle's round keys from the chunk's first epoch): ``(state, record,
        interrupted)`` with the record of every finished epoch. Ctrl-C ends the loop with
        the state after the last finished chunk (None: none finished, then it propagates)."""
        done_state, records, done = state, [], 0
        try:
            while done < max_epochs:
                length = min(chunk, max_epochs - done)
                keys = host_round_keys(seed, np.arange(done, done + static.record_length))
                new, record = programs.run_epochs(
                    done_state, hyper, *data, keys, np.int32(length), np.int32(n_rows),
                    static=static,
                )  # fmt: skip
                record = jax.device_get(record)
                epochs = int(record.epochs)
                # one assignment (no Ctrl-C between its stores): the state matches `done`
                done_state, records, done = new, [*records, record], done + epochs
                if epochs < length or (epochs and record.event[epochs - 1] == 2):
                    break  # stopped: converged, or early stopping
        except KeyboardInterrupt:
            if not records:
                raise
            return done_state, concat_records(records), True
        return done_state, concat_records(records), False

    def _store(self, state, record, dtype, incremental, *, X_dtype) -> None:
        """Writes a run's result back to scikit-learn's attributes; prints what verbose asks."""
        epochs = int(record.epochs)
        losses = [float(v) for v in np.asarray(record.loss[:epochs])]
        scores = [float(v) for v in np.asarray(record.score[:epochs])]
        events = np.asarray(record.event[:epochs])
        rates = np.asarray(record.learning_rate[:epochs])
        self.n_iter_ = epochs
        self.t_ = int(round(float(state.samples_seen)))
        self.loss_curve_ = [*getattr(self, "loss_curve_", []), *losses]
        self.loss_ = losses[-1]
        self._no_improvement_count = int(state.no_improvement)
        rate = float(state.learning_rate)
        if self.solver == "sgd" and self.learning_rate == "invscaling":  # the formula in float64
            rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
        self._optimizer = SolverState(rate, jax.tree.map(np.asarray, state.opt_state))
        self._set_params(state.params, X_dtype)
        self._best_coefs = [np.asarray(layer.W, X_dtype).T.copy() for layer in state.best_params]
        self._best_intercepts = [np.asarray(layer.b, X_dtype).copy() for layer in state.best_params]
        if self.early_stopping:
            self.validation_scores_ = [*(self.validation_scores_ or []), *scores]
            self.best_validation_score_ = float(state.best_score)
            self.best_loss_ = None
        else:
            self.best_loss_ = float(state.best_loss)
        if self.verbose:
            self._print(losses, scores, events, rates)
        stopped = epochs > 0 and events[-1] == 2
        if self.early_stopping:
            self.coefs_, self.intercepts_ = self._best_coefs, self._best_intercepts
            self._best_coefs = [c.copy() for c in self.coefs_]
            self._best_intercepts = [b.copy() for b in self.intercepts_]
        if not incremental and epochs == self.max_iter and not stopped:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _print(self, losses, scores, events, rates) -> None:
        """scikit-learn's verbose lines, printed when the compiled run returns."""
        what = "Validation score did not" if self.early_stopping else "Training loss did not"
        msg = (
            f"{what} improve more than tol={self.tol:f} for {self.n_iter_no_change} "
            "consecutive epochs."
        )
        for i, loss in enumerate(losses):
            print(f"Iteration {i + 1}, loss = {loss:.8f}")
            if self.early_stopping:
                print(f"Validation score: {scores[i]:f}")
            if events[i] == 1:
                print(f"{msg} Setting learning rate to {rates[i] / 5:f}")
            elif events[i] == 2:
                reason = " Learning rate too small." if self.learning_rate == "adaptive" else ""
                print(f"{msg}{reason} Stopping.")

    def _fit_lbfgs(self, X, Y, sample_weight, layer_units) -> None:
        """scipy's L-BFGS-B (as scikit-learn) on the compiled objective and hand-derived grads."""
        dtype = compute_dtype(X.dtype)
        n_rows = X.shape[0]  # padded with weight-0 rows: one program per bucket of sizes
        weights = np.ones(n_rows) if sample_weight is None else np.asarray(sample_weight)
        X, Y, weights = pad_weighted(fine_bucket(n_rows), X, Y, weights)
        args = jax.device_put(tuple(np.asarray(a, dtype) for a in (X, Y, weights)))
        alpha, scale = (np.asarray(v, dtype) for v in (self.alpha, self._loss_scale()))
        kwargs = dict(
            sizes=tuple(layer_units),
            activation=_params.ACTIVATIONS[self.activation],
            output=self.out_activation_,
        )

        def objective(theta):
            value, _, grad = programs.flat_loss_and_grad(
                np.asarray(theta, dtype), *args, alpha, scale, **kwargs
            )
            return float(value), np.asarray(grad, np.float64)

        theta = programs.flatten(self._params(dtype), xp=np).astype(np.float64)
        result = scipy.optimize.minimize(
            objective,
            theta,
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
        )
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{result.message}.\n\nIncrease the number of "
                "iterations to improve the convergence (max_iter or max_fun).",
                ConvergenceWarning,
                stacklevel=4,
            )
        self.n_iter_ = min(result.nit, self.max_iter)
        solution = np.asarray(result.x, dtype)
        self.loss_ = float(programs.flat_loss_and_grad(solution, *args, alpha, scale, **kwargs)[1])
        self._set_params(programs.unflatten(cast(jax.Array, solution), tuple(layer_units)), X.dtype)

    def fit(self, X, y, sample_weight=None):
        """Fits the network to X (n, d) and y (n,) or (n, k), optionally weighted.

        Args:
          X: (n, d) array-like or scipy.sparse matrix.
          y: (n,) or (n, k) targets.
          sample_weight: (n,) non-negative weights, or None.

        Returns:
          self.
        """
        self._validate_params()
        if _prefit.restore(self, X, y, sample_weight):  # trained in a search's program
            return self
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _check_solver(self) -> bool:
        if self.solver not in ("sgd", "adam"):
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is "
                "not stochastic."
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_fitted_predict_input(self, X):
        check_is_fitted(self)
        return self._forward_pass_fast(X)
