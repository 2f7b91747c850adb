"""GridSearchCV and RandomizedSearchCV whose fits of jaxmlp's MLPs train in one program.

The classes are scikit-learn's, subclassed: ``BaseSearchCV.fit`` does everything
(scoring, splits, routing, ``cv_results_``, the ``best_*`` attributes, the refit),
through its loop of ``_fit_and_score`` calls. Only before that loop runs does this
module step in (``_run_search``): for jaxmlp's ``MLPClassifier``/``MLPRegressor`` it
prepares every (candidate, split) fit on the host exactly as the estimator's ``fit``
would (validation, the initial weights and the shuffle's seed from ``random_state``,
the early-stopping split), trains the ``sgd``/``adam`` ones together in compiled
programs (:func:`jaxmlp.sklearn._search_programs.run_models`, one per group of fits
that share a structure), writes each result back through the estimator's own
``_store`` and offers it to :mod:`jaxmlp.sklearn._prefit`. scikit-learn's loop then
calls ``fit`` on its clones, which find their results there instead of training. The
refits of every candidate join the same program when they share its structure (a
single-batch fit on a nearby number of rows), so ``best_estimator_`` is trained there
too; otherwise the refit is the estimator's own ``fit``. With several devices (or
``jax.distributed`` processes) each program's models are split over all of them.

What splits a search into programs (one per distinct value): the estimator's class,
the solver, the depth of ``hidden_layer_sizes``, ``early_stopping``,
``shuffle``, ``nesterovs_momentum`` (sgd), the batch size and the number of batches
per epoch, the output units (the classes seen), X's dtype. Everything else varies
inside one program (see :mod:`jaxmlp.sklearn._search_programs`). Fits the programs do
not run (``lbfgs``, sparse X, fit parameters other than ``sample_weight``, a
``RandomState`` instance as ``random_state``, splitters whose splits change between
calls, other estimators, pipelines) run in scikit-learn's loop as usual.
"""

from __future__ import annotations

import contextlib
import copy
import io
import time
import warnings
from collections import defaultdict
from typing import Any, NamedTuple, cast

import jax
import numpy as np
from joblib import parallel_config
from sklearn import model_selection
from sklearn.base import clone
from sklearn.model_selection._split import _yields_constant_splits
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import _check_method_params, _check_sample_weight, indexable

from jaxmlp import mlp, validation
from jaxmlp._sweep.parts import to_host
from jaxmlp.batches import SHUFFLE_ROUNDS, feistel_half, host_round_keys
from jaxmlp.sklearn import _params, _prefit
from jaxmlp.sklearn import _search_programs as search_programs
from jaxmlp.sklearn._base import BaseMLP
from jaxmlp.sklearn._classifier import MLPClassifier
from jaxmlp.sklearn._data import bucket, compute_dtype, fine_bucket, init_opt_state
from jaxmlp.sklearn._fit import Hyper, Record, State
from jaxmlp.sklearn._regressor import MLPRegressor

# A program's models are run in chunks of at most this many bytes of model state and
# per-step work (estimated by _model_bytes); every chunk of a group has the same size,
# so all of them run one compiled program.
MAX_CHUNK_BYTES = 1 << 30
# On a CPU a program call trains one model (the program compiled once, called per model):
# XLA:CPU runs the vmapped fit's batched matrix products slower than one model's plain
# ones (measured: the 360-fit circles grid 2.3 s against 4.0 s warm, digits' 27 fits
# 2.6 s against 3.6 s; docs/sklearn.md). On accelerators a call trains a chunk, vmapped.
VMAP_ON_CPU = False
# "auto": on a CPU the programs run only where they beat scikit-learn's loop
# (_programs_help); "always": every fit they can run (the tests of their equality use it).
ONE_PROGRAM = "auto"
ESTIMATORS = (MLPClassifier, MLPRegressor)


class _Job(NamedTuple):
    """One fit a search needs: a fresh estimator, its data as ``fit`` receives it."""

    estimator: BaseMLP
    X: Any
    y: Any
    sample_weight: Any
    rows: np.ndarray  # the fit's rows among the search's X


class _Prepared(NamedTuple):
    """A fit prepared on the host as the estimator's ``fit`` does, before its program."""

    job: _Job
    served: tuple  # the fit's key in jaxmlp.sklearn._prefit's registry
    key: tuple  # what must be equal for two fits to share a program
    X: np.ndarray  # validated X of the fit (n, d)
    Y: np.ndarray  # (n, k) targets in the estimator's encoding
    order: np.ndarray  # training rows (among the fit's) in the order the fit sees them
    weights: np.ndarray  # their sample weights
    val: np.ndarray  # validation rows (among the fit's); empty without early stopping
    val_weights: np.ndarray
    sizes: tuple[int, ...]  # (d, h1, ..., k)
    params: tuple  # initial (W (out, in), b) per layer, NumPy
    hyper: Hyper
    seed: int
    max_iter: int
    dtype: np.dtype  # compute dtype
    caught: list  # warnings raised while preparing (replayed with the fit)


def _validated(est: BaseMLP, job: _Job, seen: dict):
    """``est._validate_input(job.X, job.y)``, once per (class, data) of the search.

    The fits of one split share its data objects: the first validates them, the others
    take its results and the attributes it set (``n_features_in_``, ``classes_``, the
    label binarizer, ...), copied.
    """
    key = (type(est), id(job.X), id(job.y))
    if key not in seen:
        before = dict(vars(est))
        X, y = est._validate_input(job.X, job.y, False, reset=True)
        set_ = {k: v for k, v in vars(est).items() if k not in before or before[k] is not v}
        seen[key] = (X, y, set_, job)  # the job keeps the ids' objects alive
        return X, y
    X, y, set_, _ = seen[key]
    for name, value in set_.items():
        setattr(est, name, copy.deepcopy(value))
    return X, y


def _prepare(job: _Job, seen: dict | None = None) -> _Prepared | None:
    """``job.estimator.fit``'s host work up to its program, or None if no program runs it.

    Raises whatever ``fit`` would raise before training (the loop's ``fit`` then
    raises it again, in scikit-learn's error handling). ``seen``: the validations done
    so far (:func:`_validated`).
    """
    est = job.estimator
    seen = {} if seen is None else seen
    if est.solver == "lbfgs" or est.warm_start and hasattr(est, "coefs_"):
        return None
    data = ("digest", id(job.X), id(job.y), id(job.sample_weight))
    if data not in seen:  # once per split's data objects (the job keeps them alive)
        seen[data] = (_prefit.digest(job.X, job.y, job.sample_weight), job)
    served = _prefit.key_of(est, job.X, job.y, job.sample_weight, data=seen[data][0])
    if served is None:
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est._validate_params()
        hidden = _params.hidden_sizes(est.hidden_layer_sizes)
        X, y = _validated(est, job, seen)
        if hasattr(X, "toarray"):
            return None
        sample_weight = job.sample_weight
        if isinstance(est, MLPClassifier):
            sample_weight = est._class_sample_weight(job.y, sample_weight, incremental=False)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        est.n_outputs_ = Y.shape[1]
        sizes = (X.shape[1], *hidden, est.n_outputs_)
        est._check_limits(X, list(sizes))
        random_state = check_random_state(est.random_state)
        est._initialize(Y, list(sizes), X.dtype, random_state)
        dtype = compute_dtype(X.dtype)
        weights = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
        order = np.arange(X.shape[0])
        val, val_weights = order[:0], weights[:0]
        if est.early_stopping:
            order, _, weights, val, _, val_weights = est._split(order, Y, weights, random_state)
        batch_size = est._batch_size(order.shape[0])
        one_batch = batch_size == order.shape[0]
        seed = int(random_state.randint(np.iinfo(np.int32).max))
    # the batch size is in steps; the activation varies inside a program (the models'
    # activations are a static argument of it, each model's its index there)
    static = est._static(0, 0, one_batch=one_batch)._replace(activation="")
    if one_batch:
        steps: tuple = ("one", bucket(order.shape[0]))
    else:
        n_batches = -(-order.shape[0] // batch_size)
        steps = ("mini", batch_size, n_batches, feistel_half(order.shape[0]))
    classes = tuple(getattr(est, "classes_", ()))
    key = (type(est).__name__, X.dtype.str, dtype.str, classes, static, steps, len(sizes),
           sizes[0], sizes[-1])  # fmt: skip
    params = tuple((layer.W, layer.b) for layer in est._params(dtype))
    return _Prepared(
        job, served, key, X, Y, order, weights, val, val_weights, sizes, params, est._hyper(dtype),
        seed, int(est.max_iter), dtype, list(caught),
    )  # fmt: skip


def _model_bytes(group: list[_Prepared], rows: int, val_rows: int, widths) -> int:
    """A generous estimate of one model's memory in its program (state, the epoch's rows,
    batch, record)."""
    itemsize = group[0].dtype.itemsize
    n_params = validation.count_params(widths)
    batch = rows  # every step's batch is at most all the rows
    activations = batch * sum(widths) * 6 + val_rows * sum(widths) * 2
    epoch_rows = rows * (widths[0] + widths[-1] + 2)  # its copy of X, Y, weights, order
    record = 4 * bucket(max(p.max_iter for p in group))
    return itemsize * (6 * n_params + activations + epoch_rows + 2 * (rows + val_rows) + record)


def _pad_params(params, widths) -> list[np.ndarray]:
    """One model's (W, b) layers zero-padded to ``widths``, flattened [W1, b1, W2, b2, ...]."""
    out = []
    for i, (W, b) in enumerate(params):
        Wp = np.zeros((widths[i + 1], widths[i]), W.dtype)
        Wp[: W.shape[0], : W.shape[1]] = W
        bp = np.zeros(widths[i + 1], b.dtype)
        bp[: b.shape[0]] = b
        out += [Wp, bp]
    return out


def _unpad(tree, sizes, treedef):
    """Every params-shaped subtree of ``tree`` (one model's) cut back to ``sizes``."""

    def is_params(node) -> bool:
        return jax.tree.structure(node) == treedef

    def cut(node):
        if not is_params(node):
            return node
        layers = []
        for i, layer in enumerate(node):
            W = np.asarray(layer.W)[: sizes[i + 1], : sizes[i]]
            layers.append(type(layer)(W=W, b=np.asarray(layer.b)[: sizes[i + 1]]))
        return tuple(layers)

    return jax.tree.map(cut, tree, is_leaf=is_params)


def _run_group(group: list[_Prepared], X_all, verbose: int, label: str) -> list:
    """Trains a group's fits in one program (chunks of one size); returns their states."""

    first = group[0]
    dtype = first.dtype
    depth = len(first.sizes) - 1
    widths = tuple(max(p.sizes[i] for p in group) for i in range(depth + 1))
    steps = first.key[5]
    if steps[0] == "one":  # grouped by the power of two above; padded to <= 12.5% more
        batch_size, n_batches, half = fine_bucket(max(p.order.shape[0] for p in group)), 1, 1
    else:
        batch_size, n_batches, half = steps[1], steps[2], steps[3]
    rows = batch_size * n_batches
    val_rows = fine_bucket(max(max(p.val.shape[0] for p in group), 1))
    record_length = bucket(max(p.max_iter for p in group))
    static = first.key[4]._replace(batch_size=batch_size, record_length=record_length)
    X, Y = X_all
    names = tuple(sorted({_params.ACTIVATIONS[p.job.estimator.activation] for p in group}))
    per_model = _model_bytes(group, rows, val_rows, widths)
    most = int(max(1, MAX_CHUNK_BYTES // max(per_model, 1)))  # models a device may hold
    if jax.default_backend() == "cpu" and not VMAP_ON_CPU:
        most = 1
    devices = tuple(jax.devices())  # under jax.distributed: every process's
    n_dev = len(devices)
    n_chunks = -(-len(group) // (most * n_dev))
    local = -(-len(group) // (n_chunks * n_dev))  # equal chunks, the last one padded
    if fine_bucket(local) <= most:  # one of 8 sizes per power of two: grids of nearby
        local = fine_bucket(local)  # sizes share the program (padding models never train)
    chunk = local * n_dev
    n_chunks = -(-len(group) // chunk)
    options = dict(static=static, half=half, n_batches=n_batches, activations=names)
    if n_dev > 1:
        program, split, replicated = search_programs.sharded_program(devices, **options)
        X, Y = (_placed(a, replicated) for a in X_all)
    template: Any = mlp.Dense(W=cast(Any, np.zeros((1, 1))), b=cast(Any, np.zeros(1)))
    treedef = jax.tree.structure(tuple(template for _ in range(depth)))
    results: list = []
    shuffle_keys: dict[int, np.ndarray] = {}  # seed -> its round keys by epoch
    for c in range(n_chunks):
        members = group[c * chunk : (c + 1) * chunk]
        padded = members + [members[0]] * (chunk - len(members))
        if verbose and (c + 1 == n_chunks or c % max(1, n_chunks // 10) == 0):
            print(
                f"[jaxmlp search] program {label}: chunk {c + 1}/{n_chunks}, "
                f"{len(members)} fits ({chunk} per chunk)"
            )
        M = len(padded)
        host: dict[str, Any] = dict(  # NumPy, filled per model, then the program's input
            rows=np.zeros((M, rows), np.int32),
            weights=np.zeros((M, rows), dtype),
            n_rows=np.zeros(M, np.int32),
            val_rows=np.zeros((M, val_rows), np.int32),
            val_weights=np.zeros((M, val_rows), dtype),
            widths=np.zeros((M, depth + 1), np.int32),
            keys=np.zeros((M, record_length, SHUFFLE_ROUNDS), np.uint32),
            max_epochs=np.zeros(M, np.int32),
            activation=np.zeros(M, np.int32),
        )
        models = search_programs.Models(**host)
        flat = []
        for m, p in enumerate(padded):
            global_rows = p.job.rows
            n = p.order.shape[0]
            models.rows[m, :n] = global_rows[p.order]
            models.weights[m, :n] = p.weights
            models.n_rows[m] = n
            v = p.val.shape[0]
            models.val_rows[m, :v] = global_rows[p.val]
            models.val_weights[m, :v] = p.val_weights
            models.widths[m] = p.sizes
            if p.seed not in shuffle_keys:  # the candidates of a grid share a seed
                shuffle_keys[p.seed] = host_round_keys(p.seed, np.arange(record_length))
            models.keys[m] = shuffle_keys[p.seed]
            models.max_epochs[m] = p.max_iter if m < len(members) else 0
            models.activation[m] = names.index(_params.ACTIVATIONS[p.job.estimator.activation])
            flat.append(_pad_params(p.params, widths))
        stacked = [np.stack([f[i] for f in flat]) for i in range(2 * depth)]
        params = tuple(
            mlp.Dense(W=cast(Any, stacked[2 * i]), b=cast(Any, stacked[2 * i + 1]))
            for i in range(depth)
        )
        one_model = tuple(mlp.Dense(W=layer.W[0], b=layer.b[0]) for layer in params)
        opt_state = jax.tree.map(
            lambda a, M=M: np.zeros((M, *a.shape), a.dtype), init_opt_state(static, one_model)
        )
        hyper = Hyper(*(np.stack([np.asarray(p.hyper[i], dtype) for p in padded])
                        for i in range(len(Hyper._fields))))  # fmt: skip
        start: dict[str, Any] = dict(
            params=params,
            opt_state=opt_state,
            learning_rate=np.asarray([p.job.estimator.learning_rate_init for p in padded], dtype),
            no_improvement=np.zeros(M, np.int32),
            best_loss=np.full(M, np.inf, dtype),
            best_score=np.full(M, -np.inf, dtype),
            best_params=params,
            samples_seen=np.zeros(M, dtype),
        )
        state = State(**start)
        if n_dev > 1:
            inputs = jax.tree.map(lambda a: _placed(a, split), (state, hyper, models))
            out = program(*inputs, X, Y)
            out_state, record = jax.tree.map(to_host, out)
        else:
            out = search_programs.run_models(state, hyper, models, X, Y, **options)
            out_state, record = jax.device_get(out)
        for m, p in enumerate(members):
            one = jax.tree.map(lambda a, m=m: a[m], out_state)
            one = _unpad(one, p.sizes, treedef)
            results.append((p, one, jax.tree.map(lambda a, m=m: a[m], record)))
    return results


def _placed(array: np.ndarray, sharding) -> jax.Array:
    """A host array (equal on every process) as a global array with ``sharding``."""
    return jax.make_array_from_callback(array.shape, sharding, lambda at: array[at])


def _store(prepared: _Prepared, state: State, record: Record) -> _prefit.Fitted | None:
    """The estimator's own ``_store`` of a trained state; None if ``fit`` would raise."""
    est = prepared.job.estimator
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
        warnings.simplefilter("always")
        est._store(state, record, prepared.dtype, False, X_dtype=prepared.X.dtype)
    weights = [*est.coefs_, *est.intercepts_]
    if not all(np.isfinite(w).all() for w in weights):
        return None  # the loop's fit trains again and raises scikit-learn's error
    names = set(est.get_params(deep=False))
    attributes = {k: v for k, v in vars(est).items() if k not in names}
    return _prefit.Fitted(attributes, [*prepared.caught, *caught], printed.getvalue())


def _prepare_all(jobs: list[_Job]) -> list[_Prepared | None]:
    """:func:`_prepare` of each job; None where it raises (the loop's ``fit`` raises it)."""
    out: list[_Prepared | None] = []
    seen: dict = {}
    for job in jobs:
        try:
            out.append(_prepare(job, seen))
        except Exception:  # noqa: BLE001 - fit raises it again in scikit-learn's loop
            out.append(None)
    return out


def _programs_help(groups) -> bool:
    """Whether the search's programs beat scikit-learn's loop over the estimator's ``fit``.

    On a CPU they do where the loop would compile a program per network: a group whose
    fits differ in activation or hidden widths (one program here, one per network in
    the loop). Where every group is one network, the loop's fits already share one
    program (rows padded to a bucket) and ran faster than the program's per-model calls
    (digits' 27-fit grid: 5.27 s against 5.90 s cold, 2.52 s against 3.27 s warm;
    docs/sklearn.md). With several devices (or processes) the programs split the fits
    over them, which the loop cannot. ``ONE_PROGRAM = "always"`` uses them regardless.
    """
    if ONE_PROGRAM == "always" or jax.default_backend() != "cpu" or VMAP_ON_CPU:
        return True
    if jax.device_count() > 1:
        return True
    networks = [{(p.job.estimator.activation, p.sizes[1:-1]) for p in group} for group in groups]
    return any(len(n) > 1 for n in networks)


def train_jobs(jobs: list[_Job], n_cv: int, n_samples: int, verbose: int = 0) -> list:
    """Trains the jobs the programs can run; returns ``[(key, Fitted)]`` for them.

    The first ``n_cv`` jobs are cross-validation fits, the rest refits. A refit joins
    only a group that a cross-validation fit opened: a program of refits alone would
    train every candidate's refit where scikit-learn trains one, so there the
    estimator's own ``fit`` does it. Jobs whose preparation raises or that no program
    runs are left out: the loop's own ``fit`` handles them (and raises the same error).
    """
    prepared = _prepare_all(jobs)
    cv_keys = {p.key for p in prepared[:n_cv] if p is not None}
    groups: dict[tuple, list[_Prepared]] = defaultdict(list)
    for i, p in enumerate(prepared):
        if p is not None and (i < n_cv or p.key in cv_keys):
            groups[p.key].append(p)
    if not _programs_help(groups.values()):
        return []  # scikit-learn's loop of the estimator's own fits is as quick or quicker
    fitted = []
    for g, group in enumerate(groups.values()):
        X = np.zeros((n_samples, group[0].X.shape[1]), group[0].dtype)
        Y = np.zeros((n_samples, group[0].Y.shape[1]), group[0].dtype)
        for p in {id(p.X): p for p in group}.values():  # once per split: its fits share X
            X[p.job.rows] = p.X
            Y[p.job.rows] = p.Y
        for p, state, record in _run_group(group, (X, Y), verbose, f"{g + 1}/{len(groups)}"):
            stored = _store(p, state, record)
            if stored is not None:
                fitted.append((p.served, stored))
    return fitted


class _OneProgramSearch:
    """The mixin: trains a search's jaxmlp fits in programs before scikit-learn's loop."""

    def fit(self, X, y=None, **params):
        """Runs the search: scikit-learn's ``fit``, its jaxmlp fits trained in one program.

        Args:
          X: (n, d) array-like.
          y: (n,) or (n, k) targets.
          **params: fit parameters (``sample_weight``, ``groups``), as scikit-learn's.

        Returns:
          self.
        """
        estimator = getattr(self, "estimator", None)
        if type(estimator) not in ESTIMATORS:
            return super().fit(X, y, **params)  # type: ignore[misc]
        self._search_data = (X, y, params)
        self.program_time_ = 0.0
        try:
            with _prefit.serving(), parallel_config(backend="threading"):
                return super().fit(X, y, **params)  # type: ignore[misc]
        finally:
            del self._search_data

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        def evaluate(candidate_params, cv=None, more_results=None, callback_ctx=None):
            candidate_params = list(candidate_params)
            self._train_in_programs(candidate_params, cv or self._checked_cv_orig)
            return evaluate_candidates(
                candidate_params, cv=cv, more_results=more_results, callback_ctx=callback_ctx
            )

        return super()._run_search(evaluate, callback_ctx=callback_ctx)  # type: ignore[misc]

    def _train_in_programs(self, candidate_params, cv) -> None:
        data = getattr(self, "_search_data", None)
        if data is None or not _yields_constant_splits(cv):
            return
        X, y, params = data
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed = self._get_routed_params_for_fit(params)  # type: ignore[attr-defined]
        fit_params = dict(routed.estimator.fit)
        if set(fit_params) - {"sample_weight"}:
            return  # other fit parameters: scikit-learn's loop
        splits = list(cv.split(X, y, **routed.splitter.split))
        base = clone(self.estimator)  # type: ignore[attr-defined]
        jobs = []
        everything = np.arange(len(X) if not hasattr(X, "shape") else X.shape[0])
        fits = [(p, train) for p in candidate_params for train, _ in splits]
        if self.refit:  # type: ignore[attr-defined]
            fits += [(p, None) for p in candidate_params]
        split_data: dict = {}  # the fits of a split share its data objects
        for parameters, train in fits:
            est = clone(base).set_params(**clone(parameters, safe=False))
            if train is None:
                X_fit, y_fit, rows = X, y, everything
                fp = _check_method_params(X, params=fit_params)
            else:
                if id(train) not in split_data:
                    split_data[id(train)] = (
                        *_safe_split(est, X, y, train),
                        _check_method_params(X, params=fit_params, indices=train),
                    )
                X_fit, y_fit, fp = split_data[id(train)]
                rows = np.asarray(train)
            jobs.append(_Job(est, X_fit, y_fit, fp.get("sample_weight"), rows))
        n_cv = len(candidate_params) * len(splits)
        start = time.perf_counter()
        verbose = self.verbose  # type: ignore[attr-defined]
        trained = train_jobs(jobs, n_cv, everything.shape[0], verbose)
        self.program_time_ += time.perf_counter() - start
        for key, fitted in trained:
            _prefit.offer(key, fitted)


class GridSearchCV(_OneProgramSearch, model_selection.GridSearchCV):
    """scikit-learn's ``GridSearchCV``; jaxmlp's MLPs train every fit in one program.

    The same signature, attributes and results as
    ``sklearn.model_selection.GridSearchCV``. For ``jaxmlp.sklearn.MLPClassifier`` and
    ``MLPRegressor`` with ``solver="sgd"``/``"adam"``, every (candidate, split) fit and
    (where they share its structure) the refits train together in one compiled program
    per group of candidates that share a structure (solver, depth, ...);
    each fit's result equals ``estimator.set_params(**candidate).fit(X[train],
    y[train])`` to float rounding. ``program_time_`` is the seconds those programs took
    (scikit-learn's ``mean_fit_time`` then only counts handing each result over).
    Anything else runs scikit-learn's loop. See ``docs/sklearn.md``.
    """


class RandomizedSearchCV(_OneProgramSearch, model_selection.RandomizedSearchCV):
    """scikit-learn's ``RandomizedSearchCV``; jaxmlp's MLPs train every fit in one program.

    As :class:`GridSearchCV`, over ``n_iter`` candidates sampled from
    ``param_distributions``.
    """
