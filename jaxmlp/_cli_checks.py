"""The command line's checks: option values, errors, and what is checked before any work.

Option values are argparse types, so a bad value is a usage error (exit status 2)
that names its flag; the rest (the data set, the optimizer, ``--out``, a library
check turned into a usage error) runs before any training. See :mod:`jaxmlp.cli`.
"""

from __future__ import annotations

import argparse
import inspect
import math
import pathlib
import sys
import tempfile
from collections.abc import Sequence

# --seed s also seeds the split (s + 1) and the shuffle (s + 2): all within int32
# (datasets.MAX_RUN_SEED, written out here so that parsing the command line imports no jax).
MAX_SEED = 2**31 - 3
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


class UsageError(CLIError):
    """A bad command line found before any work: exit status 2."""


class Interrupted(Exception):
    """Ctrl-C, after what could be saved was saved: exit status 130."""


# ---- option values (argparse types: a bad value is a usage error naming its flag) ----


def bounded_number(kind, *, low=None, high=None, what: str = ""):
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


def nonempty_path(text: str) -> str:
    """An argparse type: a non-empty path (``--out ''`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


def positive(kind):
    name = "positive int" if kind is int else "positive finite number"
    return bounded_number(kind, low=1 if kind is int else math.ulp(0.0), what=f"a {name}")


def comma_list(item, what: str):
    """An argparse type: comma-separated values each parsed by ``item``; at least one."""

    def parse(text: str):
        parts = [v.strip() for v in text.split(",")]
        if not any(parts) or "" in parts[:-1]:  # "3,,4" is a typo, not 3,4 (a final "," is fine)
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
        parts = [v for v in parts if v]
        try:
            return tuple(item(v) for v in parts)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {what}, got {text!r}"
            ) from None

    return parse


def choice_list(choices: Sequence[str]):
    def item(text: str) -> str:
        if text not in choices:
            raise argparse.ArgumentTypeError(text)
        return text

    return comma_list(item, f"names from {', '.join(choices)}")


STEPS_HELP = "updates (at most MAX_STEPS = 100000000)"


def step_count(text: str) -> int:
    from jaxmlp.validation import MAX_STEPS

    return bounded_number(int, low=1, high=MAX_STEPS, what=f"an int in 1..MAX_STEPS = {MAX_STEPS}")(
        text
    )


seed_value = bounded_number(int, low=0, high=MAX_SEED, what=f"an int in 0..MAX_SEED = {MAX_SEED}")
fraction = bounded_number(float, low=math.ulp(0.0), high=1 - 2**-53, what="a number in (0, 1)")


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


def load_dataset(name: str, n: int, seed: int):
    import jax

    from jaxmlp import datasets

    names = dataset_names()
    if name not in names:
        raise UsageError(f"--dataset must be one of {', '.join(names)}; got {name!r}")
    return as_usage_error("--n", getattr(datasets, name), jax.random.key(seed), n)


def check_lr(lr: float) -> None:
    if not lr > 0 or not math.isfinite(lr):
        raise UsageError(f"--lr must be a positive finite number, got {lr}")


def make_optimizer(name: str, lr: float):
    check_lr(lr)
    from jaxmlp import optimizers

    return optimizers.by_name(name)(lr)


def progress_bar(total: int, desc: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty() or None, file=sys.stderr)


# ---- checks before any work ----


def check_out_dir(out: pathlib.Path, files: Sequence[str]) -> None:
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
        check_regular_file(out / name, f"--out {str(out)!r}: {name}")


def check_regular_file(path: pathlib.Path, what: str) -> None:
    """An existing ``path`` to be replaced must be a regular file (not a device or FIFO)."""
    from jaxmlp._regular_files import check_destination

    try:
        check_destination(path)
    except ValueError as e:
        raise UsageError(f"{what}: {e}") from None


def check_file_to_write(path: str, flag: str, *, writable: bool = False) -> None:
    """A file ``path`` to write: not a directory nor a device, its folder creatable (and
    with ``writable``, one a file can be created in)."""
    target = pathlib.Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {path!r} is a directory, not a file")
    check_regular_file(target, flag)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{flag} {path!r}: cannot create its folder: {e.strerror}") from None
    if writable:
        try:
            with tempfile.TemporaryFile(dir=target.parent or "."):
                pass
        except OSError as e:
            raise UsageError(f"{flag} {path!r}: its folder is not writable: {e.strerror}") from None


def as_usage_error(flag: str, check, *args, **kwargs):
    """Runs a library check; its ValueError/TypeError becomes a usage error naming ``flag``."""
    try:
        return check(*args, **kwargs)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{flag}: {e}") from None
