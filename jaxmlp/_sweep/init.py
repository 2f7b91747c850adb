"""The sweep's initial state: every model starts from ``init_mlp(key(seed), sizes, scheme)``.

:func:`init_models` draws the whole grid's initial params bit-identical to
:func:`jaxmlp.init_mlp` called per model; :func:`init_state` places them in bins
(:mod:`jaxmlp._sweep.plan`) with each slot's optimizer state.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import guard, mlp
from jaxmlp._sweep.bins import slot_views
from jaxmlp._sweep.plan import Plan, SweepState, indices

Array = jax.Array


def prefix_draws() -> bool:
    """Are random draws prefixes of longer ones (``bits(k, (n,)) == bits(k, (m,))[:n]``)?

    True for the default threefry PRNG with ``jax_threefry_partitionable`` (the
    default since jax 0.5): every element's bits depend only on its flat index.
    """
    impl = jax.random.key_impl(jax.random.key(0))
    partitionable = getattr(jax.config, "jax_threefry_partitionable", False)
    return bool(partitionable) and "threefry" in str(impl)


def seed_dtype() -> np.dtype:
    """The dtype of the seeds: that of a Python int in ``jax.random.key(seed)``, int64 under
    ``jax_enable_x64`` (where a negative seed keys otherwise than as int32), else int32."""
    return jax.dtypes.canonicalize_dtype(np.int64)


def init_models(seed: Array, plan: Plan) -> list[mlp.Params]:
    """``init_mlp(key(seed), plan.sizes(w), scheme)`` for every width of the plan.

    Under :func:`prefix_draws`, a layer's weights of every width are prefixes
    of one draw sized for the widest (the width only scales them), so the whole
    grid costs a few random draws per layer instead of ~five per width and
    layer, each of which costs ~0.4 s of XLA:CPU compile time.
    ``tests/sweep/test_init.py`` checks the result is ``init_mlp``'s, bit for bit.
    """
    scheme = plan.scheme
    if not prefix_draws():
        return [mlp.init_mlp(jax.random.key(seed), plan.sizes(w), scheme) for w in plan.widths]
    f32 = jnp.float32
    # (fan_in, fan_out) of every layer of every width: (W, L) pairs
    fans = [list(zip(plan.sizes(w)[:-1], plan.sizes(w)[1:], strict=True)) for w in plan.widths]
    big = max(i * o for layers in fans for i, o in layers)
    n_layers = len(fans[0])
    layer_keys = jax.random.split(jax.random.key(seed), n_layers)  # as init_mlp
    w_keys, b_keys = jnp.moveaxis(jax.vmap(jax.random.split)(layer_keys), 1, 0)  # as _init_dense
    if scheme == "glorot_uniform":
        limits = jnp.asarray([[6.0 / (i + o) for i, o in layers] for layers in fans], f32)
        limits = jnp.sqrt(limits)  # (W, L), as _init_dense's jnp.sqrt(6.0 / (fan_in + fan_out))
        draw = lambda key, lim: jax.random.uniform(key, (big,), f32, -lim, lim)  # noqa: E731
        flat = jax.vmap(jax.vmap(draw), in_axes=(None, 0))(w_keys, limits)  # (W, L, big)
    elif scheme == "he_normal":
        scales = jnp.asarray([[2.0 / i for i, _ in layers] for layers in fans], f32)
        normal = jax.vmap(lambda key: jax.random.normal(key, (big,), f32))(w_keys)  # (L, big)
        flat = normal[None] * jnp.sqrt(scales)[..., None]
    else:  # uniform01
        flat = jnp.broadcast_to(
            jax.vmap(lambda key: jax.random.uniform(key, (big,), f32))(w_keys),
            (len(fans), n_layers, big),
        )
        widest = max(max(plan.widths), plan.n_outputs)
        draw_bias = lambda key: jax.random.uniform(key, (widest,), f32)  # noqa: E731
        biases = jax.vmap(draw_bias)(b_keys)  # (L, widest)
    out: list[mlp.Params] = []
    for i, layers in enumerate(fans):
        model = []
        for l, (fan_in, fan_out) in enumerate(layers):
            W = flat[i, l, : fan_out * fan_in].reshape(fan_out, fan_in)
            b = biases[l, :fan_out] if scheme == "uniform01" else jnp.zeros((fan_out,), f32)
            model.append(mlp.Dense(W, b))
        out.append(tuple(model))
    return out


def init_state(plan: Plan, seeds: Array, key_data: Array, rates: Array) -> SweepState:
    """Initial state: model (w, s) starts from ``init_mlp(key(seed), plan.sizes(w), scheme)``.

    ``seeds`` (models_per_width,) :func:`seed_dtype`, one per model column; ``key_data``
    (2,) uint32; ``rates`` (B, K) float32, each slot's learning rate (:func:`slot_rates`;
    unused without a learning-rate axis).
    """
    p = plan.packing
    B, C, K, d, k = p.n_bins, p.capacity, p.slots, plan.n_features, plan.n_outputs
    shapes = [((B, C, d), (B, C))] + [((B, C, C), (B, C))] * (plan.depth - 1)
    f32 = jnp.float32  # whatever jax_enable_x64 says, as init_mlp's default
    layers = [[jnp.zeros(w_shape, f32), jnp.zeros(b_shape, f32)] for w_shape, b_shape in shapes]
    W_out, b_out = jnp.zeros((B, k, C), f32), jnp.zeros((B, K, k), f32)
    models = jax.vmap(lambda s: init_models(s, plan))(seeds)  # per width, leaves (S, ...)
    for ix, (*hidden, o) in zip(indices(p, plan.widths), models, strict=True):
        bins, units = ix.bins[:, None], ix.units  # (S, 1), (S, w)
        for l, layer in enumerate(hidden):
            at: tuple[np.ndarray, ...] = (bins, units)  # W (B, C, d): the model's rows
            if l > 0:  # W (B, C, C): the model's rows and columns
                at = (bins[..., None], units[:, :, None], units[:, None, :])
            layers[l][0] = layers[l][0].at[at].set(layer.W)
            layers[l][1] = layers[l][1].at[bins, units].set(layer.b)
        W_out = W_out.at[bins[..., None], np.arange(k)[None, :, None], units[:, None, :]].set(o.W)
        b_out = b_out.at[ix.bins, ix.slots].set(o.b)
    params = (*(mlp.Dense(W, b) for W, b in layers), mlp.Dense(W_out, b_out))
    member = jnp.asarray(p.member(plan.widths))
    opt_state = jax.vmap(jax.vmap(plan.transformation.init))(slot_views(params, member))
    if plan.learning_rates is not None:  # each slot's own rate
        hyper = opt_state.hyperparams
        opt_state = opt_state._replace(hyperparams={**hyper, plan.rate_name: rates})
    state = guard.init(params, opt_state, shape=(B, K))
    return SweepState(tuple(state for _ in plan.activations), key_data)
