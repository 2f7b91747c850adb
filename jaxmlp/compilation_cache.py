"""JAX's persistent compilation cache for jaxmlp's programs, opt-in per process.

The library itself sets no global JAX option: importing :mod:`jaxmlp` leaves
``jax.config`` untouched. Entry points that start a fresh process (the
``jaxmlp`` command line, the experiment scripts) call :func:`enable`, so that a
second run loads the compiled programs of the first from disk instead of
compiling them again.

Where the cache lives, and how to switch it off:

* ``JAXMLP_CACHE_DIR``: the directory (default: ``$XDG_CACHE_HOME/jaxmlp/jax``,
  else ``~/.cache/jaxmlp/jax``);
* ``JAXMLP_NO_CACHE=1`` (or the command line's ``--no-cache``): no cache.
"""

from __future__ import annotations

import os
import pathlib

import jax

__all__ = ["ENV_DIR", "ENV_OFF", "default_dir", "disabled_by_env", "enable"]

ENV_DIR = "JAXMLP_CACHE_DIR"
"""The environment variable naming the cache directory."""
ENV_OFF = "JAXMLP_NO_CACHE"
"""The environment variable that switches the cache off (``1``, ``true``, ...)."""


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
    """Turns on JAX's persistent compilation cache for this process.

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
