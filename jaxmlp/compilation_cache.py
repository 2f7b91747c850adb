"""Compiled programs kept on disk, so that a new process starts warm.

Two caches, both switched off by ``JAXMLP_NO_CACHE=1``:

* **jaxmlp's program cache** (on by default): the programs jaxmlp compiles for its
  own functions (``train``, the estimators' fits, ``sweep``, ``predict``) are
  written to ``<cache dir>/programs`` and read back by a later process with the
  same versions, CPU and compile settings: a worker process of
  ``cross_val_score(..., n_jobs=2)`` or a script's second run loads them instead of
  compiling. It changes nothing in JAX's configuration: programs compiled by other
  code are neither read nor written (see :func:`programs`).
* **JAX's persistent compilation cache** for a whole process, opt-in: the entry
  points that start a fresh process (the ``jaxmlp`` command line, the experiment
  scripts) call :func:`enable`. Importing or calling jaxmlp never does.

Where the caches live, and how to switch them off:

* ``JAXMLP_CACHE_DIR``: the directory (default: ``$XDG_CACHE_HOME/jaxmlp/jax``,
  else ``~/.cache/jaxmlp/jax``, for JAX's cache, and ``.../jaxmlp/programs`` for
  jaxmlp's); when set, jaxmlp's programs go to its ``programs`` folder;
* ``JAXMLP_CACHE_MAX_MB``: the program cache's size bound (default 512); the
  least recently used entries are removed beyond it;
* ``JAXMLP_NO_CACHE=1`` (or the command line's ``--no-cache``): no cache.

Entries are files of numbers only (XLA's serialized executable behind a header
with its length and SHA-256), never pickle, written atomically (a temporary file
renamed into place, so concurrent writers are safe); an entry that fails its
check or does not load is removed and the program compiled again. An entry is a
compiled program, so loading one runs its code: entries are read only from a
directory owned by the user and writable by no one else (:func:`private_dir`);
a shared or world-writable ``JAXMLP_CACHE_DIR`` leaves the program cache unused.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pathlib
import platform
import stat
import tempfile
import threading
import time
from collections.abc import Iterator

import jax

from jaxmlp._regular_files import open_for_reading

__all__ = [
    "ENV_DIR",
    "ENV_MAX_MB",
    "ENV_OFF",
    "default_dir",
    "disabled_by_env",
    "enable",
    "programs",
    "private_dir",
    "programs_dir",
]

ENV_DIR = "JAXMLP_CACHE_DIR"
"""The environment variable naming the cache directory."""
ENV_OFF = "JAXMLP_NO_CACHE"
"""The environment variable that switches the cache off (``1``, ``true``, ...)."""
ENV_MAX_MB = "JAXMLP_CACHE_MAX_MB"
"""The environment variable bounding the program cache's size, in MiB (default 512)."""
DEFAULT_MAX_MB = 512
MAGIC = b"JAXMLP-XLA-1\n"  # the entry format; a new one is a new key (_salt) as well
_SUFFIX = ".xla"
_STALE_TMP_S = 3600.0  # temporary files of writers killed mid-write are removed after this


def default_dir() -> pathlib.Path:
    """The cache directory when ``JAXMLP_CACHE_DIR`` is unset.

    >>> default_dir().parts[-2:]
    ('jaxmlp', 'jax')
    """
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "jaxmlp" / "jax"


def disabled_by_env() -> bool:
    """True when ``JAXMLP_NO_CACHE`` is set to anything but ``""``, ``0``, ``false`` or ``no``."""
    return os.environ.get(ENV_OFF, "").strip().lower() not in ("", "0", "false", "no")


def enable(path: str | os.PathLike | None = None, *, disable: bool = False) -> pathlib.Path | None:
    """Turns on JAX's persistent compilation cache for this whole process.

    For entry points that own their process (the command line, scripts): it sets
    ``jax.config`` and so caches every program of the process, jaxmlp's or not.
    Library calls never call it; they use :func:`programs`.

    Args:
      path: the cache directory; default ``JAXMLP_CACHE_DIR`` or :func:`default_dir`.
      disable: do nothing (the ``--no-cache`` flag); ``JAXMLP_NO_CACHE=1`` does the same.

    Returns:
      The directory in use, or ``None`` when the cache stays off (disabled, or the
      directory cannot be created: a read-only home must not stop a run).
    """
    if disable or disabled_by_env():
        return None
    directory = pathlib.Path(path or os.environ.get(ENV_DIR) or default_dir()).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    # jaxmlp's programs are small: most compile in well under JAX's default 1 s
    # threshold, and those are exactly the ones a new process pays for again.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return directory


# --- jaxmlp's own program cache ------------------------------------------------------------------
# JAX's persistent cache cannot be scoped to jaxmlp's programs in jax 0.10: its cache object is
# one per process, created from the directory configured at the first compile that looks, and
# used from then on for every program whatever the configuration says later. A context that set
# jax_compilation_cache_dir around jaxmlp's compiles would leave the user's later compiles
# reading and writing jaxmlp's directory (or jaxmlp's writing the user's). So jaxmlp keeps its
# own directory: while a thread is inside `programs()`, the compiles it starts go through
# `_compile`, which looks the program up by JAX's own cache key (the module, devices, compile
# options, backend and jaxlib versions, XLA_FLAGS) extended with jaxmlp's version and the CPU.
# Compiles outside `programs()` (the user's, other threads') take JAX's path unchanged.

_scope = threading.local()
stats = {"loaded": 0, "compiled": 0, "rejected": 0}
"""This process's counts: programs loaded from the cache, compiled into it, entries rejected."""
_install_lock = threading.Lock()
_hook: dict = {}


def programs_dir() -> pathlib.Path | None:
    """The program cache's directory, or None when ``JAXMLP_NO_CACHE`` switches it off."""
    if disabled_by_env():
        return None
    if os.environ.get(ENV_DIR):
        return pathlib.Path(os.environ[ENV_DIR]).expanduser() / "programs"
    return default_dir().parent / "programs"


def _max_bytes() -> int:
    try:
        return int(float(os.environ.get(ENV_MAX_MB, DEFAULT_MAX_MB)) * 2**20)
    except ValueError:
        return DEFAULT_MAX_MB * 2**20


@contextlib.contextmanager
def programs() -> Iterator[None]:
    """Within this block, this thread's compiles use jaxmlp's program cache.

    Wraps jaxmlp's own calls of its compiled programs: a program compiled here is
    loaded from the cache when an earlier process wrote it, and written there
    otherwise. A no-op when the cache is off, when the directory cannot be made, or
    when this jax has no hook for it. Calls that find their program compiled in
    memory pay only this block's entry (about a microsecond).
    """
    if getattr(_scope, "directory", None) is not None:  # nested: the outer block decides
        yield
        return
    directory = programs_dir()
    if directory is None or not _installed():
        yield
        return
    _scope.directory = directory
    try:
        yield
    finally:
        _scope.directory = None


def _installed() -> bool:
    """Puts :func:`_compile` in front of JAX's compile (once); False where this jax lacks it."""
    if "ok" in _hook:
        return _hook["ok"]
    with _install_lock:
        if "ok" not in _hook:
            try:
                from jax._src import compiler

                original = compiler.compile_or_get_cached
                compiler.backend_compile_and_load  # noqa: B018 (checked: called below)
                from jax._src.compilation_cache import get_cache_key
            except (ImportError, AttributeError):
                _hook["ok"] = False
                return False

            @functools.wraps(original)
            def compile_or_get_cached(backend, computation, devices, compile_options,
                                      host_callbacks, executable_devices,
                                      pgle_profiler=None):  # fmt: skip
                directory = getattr(_scope, "directory", None)
                if directory is None or host_callbacks or pgle_profiler is not None:
                    return original(backend, computation, devices, compile_options,
                                    host_callbacks, executable_devices, pgle_profiler)  # fmt: skip
                return _compile(
                    directory, backend, computation, devices, compile_options,
                    executable_devices,
                    lambda: original(backend, computation, devices, compile_options,
                                     host_callbacks, executable_devices, pgle_profiler),
                    lambda: compiler.backend_compile_and_load(
                        backend, computation, executable_devices, compile_options, []
                    ),
                    get_cache_key,
                )  # fmt: skip

            compiler.compile_or_get_cached = compile_or_get_cached
            _hook["ok"] = True
    return _hook["ok"]


@functools.cache
def _salt() -> bytes:
    """What JAX's key leaves out: jaxmlp's version, the entry format and the CPU."""
    from jaxmlp import __version__

    cpu = [platform.machine(), platform.processor()]
    try:  # model and instruction-set flags: an executable is compiled for the host CPU
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(("model name", "flags", "Features", "CPU part")):
                    cpu.append(line.strip())
                if line.strip() == "":
                    break
    except OSError:
        pass
    return "\n".join(["jaxmlp", __version__, MAGIC.decode().strip(), *cpu]).encode()


def entry_key(jax_key: str) -> str:
    """The file name stem of a program whose JAX cache key is ``jax_key``."""
    return hashlib.sha256(jax_key.encode() + b"\0" + _salt()).hexdigest()


def _compile(directory, backend, computation, devices, options, executable_devices,
             fallback, compile_and_load, get_cache_key):  # fmt: skip
    """The program from the cache, or compiled and written there."""
    if executable_devices is None:
        return fallback()
    try:
        path = directory / (
            entry_key(get_cache_key(computation, devices, options, backend)) + _SUFFIX
        )
    except Exception:  # no key for this program (JAX declines some): not cached
        return fallback()
    if not private_dir(directory):
        return fallback()
    payload = read_entry(path)
    if payload is not None:
        try:
            executable = backend.deserialize_executable(payload, executable_devices, options)
        except Exception:  # written by an incompatible build: removed, compiled again
            stats["rejected"] += 1
            _remove(path)
        else:
            stats["loaded"] += 1
            return executable
    executable = compile_and_load()
    stats["compiled"] += 1
    try:
        payload = executable.serialize()
    except Exception:
        return executable
    write_entry(path, payload)
    return executable


def private_dir(directory: pathlib.Path) -> bool:
    """Whether ``directory`` (created if missing, mode 0o700) is one whose entries may be
    loaded: owned by this user and writable by no one else.

    An entry is a compiled program: loading it runs its machine code, so entries are
    read only from where no other user could have put them (ssh's rule for its keys).
    Elsewhere (a shared or world-writable ``JAXMLP_CACHE_DIR``) the cache is not used.

    >>> import tempfile; d = pathlib.Path(tempfile.mkdtemp())
    >>> private_dir(d), (d.chmod(0o777), private_dir(d))[1]
    (True, False)
    """
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(directory)
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return owner_ok and stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o022


def read_entry(path: pathlib.Path) -> bytes | None:
    """An entry's payload, or None if it is missing; an entry that fails its check is removed."""
    try:
        with open_for_reading(path) as entry:  # a FIFO or device is refused, not read
            data = entry.read()
    except (OSError, ValueError):
        return None
    head = len(MAGIC) + 8 + 32
    if len(data) >= head and data.startswith(MAGIC):
        size = int.from_bytes(data[len(MAGIC) : len(MAGIC) + 8], "big")
        digest, payload = data[len(MAGIC) + 8 : head], data[head:]
        if size == len(payload) and hashlib.sha256(payload).digest() == digest:
            with contextlib.suppress(OSError):
                os.utime(path)  # the eviction removes the least recently used
            return payload
    stats["rejected"] += 1
    _remove(path)
    return None


def write_entry(path: pathlib.Path, payload: bytes) -> None:
    """Writes an entry atomically (a temporary file renamed over it), then bounds the cache.

    A write that fails (a read-only or full disk) leaves the cache as it was.
    """
    header = MAGIC + len(payload).to_bytes(8, "big") + hashlib.sha256(payload).digest()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:16]}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(header + payload)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return
    finally:
        if tmp is not None:
            _remove(pathlib.Path(tmp))
    evict(path.parent, _max_bytes())


def evict(directory: pathlib.Path, max_bytes: int) -> None:
    """Removes the least recently used entries until the rest hold at most ``max_bytes``."""
    entries = []
    now = time.time()
    try:
        with os.scandir(directory) as it:
            for item in it:
                try:
                    stat = item.stat()
                except OSError:
                    continue
                if item.name.endswith(_SUFFIX):
                    entries.append((stat.st_mtime, stat.st_size, item.path))
                elif item.name.endswith(".tmp") and now - stat.st_mtime > _STALE_TMP_S:
                    _remove(pathlib.Path(item.path))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, name in sorted(entries):
        if total <= max_bytes:
            break
        _remove(pathlib.Path(name))
        total -= size


def _remove(path: pathlib.Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
