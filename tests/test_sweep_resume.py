"""jaxmlp._sweep.resume and driver: the fingerprint from the plan, resume in-process,
and every checkpoint that is not this sweep's refused with the file named."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import checkpoint, optimizers
from jaxmlp._sweep import plan, resume

GRID = dict(widths=(3, 2), activations=("tanh",), seeds=(0, 5), steps=6, chunk_steps=2)


@pytest.fixture(scope="module")
def data():
    return jaxmlp.datasets.circles(jax.random.key(0), 24)


@pytest.fixture(scope="module")
def uninterrupted(data):
    X, y = data
    return jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), **GRID)


class Stop(Exception):
    pass


@pytest.fixture()
def interrupted(data, tmp_path):
    """A checkpoint after 4 of 6 steps: the run stopped by an exception from on_chunk."""
    X, y = data
    path = str(tmp_path / "sweep.npz")

    def stop(done):
        if done >= 4:
            raise Stop

    with pytest.raises(Stop):
        jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), checkpoint=path, on_chunk=stop, **GRID)
    assert checkpoint.load(path)[1]["step"] == 4
    return path


@pytest.mark.slow
def test_resume_in_process_is_bit_identical(data, uninterrupted, interrupted):
    X, y = data
    seen = []
    r = jaxmlp.sweep(
        X, y, optimizer=optax.adam(0.05), checkpoint=interrupted, on_chunk=seen.append, **GRID
    )
    assert seen == [6]  # only the last chunk ran
    assert r.resumed_from == 4 and uninterrupted.resumed_from == 0
    for name in ("final_loss", "train_accuracy", "loss", "diverged_at"):
        np.testing.assert_array_equal(getattr(r, name), getattr(uninterrupted, name), name)
    leaves = jax.tree.leaves(uninterrupted.group_params)
    pairs = zip(jax.tree.leaves(r.group_params), leaves, strict=True)
    for got, want in pairs:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "change, field",
    [
        ({"optimizer": optax.adam(0.5)}, "optimizer"),  # the same kind, another rate
        ({"seeds": (0, 6)}, "seeds"),
        ({"steps": 8}, "steps"),
        ({"scheme": "he_normal"}, "scheme"),
        ({"widths": (3, 4)}, "widths"),  # not its packing too: that follows from the widths
    ],
)
def test_a_checkpoint_of_other_settings_is_refused(data, interrupted, change, field):
    """Exactly the argument that differs is named, never a field derived from it."""
    X, y = data
    args = {**GRID, "optimizer": optax.adam(0.05), "checkpoint": interrupted, **change}
    with pytest.raises(ValueError, match=f"{interrupted}.*other arguments \\({field}\\);"):
        jaxmlp.sweep(X, y, **args)


def test_other_data_is_refused(data, interrupted):
    X, y = data
    with pytest.raises(ValueError, match="other arguments \\(data\\)"):
        jaxmlp.sweep(X + 1.0, y, optimizer=optax.adam(0.05), checkpoint=interrupted, **GRID)


@pytest.mark.slow
def test_runs_with_other_learning_rates_never_share_a_checkpoint(data, tmp_path):
    """A finished sweep's checkpoint is not returned to a sweep of other rates."""
    X, y = data
    path = str(tmp_path / "rates.npz")
    grid = dict(GRID, steps=2, chunk_steps=1, optimizer=optax.adam, checkpoint=path)
    first = jaxmlp.sweep(X, y, learning_rates=(0.01, 0.2), **grid)
    with pytest.raises(ValueError, match="rates.npz.*other arguments.*learning_rates"):
        jaxmlp.sweep(X, y, learning_rates=(0.01, 0.3), **grid)
    again = jaxmlp.sweep(X, y, learning_rates=(0.01, 0.2), **grid)  # the same: resumed, done
    np.testing.assert_array_equal(again.loss, first.loss)


@pytest.mark.parametrize("step", [0, 99, "4", True, None])
def test_a_stored_step_out_of_range_is_refused(data, interrupted, step):
    X, y = data
    leaves, meta = checkpoint.load(interrupted)
    checkpoint.save(interrupted, leaves, {**meta, "step": step})
    with pytest.raises(ValueError, match="sweep.npz.*holds step"):
        jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), checkpoint=interrupted, **GRID)


def test_arrays_of_other_shapes_are_refused(data, interrupted):
    X, y = data
    leaves, meta = checkpoint.load(interrupted)
    checkpoint.save(interrupted, leaves[:-1] + [leaves[-1][..., :2]], meta)
    with pytest.raises(ValueError, match="sweep.npz.*other shapes"):
        jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), checkpoint=interrupted, **GRID)


def test_old_corrupt_and_foreign_files_are_refused_with_their_name(data, tmp_path):
    X, y = data
    old = str(tmp_path / "old.npz")
    checkpoint.save(old, [np.zeros(2)], {"fingerprint": {"layout": "bins-1"}, "step": 2})
    foreign = str(tmp_path / "foreign.npz")
    checkpoint.save(foreign, [np.zeros(2)], {"step": 2})
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a checkpoint at all")  # (a torn zip leaks np.load's handle)
    cases = [(old, "old.npz.*layout 'bins-1'"), (foreign, "foreign.npz.*no sweep fingerprint"),
             (str(corrupt), "corrupt.npz.*cannot be read as a checkpoint")]  # fmt: skip
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            jaxmlp.sweep(X, y, optimizer=optax.adam(0.05), checkpoint=path, **GRID)


def test_an_optimizer_without_fingerprint_cannot_checkpoint(data, tmp_path):
    big = np.ones(optimizers.MAX_ARRAY_SIZE + 1, np.float32)  # too large to compare by value
    opaque = optax.GradientTransformation(
        lambda params: optax.EmptyState(),
        lambda updates, state, params=None: (jax.tree.map(lambda u: -big[0] * u, updates), state),
    )
    assert optimizers.fingerprint(opaque) is None
    X, y = data
    with pytest.raises(ValueError, match="checkpoint needs an optimizer"):
        jaxmlp.sweep(X, y, optimizer=opaque, checkpoint=str(tmp_path / "c.npz"), **GRID)


def _spec(**plan_changes):
    widths = plan_changes.pop("widths", (4, 1))
    fields = dict(
        widths=widths,
        activations=(jaxmlp.activations.get("tanh"),),
        models_per_width=2,
        n_features=2,
        n_outputs=1,
        optimizer=optimizers.static(optax.adam(0.01)),
        scheme="glorot_uniform",
        batch_size=None,
        n_examples=12,
        packing=plan.pack(widths, 2, rows=12),
        backend="xla",
        depth=1,
        learning_rates=None,
        rate_name=None,
    )
    fields.update(plan_changes)
    return plan.Spec(plan.Plan(**fields), seeds=(0, 1), steps=10, chunk_steps=5,
                     loss_points=100, n_devices=1)  # fmt: skip


PLAN_CHANGES = {
    "widths": (4, 2),
    "activations": (jaxmlp.activations.get("relu"),),
    "models_per_width": 3,
    "n_features": 3,
    "n_outputs": 2,
    "optimizer": optimizers.static(optax.adam(0.5)),
    "scheme": "he_normal",
    "batch_size": 6,
    "n_examples": 13,
    "packing": plan.pack((4, 1), 2, rows=12, n_devices=2),
    "backend": "pallas",
    "depth": 2,
    "learning_rates": (0.1, 0.2),
    "rate_name": "lr",
}
SPEC_CHANGES = {"seeds": (0, 2), "steps": 11, "chunk_steps": 4, "loss_points": 7, "n_devices": 2}


def test_every_field_of_the_plan_and_spec_changes_the_fingerprint():
    assert set(PLAN_CHANGES) == {f.name for f in dataclasses.fields(plan.Plan)}
    assert set(SPEC_CHANGES) | {"plan"} == {f.name for f in dataclasses.fields(plan.Spec)}
    base = resume.fingerprint(_spec(), "data")
    assert base == resume.fingerprint(_spec(optimizer=optimizers.static(optax.adam(0.01))), "data")
    assert base["layout"] == resume.LAYOUT == "bins-2"
    assert base != resume.fingerprint(_spec(), "other data")
    for name, value in PLAN_CHANGES.items():
        assert resume.fingerprint(_spec(**{name: value}), "data") != base, name
    for name, value in SPEC_CHANGES.items():
        spec = dataclasses.replace(_spec(), **{name: value})
        assert resume.fingerprint(spec, "data") != base, name


def test_digest_sees_dtype_shape_and_bytes():
    a = np.arange(4, dtype=np.float32)
    assert resume.digest(a) == resume.digest(a.copy())
    assert resume.digest(a) != resume.digest(a.astype(np.float64))
    assert resume.digest(a) != resume.digest(a.reshape(2, 2))
    assert resume.digest(a) != resume.digest(jnp.asarray(a) + 1)
