"""Many MLPs (hidden width x activation x seed) trained in one compiled program.

The public entry point is :func:`jaxmlp.sweep` (:mod:`jaxmlp._sweep.api`), its
result :class:`jaxmlp.SweepResult` (:mod:`jaxmlp._sweep.result`).

Glossary (the one place these words are defined; the modules refer here):

- **model**: one (width, activation, seed[, learning rate]) network of the grid,
  the result of ``train(init_mlp(key(seed), (d, w, ..., w, k), scheme), ...)``.
- **unit**: one hidden unit (a row of ``W1``) of a bin.
- **bin**: ``C = max(widths)`` hidden units stored like one network of width C:
  ``W1 (C, d)``, ``b1 (C,)``, ``W_L (k, C)``, one output bias per slot ``(K, k)``.
  The models of one activation are packed into bins first-fit decreasing, so
  widths 5..50 fill bins of 50 units as 50, 45 + 5, 40 + 10, ... with little padding.
- **slot**: one of the at most ``K = MAX_SLOTS`` models a bin holds; a boolean
  ``member (K, C)`` says which units belong to which slot. A slot's logits sum only
  its own units, so the models never mix, and the optimizer sees each slot as a
  network of width C whose foreign and padding units are zero. Deeper models
  (``depth``) take one model per bin.
- **block**: the bins trained together: one ``lax.scan`` over a chunk's steps per
  block, blocks in turn (``lax.map``), so a block's activations ``(bins, C, n)``
  stay in the CPU cache across steps (the whole grid's would not: measured in a
  prototype, 2.3x slower per step at 320 models).
- **part**: the bins of one program call. The bin axis is sharded over the
  devices; on a single CPU device the bins are split into one part per core,
  each called on its own host thread (XLA:CPU runs one call's small kernels on
  one core; calls from two threads run side by side).
- **chunk**: the steps between two host syncs (``chunk_steps``): progress,
  the finiteness check, the guarded redo and the checkpoint happen between chunks.

Exactness: config ``(w, a, s)`` gives :func:`jaxmlp.train`'s result to float
rounding, its divergence guard included: a chunk first runs without the guard (its
state tracks whether any loss or gradient was non-finite); only if one was is the
chunk redone, from its start, by a guarded program compiled on that first need. A
learning-rate axis is optimizer state (``optax.inject_hyperparams``, each slot's
rate set at init), so models of different rates share bins.

Modules, bottom up: :mod:`~jaxmlp._sweep.plan` (packing, plan, types; NumPy),
:mod:`~jaxmlp._sweep.bins` (the post's forward/backward in bin layout, slot views),
:mod:`~jaxmlp._sweep.steps` (one update: optimizer per slot; the guard of
:mod:`jaxmlp.guard` with the bin layout's ``select``),
:mod:`~jaxmlp._sweep.init` (initial state, bit-identical to ``init_mlp``),
:mod:`~jaxmlp._sweep.chunks` (the traced chunk and finish bodies),
:mod:`~jaxmlp._sweep.parts` (host threads, host copies),
:mod:`~jaxmlp._sweep.programs` (compiled, sharded, cached programs),
:mod:`~jaxmlp._sweep.resume` (fingerprint and checkpoint files),
:mod:`~jaxmlp._sweep.driver` (the chunk loop), :mod:`~jaxmlp._sweep.result`
(:class:`SweepResult` and its assembly) and :mod:`~jaxmlp._sweep.api` (``sweep``).
"""

from jaxmlp._sweep.api import sweep
from jaxmlp._sweep.result import SweepInterrupted, SweepResult

__all__ = ["SweepInterrupted", "SweepResult", "sweep"]
