"""The ``jaxmlp`` command line (also ``python -m jaxmlp``).

Subcommands: ``train``, ``sweep``, ``figures``, ``bench``, ``playground``, ``info``. ``figures``
and ``bench`` run ``experiments/blog.py`` and ``experiments/bench.py`` of the source
checkout (or of the folder ``$JAXMLP_EXPERIMENTS``) in a subprocess. Errors are
printed as one line ``jaxmlp: error: ...`` with exit status 1 (2 for bad command
line usage); set ``JAXMLP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

EPILOG = """examples:
  jaxmlp train --dataset circles --sizes 3 --activation sigmoid --steps 2000 --out out/run
  jaxmlp train --dataset circles --sizes 16,16 --activation relu --optimizer adam \\
      --lr 0.01 --batch-size 32 --steps 3000 --seed 1 --out out/deep
  jaxmlp sweep --dataset circles --widths 2,3,8 --activations sigmoid,relu --seeds 0,1,2 \\
      --steps 2000 --out out/sweep
  jaxmlp sweep --dataset spirals --widths 8,32 --activations tanh,relu --optimizer adam \\
      --lrs 0.003,0.01,0.03 --steps 1000 --out out/sweep-lr
  jaxmlp figures --out out/blog --quick
  jaxmlp figures --out out/blog -- --steps 500 --widths 3,10
  jaxmlp bench --out out/bench --quick
  jaxmlp info
"""

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise CLIError(f"{name} must be comma-separated ints, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise CLIError(f"{name} must be comma-separated positive ints, got {text!r}")
    return values


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
        raise CLIError(f"--dataset must be one of {', '.join(names)}; got {name!r}")
    return getattr(datasets, name)(jax.random.key(seed), n)


def _optimizer_factory(name: str):
    """The optax constructor of ``--optimizer``, taking the learning rate first."""
    import optax

    if name == "momentum":
        return functools.partial(optax.sgd, momentum=0.9)
    return getattr(optax, name)


def _optimizer(name: str, lr: float):
    if lr <= 0:
        raise CLIError(f"--lr must be > 0, got {lr}")
    return _optimizer_factory(name)(lr)


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise CLIError(f"--lrs must be comma-separated numbers, got {text!r}") from None
    if not rates or any(not (r > 0) for r in rates):
        raise CLIError(f"--lrs must be positive numbers, got {text!r}")
    return rates


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty() or None, file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    import jaxmlp
    from jaxmlp import datasets, io

    hidden = _ints(args.sizes, "--sizes")
    out = pathlib.Path(args.out)
    bar = _progress(4, "train")

    def tick(what: str) -> None:
        if bar is not None:
            bar.set_postfix_str(what)
            bar.update(1)

    X, y = _dataset(args.dataset, args.n, args.seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        jax.random.key(args.seed + 1), X, y, test_fraction=args.test_fraction
    )
    k = int(np.max(np.asarray(y))) + 1
    sizes = (X.shape[1], *hidden, 1 if k == 2 else k)
    params = jaxmlp.init_mlp(jax.random.key(args.seed), sizes)
    optimizer = _optimizer(args.optimizer, args.lr)
    tick("data")
    start = time.perf_counter()
    result = jaxmlp.train(
        params,
        X_train,
        y_train,
        activation=args.activation,
        optimizer=optimizer,
        steps=args.steps,
        batch_size=args.batch_size,
        key=jax.random.key(args.seed + 2) if args.batch_size else None,
    )
    jax.block_until_ready(result.params)
    seconds = time.perf_counter() - start
    tick("trained")

    def accuracy(Xs, ys) -> float:
        return float(np.mean(np.asarray(jaxmlp.predict(result.params, Xs, args.activation)) == ys))

    loss = np.asarray(result.loss)
    metrics = {
        "dataset": args.dataset,
        "n": args.n,
        "sizes": list(sizes),
        "activation": args.activation,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "initial_loss": float(loss[0]),
        "final_loss": float(jaxmlp.loss(result.params, X_train, y_train, args.activation)),
        "train_accuracy": accuracy(X_train, np.asarray(y_train)),
        "test_accuracy": accuracy(X_test, np.asarray(y_test)),
        "diverged_at": result.diverged_at,
        "seconds": seconds,
        "backend": jax.default_backend(),
    }
    out.mkdir(parents=True, exist_ok=True)
    io.save_params(
        out / "params.npz",
        result.params,
        activation=args.activation,
        dataset=args.dataset,
        seed=args.seed,
        steps=args.steps,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False))
    tick("saved")
    if X.shape[1] == 2 and k == 2:
        import functools

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from jaxmlp.plots import decision_regions

        proba = functools.partial(jaxmlp.predict_proba, result.params, activation=args.activation)
        title = f"{args.dataset}: {'-'.join(map(str, sizes))} {args.activation}"
        fig = decision_regions(np.asarray(X), np.asarray(y), proba, title=title, resolution=100)
        fig.savefig(out / "boundary.png", dpi=120)
        plt.close(fig)
    tick("figure")
    if bar is not None:
        bar.close()
    print(
        f"{args.dataset} {'-'.join(map(str, sizes))} {args.activation}: loss "
        f"{metrics['initial_loss']:.4f} -> {metrics['final_loss']:.4f}, train accuracy "
        f"{metrics['train_accuracy']:.3f}, test accuracy {metrics['test_accuracy']:.3f} "
        f"({seconds:.2f} s); wrote {out}/params.npz, metrics.json"
        + (", boundary.png" if (out / "boundary.png").exists() else "")
    )
    return metrics


def cmd_sweep(args: argparse.Namespace) -> dict:
    import jax
    import numpy as np

    from jaxmlp import datasets, io

    try:
        from jaxmlp.sweep import sweep
    except ImportError as e:
        raise CLIError(f"jaxmlp.sweep is not available in this installation ({e})") from None
    widths = _ints(args.widths, "--widths")
    seeds = tuple(int(s) for s in args.seeds.split(",") if s.strip())
    acts = tuple(a.strip() for a in args.activations.split(",") if a.strip())
    X, y = _dataset(args.dataset, args.n, args.data_seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        jax.random.key(args.data_seed + 1), X, y, test_fraction=args.test_fraction
    )
    rates = _rates(args.lrs) if args.lrs else None
    start = time.perf_counter()
    r = sweep(
        X_train,
        y_train,
        widths=widths,
        activations=acts,
        seeds=seeds,
        steps=args.steps,
        optimizer=_optimizer_factory(args.optimizer)
        if rates
        else _optimizer(args.optimizer, args.lr),
        learning_rates=rates,
        X_test=X_test,
        y_test=y_test,
        batch_size=args.batch_size,
        key=jax.random.key(args.data_seed + 2) if args.batch_size else None,
        progress=sys.stderr.isatty(),
        depth=args.depth,
    )
    seconds = time.perf_counter() - start
    out = pathlib.Path(args.out)
    arrays: dict[str, Any] = {
        "final_loss": r.final_loss,
        "train_accuracy": r.train_accuracy,
        "loss": r.loss,
        "loss_steps": r.loss_steps,
        "diverged_at": r.diverged_at,
    }
    if r.test_accuracy is not None:
        arrays["test_accuracy"] = r.test_accuracy
        arrays["test_loss"] = r.test_loss
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
    io.save_results(out / "results.npz", arrays, **meta)
    test_acc = np.asarray(arrays["test_accuracy"])  # (W, A, S[, L])
    summary = {
        **meta,
        "mean_test_accuracy": {  # over seeds
            f"{w}/{a}" + (f"/{rate:g}" if rates else ""): float(np.mean(acc))
            for i, w in enumerate(r.widths)
            for j, a in enumerate(r.activations)
            for rate, acc in (
                zip(rates, np.moveaxis(test_acc[i, j], -1, 0), strict=True)
                if rates
                else [(None, test_acc[i, j])]
            )
        },
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
    models = len(widths) * len(acts) * len(seeds) * (len(rates) if rates else 1)
    print(f"trained {models} models in {seconds:.2f} s; wrote {out}/results.npz, summary.json")
    for key, value in summary["mean_test_accuracy"].items():
        print(f"  width/activation{'/lr' if rates else ''} {key}: mean test accuracy {value:.3f}")
    return summary


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
    done = subprocess.run(command, cwd=root, check=False)
    if done.returncode != 0:
        raise CLIError(f"{script} failed with exit status {done.returncode}")
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


def cmd_playground(args: argparse.Namespace) -> None:
    try:
        from jaxmlp.playground.server import plotly_js, serve

        plotly_js()
    except ImportError as e:
        raise CLIError(
            f'the playground needs its extra: pip install "jaxmlp[playground]" ({e})'
        ) from None
    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in [0, 65535], got {args.port}")
    serve(args.port, open_browser=args.open)


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}"
            ) from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    from jaxmlp.activations import NAMES

    parser = argparse.ArgumentParser(
        prog="jaxmlp",
        description="Multilayer perceptrons in JAX with hand-derived backpropagation.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("train", "train one MLP on a toy data set; writes params.npz, metrics.json, a figure")
    p.add_argument("--dataset", default="circles", help="one of jaxmlp.datasets (default circles)")
    p.add_argument("--n", type=_positive(int), default=200, help="examples (default 200)")
    p.add_argument("--sizes", default="3", help="hidden widths, comma-separated (default 3)")
    p.add_argument("--activation", default="sigmoid", choices=NAMES)
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
    p.add_argument("--steps", type=_positive(int), default=2000)
    p.add_argument("--batch-size", type=_positive(int), default=None, help="default: full batch")
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0, help="seed of data, init and shuffle")
    p.add_argument("--out", default="out/train", help="output directory")
    p.set_defaults(func=cmd_train)

    p = add("sweep", "train a grid of widths x activations x seeds in one compiled program")
    p.add_argument("--dataset", default="circles")
    p.add_argument("--n", type=_positive(int), default=200)
    p.add_argument("--widths", default="2,3,8")
    p.add_argument("--activations", default="sigmoid,tanh,relu")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--depth", type=_positive(int), default=1, help="hidden layers per model")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument(
        "--lrs",
        default=None,
        help="comma-separated learning rates: a learning-rate axis (not --lr)",
    )
    p.add_argument("--steps", type=_positive(int), default=2000)
    p.add_argument("--batch-size", type=_positive(int), default=None)
    p.add_argument("--test-fraction", type=float, default=0.25)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--out", default="out/sweep")
    p.set_defaults(func=cmd_sweep)

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

    p = add("playground", "the post's experiment live in the browser (jaxmlp[playground])")
    p.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=cmd_playground)

    p = add("info", "versions, platform and JAX devices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxmlp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("jaxmlp: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line, no traceback, unless JAXMLP_DEBUG is set
        if os.environ.get("JAXMLP_DEBUG"):
            raise
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if not isinstance(e, (CLIError, ValueError, TypeError)):
            message = f"{type(e).__name__}: {message}"
        print(f"jaxmlp: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
