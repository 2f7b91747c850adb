"""Compile settings chosen per program (jaxmlp.compile_options): they reach XLA, the override."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from jax._src import compiler

import jaxmlp
from jaxmlp import compile_options, training

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU choices")


@pytest.fixture
def compiled_with(monkeypatch):
    """The XLA options of every program compiled from now on, in order."""
    seen: list[dict] = []
    real = compiler.backend_compile_and_load

    def spy(backend, module, devices, options, callbacks):
        name = str(module.operation.attributes["sym_name"]).strip('"')
        if name.startswith(("jit__train", "jit__predict", "jit_run_epochs", "jit_run_models")):
            seen.append(_normal(dict(options.env_option_overrides)))
        return real(backend, module, devices, options, callbacks)

    monkeypatch.setattr(compiler, "backend_compile_and_load", spy)
    return seen


def _expected(program: str) -> dict:
    return _normal(compile_options.CHOICES[program])


def _normal(options: dict) -> dict:
    return {k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()}


def test_every_program_has_a_choice_this_xla_accepts():
    for program, options in compile_options.CHOICES.items():
        assert compile_options.supported(tuple(sorted(options.items()))), program
        assert compile_options.chosen(program) == options
    with pytest.raises(ValueError, match="unknown program"):
        compile_options.chosen("nope")


def test_train_and_predict_compile_with_their_programs_options(compiled_with, monkeypatch):
    monkeypatch.delenv(compile_options.ENV, raising=False)
    X = np.random.default_rng(0).normal(size=(37, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    small = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    wide = jaxmlp.init_mlp(jax.random.key(0), (2, 9, 1))
    jaxmlp.train(small, X, y, optimizer=optax.sgd(0.1), steps=3)
    jaxmlp.train(wide, X, y, optimizer=optax.sgd(0.1), steps=3)
    jaxmlp.predict(small, X)
    assert compiled_with == [
        _expected("train_small"),
        _expected("train"),
        _expected("predict"),
    ]


def test_the_estimators_fit_and_a_searchs_program_compile_with_the_fits_options(
    compiled_with, monkeypatch
):
    from sklearn.exceptions import ConvergenceWarning

    from jaxmlp.sklearn import GridSearchCV, MLPClassifier

    monkeypatch.delenv(compile_options.ENV, raising=False)
    X = np.random.default_rng(2).normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    est = MLPClassifier((5,), max_iter=3, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    search = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=2, refit=False)
    with pytest.warns(ConvergenceWarning):
        search.fit(X, y)
    assert compiled_with == [_expected("fit"), _expected("fit")]


def test_the_override_gives_xlas_defaults_or_the_options_asked(compiled_with, monkeypatch):
    X = np.random.default_rng(1).normal(size=(41, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    monkeypatch.setenv(compile_options.ENV, "default")
    jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=4)
    monkeypatch.setenv(compile_options.ENV, '{"xla_backend_optimization_level": 1}')
    jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=4)
    assert compiled_with == [{}, {"xla_backend_optimization_level": 1}]
    monkeypatch.setenv(compile_options.ENV, "not json")
    with pytest.raises(ValueError, match="JAXMLP_COMPILER_OPTIONS"):
        jaxmlp.train(params, X, y, optimizer=optax.sgd(0.1), steps=4)


def test_a_second_call_reuses_the_program(monkeypatch):
    monkeypatch.delenv(compile_options.ENV, raising=False)
    X = np.random.default_rng(2).normal(size=(43, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
    before = training._train_fast_small._cache_size()
    for rate in (0.1, 0.2):
        jaxmlp.train(params, X, y, optimizer=optax.sgd, learning_rate=rate, steps=5)
    assert training._train_fast_small._cache_size() == before + 1


def test_programs_called_inside_jit_vmap_and_grad():
    """Compile options belong to top-level programs: inside a transformation, a jaxmlp
    program is inlined as a plain jit, with the same numbers."""
    params = jaxmlp.init_mlp(jax.random.key(3), (2, 4, 3))
    X = np.random.default_rng(3).normal(size=(6, 2)).astype(np.float32)
    direct = np.asarray(jaxmlp.predict_proba(params, X))
    inside = jax.jit(lambda p, x: jaxmlp.predict_proba(p, x))(params, X)
    np.testing.assert_allclose(inside, direct, rtol=1e-6)
    mapped = jax.vmap(lambda x: jaxmlp.predict(params, x[None])[0])(X)
    np.testing.assert_array_equal(mapped, np.asarray(jaxmlp.predict(params, X)))
    grad = jax.grad(lambda p: jaxmlp.predict_proba(p, X).sum())(params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grad))
    with pytest.raises(ValueError, match="X"):  # bad input still says what is wrong
        jax.jit(lambda p: jaxmlp.predict(p, np.ones((3, 5), np.float32)))(params)


def test_an_unmeasured_jaxlib_probes_the_options_and_drops_what_it_rejects(monkeypatch):
    compile_options._resolve.cache_clear()
    monkeypatch.setattr(compile_options, "_measured_jaxlib", lambda: False)
    monkeypatch.setattr(compile_options, "_probe", lambda options: False)  # a later XLA
    try:
        assert compile_options.chosen("fit") == {}
    finally:
        compile_options._resolve.cache_clear()
    monkeypatch.undo()
    assert compile_options.chosen("fit") == compile_options.CHOICES["fit"]
