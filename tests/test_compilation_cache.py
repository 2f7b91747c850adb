"""jaxmlp's program cache (jaxmlp.compilation_cache): hits across processes, concurrent writers,
corrupted entries, a version change, the size bound, the off switch, JAX's config untouched."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading

import jax
import numpy as np
import pytest

from jaxmlp import compilation_cache, compile_options

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The program cache switched on, in a fresh directory; its entries' folder."""
    monkeypatch.delenv(compilation_cache.ENV_OFF, raising=False)
    monkeypatch.setenv(compilation_cache.ENV_DIR, str(tmp_path))
    compile_options.chosen("predict")  # the options' check (cached) done beforehand
    return tmp_path / "programs"


_counter = iter(range(10**6))


def fresh_program():
    """A jaxmlp Program nothing in this process has compiled yet (its own constant)."""
    k = float(next(_counter)) + 0.5

    def f(x):
        return (x * k + 1.0).sum()

    return compile_options.Program(f, "predict")


def entries(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(directory.glob("*.xla")) if directory.exists() else []


def test_a_compiled_program_is_written_and_loaded_back(cache_dir):
    program, x = fresh_program(), np.arange(6, dtype=np.float32)
    before = dict(compilation_cache.stats)
    expected = float(program(x))
    assert compilation_cache.stats["compiled"] == before["compiled"] + 1
    assert len(entries(cache_dir)) == 1
    jax.clear_caches()  # as a new process: nothing compiled in memory
    assert float(program(x)) == expected
    assert compilation_cache.stats["loaded"] == before["loaded"] + 1
    assert compilation_cache.stats["compiled"] == before["compiled"] + 1
    assert jax.config.jax_compilation_cache_dir is None  # JAX's own cache untouched


def test_a_searchs_program_is_written_and_loaded_back(cache_dir, monkeypatch):
    """A search in a new process loads the program an earlier one compiled, as the fit does."""
    from sklearn.exceptions import ConvergenceWarning

    from jaxmlp.sklearn import GridSearchCV, MLPClassifier, _search

    monkeypatch.setattr(_search, "ONE_PROGRAM", "always")  # the program even on a CPU
    X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(4,), (6,)]}

    def search():
        est = MLPClassifier((4,), max_iter=3, random_state=0)
        with pytest.warns(ConvergenceWarning):
            search = GridSearchCV(est, grid, cv=2, refit=False)  # the search's programs only
            return search.fit(X, y).cv_results_["mean_test_score"]

    before = dict(compilation_cache.stats)
    first = search()
    written = compilation_cache.stats["compiled"] - before["compiled"]
    assert written >= 1 and len(entries(cache_dir)) == written
    jax.clear_caches()  # as a new process: nothing compiled in memory
    np.testing.assert_array_equal(search(), first)
    assert compilation_cache.stats["compiled"] == before["compiled"] + written
    assert compilation_cache.stats["loaded"] >= before["loaded"] + written


def test_entries_are_loaded_only_from_a_directory_no_one_else_can_write(cache_dir):
    """An entry is machine code: one planted in a shared, world-writable folder must not run."""
    program, x = fresh_program(), np.arange(6, dtype=np.float32)
    expected = float(program(x))
    assert len(entries(cache_dir)) == 1
    cache_dir.chmod(0o777)  # anyone could have written its entries
    jax.clear_caches()
    before = dict(compilation_cache.stats)
    assert float(program(x)) == expected
    assert compilation_cache.stats["loaded"] == before["loaded"]  # compiled by JAX instead
    cache_dir.chmod(0o700)
    jax.clear_caches()
    assert float(program(x)) == expected
    assert compilation_cache.stats["loaded"] == before["loaded"] + 1


def test_a_fifo_in_place_of_an_entry_is_not_waited_on(cache_dir):
    program, x = fresh_program(), np.arange(6, dtype=np.float32)
    expected = float(program(x))
    (entry,) = entries(cache_dir)
    entry.unlink()
    os.mkfifo(entry)
    jax.clear_caches()
    assert float(program(x)) == expected  # compiled again; reading the FIFO would block


def test_programs_outside_jaxmlp_are_not_cached(cache_dir):
    jax.jit(lambda x: x * 3.25 - 1)(np.ones(3, np.float32)).block_until_ready()
    assert entries(cache_dir) == []


def test_the_off_switch(cache_dir, monkeypatch):
    monkeypatch.setenv(compilation_cache.ENV_OFF, "1")
    fresh_program()(np.ones(3, np.float32))
    assert compilation_cache.programs_dir() is None
    assert entries(cache_dir) == []


@pytest.mark.parametrize("damage", ["garbage", "truncated", "payload", "empty"])
def test_a_corrupted_entry_is_ignored_and_rebuilt(cache_dir, damage):
    program, x = fresh_program(), np.arange(4, dtype=np.float32)
    expected = float(program(x))
    (entry,) = entries(cache_dir)
    good = entry.read_bytes()
    head = len(compilation_cache.MAGIC) + 8 + 32
    entry.write_bytes(
        {
            "garbage": b"\x00not an entry" * 50,
            "truncated": good[: len(good) // 2],
            # a payload that passes the checksum but is no executable
            "payload": compilation_cache.MAGIC
            + (5).to_bytes(8, "big")
            + __import__("hashlib").sha256(b"abcde").digest()
            + b"abcde",
            "empty": b"",
        }[damage]
    )
    assert len(good) > head
    rejected = compilation_cache.stats["rejected"]
    jax.clear_caches()
    assert float(program(x)) == expected
    assert compilation_cache.stats["rejected"] == rejected + 1
    assert compilation_cache.read_entry(entry) is not None  # rewritten whole


def test_a_version_change_is_a_new_entry(cache_dir, monkeypatch):
    program, x = fresh_program(), np.ones(5, np.float32)
    program(x)
    monkeypatch.setattr(compilation_cache, "_salt", lambda: b"jaxmlp\n9.9.9\nanother cpu")
    jax.clear_caches()
    compiled = compilation_cache.stats["compiled"]
    program(x)
    assert compilation_cache.stats["compiled"] == compiled + 1
    assert len(entries(cache_dir)) == 2


def test_concurrent_writers_and_readers_see_whole_entries(tmp_path):
    path = tmp_path / "k.xla"
    payloads = [bytes([i]) * (200_000 + i) for i in range(6)]
    seen, errors = [], []

    def write(p):
        for _ in range(20):
            compilation_cache.write_entry(path, p)

    def read():
        for _ in range(200):
            got = compilation_cache.read_entry(path)
            if got is not None:
                seen.append(got)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(got in payloads for got in seen)
    assert compilation_cache.read_entry(path) in payloads
    assert not list(tmp_path.glob("*.tmp"))  # no temporary file left behind


def test_the_size_bound_removes_the_least_recently_used(tmp_path):
    for i in range(5):
        path = tmp_path / f"{i}.xla"
        compilation_cache.write_entry(path, bytes(1000))
        os.utime(path, (1000 + i, 1000 + i))
    os.utime(tmp_path / "0.xla", (2000, 2000))  # read recently
    compilation_cache.evict(tmp_path, max_bytes=3 * 1100)
    assert sorted(p.name for p in entries(tmp_path)) == ["0.xla", "3.xla", "4.xla"]


@pytest.mark.slow
def test_two_processes_compile_into_one_cache_and_a_third_loads(tmp_path):
    """Two fresh processes fit at once (both compile, both write the same entry); a third
    process loads the fit program instead of compiling it."""
    script = (
        "import json, warnings; warnings.simplefilter('ignore')\n"
        "import numpy as np\n"
        "from jaxmlp import compilation_cache\n"
        "from jaxmlp.sklearn import MLPClassifier\n"
        "X = np.random.default_rng(0).normal(size=(150, 4)); y = (X[:, 0] > 0).astype(int)\n"
        "c = MLPClassifier((7,), max_iter=5, random_state=0).fit(X, y)\n"
        "print(json.dumps([compilation_cache.stats, c.loss_curve_]))\n"
    )
    env = {**os.environ, "JAXMLP_CACHE_DIR": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    env.pop("JAXMLP_NO_CACHE", None)
    run = lambda: subprocess.Popen(  # noqa: E731
        [sys.executable, "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    first = [run(), run()]
    outs = [p.communicate(timeout=300)[0] for p in first]
    assert all(p.returncode == 0 for p in first)
    third = run()
    out = third.communicate(timeout=300)[0]
    import json

    stats, curve = json.loads(out.strip().splitlines()[-1])
    assert stats["loaded"] >= 1 and stats["compiled"] == 0, stats
    assert curve == json.loads(outs[0].strip().splitlines()[-1])[1]
    assert all(compilation_cache.read_entry(p) is not None for p in entries(tmp_path / "programs"))
