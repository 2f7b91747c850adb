"""Checkpoints of a sweep: the fingerprint that guards a resume, and the state on disk.

The fingerprint is rendered field by field from the call's
:class:`~jaxmlp._sweep.plan.Spec` (the plan of the programs, seeds, steps, chunks,
curve points, devices), with the optimizer's structure and hyperparameters
(:func:`jaxmlp.optimizers.fingerprint`) and a digest of the data and the shuffle
key: nothing is listed by hand, so a setting added to the plan is guarded too. A
checkpoint is read and written only through :func:`jaxmlp.checkpoint.save` and
:func:`jaxmlp.checkpoint.load`; its leaves are the state's, then the loss curves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp import checkpoint as _checkpoint
from jaxmlp import optimizers
from jaxmlp._safetensors import FileFormatError
from jaxmlp._sweep.plan import Spec, SweepState
from jaxmlp.activations import Activation

# The layout of a checkpoint's state; bumped whenever the state or its meaning
# changes, so that older files are refused rather than misread.
LAYOUT = "bins-2"


def digest(*arrays) -> str:
    """SHA-256 of the arrays' dtypes, shapes and bytes (host copies)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _render(value):
    """A JSON value for one field of the spec (recursively)."""
    if isinstance(value, optimizers.StaticOptimizer):
        key = optimizers.fingerprint(value.optimizer)
        if key is None:
            raise ValueError(
                "checkpoint needs an optimizer whose hyperparameters can be fingerprinted "
                "(see jaxmlp.optimizers.fingerprint); this optimizer holds values that cannot "
                "be compared across processes: pass checkpoint=None or another optimizer"
            )
        return key
    if isinstance(value, Activation):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _render(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_render(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot fingerprint a {type(value).__name__} ({value!r})")


def fingerprint(spec: Spec, data_digest: str) -> dict:
    """What a checkpoint must have been written with to be resumed: a JSON-able dict.

    Built from every field of ``spec`` (its plan's fields nested), the checkpoint
    layout and ``data_digest`` (:func:`digest` of the data and the shuffle key).
    """
    rendered = {"layout": LAYOUT, "data": data_digest, **_render(spec)}
    return json.loads(json.dumps(rendered))  # tuples as lists: compares equal after a load


def save(path: str, state: SweepState, curves: np.ndarray, fp: dict, step: int) -> None:
    """Writes the host ``state`` and ``curves`` after ``step`` updates (atomically)."""
    _checkpoint.save(path, (state, curves), {"fingerprint": fp, "step": step})


# Fields of the fingerprint that follow from others (the bins' packing from the widths and
# devices, the models per width from the seeds and rates, the chunks from the steps, the
# sizes from the data): named only when nothing else differs.
DERIVED = frozenset(
    {"packing", "models_per_width", "rate_name", "chunk_steps", "n_features", "n_outputs",
     "n_examples"}
)  # fmt: skip
# Fields whose difference another differing field explains: the data's digest covers the key
# of the batches' shuffle, so a new batch size changes it too.
EXPLAINED_BY = {"data": "batch_size"}


def _differences(a: dict, b: dict) -> dict[str, tuple]:
    """The (innermost, the plan's unprefixed) fields whose values differ in a and b, each
    with its two values; the DERIVED ones only when no other field differs, none that a
    differing field explains (EXPLAINED_BY)."""
    out = {}
    for name in sorted(set(a) | set(b)):
        x, y = a.get(name), b.get(name)
        if isinstance(x, dict) and isinstance(y, dict) and name == "plan":
            out.update(_differences(x, y))
        elif x != y:
            out[name] = (x, y)
    out = {k: v for k, v in out.items() if EXPLAINED_BY.get(k) not in out}
    primary = {k: v for k, v in out.items() if k not in DERIVED}
    return primary or out


class CheckpointMismatch(ValueError):
    """A checkpoint written by a sweep with other arguments.

    Attributes:
      path: the checkpoint.
      differences: fingerprint field -> (the checkpoint's value, this call's value), as
        JSON values (an optimizer's fingerprint, the data's digest).
    """

    def __init__(self, path: str, differences: dict[str, tuple]):
        self.path, self.differences = path, differences
        fields = ", ".join(differences)
        super().__init__(
            f"checkpoint {path!r} was written by a sweep with other arguments ({fields}); "
            "pass another path or delete it"
        )


def _refuse(path: str, why: str) -> ValueError:
    return ValueError(f"checkpoint {path!r} {why}; pass another path or delete it")


class Saved(NamedTuple):
    """A checkpoint read and checked against this sweep's fingerprint."""

    path: str
    leaves: list  # the state's leaves, then the curves
    step: int  # updates done, in 1..steps


def read(path: str, fp: dict, steps: int) -> Saved:
    """Reads the checkpoint at ``path`` and checks it was written by this very sweep.

    Refused with a ``ValueError`` naming the file: unreadable, another layout,
    other arguments (the differing fields named) or a step outside ``1..steps``.
    Runs before anything is compiled.
    """
    try:
        leaves, meta = _checkpoint.load(path)
    except OSError as e:
        raise _refuse(path, f"cannot be read ({e.strerror or e})") from e
    except FileFormatError as e:  # jaxmlp's own reader: its message says what is wrong
        raise _refuse(path, f"cannot be read as a checkpoint: {e}") from e
    except Exception as e:  # any other failure to read is the file's content
        # (the reader's own message is not repeated: NumPy's suggests loading unsafely)
        raise _refuse(path, f"cannot be read as a checkpoint ({type(e).__name__})") from e
    got = meta.get("fingerprint") if isinstance(meta, dict) else None
    if not isinstance(got, dict):
        raise _refuse(path, "has no sweep fingerprint (not a jaxmlp sweep checkpoint)")
    if got.get("layout") != LAYOUT:
        raise _refuse(
            path,
            f"has layout {got.get('layout')!r}, written by another version of jaxmlp "
            f"(this one reads {LAYOUT!r})",
        )
    if got != fp:
        raise CheckpointMismatch(path, _differences(got, fp))
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 < step <= steps:
        raise _refuse(path, f"holds step {step!r}, outside 1..{steps}")
    return Saved(path, list(leaves), step)


def restore(saved: Saved, state_shapes: SweepState, curves_shape: tuple):
    """The host state and curves of a checkpoint: ``(state, curves, step)``.

    Refused with a ``ValueError`` naming the file if its arrays have other shapes.
    """
    expected = [(tuple(s.shape), np.dtype(s.dtype)) for s in jax.tree.leaves(state_shapes)]
    expected.append((tuple(curves_shape), np.dtype(np.float32)))
    found = [(tuple(np.shape(leaf)), np.asarray(leaf).dtype) for leaf in saved.leaves]
    if found != expected:
        raise _refuse(saved.path, "does not match this sweep's state (arrays of other shapes)")
    state = jax.tree.unflatten(jax.tree.structure(state_shapes), saved.leaves[:-1])
    return state, np.array(saved.leaves[-1]), saved.step
