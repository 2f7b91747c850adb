"""Test scores of jaxmlp.sklearn and scikit-learn's MLPs on scikit-learn's bundled data.

Classification: digits, breast cancer, iris (accuracy); regression: diabetes and
``make_regression(n_samples=500, n_features=20, noise=10, random_state=0)`` (R^2).
For each data set: one split (75/25, ``random_state=0``, stratified for
classes), features standardised on the training part (regression targets too);
then for every solver (sgd, adam, lbfgs) and every seed both libraries' estimators
with identical settings (64 ReLU units, ``max_iter=200``, scikit-learn's defaults
otherwise, ``random_state=seed``) are fitted and scored on the test part.

Writes ``OUT/sklearn_quality.json`` and ``OUT/sklearn_quality.md``::

    python experiments/sklearn_quality.py --out out/bench

``--lbfgs`` instead compares two ways of running ``solver="lbfgs"`` on the same
splits and settings: the library's (scipy's L-BFGS-B driven from Python on
jaxmlp's compiled objective and hand-derived gradient, scikit-learn's call)
against the whole fit as one compiled program (``optax.lbfgs`` in a
``lax.while_loop``, :func:`optax_lbfgs_program`), with scikit-learn's own MLP for
reference: cold fit (the first fit of the data's shapes in the process,
compilation included), steady fit (median of alternating rounds), ``loss_``,
``n_iter_`` and the test score, per seed. Writes ``OUT/sklearn_lbfgs.{json,md}``::

    python experiments/sklearn_quality.py --lbfgs --out out/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import pathlib
import platform
import statistics
import time
import warnings


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: int = 64
    max_iter: int = 200
    test_size: float = 0.25
    split_seed: int = 0
    solvers: tuple[str, ...] = ("sgd", "adam", "lbfgs")


def datasets() -> dict:
    """name -> (X, y, is_classification)."""
    from sklearn import datasets as ds

    out = {}
    for name in ("digits", "breast_cancer", "iris"):
        X, y = getattr(ds, f"load_{name}")(return_X_y=True)
        out[name] = (X, y, True)
    X, y = ds.load_diabetes(return_X_y=True)
    out["diabetes"] = (X, y, False)
    X, y = ds.make_regression(n_samples=500, n_features=20, noise=10.0, random_state=0)
    out["make_regression"] = (X, y, False)
    return out


def split(X, y, classification: bool, cfg: Config):
    """The same standardised split for both libraries."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X_tr, X_te, y_tr, y_te = train_test_split(
        X,
        y,
        test_size=cfg.test_size,
        random_state=cfg.split_seed,
        stratify=y if classification else None,
    )
    scaler = StandardScaler().fit(X_tr)
    X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    if not classification:
        mean, std = y_tr.mean(), y_tr.std()
        y_tr, y_te = (y_tr - mean) / std, (y_te - mean) / std
    return X_tr, X_te, y_tr, y_te


def run(cfg: Config) -> list[dict]:
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    import jaxmlp.sklearn

    rows = []
    for name, (X, y, classification) in datasets().items():
        X_tr, X_te, y_tr, y_te = split(X, y, classification, cfg)
        kind = "MLPClassifier" if classification else "MLPRegressor"
        libs = {"jaxmlp": getattr(jaxmlp.sklearn, kind), "sklearn": getattr(neural_network, kind)}
        for solver in cfg.solvers:
            row = {
                "data": name,
                "solver": solver,
                "metric": "accuracy" if classification else "R^2",
            }
            for lib, Estimator in libs.items():
                scores, seconds = [], []
                for seed in cfg.seeds:
                    model = Estimator(
                        hidden_layer_sizes=(cfg.hidden,),
                        solver=solver,
                        max_iter=cfg.max_iter,
                        random_state=seed,
                    )
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        model.fit(X_tr, y_tr)
                    seconds.append(time.perf_counter() - start)
                    scores.append(float(model.score(X_te, y_te)))
                row[lib] = {"scores": scores, "mean": statistics.fmean(scores), "seconds": seconds}
            rows.append(row)
            print(name, solver, row["jaxmlp"]["mean"], row["sklearn"]["mean"], flush=True)
    return rows


LBFGS_PATHS = ("scipy", "optax", "sklearn")
FTOL = 2.220446049250313e-09  # scipy's L-BFGS-B default: factr=1e7 times float64's epsilon


def optax_lbfgs_program():
    """The measured alternative: a whole lbfgs fit as one jitted ``optax.lbfgs`` loop.

    ``optax.lbfgs`` (memory 10, zoom line search of at most 20 steps: scipy's
    ``maxcor``/``maxls``) in a ``lax.while_loop``, on jaxmlp's objective
    (``_fit.flat_loss_and_grad``) whose ``jax.grad`` is the hand-derived gradient
    (a custom VJP). It stops as scipy's L-BFGS-B in scikit-learn's call: before
    any iteration if ``max |grad_i| <= tol``; after an iteration at ``max_iter``
    iterations, then when more than ``max_fun`` evaluations were made (the line
    search's counted from its state), then when ``max |grad_i| <= tol`` or
    ``(f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= FTOL``. Returns the jitted
    ``run(theta, X, Y, w, alpha, loss_scale, tol, max_iter, max_fun, *, sizes,
    activation, output) -> (theta, loss_, iterations, status)``.
    """
    import functools

    import jax
    import jax.numpy as jnp
    import optax

    from jaxmlp.sklearn import _fit

    @functools.partial(jax.custom_vjp, nondiff_argnums=(6, 7, 8))
    def objective(theta, X, Y, w, alpha, scale, sizes, activation, output):
        return forward(theta, X, Y, w, alpha, scale, sizes, activation, output)[0]

    def forward(theta, X, Y, w, alpha, scale, sizes, activation, output):
        static = dict(sizes=sizes, activation=activation, output=output)
        value, _, grad = _fit.flat_loss_and_grad(theta, X, Y, w, alpha, scale, **static)
        return value, grad

    def backward(sizes, activation, output, grad, cotangent):
        return (cotangent * grad, None, None, None, None, None)

    objective.defvjp(forward, backward)

    @functools.partial(jax.jit, static_argnames=("sizes", "activation", "output"))
    def run(theta, X, Y, w, alpha, scale, tol, max_iter, max_fun, *, sizes, activation, output):
        def value_fn(t):
            return objective(t, X, Y, w, alpha, scale, sizes, activation, output)

        linesearch = optax.scale_by_zoom_linesearch(20, initial_guess_strategy="one")
        solver = optax.lbfgs(memory_size=10, linesearch=linesearch)
        value, grad = jax.value_and_grad(value_fn)(theta)
        int32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
        status = jnp.where(jnp.max(jnp.abs(grad)) <= tol, 0, -1)  # -1: running
        carry = (theta, solver.init(theta), value, grad, int32(0), int32(1), int32(status))

        def body(carry):
            theta, state, value, grad, iterations, evaluations, _ = carry
            updates, state = solver.update(
                grad, state, theta, value=value, grad=grad, value_fn=value_fn
            )
            theta = optax.apply_updates(theta, updates)
            new_value, new_grad = optax.tree.get(state, "value"), optax.tree.get(state, "grad")
            evaluations += int32(optax.tree.get(state, "num_linesearch_steps"))
            iterations += 1
            biggest = jnp.maximum(jnp.maximum(jnp.abs(value), jnp.abs(new_value)), 1.0)
            converged = (jnp.max(jnp.abs(new_grad)) <= tol) | (
                (value - new_value) <= FTOL * biggest
            )
            status = jnp.where(
                (iterations >= max_iter) | (evaluations > max_fun),
                1,
                jnp.where(converged, 0, jnp.where(jnp.isfinite(new_value), -1, 2)),
            )
            return theta, state, new_value, new_grad, iterations, evaluations, int32(status)

        theta, _, _, _, iterations, _, status = jax.lax.while_loop(
            lambda carry: carry[-1] < 0, body, carry
        )
        static = dict(sizes=sizes, activation=activation, output=output)
        loss = _fit.flat_loss_and_grad(theta, X, Y, w, alpha, scale, **static)[1]
        return theta, loss, iterations, status

    return run


@functools.cache
def _optax_run():
    return optax_lbfgs_program()


def fit_lbfgs_optax(est, X, Y, sample_weight, layer_units) -> None:
    """Replaces ``BaseMLP._fit_lbfgs`` by :func:`optax_lbfgs_program` for the comparison."""
    import jax.numpy as jnp
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    from jaxmlp.sklearn import _data, _fit, _params

    dtype = _data.compute_dtype(X.dtype)
    weights = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    as_array = lambda a: jnp.asarray(np.asarray(a, dtype))  # noqa: E731
    theta, loss, iterations, status = _optax_run()(
        _fit.flatten(est._params(dtype)), as_array(X), as_array(Y), as_array(weights),
        jnp.asarray(est.alpha, dtype), jnp.asarray(est._loss_scale(), dtype),
        jnp.asarray(est.tol, dtype), jnp.asarray(est.max_iter, jnp.int32),
        jnp.asarray(est.max_fun, jnp.int32), sizes=tuple(layer_units),
        activation=_params.ACTIVATIONS[est.activation], output=est.out_activation_,
    )  # fmt: skip
    if int(status) != 0:
        warnings.warn(f"lbfgs: status {int(status)}", ConvergenceWarning, stacklevel=2)
    est.n_iter_ = min(int(iterations), est.max_iter)
    est.loss_ = float(loss)
    est._set_params(_fit.unflatten(theta, tuple(layer_units)), X.dtype)


def lbfgs_fit(path: str, classification: bool, seed: int, cfg: Config, X, y):
    """One fit of ``path`` ("scipy", "optax" or "sklearn"); returns (model, seconds)."""
    from sklearn import neural_network
    from sklearn.exceptions import ConvergenceWarning

    import jaxmlp.sklearn
    from jaxmlp.sklearn import _base

    kind = "MLPClassifier" if classification else "MLPRegressor"
    library = neural_network if path == "sklearn" else jaxmlp.sklearn
    model = getattr(library, kind)(
        hidden_layer_sizes=(cfg.hidden,), solver="lbfgs", max_iter=cfg.max_iter, random_state=seed
    )
    library_fit = _base.BaseMLP._fit_lbfgs
    if path == "optax":
        _base.BaseMLP._fit_lbfgs = fit_lbfgs_optax
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
    finally:
        _base.BaseMLP._fit_lbfgs = library_fit
    return model, seconds


def run_lbfgs(cfg: Config, rounds: int = 3) -> list[dict]:
    """Per data set and path: cold and steady fit seconds, loss_, n_iter_, test score."""
    rows = []
    for name, (X, y, classification) in datasets().items():
        X_tr, X_te, y_tr, y_te = split(X, y, classification, cfg)
        row: dict = {"data": name, "metric": "accuracy" if classification else "R^2"}
        for path in LBFGS_PATHS:
            fits = [lbfgs_fit(path, classification, s, cfg, X_tr, y_tr) for s in cfg.seeds]
            row[path] = {
                "cold_s": fits[0][1],
                "loss": [m.loss_ for m, _ in fits],
                "n_iter": [m.n_iter_ for m, _ in fits],
                "scores": [float(m.score(X_te, y_te)) for m, _ in fits],
                "steady_s": [],
            }
        for _ in range(rounds):  # alternating, so that the load falls on every path alike
            for path in LBFGS_PATHS:
                seconds = lbfgs_fit(path, classification, cfg.seeds[0], cfg, X_tr, y_tr)[1]
                row[path]["steady_s"].append(seconds)
        for path in LBFGS_PATHS:
            row[path]["steady_median_s"] = statistics.median(row[path]["steady_s"])
        rows.append(row)
        print(name, {p: row[p]["n_iter"] for p in LBFGS_PATHS}, flush=True)
    return rows


def lbfgs_markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "| data | path | steady fit | cold fit | loss_ (per seed) | n_iter_ (per seed) "
        "| test score mean (per seed) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for path in LBFGS_PATHS:
            c = r[path]
            lines.append(
                f"| {r['data']} | {path} | {c['steady_median_s']:.3f} s | {c['cold_s']:.2f} s "
                f"| {', '.join(f'{v:.3g}' for v in c['loss'])} "
                f"| {', '.join(str(v) for v in c['n_iter'])} "
                f"| {statistics.fmean(c['scores']):.4f} "
                f"({', '.join(f'{v:.3f}' for v in c['scores'])}) |"
            )
    lines += ["", f"Versions: {meta}", ""]
    return "\n".join(lines)


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "| data | solver | metric | jaxmlp mean (per seed) | scikit-learn mean (per seed) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            f"{r[lib]['mean']:.4f} ({', '.join(f'{s:.3f}' for s in r[lib]['scores'])})"
            for lib in ("jaxmlp", "sklearn")
        ]
        lines.append(f"| {r['data']} | {r['solver']} | {r['metric']} | {cells[0]} | {cells[1]} |")
    lines += ["", f"Versions: {meta}", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench")
    parser.add_argument("--lbfgs", action="store_true", help="the two lbfgs paths side by side")
    parser.add_argument("--rounds", type=int, default=3, help="steady-fit rounds (--lbfgs)")
    args = parser.parse_args(argv)
    import jax
    import sklearn

    cfg = Config()
    meta = {
        "jax": jax.__version__,
        "scikit-learn": sklearn.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.lbfgs:
        rows = run_lbfgs(cfg, args.rounds)
        payload = {"config": dataclasses.asdict(cfg), "versions": meta, "rows": rows}
        (out / "sklearn_lbfgs.json").write_text(json.dumps(payload, indent=2))
        (out / "sklearn_lbfgs.md").write_text(lbfgs_markdown(rows, meta))
        print(lbfgs_markdown(rows, meta))
        return
    rows = run(cfg)
    payload = {"config": dataclasses.asdict(cfg), "versions": meta, "rows": rows}
    (out / "sklearn_quality.json").write_text(json.dumps(payload, indent=2))
    (out / "sklearn_quality.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
