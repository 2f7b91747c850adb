"""Fused Pallas kernels against the XLA reference (interpret mode on CPU, Triton on GPU).

Interpret mode is slow to compile, so shapes are tiny and each test loops over
several cases rather than parametrizing one compile per test.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import _steps, kernels
from jaxmlp.kernels import _common

TOL = {"rtol": 1e-5, "atol": 1e-5}

# (activation, sizes): every activation, depths 1 to 3, k = 1 and k > 1,
# widths that are not powers of two (17 pads to 32), n not a multiple of a block.
CASES = [
    ("sigmoid", (3, 5, 1)),
    ("tanh", (3, 5, 7, 4)),
    ("relu", (2, 6, 3, 5, 1)),
    ("leaky_relu", (5, 9, 3)),
    ("softplus", (3, 17, 1)),
    ("identity", (2, 3, 5, 6, 3)),
]
N = 37
F32 = np.float32


def _params(rng, sizes):
    # NumPy draws, cast in NumPy, sent with device_put: eager jax.random calls, device-side
    # casts and jnp.asarray of a NumPy array (jit(stage)) each compile a program per shape.
    return tuple(
        jaxmlp.Dense(
            jax.device_put(rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_out, fan_in)).astype(F32)),
            jax.device_put(rng.normal(0.0, 0.3, (fan_out,)).astype(F32)),
        )
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
    )


def _data(sizes, n=N, seed=0):
    rng = np.random.default_rng(seed)
    X = jax.device_put(rng.normal(size=(n, sizes[0])).astype(F32))
    y = jax.device_put(rng.integers(0, max(2, sizes[-1]), n).astype(np.int32))
    return _params(rng, sizes), X, y


def _stacked(sizes, models, seed):
    rng = np.random.default_rng(seed)
    nets = [jax.tree.map(np.asarray, _params(rng, sizes)) for _ in range(models)]
    return jax.tree.map(lambda *a: jax.device_put(np.stack(a)), *nets)  # stacked in NumPy


def _model(stacked, m):
    """Model ``m`` of stacked params or results, indexed in NumPy (eager slices compile)."""
    return jax.tree.map(lambda a: jax.device_put(np.asarray(a)[m]), stacked)


def _circles(n=40, seed=0):
    """Two noisy circles (radii 3 and 1) as in the post, drawn with NumPy."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    radius = np.where(y == 1, 1.0, 3.0)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1) + rng.normal(0, 0.05, (n, 2))
    return jax.device_put(X.astype(F32)), jax.device_put(y.astype(np.int32))


def _close(actual, expected):
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        assert a.shape == e.shape
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), **TOL)


@pytest.fixture(autouse=True)
def exact_reference():
    """XLA's default float32 matmul on GPU is TF32; compare with exact products."""
    with jax.default_matmul_precision("highest"):
        yield


def test_padding_helpers():
    assert [_common.padded_dim(s) for s in (1, 2, 3, 16, 17, 33, 64)] == [1, 2, 4, 16, 32, 64, 64]
    x = jnp.ones((2, 3))
    padded = _common.pad_to(x, (4, 5))
    assert padded.shape == (4, 5) and float(padded.sum()) == 6.0
    assert _common.pad_to(x, (2, 3)) is x


@functools.partial(jax.jit, static_argnums=3)
def _reference(params, X, y, act):
    """One compile per case: vmap of forward, loss and the manual gradients."""
    logits = jax.vmap(jaxmlp.forward, in_axes=(None, 0, None))(params, X, act)
    return logits, jaxmlp.loss(params, X, y, act), jaxmlp.manual_grads(params, X, y, act)


@pytest.mark.slow  # six interpret-mode compiles, > 5 s
def test_fused_forward_and_grads_match_the_xla_reference():
    for act, sizes in CASES:
        params, X, y = _data(sizes)
        logits, value, grads = _reference(params, X, y, act)
        fused_logits = kernels.fused_forward(params, X, act)
        assert fused_logits.shape == (N, sizes[-1])
        _close(fused_logits, logits)
        fused_value, fused_grads = kernels.fused_loss_and_grads(params, X, y, act)
        assert jax.tree.structure(fused_grads) == jax.tree.structure(params)
        _close(fused_value, value)
        _close(fused_grads, grads)


@pytest.mark.slow
def test_fused_kernels_over_many_blocks_and_programs():
    # 37 rows in blocks of 16: three forward programs, the last one mostly padding;
    # for the gradients two blocks per program: 2 programs, the in-kernel loop,
    # and 27 padding rows spread over the last blocks.
    params, X, y = _data((2, 5, 3), seed=1)
    logits, value, grads = _reference(params, X, y, "tanh")
    _close(kernels.fused_forward(params, X, "tanh", block_rows=16), logits)
    fused_value, fused_grads = kernels.fused_loss_and_grads(
        params, X, y, "tanh", block_rows=16, blocks_per_program=2
    )
    _close(fused_value, value)
    _close(fused_grads, grads)


@pytest.mark.slow
def test_jax_grad_of_fused_loss_is_the_kernel_gradient():
    params, X, y = _data((3, 5, 1), seed=2)

    @jax.jit
    def fused(params, X):
        value, grads = jax.value_and_grad(kernels.fused_loss)(params, X, y, "sigmoid")
        tripled = jax.grad(lambda p: 3.0 * kernels.fused_loss(p, X, y, "sigmoid"))(params)
        dx = jax.grad(kernels.fused_loss, argnums=1)(params, X, y, "sigmoid")
        return value, grads, tripled, dx

    @jax.jit
    def reference(params, X):
        value, grads = jax.value_and_grad(jaxmlp.loss)(params, X, y, "sigmoid")
        return value, grads, jax.grad(jaxmlp.loss, argnums=1)(params, X, y, "sigmoid")

    value, grads, tripled, dx = fused(params, X)
    ref_value, ref_grads, ref_dx = reference(params, X)
    _close(value, ref_value)
    _close(grads, ref_grads)
    _close(grads, jaxmlp.manual_grads(params, X, y, "sigmoid"))
    # The chain rule through the custom_vjp: d(3 L)/dparams = 3 dL/dparams.
    _close(tripled, jax.tree.map(lambda g: 3.0 * g, ref_grads))
    # dL/dX is also correct (computed by XLA in the backward rule).
    _close(dx, ref_dx)


@pytest.mark.slow
def test_fused_loss_and_grads_has_an_unchecked_twin():
    params, X, y = _data((3, 5, 1), seed=2)
    twin = kernels.loss_and_fused_grads
    value, grads = jax.jit(twin, static_argnums=3)(params, X, y, "sigmoid")
    _close(value, jaxmlp.loss(params, X, y, "sigmoid"))
    _close(grads, jaxmlp.manual_grads(params, X, y, "sigmoid"))


@pytest.mark.slow
def test_vmap_of_fused_grads_over_models():
    """``jax.vmap`` adds a grid axis: the route for a sweep's stacked models."""
    X, y = _circles()
    params = _stacked((2, 5, 1), 2, seed=5)
    many = jax.jit(
        jax.vmap(kernels.loss_and_fused_grads, in_axes=(0, None, None, None)), static_argnums=3
    )
    values, grads = many(params, X, y, "tanh")
    for m in range(2):
        _, value, expected = _reference(_model(params, m), X, y, "tanh")
        _close(np.asarray(values)[m], value)
        _close(_model(grads, m), expected)


@pytest.mark.slow
def test_fused_train_matches_jaxmlp_train():
    X, y = _circles()
    params = _stacked((2, 3, 1), 3, seed=1)
    # softplus(0) != 0, so padded hidden units are live: their weights must stay 0.
    # The third model overflows on its first update: the divergence guard.
    lrs = np.array([0.5, 2.0, 1e38], F32)
    steps = 9
    # Chunks of 4 losses and blocks of 16 rows exercise both in-kernel loops.
    result = kernels.fused_train(
        params,
        X,
        y,
        activation="softplus",
        learning_rate=lrs,
        steps=steps,
        row_block=16,
        loss_chunk=4,
    )
    assert result.loss.shape == (3, steps)
    result = jax.tree.map(np.asarray, result)  # checked in NumPy (eager slices compile)
    for m in range(3):
        ref = jaxmlp.train(
            _model(params, m),
            X,
            y,
            activation="softplus",
            optimizer=optax.sgd(float(lrs[m])),
            steps=steps,
        )
        expected = -1 if ref.diverged_at is None else ref.diverged_at
        assert int(result.diverged_at[m]) == expected
        finite = np.isfinite(np.asarray(ref.loss))
        _close(result.loss[m][finite], ref.loss[finite])
        np.testing.assert_array_equal(np.isfinite(np.asarray(result.loss[m])), finite)
        _close(_model(result.params, m), ref.params)
    np.testing.assert_array_equal(np.asarray(result.diverged_at[:2]), [-1, -1])
    assert int(result.diverged_at[2]) >= 1
    # Training made progress, faster with the larger learning rate.
    assert float(result.loss[1, -1]) < float(result.loss[0, -1]) < float(result.loss[0, 0])


def test_resolve_backend():
    assert kernels.resolve_backend("auto", platform="cpu") == "xla"
    assert kernels.resolve_backend("auto", platform="gpu") == "pallas"
    assert kernels.resolve_backend("auto", platform="tpu") == "xla"  # Triton kernels
    assert kernels.resolve_backend("xla", platform="gpu") == "xla"
    assert kernels.resolve_backend("pallas", platform="cpu") == "pallas"
    expected = "pallas" if jax.default_backend() == "gpu" else "xla"
    assert kernels.resolve_backend("auto") == expected
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.resolve_backend("cuda")


def test_bad_input_is_rejected_before_compiling():
    params, X, y = _data((3, 5, 1))
    with pytest.raises(ValueError, match="precision must be one of"):
        kernels.fused_forward(params, X, "sigmoid", precision="low")
    with pytest.raises(ValueError, match="block_rows must be a power of two >= 16"):
        kernels.fused_forward(params, X, "sigmoid", block_rows=24)
    with pytest.raises(ValueError, match="blocks_per_program"):
        kernels.fused_loss_and_grads(params, X, y, "sigmoid", blocks_per_program=3)
    with pytest.raises(ValueError, match="3 features"):
        kernels.fused_loss_and_grads(params, X[:, :2], y, "sigmoid")
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels.fused_loss(params, X, y, "swish")
    with pytest.raises(TypeError, match="interpret must be a bool"):
        kernels.fused_forward(params, X, "sigmoid", interpret="yes")
    stacked = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    with pytest.raises(ValueError, match=r"learning_rate must be a scalar or have shape \(2,\)"):
        kernels.fused_train(stacked, X, y, learning_rate=jnp.ones(3), steps=2)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        kernels.fused_train(stacked, X, y, learning_rate=1.0, steps=0)
    with pytest.raises(ValueError, match="same leading model axis"):
        kernels.fused_train(params, X, y, learning_rate=1.0, steps=2)


@pytest.mark.slow
def test_kernels_lower_to_triton_for_gpu():
    """Lowering to Triton IR (no GPU needed) catches ops or shapes Triton rejects."""
    from jax import export

    from jaxmlp.kernels import fused_mlp, fused_training

    act = jaxmlp.activations.get("softplus")
    params = _params(np.random.default_rng(0), (32, 64, 48, 64, 3))
    X = jax.ShapeDtypeStruct((1 << 20, 32), jnp.float32)
    y = jax.ShapeDtypeStruct((1 << 20,), jnp.int32)
    stacked = _stacked((2, 17, 1), 4, seed=0)
    Xs = jax.ShapeDtypeStruct((600, 2), jnp.float32)
    ys = jax.ShapeDtypeStruct((600,), jnp.int32)
    common = {"precision": "highest", "interpret": False}
    checks = [
        (functools.partial(fused_mlp._fused_forward, act=act, **common), (params, X)),
        (functools.partial(fused_mlp._loss_and_grads_impl, act=act, **common), (params, X, y)),
        (
            functools.partial(
                fused_training._fused_train,
                act=act,
                steps=300,
                num_warps=4,
                row_block=256,
                loss_chunk=128,
                **common,
            ),
            (stacked, Xs, ys, jnp.ones(4)),
        ),
    ]
    triton = [export.DisabledSafetyCheck.custom_call("__gpu$xla.gpu.triton")]
    for fn, args in checks:
        exported = export.export(jax.jit(fn), platforms=["cuda"], disabled_checks=triton)(*args)
        assert "xla.gpu.triton" in exported.mlir_module()


@pytest.mark.slow  # interpret-mode kernels inside train, > 5 s
def test_train_backend_pallas_matches_xla():
    """``train(backend="pallas")`` routes each step's loss and gradients through the kernel."""
    X, y = _circles(n=24)
    params = _params(np.random.default_rng(6), (2, 3, 1))
    optimizer = optax.sgd(2.0)
    xla = jaxmlp.train(params, X, y, optimizer=optimizer, steps=3, backend="xla")
    fused = jaxmlp.train(params, X, y, optimizer=optimizer, steps=3, backend="pallas")
    _close(fused.loss, xla.loss)
    _close(fused.params, xla.params)
    # Both pallas entries of the lookup (grad="autodiff" is jax.grad of fused_loss).
    for fn in _steps.BACKEND_GRADIENTS["pallas"].values():
        value, grads = jax.jit(fn, static_argnums=3)(params, X, y, "sigmoid")
        _close(value, jaxmlp.loss(params, X, y, "sigmoid"))
        _close(grads, jaxmlp.manual_grads(params, X, y, "sigmoid"))
    with pytest.raises(ValueError, match="backend must be one of"):
        jaxmlp.train(params, X, y, optimizer=optimizer, steps=3, backend="cuda")


@pytest.mark.slow  # two sweeps per depth, > 10 s
@pytest.mark.parametrize("depth", [1, 2])
def test_sweep_backend_pallas_matches_xla(depth):
    X, y = _circles(n=24)
    grid = {"widths": (3, 2), "activations": ("sigmoid",), "seeds": (0, 1), "steps": 3}
    optimizer = optax.sgd(2.0)
    xla = jaxmlp.sweep(X, y, optimizer=optimizer, backend="xla", depth=depth, **grid)
    fused = jaxmlp.sweep(X, y, optimizer=optimizer, backend="pallas", depth=depth, **grid)
    _close(fused.loss, xla.loss)
    _close(fused.final_loss, xla.final_loss)
    _close(fused.params(2, "sigmoid", 1), xla.params(2, "sigmoid", 1))
    with pytest.raises(ValueError, match="backend must be one of"):
        jaxmlp.sweep(X, y, optimizer=optimizer, backend="gpu", **grid)
