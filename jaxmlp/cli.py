"""The ``jaxmlp`` command line (also ``python -m jaxmlp``).

Subcommands: ``train``, ``sweep``, ``convert``, ``figures``, ``bench``, ``info``.
``figures`` and ``bench`` run ``experiments/blog.py`` and ``experiments/bench.py``
of the source checkout (or of the folder ``$JAXMLP_EXPERIMENTS``) in a subprocess.

Exit status (docs/cli.md): 0 done; 2 a bad command line (an unknown option, a bad
value, an unusable ``--out``, a limit exceeded), always found before any training;
1 a failure while running; 130 interrupted by Ctrl-C (``train`` first saves what
it trained, ``sweep --checkpoint`` resumes from its last chunk). Errors are one
line ``jaxmlp: error: ...``; set ``JAXMLP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

EPILOG = """examples:
  jaxmlp train --dataset circles --sizes 3 --activation sigmoid --steps 2000 --out out/run
  jaxmlp train --dataset circles --sizes 16,16 --activation relu --optimizer adam \\
      --lr 0.01 --batch-size 32 --steps 3000 --seed 1 --out out/deep
  jaxmlp sweep --dataset circles --widths 2,3,8 --activations sigmoid,relu --seeds 0,1,2 \\
      --steps 2000 --out out/sweep --checkpoint out/sweep.ckpt
  jaxmlp sweep --dataset spirals --widths 8,32 --activations tanh,relu --optimizer adam \\
      --lrs 0.003,0.01,0.03 --steps 1000 --out out/sweep-lr
  jaxmlp convert old/params.npz new/params.safetensors
  jaxmlp figures --out out/blog --quick
  jaxmlp figures --out out/blog -- --steps 500 --widths 3,10
  jaxmlp bench --out out/bench --quick
  jaxmlp --no-cache info
"""

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")
# --seed s also seeds the split (s + 1) and the shuffle (s + 2): all within int32.
MAX_SEED = 2**31 - 3
# Ctrl-C is honoured between chunks of training: each chunk is at most this many
# multiply-adds (about a second on one CPU core) and at most MAX_CHUNK_STEPS steps.
CHUNK_FLOPS = 2e9
MAX_CHUNK_STEPS = 1000
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


class UsageError(CLIError):
    """A bad command line found before any work: exit status 2."""


class Interrupted(Exception):
    """Ctrl-C, after what could be saved was saved: exit status 130."""


# ---- option values (argparse types: a bad value is a usage error naming its flag) ----


def _number(kind, *, low=None, high=None, what: str = ""):
    """An argparse type: ``kind(text)`` finite and within [low, high]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


def _positive(kind):
    name = "positive int" if kind is int else "positive finite number"
    return _number(kind, low=1 if kind is int else math.ulp(0.0), what=f"a {name}")


def _list(item, what: str):
    """An argparse type: comma-separated values each parsed by ``item``; at least one."""

    def parse(text: str):
        parts = [v.strip() for v in text.split(",") if v.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
        try:
            return tuple(item(v) for v in parts)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what}, got {text!r}"
            ) from None

    return parse


def _choice_list(choices: Sequence[str]):
    def item(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(text)
        return text

    return _list(item, f"names from {', '.join(choices)}")


_STEPS_HELP = "updates (at most MAX_STEPS = 100000000)"


def _steps(text: str) -> int:
    from jaxmlp.validation import MAX_STEPS

    return _number(int, low=1, high=MAX_STEPS, what=f"an int in 1..MAX_STEPS = {MAX_STEPS}")(text)


_seed = _number(int, low=0, high=MAX_SEED, what=f"an int in 0..MAX_SEED = {MAX_SEED}")
_fraction = _number(float, low=math.ulp(0.0), high=1 - 2**-53, what="a number in (0, 1)")


def _ints(text: str, name: str) -> tuple[int, ...]:
    """Comma-separated positive ints of option ``name`` (kept for callers of 0.1)."""
    try:
        return _list(_positive(int), "positive ints")(text)
    except argparse.ArgumentTypeError as e:
        raise CLIError(f"{name}: {e}") from None


def _rates(text: str) -> tuple[float, ...]:
    """Comma-separated positive finite learning rates of ``--lrs``."""
    try:
        return _list(_positive(float), "positive finite numbers")(text)
    except argparse.ArgumentTypeError as e:
        raise CLIError(f"--lrs: {e}") from None


def dataset_names() -> tuple[str, ...]:
    """Generators in :mod:`jaxmlp.datasets` with the ``(key, n, ...)`` signature."""
    from jaxmlp import datasets

    names = []
    for name, fn in vars(datasets).items():
        if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != datasets.__name__:
            continue
        params = list(inspect.signature(fn).parameters)
        if params[:2] == ["key", "n"]:
            names.append(name)
    return tuple(sorted(names))


def _dataset(name: str, n: int, seed: int):
    import jax

    from jaxmlp import datasets

    names = dataset_names()
    if name not in names:
        raise UsageError(f"--dataset must be one of {', '.join(names)}; got {name!r}")
    return getattr(datasets, name)(jax.random.key(seed), n)


def _optimizer_factory(name: str):
    """The optax constructor of ``--optimizer``, taking the learning rate first."""
    import optax

    if name == "momentum":
        return functools.partial(optax.sgd, momentum=0.9)
    return getattr(optax, name)


def _optimizer(name: str, lr: float):
    if not lr > 0 or not math.isfinite(lr):
        raise UsageError(f"--lr must be a positive finite number, got {lr}")
    return _optimizer_factory(name)(lr)


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty() or None, file=sys.stderr)


# ---- checks before any work ----


def _check_out(out: pathlib.Path, files: Sequence[str]) -> None:
    """``--out`` must be (or become) a writable directory whose ``files`` can be replaced."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is an existing file, not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        raise UsageError(f"--out {str(out)!r} is not a writable directory: {e.strerror}") from None
    for name in files:
        if (out / name).is_dir():
            raise UsageError(f"--out {str(out)!r}: {name} exists and is a directory")


def _check_path(path: str, flag: str) -> None:
    """A file ``path`` to write: not a directory, its folder creatable."""
    target = pathlib.Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {path!r} is a directory, not a file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag} {path!r}: cannot create its folder: {e.strerror}") from None


def _usage(flag: str, check, *args, **kwargs):
    """Runs a library check; its ValueError/TypeError becomes a usage error naming ``flag``."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{flag}: {e}") from None


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
    from jaxmlp import datasets, validation

    _check_out(pathlib.Path(args.out), TRAIN_FILES)
    optimizer = _optimizer(args.optimizer, args.lr)
    _usage("--sizes", validation.check_sizes, (1, *args.sizes, 1))  # at once, before the data
    X, y = _dataset(args.dataset, args.n, args.seed)
    X_train, X_test, y_train, y_test = _usage(
        "--test-fraction", datasets.train_test_split,
        jax.random.key(args.seed + 1), X, y, test_fraction=args.test_fraction,
    )  # fmt: skip
    k = int(np.max(np.asarray(y))) + 1
    sizes = (X.shape[1], *args.sizes, 1 if k == 2 else k)
    params = _usage("--sizes", jaxmlp.init_mlp, jax.random.key(args.seed), sizes)
    key = jax.random.key(args.seed + 2) if args.batch_size else None
    _usage("--batch-size", validation.check_batching, args.batch_size, key, X_train.shape[0])
    return TrainSetup(X, y, X_train, X_test, y_train, y_test, sizes, params, optimizer, key)


def _chunk_steps(args: argparse.Namespace, setup: TrainSetup) -> int:
    """Steps per ``train`` call: all of them unless chunks continue the run exactly.

    Chunks are exact for full-batch SGD (no optimizer state, no shuffle), and for any
    full-batch optimizer when ``train`` takes the state to continue from
    (``opt_state=``). Mini-batch runs are one call (their shuffle is keyed by step).
    """
    import jaxmlp

    exact = args.batch_size is None and (
        args.optimizer == "sgd" or "opt_state" in inspect.signature(jaxmlp.train).parameters
    )
    if not exact:
        return args.steps
    n_params = sum(a * b + b for a, b in zip(setup.sizes[:-1], setup.sizes[1:], strict=True))
    per_step = 6 * setup.X_train.shape[0] * n_params  # forward + backward multiply-adds
    return max(1, min(args.steps, MAX_CHUNK_STEPS, int(CHUNK_FLOPS // per_step)))


def _fit(args: argparse.Namespace, setup: TrainSetup) -> Fit:
    """Trains in chunks; Ctrl-C keeps the params of the last finished chunk."""
    import jax
    import numpy as np

    import jaxmlp

    chunk = _chunk_steps(args, setup)
    bar = _progress(args.steps, "train")
    params, losses, diverged_at, done, opt_state = setup.params, [], None, 0, None
    start = time.perf_counter()
    try:
        while done < args.steps and diverged_at is None:
            steps = min(chunk, args.steps - done)
            extra = {} if opt_state is None else {"opt_state": opt_state}
            result = jaxmlp.train(
                params, setup.X_train, setup.y_train, activation=args.activation,
                optimizer=setup.optimizer, steps=steps, batch_size=args.batch_size,
                key=setup.key, **extra,
            )  # fmt: skip
            loss = np.asarray(jax.block_until_ready(result.loss))
            if args.optimizer != "sgd":  # only reached when train continues opt_state
                opt_state = result.opt_state
            params, done = result.params, done + steps
            losses.append(loss)
            if done == steps and chunk < args.steps:  # after the first (compiling) chunk
                note = f"training in chunks of {chunk} steps; Ctrl-C stops after the current one"
                print(f"jaxmlp: {note} and saves the finished ones", file=sys.stderr, flush=True)
            if result.diverged_at is not None:
                diverged_at = done - steps + result.diverged_at
            if bar is not None:
                bar.update(steps)
    except KeyboardInterrupt:
        interrupted = True
    else:
        interrupted = False
    finally:
        if bar is not None:
            bar.close()
    loss = np.concatenate(losses) if losses else np.zeros(0, np.float32)
    return Fit(params, loss, diverged_at, done, interrupted, time.perf_counter() - start)


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
        fig.savefig(out / "boundary.png", dpi=120)
        plt.close(fig)
        written.append("boundary.png")
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

    from jaxmlp import datasets

    _check_out(pathlib.Path(args.out), ("results.safetensors", "summary.json"))
    if args.checkpoint:
        _check_path(args.checkpoint, "--checkpoint")
    optimizer = (
        _optimizer_factory(args.optimizer) if args.lrs else _optimizer(args.optimizer, args.lr)
    )
    X, y = _dataset(args.dataset, args.n, args.data_seed)
    X_train, X_test, y_train, y_test = _usage(
        "--test-fraction", datasets.train_test_split,
        jax.random.key(args.data_seed + 1), X, y, test_fraction=args.test_fraction,
    )  # fmt: skip
    return dict(
        X=X_train, y=y_train, X_test=X_test, y_test=y_test, widths=args.widths,
        activations=args.activations, seeds=args.seeds, steps=args.steps,
        optimizer=optimizer, learning_rates=args.lrs, batch_size=args.batch_size,
        key=jax.random.key(args.data_seed + 2) if args.batch_size else None,
        progress=sys.stderr.isatty(), depth=args.depth, checkpoint=args.checkpoint,
    )  # fmt: skip


def _run_sweep(args: argparse.Namespace, options: dict):
    import jaxmlp

    try:
        return jaxmlp.sweep(**options)
    except KeyboardInterrupt:
        resume = (
            f"the checkpoint {args.checkpoint} holds the last finished chunk: run the same "
            "command again to resume"
            if args.checkpoint
            else "nothing was saved (use --checkpoint PATH to resume a sweep)"
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
    from jaxmlp import checkpoint, io

    options = _sweep_setup(args)
    start = time.perf_counter()
    r = _run_sweep(args, options)
    seconds = time.perf_counter() - start
    arrays, summary = _sweep_summary(args, r, seconds)
    out = pathlib.Path(args.out)
    meta = {k: v for k, v in summary.items() if k != "mean_test_accuracy"}
    io.save_results(out / "results.safetensors", arrays, **meta)
    text = json.dumps(summary, indent=2, allow_nan=False).encode()
    checkpoint.atomic_write(out / "summary.json", lambda f: f.write(text))
    models = math.prod(len(v) for v in (args.widths, args.activations, args.seeds, args.lrs or [0]))
    print(f"trained {models} models in {seconds:.2f} s; wrote {out}/results.safetensors, "
          "summary.json")  # fmt: skip
    for key, value in summary["mean_test_accuracy"].items():
        print(
            f"  width/activation{'/lr' if args.lrs else ''} {key}: mean test accuracy {value:.3f}"
        )
    return summary


def cmd_convert(args: argparse.Namespace) -> str:
    from jaxmlp import io

    if os.path.abspath(args.source) == os.path.abspath(args.destination):
        raise UsageError("convert writes a new file: DESTINATION must differ from SOURCE")
    _check_path(args.destination, "DESTINATION")
    kind = io.convert(args.source, args.destination)
    print(f"converted {args.source} ({kind}) -> {args.destination}")
    return kind


def _experiment(script: str, args: argparse.Namespace) -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    folder = pathlib.Path(os.environ.get("JAXMLP_EXPERIMENTS", root / "experiments"))
    path = folder / script
    if not path.is_file():
        raise CLIError(f"{path} not found: this command needs a source checkout of jaxmlp")
    command = [sys.executable, str(path), "--out", str(args.out)]
    if args.quick:
        command.append("--quick")
    command += args.extra
    print("running", " ".join(command), flush=True)
    # stderr captured: a failing script's traceback becomes its last line (JAXMLP_DEBUG: all)
    done = subprocess.run(command, cwd=root, check=False, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        if os.environ.get("JAXMLP_DEBUG"):
            sys.stderr.write(done.stderr)
        reason = f": {lines[-1].strip()}" if lines else ""
        raise CLIError(f"{script} failed with exit status {done.returncode}{reason}")
    sys.stderr.write(done.stderr)
    return 0


def info() -> dict:
    """Versions of jaxmlp and its dependencies, the platform and the JAX devices."""
    from importlib import metadata

    import jax

    import jaxmlp

    versions: dict[str, str | None] = {
        "jaxmlp": jaxmlp.__version__,
        "python": platform.python_version(),
    }
    for package in ("jax", "jaxlib", "optax", "chex", "numpy", "matplotlib", "tqdm",
                    "scikit-learn"):  # fmt: skip
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "platform": f"{platform.system()} {platform.machine()}",
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "datasets": list(dataset_names()),
    }


def cmd_info(args: argparse.Namespace) -> dict:
    result = info()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for name, version in result["versions"].items():
            print(f"{name:14s}{version or 'not installed'}")
        print(f"{'platform':14s}{result['platform']}")
        print(f"{'backend':14s}{result['backend']}")
        print(f"{'devices':14s}{', '.join(result['devices'])}")
        print(f"{'datasets':14s}{', '.join(result['datasets'])}")
    return result


def build_parser() -> argparse.ArgumentParser:
    from jaxmlp.activations import NAMES

    parser = argparse.ArgumentParser(
        prog="jaxmlp",
        description="Multilayer perceptrons in JAX with hand-derived backpropagation.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    no_cache = dict(action="store_true", help="no persistent compilation cache (JAXMLP_NO_CACHE=1)")
    parser.add_argument("--no-cache", **no_cache)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--no-cache", **no_cache, default=argparse.SUPPRESS)
        return p

    datasets = dataset_names()
    p = add("train", "train one MLP on a toy data set; writes params, metrics.json, a figure")
    p.add_argument("--dataset", default="circles", choices=datasets)
    p.add_argument("--n", type=_positive(int), default=200, help="examples (default 200)")
    p.add_argument("--sizes", type=_list(_positive(int), "positive ints"), default=(3,),
                   help="hidden widths, comma-separated (default 3)")  # fmt: skip
    p.add_argument("--activation", default="sigmoid", choices=NAMES)
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=_positive(float), default=1.0, help="learning rate (default 1.0)")
    p.add_argument("--steps", type=_steps, default=2000, help=_STEPS_HELP)
    p.add_argument("--batch-size", type=_positive(int), default=None, help="default: full batch")
    p.add_argument("--test-fraction", type=_fraction, default=0.25)
    p.add_argument("--seed", type=_seed, default=0, help="seed of data, init and shuffle")
    p.add_argument("--out", default="out/train", help="output directory")
    p.set_defaults(func=cmd_train)

    p = add("sweep", "train a grid of widths x activations x seeds in one compiled program")
    p.add_argument("--dataset", default="circles", choices=datasets)
    p.add_argument("--n", type=_positive(int), default=200)
    p.add_argument("--widths", type=_list(_positive(int), "positive ints"), default=(2, 3, 8))
    p.add_argument("--activations", type=_choice_list(NAMES), default=("sigmoid", "tanh", "relu"))
    p.add_argument("--seeds", type=_list(_seed, f"ints in 0..{MAX_SEED}"), default=(0, 1, 2))
    p.add_argument("--depth", type=_positive(int), default=1, help="hidden layers per model")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=_positive(float), default=1.0)
    p.add_argument(
        "--lrs",
        type=_list(_positive(float), "positive finite numbers"),
        default=None,
        help="comma-separated learning rates: a learning-rate axis (not --lr)",
    )
    p.add_argument("--steps", type=_steps, default=2000, help=_STEPS_HELP)
    p.add_argument("--batch-size", type=_positive(int), default=None)
    p.add_argument("--test-fraction", type=_fraction, default=0.25)
    p.add_argument("--data-seed", type=_seed, default=0)
    p.add_argument("--out", default="out/sweep")
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="PATH",
        help="save the sweep's state after every chunk; rerun the same command to resume",
    )
    p.set_defaults(func=cmd_sweep)

    p = add("convert", "rewrite a params/results file (e.g. jaxmlp 0.1's .npz) as safetensors")
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("destination", metavar="DESTINATION")
    p.set_defaults(func=cmd_convert)

    p = add("figures", "reproduce the blog post's figures (runs experiments/blog.py)")
    p.add_argument("--out", default="out/blog")
    p.add_argument("--quick", action="store_true", help="reduced settings")
    p.add_argument("extra", nargs="*", help="after --: more options for experiments/blog.py")
    p.set_defaults(func=lambda a: _experiment("blog.py", a))

    p = add("bench", "run the benchmarks (experiments/bench.py)")
    p.add_argument("--out", default="out/bench")
    p.add_argument("--quick", action="store_true", help="tiny sizes")
    p.add_argument("extra", nargs="*", help="after --: more options for experiments/bench.py")
    p.set_defaults(func=lambda a: _experiment("bench.py", a))

    p = add("info", "versions, platform and JAX devices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmlp`` console script; returns the exit status.

    0 done, 1 failed while running, 2 bad command line, 130 interrupted (docs/cli.md).
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    from jaxmlp import compilation_cache

    compilation_cache.enable(disable=args.no_cache)
    try:
        args.func(args)
    except Interrupted as e:
        print(f"jaxmlp: {e}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("jaxmlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:  # one line, no traceback, unless JAXMLP_DEBUG is set
        if os.environ.get("JAXMLP_DEBUG"):
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not isinstance(e, (CLIError, ValueError, TypeError, OSError)):
            message = f"{type(e).__name__}: {message}"
        print(f"jaxmlp: error: {message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(e, UsageError) else EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
