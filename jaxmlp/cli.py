"""The ``jaxmlp`` command line (also ``python -m jaxmlp``).

Subcommands: ``train``, ``sweep``, ``convert``, ``figures``, ``bench``, ``playground``,
``info``.
``figures`` and ``bench`` run ``experiments/blog.py`` and ``benchmarks/bench.py``
of the source checkout (or of the folder ``$JAXMLP_EXPERIMENTS``) in a subprocess.

Exit status (docs/cli.md): 0 done; 2 a bad command line (an unknown option, a bad
value, an unusable ``--out``, a limit exceeded), always found before any training;
1 a failure while running; 130 interrupted by Ctrl-C (``train`` first saves what
it trained, ``sweep --checkpoint`` resumes from its last chunk). Errors are one
line ``jaxmlp: error: ...``; set ``JAXMLP_DEBUG=1`` to see the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
from collections.abc import Sequence
from typing import NoReturn

from jaxmlp._cli_checks import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    MAX_SEED,
    STEPS_HELP,
    CLIError,
    Interrupted,
    UsageError,
    choice_list,
    comma_list,
    dataset_names,
    fraction,
    nonempty_path,
    positive,
    seed_value,
    step_count,
)
from jaxmlp._cli_runs import cmd_convert, cmd_sweep, cmd_train

__all__ = [
    "CLIError",
    "build_parser",
    "dataset_names",
    "info",
    "main",
]

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

# optimizers.NAMES, written out so that --help imports no optax (a test pins them equal)
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "rmsprop", "adagrad")


def _experiment(script: str, args: argparse.Namespace, room: str = "experiments") -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    folder = pathlib.Path(os.environ.get("JAXMLP_EXPERIMENTS", root / room))
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
    for package in ("jax", "jaxlib", "ml_dtypes", "optax", "chex", "numpy", "matplotlib",
                    "tqdm", "scikit-learn"):  # fmt: skip
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
        from jaxmlp.playground.server import PortUnavailable, plotly_js, serve

        plotly_js()
    except ImportError as e:
        hint = 'pip install "jaxmlp[playground]"'
        raise CLIError(
            str(e) if hint in str(e) else f"the playground needs its extra: {hint} ({e})"
        ) from None
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in [0, 65535], got {args.port}")
    try:
        serve(args.port, open_browser=args.open)
    except PortUnavailable as e:  # a usage error: another --port is the fix
        raise UsageError(str(e)) from None


def _train_options(
    p: argparse.ArgumentParser, datasets: Sequence[str], activations: Sequence[str]
) -> None:
    """The options of ``jaxmlp train``."""
    p.add_argument("--dataset", default="circles", choices=datasets)
    p.add_argument("--n", type=positive(int), default=200, help="examples (default 200)")
    p.add_argument("--sizes", type=comma_list(positive(int), "positive ints"), default=(3,),
                   help="hidden widths, comma-separated (default 3)")  # fmt: skip
    p.add_argument("--activation", default="sigmoid", choices=activations)
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=positive(float), default=1.0, help="learning rate (default 1.0)")
    p.add_argument("--steps", type=step_count, default=2000, help=STEPS_HELP)
    p.add_argument("--batch-size", type=positive(int), default=None, help="default: full batch")
    p.add_argument("--test-fraction", type=fraction, default=0.25)
    p.add_argument("--seed", type=seed_value, default=0, help="seed of data, init and shuffle")
    p.add_argument("--out", type=nonempty_path, default="out/train", help="output directory")
    p.set_defaults(func=cmd_train)


def _sweep_options(
    p: argparse.ArgumentParser, datasets: Sequence[str], activations: Sequence[str]
) -> None:
    """The options of ``jaxmlp sweep``."""
    p.add_argument("--dataset", default="circles", choices=datasets)
    p.add_argument("--n", type=positive(int), default=200)
    p.add_argument("--widths", type=comma_list(positive(int), "positive ints"), default=(2, 3, 8))
    p.add_argument(
        "--activations", type=choice_list(activations), default=("sigmoid", "tanh", "relu")
    )
    p.add_argument(
        "--seeds", type=comma_list(seed_value, f"ints in 0..{MAX_SEED}"), default=(0, 1, 2)
    )
    p.add_argument("--depth", type=positive(int), default=1, help="hidden layers per model")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=positive(float), default=1.0)
    p.add_argument(
        "--lrs",
        type=comma_list(positive(float), "positive finite numbers"),
        default=None,
        help="comma-separated learning rates: a learning-rate axis (not --lr)",
    )
    p.add_argument("--steps", type=step_count, default=2000, help=STEPS_HELP)
    p.add_argument("--batch-size", type=positive(int), default=None)
    p.add_argument("--test-fraction", type=fraction, default=0.25)
    p.add_argument("--data-seed", type=seed_value, default=0)
    p.add_argument("--out", type=nonempty_path, default="out/sweep")
    p.add_argument(
        "--checkpoint",
        type=nonempty_path,
        default=None,
        metavar="PATH",
        help="save the sweep's state after every chunk; rerun the same command to resume",
    )
    p.set_defaults(func=cmd_sweep)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are the one line and a pointer to ``--help``
    (not the usage's 7-8 lines above it); the subcommands' parsers are of this class too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.commands: dict[str, argparse.ArgumentParser] = {}  # name -> its subparser

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nsee: {self.prog} --help\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, with an unknown option reported by its command's parser (whose
        ``--help`` lists the command's options), not by the top one."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self.commands.get(getattr(parsed, "command", None) or "", self)
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


def build_parser() -> argparse.ArgumentParser:
    """The ``jaxmlp`` argument parser: one subparser per subcommand."""
    from jaxmlp import __version__
    from jaxmlp.activations import NAMES

    parser = _Parser(
        prog="jaxmlp",
        description="Multilayer perceptrons in JAX with hand-derived backpropagation.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    no_cache: dict = dict(
        action="store_true", help="no persistent compilation cache (JAXMLP_NO_CACHE=1)"
    )
    parser.add_argument("--no-cache", **no_cache)
    parser.add_argument("--version", action="version", version=f"jaxmlp {__version__}")
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
        parser.commands[name] = p
        return p

    datasets = dataset_names()
    _train_options(
        add("train", "train one MLP on a toy data set; writes params, metrics.json, a figure"),
        datasets,
        NAMES,
    )
    _sweep_options(
        add("sweep", "train a grid of widths x activations x seeds in one compiled program"),
        datasets,
        NAMES,
    )

    p = add("convert", "rewrite a params/results file (e.g. jaxmlp 0.1's .npz) as safetensors")
    p.add_argument("source", type=nonempty_path, metavar="SOURCE")
    p.add_argument("destination", type=nonempty_path, metavar="DESTINATION")
    p.set_defaults(func=cmd_convert)

    p = add("figures", "reproduce the blog post's figures (runs experiments/blog.py)")
    p.add_argument("--out", type=nonempty_path, default="out/blog")
    p.add_argument("--quick", action="store_true", help="reduced settings")
    p.add_argument("extra", nargs="*", help="after --: more options for experiments/blog.py")
    p.set_defaults(func=lambda a: _experiment("blog.py", a))

    p = add("bench", "run the benchmarks (benchmarks/bench.py)")
    p.add_argument("--out", type=nonempty_path, default="out/bench")
    p.add_argument("--quick", action="store_true", help="tiny sizes")
    p.add_argument("extra", nargs="*", help="after --: more options for benchmarks/bench.py")
    p.set_defaults(func=lambda a: _experiment("bench.py", a, "benchmarks"))

    p = add("playground", "the post's experiment live in the browser (jaxmlp[playground])")
    p.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=cmd_playground)

    p = add("info", "versions, platform and JAX devices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_info)
    return parser


def _ignore_further_ctrl_c() -> None:
    """After a Ctrl-C was handled, another press must not kill the exit (status -2)."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


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
    except (Interrupted, KeyboardInterrupt) as e:
        if argv is None:  # the console script: the process is on its way out with 130
            _ignore_further_ctrl_c()
        print(f"jaxmlp: {e}" if isinstance(e, Interrupted) else "jaxmlp: interrupted",
              file=sys.stderr)  # fmt: skip
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
