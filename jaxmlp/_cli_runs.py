"""The ``train``, ``sweep`` and ``convert`` commands (see :mod:`jaxmlp.cli`).

Each is split along its seams: checks and data first (a bad value or output is
found before any training), then the run, then the files.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import pathlib
import sys
import time
from typing import Any, NamedTuple

from jaxmlp._cli_checks import (
    Interrupted,
    UsageError,
    as_usage_error,
    check_file_to_write,
    check_lr,
    check_out_dir,
    load_dataset,
    make_optimizer,
    progress_bar,
)

# Ctrl-C is honoured between chunks of training: each chunk is at most
# validation.CHUNK_FLOPS multiply-adds (about a second on one CPU core) and at most
# MAX_CHUNK_STEPS steps. Each chunk is one more ``train`` call (a few ms: checks and
# dispatch). Measured (2-core CPU, 100 000 steps of a 2-3-1 net, full-batch SGD and
# mini-batch Adam): chunks of 1000 steps took 1.5-2x one call, chunks of 20 000 within
# the noise.
MAX_CHUNK_STEPS = 20_000
# a --batch-size error's limit is the training split's rows: the message says so
BATCH_NOTE = " (the examples of the training split: --n less --test-fraction)"

# ---- train ----

TRAIN_FILES = ("params.safetensors", "metrics.json", "boundary.png")


class TrainSetup(NamedTuple):
    """What ``train`` needs, built and checked before any training."""

    X: Any
    y: Any
    X_train: Any
    X_test: Any
    y_train: Any
    y_test: Any
    sizes: tuple[int, ...]
    params: Any
    optimizer: Any
    key: Any


class Fit(NamedTuple):
    """The outcome of :func:`_fit`: the params after ``steps_done`` of the asked steps."""

    params: Any
    loss: Any  # (steps_done,)
    diverged_at: int | None
    steps_done: int
    interrupted: bool
    seconds: float


def _train_setup(args: argparse.Namespace) -> TrainSetup:
    import jax
    import numpy as np

    import jaxmlp
    from jaxmlp import datasets, optimizers, validation

    check_out_dir(pathlib.Path(args.out), TRAIN_FILES)
    check_lr(args.lr)
    # the factory, with the rate given to train as optimizer state, as the playground and
    # its Python snippet do: the same compiled program, so the same params to the bit
    optimizer = optimizers.by_name(args.optimizer)
    # at once, before the data: every data set has 2 features and 1 output at least
    as_usage_error("--sizes", validation.check_sizes, (2, *args.sizes, 1))
    keys = datasets.run_keys(args.seed)
    X, y = load_dataset(args.dataset, args.n, keys.data)
    X_train, X_test, y_train, y_test = as_usage_error(
        "--test-fraction", datasets.train_test_split,
        jax.random.key(keys.split), X, y, test_fraction=args.test_fraction,
    )  # fmt: skip
    k = int(np.max(np.asarray(y))) + 1
    sizes = (X.shape[1], *args.sizes, 1 if k == 2 else k)
    params = as_usage_error("--sizes", jaxmlp.init_mlp, jax.random.key(keys.init), sizes)
    key = jax.random.key(keys.shuffle) if args.batch_size else None
    try:
        validation.check_batching(args.batch_size, key, X_train.shape[0])
    except (ValueError, TypeError) as e:
        raise UsageError(f"--batch-size: {e}{BATCH_NOTE}") from None
    return TrainSetup(X, y, X_train, X_test, y_train, y_test, sizes, params, optimizer, key)


def _chunk_steps(args: argparse.Namespace, setup: TrainSetup) -> int:
    """Steps per ``train`` call: at most MAX_CHUNK_STEPS and about CHUNK_FLOPS of work.

    Every run is chunked (any optimizer, full batch or mini-batches): each chunk
    continues the previous one exactly through ``opt_state=`` and ``first_step=``.
    Chunks are equally long but the last (shorter if ``steps`` is not a multiple):
    one compiled program for the equal chunks, one more for the last.
    """
    from jaxmlp import validation

    per_step = validation.step_flops(setup.sizes, rows=args.batch_size or setup.X_train.shape[0])
    return validation.chunk_length(min(args.steps, MAX_CHUNK_STEPS), per_step)


class _Progress(NamedTuple):
    """The run after its finished chunks; replaced whole, so Ctrl-C never splits it."""

    params: Any
    opt_state: Any
    steps_done: int
    losses: tuple  # one (steps,) array per finished chunk
    diverged_at: int | None  # absolute step


def _train_chunk(args: argparse.Namespace, setup: TrainSetup, run: _Progress, steps: int):
    """``run`` continued by one ``train`` call of ``steps`` updates."""
    import numpy as np

    import jaxmlp

    result = jaxmlp.train(
        run.params, setup.X_train, setup.y_train, activation=args.activation,
        optimizer=setup.optimizer, learning_rate=args.lr, steps=steps,
        batch_size=args.batch_size, key=setup.key, opt_state=run.opt_state,
        first_step=run.steps_done,
    )  # fmt: skip
    loss = np.asarray(result.loss)  # waits for the chunk
    diverged_at = None if result.diverged_at is None else run.steps_done + result.diverged_at
    return _Progress(result.params, result.opt_state, run.steps_done + steps,
                     (*run.losses, loss), diverged_at)  # fmt: skip


def _fit(args: argparse.Namespace, setup: TrainSetup) -> Fit:
    """Trains in chunks; Ctrl-C keeps the params of the last finished chunk.

    The chunks of a finite run equal one ``train`` call bit for bit. A chunk that
    diverges ends the run: ``diverged_at`` is the step counted from the run's start,
    the params are the last finite ones (a diverging ``train`` call redoes its steps
    with the guarded loop, so one call's may differ in the last bits) and
    ``steps_done`` ends with that chunk.
    """
    import numpy as np

    from jaxmlp import optimizers

    chunk = _chunk_steps(args, setup)
    bar = progress_bar(args.steps, "train")
    # an explicit first state: every chunk passes opt_state, so all share one program
    state = optimizers.rate_injected(setup.optimizer)[0].init(setup.params)
    run = _Progress(setup.params, state, 0, (), None)
    start = time.perf_counter()
    try:
        while run.steps_done < args.steps and run.diverged_at is None:
            steps = min(chunk, args.steps - run.steps_done)
            run = _train_chunk(args, setup, run, steps)
            if run.steps_done == steps and chunk < args.steps:  # after the compiling chunk
                note = f"training in chunks of {chunk} steps; Ctrl-C stops after the current one"
                print(f"jaxmlp: {note} and saves the finished ones", file=sys.stderr, flush=True)
            if bar is not None:
                bar.update(steps)
    except KeyboardInterrupt:
        interrupted = True
    else:
        interrupted = False
    finally:
        if bar is not None:
            bar.close()
    loss = np.concatenate(run.losses) if run.losses else np.zeros(0, np.float32)
    seconds = time.perf_counter() - start
    return Fit(run.params, loss, run.diverged_at, run.steps_done, interrupted, seconds)


def _train_metrics(args: argparse.Namespace, setup: TrainSetup, fit: Fit) -> dict:
    import jax
    import numpy as np

    import jaxmlp

    def accuracy(Xs, ys) -> float:
        predicted = np.asarray(jaxmlp.predict(fit.params, Xs, args.activation))
        return float(np.mean(predicted == np.asarray(ys)))

    initial = jaxmlp.loss(setup.params, setup.X_train, setup.y_train, args.activation)
    return {
        "dataset": args.dataset,
        "n": args.n,
        "sizes": list(setup.sizes),
        "activation": args.activation,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "steps": args.steps,
        "steps_done": fit.steps_done,
        "interrupted": fit.interrupted,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "initial_loss": float(initial),
        "final_loss": float(jaxmlp.loss(fit.params, setup.X_train, setup.y_train, args.activation)),
        "train_accuracy": accuracy(setup.X_train, setup.y_train),
        "test_accuracy": accuracy(setup.X_test, setup.y_test),
        "diverged_at": fit.diverged_at,
        "seconds": fit.seconds,
        "backend": jax.default_backend(),
    }


def _write_train(args: argparse.Namespace, setup: TrainSetup, fit: Fit, metrics: dict) -> list:
    """Writes params, metrics and (2-D, two classes) the decision regions; returns the names."""
    import numpy as np

    import jaxmlp
    from jaxmlp import checkpoint, io

    out = pathlib.Path(args.out)
    io.save_params(out / "params.safetensors", fit.params, activation=args.activation,
                   dataset=args.dataset, seed=args.seed, steps=fit.steps_done)  # fmt: skip
    text = json.dumps(metrics, indent=2, allow_nan=False).encode()
    checkpoint.atomic_write(out / "metrics.json", lambda f: f.write(text))
    written = ["params.safetensors", "metrics.json"]
    if setup.X.shape[1] == 2 and setup.sizes[-1] == 1 and not fit.interrupted:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from jaxmlp.plots import decision_regions

        proba = functools.partial(jaxmlp.predict_proba, fit.params, activation=args.activation)
        title = f"{args.dataset}: {'-'.join(map(str, setup.sizes))} {args.activation}"
        fig = decision_regions(np.asarray(setup.X), np.asarray(setup.y), proba, title=title,
                               resolution=100)  # fmt: skip
        png = functools.partial(fig.savefig, format="png", dpi=120)
        checkpoint.atomic_write(out / "boundary.png", png)
        plt.close(fig)
        written.append("boundary.png")
    elif (out / "boundary.png").is_file():  # an earlier run's picture must not pass for this one
        (out / "boundary.png").unlink()
    return written


def cmd_train(args: argparse.Namespace) -> dict:
    setup = _train_setup(args)
    fit = _fit(args, setup)
    metrics = _train_metrics(args, setup, fit)
    written = _write_train(args, setup, fit, metrics)
    if fit.interrupted:
        raise Interrupted(
            f"interrupted after {fit.steps_done} of {args.steps} steps; saved those params "
            f"and metrics to {args.out}/{', '.join(written)}"
        )
    if fit.diverged_at is not None:
        print(f"jaxmlp: diverged at step {fit.diverged_at} (a non-finite loss or gradient): "
              f"stopped after {fit.steps_done} steps; saved the last finite params",
              file=sys.stderr)  # fmt: skip
    print(
        f"{args.dataset} {'-'.join(map(str, setup.sizes))} {args.activation}: loss "
        f"{metrics['initial_loss']:.4f} -> {metrics['final_loss']:.4f}, train accuracy "
        f"{metrics['train_accuracy']:.3f}, test accuracy {metrics['test_accuracy']:.3f} "
        f"({fit.seconds:.2f} s); wrote {args.out}/{', '.join(written)}"
    )
    return metrics


# ---- sweep ----


def _sweep_setup(args: argparse.Namespace) -> dict:
    """Checks the output and builds the data and the sweep's keyword arguments."""
    import jax

    from jaxmlp import datasets, optimizers

    check_out_dir(pathlib.Path(args.out), ("results.safetensors", "summary.json"))
    if args.checkpoint:  # the checkpoint and its .json sidecar, before any training
        check_file_to_write(args.checkpoint, "--checkpoint", writable=True)
        check_file_to_write(args.checkpoint + ".json", "--checkpoint")
    optimizer = (
        optimizers.by_name(args.optimizer) if args.lrs else make_optimizer(args.optimizer, args.lr)
    )
    keys = datasets.run_keys(args.data_seed)
    X, y = load_dataset(args.dataset, args.n, keys.data)
    X_train, X_test, y_train, y_test = as_usage_error(
        "--test-fraction", datasets.train_test_split,
        jax.random.key(keys.split), X, y, test_fraction=args.test_fraction,
    )  # fmt: skip
    _check_sweep_grid(args, optimizer, X_train, y_train)
    return dict(
        X=X_train, y=y_train, X_test=X_test, y_test=y_test, widths=args.widths,
        activations=args.activations, seeds=args.seeds, steps=args.steps,
        optimizer=optimizer, learning_rates=args.lrs, batch_size=args.batch_size,
        key=jax.random.key(keys.shuffle) if args.batch_size else None,
        progress=sys.stderr.isatty(), depth=args.depth, checkpoint=args.checkpoint,
    )  # fmt: skip


# The sweep's argument names as its checks report them -> the flags that set them.
_SWEEP_FLAGS = {
    "widths": "--widths",
    "activations": "--activations",
    "seeds": "--seeds",
    "learning_rates": "--lrs",
    "depth": "--depth",
    "batch_size": "--batch-size",
}


def _check_sweep_grid(args: argparse.Namespace, optimizer, X, y) -> None:
    """The grid, the depth and the batch size within the sweep's limits, before any work:
    a usage error (exit 2) naming the flag."""
    import jax

    from jaxmlp import validation

    try:
        grid = validation.check_grid(
            widths=args.widths, activations=args.activations, seeds=args.seeds,
            learning_rates=args.lrs, optimizer=optimizer,
        )  # fmt: skip
        validation.check_batching(args.batch_size, jax.random.key(0), len(X))
        validation.check_sweep_models(
            grid.widths, depth=args.depth, n_features=X.shape[1],
            n_outputs=validation.check_n_outputs(y, None),
            models=len(grid.seeds) * len(args.lrs or [0]), rows=args.batch_size or len(X),
        )  # fmt: skip
    except (ValueError, TypeError) as e:
        flag = _SWEEP_FLAGS.get(str(e).split()[0], "--widths/--depth")
        raise UsageError(f"{flag}: {e}{BATCH_NOTE * (flag == '--batch-size')}") from None


# A checkpoint's fingerprint field -> the flags that set it (jaxmlp._sweep.resume)
_CHECKPOINT_FLAGS: dict[str, str] = {
    **_SWEEP_FLAGS,
    "steps": "--steps",
    "optimizer": "--optimizer/--lr",
    "rate_name": "--optimizer",
    "models_per_width": "--seeds/--lrs",
    "data": "the data (--dataset, --n, --test-fraction, --data-seed)",
    "n_examples": "the data (--dataset, --n, --test-fraction, --data-seed)",
    "n_features": "--dataset",
    "n_outputs": "--dataset",
    "packing": "--widths",
}


def _checkpoint_mismatch(e) -> UsageError:
    """The usage error for a checkpoint of another sweep: the flags that differ, with the
    checkpoint's and this command's values where they are plain ones."""

    def shown(value) -> str:
        if isinstance(value, list):
            return ",".join(shown(v) for v in value)
        return "none" if value is None else str(value)

    differences: dict[str, tuple] = dict(e.differences)
    said: dict[str, str] = {}
    for field, (saved, wanted) in differences.items():
        flag = _CHECKPOINT_FLAGS.get(field) or field
        plain = field in _SWEEP_FLAGS or field == "steps"
        said.setdefault(flag, f"{flag} ({shown(saved)} there, {shown(wanted)} here)" if plain
                        else flag)  # fmt: skip
    return UsageError(
        f"--checkpoint {e.path} holds a sweep run with other arguments: "
        f"{'; '.join(said.values())}. Rerun with its arguments to resume it, or pass "
        "another --checkpoint path (or delete the file)"
    )


def _run_sweep(args: argparse.Namespace, options: dict):
    """The SweepResult and whether Ctrl-C cut it short (then it holds the finished steps)."""
    import jaxmlp
    from jaxmlp._sweep.resume import CheckpointMismatch

    try:
        return jaxmlp.sweep(**options), False
    except CheckpointMismatch as e:  # found before anything is compiled: a usage error
        raise _checkpoint_mismatch(e) from None
    except jaxmlp.SweepInterrupted as e:
        if e.result is None:
            raise
        return e.result, True
    except KeyboardInterrupt:
        resume = (
            f"the checkpoint {args.checkpoint} holds the last finished chunk: run the same "
            "command again to resume"
            if args.checkpoint
            else "no chunk had finished, nothing was saved"
        )
        raise Interrupted(f"sweep interrupted; {resume}") from None


def _sweep_summary(args: argparse.Namespace, r, seconds: float) -> tuple[dict, dict]:
    """``(arrays, summary)`` of a SweepResult: the files' contents."""
    import numpy as np

    rates = args.lrs
    arrays: dict[str, Any] = {
        "final_loss": r.final_loss,
        "train_accuracy": r.train_accuracy,
        "loss": r.loss,
        "loss_steps": r.loss_steps,
        "diverged_at": r.diverged_at,
        "test_accuracy": r.test_accuracy,
        "test_loss": r.test_loss,
    }
    meta = {
        "dataset": args.dataset,
        "widths": list(r.widths),
        "activations": list(r.activations),
        "seeds": list(r.seeds),
        "steps": r.steps,
        "depth": r.depth,
        "optimizer": args.optimizer,
        "lr": None if rates else args.lr,
        "learning_rates": list(rates) if rates else None,
        "batch_size": args.batch_size,
        "axes": "[width, activation, seed, learning rate]"
        if rates
        else "[width, activation, seed]",
        "seconds": seconds,
    }
    test_acc = np.asarray(r.test_accuracy)  # (W, A, S[, L])
    mean_test_accuracy = {  # over seeds
        f"{w}/{a}" + (f"/{rate:g}" if rates else ""): float(np.mean(acc))
        for i, w in enumerate(r.widths)
        for j, a in enumerate(r.activations)
        for rate, acc in (
            zip(rates, np.moveaxis(test_acc[i, j], -1, 0), strict=True)
            if rates
            else [(None, test_acc[i, j])]
        )
    }
    return arrays, {**meta, "mean_test_accuracy": mean_test_accuracy}


def cmd_sweep(args: argparse.Namespace) -> dict:
    from jaxmlp._sweep.driver import sigint_deferred

    options = _sweep_setup(args)
    start = time.perf_counter()
    r, interrupted = _run_sweep(args, options)
    seconds = time.perf_counter() - start
    with sigint_deferred() if interrupted else contextlib.nullcontext():  # a 2nd Ctrl-C waits
        summary = _write_sweep(args, r, seconds)
    out = args.out
    if interrupted:
        resume = f"; rerun the same command to resume from {args.checkpoint}"
        raise Interrupted(
            f"sweep interrupted after {r.steps} of {args.steps} steps; wrote the models after "
            f"{r.steps} steps to {out}/results.safetensors, summary.json"
            + (resume if args.checkpoint else "")
        )
    print(f"{_sweep_done(args, r, seconds)}; wrote {out}/results.safetensors, summary.json")
    for key, value in summary["mean_test_accuracy"].items():
        print(
            f"  width/activation{'/lr' if args.lrs else ''} {key}: mean test accuracy {value:.3f}"
        )
    return summary


def _sweep_done(args: argparse.Namespace, r, seconds: float) -> str:
    """What a finished sweep did in this run: trained from step 0, resumed from a checkpoint's
    step, or found the sweep finished in its checkpoint (no step run)."""
    count = math.prod(len(v) for v in (args.widths, args.activations, args.seeds, args.lrs or [0]))
    models = f"{count} model{'s' if count != 1 else ''}"
    if not r.resumed_from:
        return f"trained {models} for {r.steps} steps in {seconds:.2f} s"
    resumed = f"resumed {models} from the checkpoint {args.checkpoint}"
    if r.resumed_from == r.steps:
        return f"{resumed}, which holds the finished sweep ({r.steps} steps): no step run"
    ran = r.steps - r.resumed_from
    return (
        f"{resumed} at step {r.resumed_from} and trained them {ran} more steps, to "
        f"{r.steps}, in {seconds:.2f} s"
    )


def _write_sweep(args: argparse.Namespace, r, seconds: float) -> dict:
    """Writes results.safetensors and summary.json; returns the summary."""
    from jaxmlp import checkpoint, io

    arrays, summary = _sweep_summary(args, r, seconds)
    summary["steps_requested"] = args.steps
    out = pathlib.Path(args.out)
    meta = {k: v for k, v in summary.items() if k != "mean_test_accuracy"}
    io.save_results(out / "results.safetensors", arrays, **meta)
    text = json.dumps(summary, indent=2, allow_nan=False).encode()
    checkpoint.atomic_write(out / "summary.json", lambda f: f.write(text))
    return summary


def cmd_convert(args: argparse.Namespace) -> str:
    from jaxmlp import io

    if os.path.abspath(args.source) == os.path.abspath(args.destination):
        raise UsageError("convert writes a new file: DESTINATION must differ from SOURCE")
    check_file_to_write(args.destination, "DESTINATION")
    kind = io.convert(args.source, args.destination)
    print(f"converted {args.source} ({kind}) -> {args.destination}")
    return kind
