"""Compiled programs and the kernel's limit on memory maps: one teardown hook.

Every XLA:CPU program that JAX keeps cached holds memory mappings (about six for a small
one, more for a large one), and at the kernel's vm.max_map_count (65530 by default) the next
compile segfaults (jax-ml/jax#27201). One process running the whole suite holds ~60,000
maps by its sweep tests; a pytest-xdist worker peaked at 43,000. So after every
MAP_CHECK_EVERY_S seconds of compiling (a count of programs misses the large ones) a worker
counts its maps (~20 ms), and above MAP_SHARE of the limit it clears JAX's caches (later
tests recompile what they need).
"""

from __future__ import annotations

import gc

import jax

MAP_CHECK_EVERY_S = 3.0
MAP_SHARE = 0.7
_compiles = {"seconds": 0.0}


def _count_compile(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _compiles["seconds"] += duration


jax.monitoring.register_event_duration_secs_listener(_count_compile)


def memory_maps() -> tuple[int, int] | None:
    """(maps this process holds, the kernel's limit), or None where /proc does not say."""
    try:
        with open("/proc/self/maps", "rb") as maps, open("/proc/sys/vm/max_map_count") as limit:
            return sum(1 for _ in maps), int(limit.read())
    except (OSError, ValueError):
        return None


def release_programs_near_the_map_limit(share: float = MAP_SHARE, clear=jax.clear_caches) -> bool:
    """Calls ``clear`` (JAX's caches) when this process holds over ``share`` of its map limit."""
    _compiles["seconds"] = 0.0
    counts = memory_maps()
    if counts is None or counts[0] <= share * counts[1]:
        return False
    clear()
    gc.collect()
    return True


def pytest_runtest_teardown(item, nextitem):
    if _compiles["seconds"] >= MAP_CHECK_EVERY_S:
        release_programs_near_the_map_limit()
