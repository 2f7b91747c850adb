"""The benchmarks' one harness: flags, the machine, the timers, the results and their pages.

A benchmark declares a frozen ``Config`` (with a ``repeats`` field), a ``QUICK`` dict of
overrides, ``run(cfg, args) -> results`` and ``tables(results) -> [Table]``, then calls
:func:`main`; a ``child(cfg, *args)`` runs in a fresh process (:func:`child_command`,
:func:`interleaved_processes`). ``benchmarks/README.md`` describes the flags, the record and
the timers. Benchmarks import this module, ``_baselines`` and ``jaxmlp``, never one another.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Table:
    """A table of a benchmark's page: a title, column names, rows of cells, a note below."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""


# --------------------------------------------------------------------------- the machine


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """What the numbers were measured on: CPU, load, platform, JAX's devices, versions."""
    import jax

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        lines = pathlib.Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((x.split(":", 1)[1].strip() for x in lines if x.startswith("model name")), cpu)
    packages = ("jax", "jaxlib", "ml_dtypes", "numpy", "optax", "scikit-learn", "torch",
                "plotly", "playwright")  # fmt: skip
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "versions": {p: v for p in packages if (v := _version(p))},
    }


def describe(m: dict) -> str:
    """One line about a machine record (older records name fewer fields)."""
    jax = m.get("versions", {}).get("jax") or m.get("jax")
    parts = [m.get("date_utc") or m.get("date"), m.get("cpu"),
             f"{m['cpu_count']} CPUs" if m.get("cpu_count") else m.get("machine"),
             m.get("jax_backend") or m.get("backend"), jax and f"jax {jax}"]  # fmt: skip
    load = m.get("load_average_at_start") or m.get("load_average")
    if load:
        parts.append("load " + " / ".join(f"{x:.2f}" for x in load))
    return ", ".join(str(p) for p in parts if p)


# --------------------------------------------------------------------------- timers


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warm: int = 0) -> dict:
    """First-call times, then ``repeats`` rounds that call every fn in turn (fair under load).

    In each round every fn is first called ``warm`` times untimed, then once timed:
    a steady-state time of back-to-back calls rather than of a call right after
    another library's.
    """

    def seconds(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    out: dict[str, dict] = {name: {"first_call_s": seconds(fn), "times_s": []}
                            for name, fn in fns.items()}  # fmt: skip
    for _ in range(repeats):
        for name, fn in fns.items():
            for _ in range(warm):
                fn()
            out[name]["times_s"].append(seconds(fn))
    return {k: row | {"median_s": statistics.median(row["times_s"])} for k, row in out.items()}


def repeated(fn: Callable[..., Any], *args: Any, repeats: int) -> dict:
    """A first call (it compiles), then ``repeats`` timed calls of ``fn(*args)``: their
    ``first_call_s``, ``times_s``, ``median_s``, ``min_s`` and the first call's result, ``out``."""
    import jax

    outs: list = []
    t = interleaved({"": lambda: outs.append(jax.block_until_ready(fn(*args)))}, repeats)[""]
    return t | {"min_s": min(t["times_s"]), "out": outs[0]}


def sections(parts: dict[str, Callable[[], dict]], *, catch=False, echo=False) -> dict[str, dict]:
    """Runs a benchmark's sections in turn, each result with its ``section_s``. ``catch``: a
    failing section is recorded (``error`` and the traceback's end) and the next one runs;
    ``echo``: each result is printed as it comes (its first 3000 characters of JSON)."""
    out = {}
    for name, part in parts.items():
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            out[name] = part()
        except Exception as exc:
            if not catch:
                raise
            out[name] = error(exc) | {"traceback": traceback.format_exc()[-4000:]}
        out[name]["section_s"] = time.perf_counter() - start
        if echo:
            print(json.dumps(out[name], default=str)[:3000], flush=True)
    return out


def medians(results: Sequence[dict]) -> dict[str, float]:
    """The median over ``results`` of each number that all of them hold (none: ``{}``)."""
    first = results[0] if results else {}
    keys = [k for k, v in first.items() if type(v) in (int, float) and all(k in r for r in results)]
    return {k: statistics.median(r[k] for r in results) for k in keys}


def names(text: str) -> tuple[str, ...]:
    """A flag's comma-separated names, e.g. ``--rows fit,train``."""
    return tuple(text.split(","))


def error(exc: Exception) -> dict:
    """A failure as a record: ``{"error": "Type: message"}``."""
    return {"error": f"{type(exc).__name__}: {exc}"[:2000]}


def child_command(script: str, cfg: Any, *args: object) -> list[str]:
    """The argv of a fresh process that runs ``script``'s ``child(cfg, *args)`` (:func:`main`)."""
    config = json.dumps(dataclasses.asdict(cfg))
    return [sys.executable, str(script), "--child", config, *map(str, args)]


def peak_rss_bytes(reset: bool = False) -> int | None:
    """This process's peak RSS in bytes: Linux's ``VmHWM`` (``ru_maxrss`` also counts the
    parent's RSS at the fork of a child process), else ``getrusage``. ``reset``: the peak
    restarts from the RSS now (Linux only; None elsewhere)."""
    import resource

    try:
        if reset:
            pathlib.Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        if reset:
            return None
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


COMPILE = "/jax/core/compile/backend_compile_duration"  # XLA compiles, or cache reads of them


@contextlib.contextmanager
def jax_events():
    """Sums JAX's duration events inside the block: yields ``{"seconds": {event: s},
    "counts": {event: n}}``; ``counts[COMPILE]`` is the number of programs compiled."""
    import jax

    got: dict = {"seconds": collections.defaultdict(float), "counts": collections.Counter()}

    def listen(name, seconds, **kwargs):
        got["seconds"][name] += seconds
        got["counts"][name] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield got
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def interleaved_processes(commands: dict[str, Sequence[str]], rounds: int, *,
                          env: dict | None = None, envs: dict | None = None,
                          empty_cache: bool = False, no_cache: bool = False,
                          warm: Sequence[str] = ()) -> dict[str, list[dict]]:  # fmt: skip
    """Runs every command in a fresh process, in turn, for ``rounds`` rounds (odd rounds in
    the reverse order), so that the load of a shared machine falls on every command alike.

    Each command is an argv (:func:`child_command`, or any program); a process that ends by
    printing a JSON object gives it as its result. ``envs`` may give a command its own
    environment (else ``env``). ``empty_cache``: every process gets its own empty
    ``JAXMLP_CACHE_DIR`` (``{tmp}`` in an argv names that folder's parent); a command named in
    ``warm`` first runs once in the same folder, to fill the cache (its result under
    ``"warming"``); ``no_cache``: no persistent compilation cache at all (``JAXMLP_NO_CACHE``).
    Returns each command's results, one per round, with ``wall_s`` (the whole process) added.
    A failing child raises ``RuntimeError``.
    """
    out: dict[str, list[dict]] = {name: [] for name in commands}
    for r in range(rounds):
        for name in list(commands)[:: -1 if r % 2 else 1]:
            child_env = dict((envs or {}).get(name, env) or os.environ)
            with tempfile.TemporaryDirectory() as tmp:
                argv = [a.replace("{tmp}", tmp) for a in commands[name]]
                if empty_cache:
                    child_env.pop("JAXMLP_NO_CACHE", None)
                    child_env["JAXMLP_CACHE_DIR"] = os.path.join(tmp, "cache")
                if no_cache:
                    child_env.pop("JAX_COMPILATION_CACHE_DIR", None)
                    child_env["JAXMLP_NO_CACHE"] = "1"
                first = {"warming": _process(name, argv, child_env)} if name in warm else {}
                out[name].append(_process(name, argv, child_env) | first)
    return out


def tree_of(ref: str, folder: str | os.PathLike) -> pathlib.Path:
    """A jaxmlp tree to measure beside this one: ``ref`` if it is a directory holding
    ``jaxmlp/``, else git commit ``ref``'s ``jaxmlp/`` extracted into ``folder``."""
    if pathlib.Path(ref).is_dir():
        return pathlib.Path(ref)
    tree = pathlib.Path(folder) / f"baseline-{ref.replace('/', '_').replace('~', '-')}"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "jaxmlp"],
                             capture_output=True, check=True)  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def tree_env(tree: str | os.PathLike, **extra: str) -> dict[str, str]:
    """This environment with ``tree`` (a folder holding ``jaxmlp/``) first on ``PYTHONPATH``."""
    path = os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def _process(name: str, argv: list[str], env: dict) -> dict:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: exit status {done.returncode}\n{done.stderr[-2000:]}")
    last = (done.stdout.strip().splitlines() or [""])[-1]
    result = json.loads(last) if last.startswith("{") else {}
    return {**result, "wall_s": time.perf_counter() - start}


# --------------------------------------------------------------------------- pages


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown_table(table: Table) -> str:
    lines = [f"## {table.title}", "", "| " + " | ".join(table.columns) + " |"]
    lines += ["|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


def render(record: dict, doc: str, tables: Callable[[dict], list[Table]]) -> str:
    """A benchmark's page from its stored record: what it measures, where, and its tables."""
    title, _, rest = doc.strip().partition("\n")
    prose = [p for p in rest.split("\n\n") if p.strip() and not p.strip("\n").startswith("    ")]
    notice = "<!-- rendered from the stored JSON by benchmarks/_harness.py; do not edit -->"
    header = [f"# {title.rstrip('.')}", *([prose[0].strip()] if prose else []),
              f"Command: `{record['command']}`", f"Machine: {describe(record['machine'])}.",
              notice]  # fmt: skip
    return "\n\n".join([*header, "\n".join(markdown_table(t) for t in tables(record))])


def write(out: pathlib.Path, name: str, record: dict, doc: str, tables, *, page_only=False):
    """Writes ``<out>/<name>.json`` (the record) and ``<out>/<name>.md`` (its page); the path
    of the page. ``page_only``: the page alone (the JSON is the stored record)."""
    out.mkdir(parents=True, exist_ok=True)
    if not page_only:
        (out / f"{name}.json").write_text(json.dumps(record, indent=2, allow_nan=False) + "\n")
    page = out / f"{name}.md"
    page.write_text(render(record, doc, tables))
    return page


# --------------------------------------------------------------------------- main


def _flag_type(default: Any) -> Callable[[str], Any] | None:
    """How a flag's text becomes a Config field like ``default``; None: no flag (nested)."""
    if isinstance(default, tuple):
        kind = type(default[0]) if default else str
        return None if kind is tuple else lambda text: tuple(map(kind, text.split(",")))
    return str if default is None else type(default)


def main(script: str, doc: str, config: type, quick: dict,
         run: Callable[[Any, argparse.Namespace], dict], tables: Callable[[dict], list[Table]],
         argv: Sequence[str] | None = None, *, name: str | None = None,
         flags: Callable[[argparse.ArgumentParser], None] | None = None,
         child: Callable[..., dict] | None = None, out: str = "out/bench") -> dict:  # fmt: skip
    """Parses the shared flags (and ``flags(parser)``'s), runs, writes the JSON and the page.

    ``script`` is the benchmark's ``__file__``; ``name`` of its files, the script's stem unless
    given. Every field of ``config`` is a flag (``max_iter``: ``--max-iter 50``; a tuple's
    items comma-separated) unless ``flags`` declares one of that name; a flag whose ``dest``
    is a field sets it (unless None). ``--render-only`` re-renders ``<out>/<name>.md`` from
    ``<out>/<name>.json``. ``run(cfg, args)`` returns the results, a dict of JSON values.
    ``--child CONFIG ARGS`` (:func:`child_command`) prints ``child(config(**CONFIG), *ARGS)``
    as one JSON line instead.
    """
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["--child"] and child is not None:
        result = child(config(**json.loads(args_list[1])), *args_list[2:])
        print(json.dumps(result), flush=True)
        return result
    script_path = pathlib.Path(script)
    name = name or script_path.stem
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(out))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--repeats", type=int, help="timed repeats (rounds) of each measurement")
    parser.add_argument("--render-only", action="store_true",
                        help="re-render the page from the stored JSON")  # fmt: skip
    if flags is not None:
        flags(parser)
    for field in dataclasses.fields(config):
        if kind := _flag_type(field.default):
            with contextlib.suppress(argparse.ArgumentError):  # declared by ``flags``
                parser.add_argument("--" + field.name.replace("_", "-"), dest=field.name,
                                    type=kind, help=f"default {field.default}")  # fmt: skip
    args = parser.parse_args(argv)
    if args.render_only:
        record = json.loads((args.out / f"{name}.json").read_text())
        print("rendered", write(args.out, name, record, doc, tables, page_only=True))
        return record
    import jax

    from jaxmlp import compilation_cache

    devices = jax.devices()
    print(f"device: {jax.default_backend()}: {len(devices)} x {devices[0].device_kind}", flush=True)
    compilation_cache.enable()  # JAXMLP_NO_CACHE=1 turns it off
    fields = {f.name for f in dataclasses.fields(config)}
    if args.repeats is not None and "repeats" not in fields:
        parser.error("--repeats: this benchmark times no repeats")
    given = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    cfg = config(**(dict(quick) if args.quick else {}) | given)
    command = " ".join(["python", f"benchmarks/{script_path.name}", *args_list])
    record = {"command": command, "config": dataclasses.asdict(cfg), "machine": machine()}
    record |= run(cfg, args)
    print("wrote", write(args.out, name, record, doc, tables))
    return record
