"""Hostile and careless input (issue 19): no crash, no hang, no silent wrong result, no lost work.

Properties (hypothesis) over file contents and argument values: every refusal is a
``FileFormatError`` naming the file, or a ``ValueError``/``TypeError`` naming the
argument, never another exception. Subprocess tests (slow) for an abort, a hang,
Ctrl-C and kill -9 during a save. Grow this module with the code: a new loader or
public function gets its hostile cases here.
"""

import io as _bytes_io
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import _safetensors, checkpoint, datasets, io

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
LOADERS = {
    "load_params": io.load_params,
    "load_results": io.load_results,
    "checkpoint.load": checkpoint.load,
}
PARAMS = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One real file of each kind: ``{name: bytes}``."""
    folder = tmp_path_factory.mktemp("real")
    io.save_params(folder / "p", PARAMS, activation="tanh")
    io.save_results(folder / "r", {"loss": np.arange(5.0), "acc": np.ones((2, 2), np.int32)})
    checkpoint.save(str(folder / "c"), (np.arange(3, dtype=np.uint32), np.ones(2)), {"step": 1})
    arrays = {f"layer_{i}.{n}": np.asarray(getattr(layer, n)) for i, layer in enumerate(PARAMS)
              for n in "Wb"}  # fmt: skip
    header = {"format": "jaxmlp.params", "format_version": 1, "jaxmlp_version": "0.1.0",
              "keys": list(arrays), "metadata": {"sizes": [2, 3, 1]}}  # fmt: skip
    np.savez(folder / "legacy.npz", **arrays,
             __jaxmlp__=np.frombuffer(json.dumps(header).encode(), np.uint8))  # fmt: skip
    return {name: (folder / name).read_bytes() for name in ("p", "r", "c", "legacy.npz")}


def _refused_or_loaded(tmp_path, data: bytes, name="f"):
    """Loads ``data`` with every loader: each must succeed or raise FileFormatError naming it."""
    path = tmp_path / name
    path.write_bytes(data)
    outcomes = {}
    for what, load in LOADERS.items():
        try:
            outcomes[what] = load(str(path))
        except io.FileFormatError as e:
            assert str(path) in str(e), (what, e)
            outcomes[what] = None
    return outcomes


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_are_refused(tmp_path, data):
    assert set(_refused_or_loaded(tmp_path, data).values()) == {None}


@SETTINGS
@given(data=st.binary(max_size=300), prefix=st.sampled_from([b"PK\x03\x04", b"\x80\x04", b""]))
def test_random_bytes_after_a_magic_are_refused(tmp_path, data, prefix):
    assert set(_refused_or_loaded(tmp_path, prefix + data).values()) == {None}


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)
ENTRY = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "F64", "I32", "BF16", "BOOL", "X", 3]),
        "shape": st.lists(st.integers(-2, 5), max_size=3) | JSON,
        "data_offsets": st.lists(st.integers(-4, 80), min_size=2, max_size=2) | JSON,
    }
)


@SETTINGS
@given(
    header=st.dictionaries(
        st.sampled_from(["layer_0.W", "layer_0.b", "x", "__metadata__"]), ENTRY | JSON, max_size=4
    ),  # fmt: skip
    data=st.binary(max_size=80),
)
def test_crafted_safetensors_headers_are_refused_or_consistent(tmp_path, header, data):
    try:
        text = json.dumps(header).encode()
    except ValueError:  # NaN in JSON: write it anyway, as a hostile writer would
        text = json.dumps(header, allow_nan=True).encode()
    outcomes = _refused_or_loaded(tmp_path, struct.pack("<Q", len(text)) + text + data)
    assert set(outcomes.values()) == {None}  # no jaxmlp metadata: never accepted


@SETTINGS
@given(deep=st.integers(1, 200_000))
def test_deeply_nested_headers_are_refused(tmp_path, deep):
    text = b"[" * deep + b"]" * deep
    outcomes = _refused_or_loaded(tmp_path, struct.pack("<Q", len(text)) + text)
    assert set(outcomes.values()) == {None}


@SETTINGS
@given(position=st.integers(0, 10**9), bit=st.integers(0, 7), kind=st.sampled_from("prc"))
def test_any_flipped_bit_in_a_jaxmlp_file_is_refused(tmp_path, files, position, bit, kind):
    """The CRC-32 covers the whole file: no flipped bit loads as other numbers."""
    data = bytearray(files[kind])
    data[position % len(data)] ^= 1 << bit
    assert set(_refused_or_loaded(tmp_path, bytes(data)).values()) == {None}


@SETTINGS
@given(cut=st.integers(0, 10**9), kind=st.sampled_from(["p", "r", "c", "legacy.npz"]))
def test_any_truncation_is_refused(tmp_path, files, cut, kind):
    data = files[kind]
    assert set(_refused_or_loaded(tmp_path, data[: cut % len(data)]).values()) == {None}


@SETTINGS
@given(position=st.integers(0, 10**9), bit=st.integers(0, 7))
def test_flipped_bits_in_a_legacy_file_are_refused_or_harmless(tmp_path, files, position, bit):
    """Old .npz files: a flip is refused (zip CRC, checks) or hit a field nobody reads."""
    data = bytearray(files["legacy.npz"])
    data[position % len(data)] ^= 1 << bit
    loaded = _refused_or_loaded(tmp_path, bytes(data))["load_params"]
    if loaded is not None:
        for a, b in zip(jax.tree.leaves(loaded[0]), jax.tree.leaves(PARAMS), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _zip(members) -> bytes:
    buffer = _bytes_io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, payload, compress in members:
            z.writestr(name, payload, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
    return buffer.getvalue()


def _npy(array) -> bytes:
    buffer = _bytes_io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


@SETTINGS
@given(
    keys=JSON,
    metadata=JSON,
    extra=st.lists(
        st.tuples(
            st.sampled_from(["x.npy", "y.npy", "x", "../x.npy", "__jaxmlp__.npy"]),
            st.binary(max_size=64) | st.just(_npy(np.ones(3))),
            st.booleans(),
        ),
        max_size=3,
    ),  # fmt: skip
    compress_header=st.booleans(),
)
def test_crafted_npz_archives_are_refused_or_consistent(
    tmp_path, keys, metadata, extra, compress_header
):
    header = {"format": "jaxmlp.results", "format_version": 1, "keys": keys, "metadata": metadata}
    text = json.dumps(header, allow_nan=True).encode()
    members = [("__jaxmlp__.npy", _npy(np.frombuffer(text, np.uint8)), compress_header), *extra]
    try:
        data = _zip(members)
    except (ValueError, UserWarning):  # zipfile refuses some names itself (duplicates warn)
        return
    outcome = _refused_or_loaded(tmp_path, data)["load_results"]
    if outcome is not None:
        arrays, _ = outcome
        assert list(arrays) == keys and all(a.dtype.kind in "biuf" for a in arrays.values())


def test_pickle_bytes_in_a_member_are_refused(tmp_path):
    header = json.dumps({"format": "jaxmlp.results", "format_version": 1, "keys": ["x"],
                         "metadata": {}}).encode()  # fmt: skip
    pickled = _bytes_io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    data = _zip([("__jaxmlp__.npy", _npy(np.frombuffer(header, np.uint8)), False),
                 ("x.npy", pickled.getvalue(), False)])  # fmt: skip
    assert _refused_or_loaded(tmp_path, data)["load_results"] is None


# ---- argument values of the public functions ----

HOSTILE = [None, "5", 0, -1, 2**40, 2.5, float("nan"), float("inf"), 1e300, True, [], (),
           object(), 1j, np.float32(np.nan), np.int64(-3)]  # fmt: skip
X = jnp.ones((4, 2))
Y = jnp.array([0, 1, 1, 0])


def _named_refusal(call, name: str):
    """``call()`` succeeds or raises ValueError/TypeError whose message names ``name``."""
    try:
        call()
    except (ValueError, TypeError) as e:
        assert name in str(e), (name, e)
        return e
    return None


@SETTINGS
@given(value=st.sampled_from(HOSTILE),
       name=st.sampled_from(["steps", "batch_size", "snapshot_every", "key"]))  # fmt: skip
def test_train_options_are_refused_by_name(value, name):
    options = {"steps": 2, name: value}
    if name == "batch_size":
        options["key"] = jax.random.key(0)
    if name == "key":
        options["batch_size"] = 2
    _named_refusal(lambda: jaxmlp.train(PARAMS, X, Y, optimizer=optax.sgd(0.1), **options), name)


@SETTINGS
@given(value=st.sampled_from(HOSTILE), position=st.integers(0, 2))
def test_init_sizes_are_refused_by_name(value, position):
    sizes = [2, 3, 1]
    sizes[position] = value
    if _named_refusal(lambda: jaxmlp.init_mlp(jax.random.key(0), sizes), "sizes") is None:
        assert isinstance(value, (int, np.integer)) and 0 < value  # accepted: a valid size


@SETTINGS
@given(
    value=st.sampled_from(HOSTILE + [np.float64(0.3), (1.0, float("nan")), ((0, 0), (1, 1e300))]),
    name=st.sampled_from(["n", "noise", "turns", "radii", "center", "std", "centers"]),
)
@pytest.mark.slow
def test_dataset_options_are_refused_by_name(value, name):
    generator = {"radii": datasets.circles, "center": datasets.circles, "std": datasets.blobs,
                 "centers": datasets.blobs, "turns": datasets.spirals}  # fmt: skip
    generator = generator.get(name, datasets.moons)
    args = (value,) if name == "n" else (10,)
    options = {} if name == "n" else {name: value}
    try:
        X, _ = generator(jax.random.key(0), *args, **options)
    except (ValueError, TypeError) as e:
        assert name in str(e), (name, e)
        return
    assert np.isfinite(np.asarray(X)).all()  # accepted: finite points, never NaN


@SETTINGS
@given(value=st.sampled_from([np.nan, np.inf, 1e300, -1e39]), where=st.integers(0, 7))
def test_non_finite_or_out_of_range_inputs_never_give_a_silent_result(value, where):
    Xbad = np.ones((4, 2))
    Xbad.flat[where] = value
    train = lambda: jaxmlp.train(PARAMS, Xbad, Y, optimizer=optax.sgd(0.1), steps=2)  # noqa: E731
    for call in (lambda: jaxmlp.predict(PARAMS, Xbad), train):
        with pytest.raises(ValueError, match="X must be finite"):
            call()


@pytest.mark.parametrize("name", ["allow_pickle", "file", "fix_imports", "encoding", "x"])
def test_any_result_name_round_trips(tmp_path, name):
    io.save_results(tmp_path / "r", {name: np.arange(3)})
    np.testing.assert_array_equal(io.load_results(tmp_path / "r")[0][name], np.arange(3))


# ---- real processes: abort, hang, Ctrl-C, kill -9 ----

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "JAXMLP_NO_CACHE": "1"}


def _python(code: str, *args, timeout=300, env=None):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env={**ENV, **(env or {})})  # fmt: skip


@pytest.mark.slow
def test_huge_sizes_do_not_abort_the_interpreter(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "jaxmlp", "train", "--sizes", "3000000000", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr  # not a negative status (a signal, an abort)
    assert "MAX_PARAMS" in done.stderr and "Check failed" not in done.stderr


@pytest.mark.slow
def test_what_used_to_hang_is_refused_at_once():
    """In a child with a timeout (a regression would hang or exhaust memory), with 32- and
    64-bit types in turn."""
    code = """
import jax, optax, jaxmlp
for x64 in (False, True):
    print("x64", x64)
    with jax.enable_x64(x64):
        params = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))
        X, y = jaxmlp.datasets.circles(jax.random.key(0), 20)
        for call in (lambda: jaxmlp.train(params, X, y, optimizer=optax.sgd(1.0), steps=2**40),
                     lambda: jaxmlp.init_mlp(jax.random.key(0), (2, 60000, 60000, 1))):
            try:
                call()
            except ValueError as e:
                print("refused:", e)
"""
    done = _python(code, timeout=120)
    assert done.returncode == 0, done.stderr
    runs = done.stdout.split("x64 ")[1:]
    assert [run.split("\n", 1)[0] for run in runs] == ["False", "True"], done.stdout
    for run in runs:
        assert "MAX_STEPS" in run, done.stdout
        assert "MAX_PARAMS" in run or "MEMORY_FRACTION" in run, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    "options",
    [(), ("--optimizer", "adam", "--lr", "0.01", "--batch-size", "32")],
    ids=["sgd-full-batch", "adam-mini-batch"],
)
def test_ctrl_c_stops_train_within_seconds_and_saves(tmp_path, options):
    out = tmp_path / "run"
    # SIGINT as a terminal sends it; Python's handler set explicitly, since a shell
    # may start background jobs (and so this test) with SIGINT ignored
    code = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['jaxmlp', *sys.argv[1:]]; runpy.run_module('jaxmlp', run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, "train", *options, "--steps", "50000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    line = process.stderr.readline()  # printed once the first chunk is done
    assert "Ctrl-C stops after the current one" in line, line
    time.sleep(0.5)  # into the second chunk (about a second of work each)
    start = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    elapsed = time.monotonic() - start
    assert process.returncode == 130, err
    assert elapsed < 30, elapsed  # a chunk plus writing the files, on 2 busy cores
    assert "Traceback" not in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] and 0 < metrics["steps_done"] < 50_000_000
    assert metrics["optimizer"] == ("adam" if options else "sgd")
    chunk = int(line.split("chunks of ")[1].split()[0])
    assert metrics["steps_done"] % chunk == 0  # the params of a finished chunk
    params, meta = io.load_params(out / "params.safetensors")
    assert meta["steps"] == metrics["steps_done"]


WRITERS = """
import os, sys
import jax, jaxmlp
from jaxmlp import io
# One writer process per line read: each forked from this one before JAX starts its backend
# (nothing but the imports done, no JAX threads yet), so the writers share one jax import.
while sys.stdin.readline():
    pid = os.fork()
    if pid == 0:
        params = jaxmlp.init_mlp(jax.random.key(0), (2, 256, 256, 1))
        io.save_params(sys.argv[1], params, round=-1)
        print("ready", os.getpid(), flush=True)
        i = 0
        while True:
            io.save_params(sys.argv[1], params, round=i)
            i += 1
    _, status = os.waitpid(pid, 0)  # reaped: a zombie's temp files would count as alive
    print("ended", os.waitstatus_to_exitcode(status), flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_saves_never_tears_a_file_or_leaves_a_temp(tmp_path):
    path = tmp_path / "p.safetensors"
    rng = np.random.default_rng(0)
    with subprocess.Popen([sys.executable, "-c", WRITERS, str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=ENV) as writers:  # fmt: skip
        writer = None
        try:
            for _ in range(3):
                writers.stdin.write("start\n")
                writers.stdin.flush()
                ready, writer = writers.stdout.readline().split()
                assert ready == "ready"
                time.sleep(0.3 + rng.uniform(0, 1.0))
                os.kill(int(writer), signal.SIGKILL)
                assert writers.stdout.readline().split() == ["ended", f"-{int(signal.SIGKILL)}"]
                writer = None
                io.load_params(path)  # whole: the old file or the new one
                leftovers = [p.name for p in tmp_path.iterdir() if p.name != "p.safetensors"]
                assert all(name.endswith(checkpoint.TEMP_SUFFIX) for name in leftovers), leftovers
        finally:
            if writer is not None:  # a failed check: no writer left running
                os.kill(int(writer), signal.SIGKILL)
            writers.stdin.close()
            writers.wait(timeout=60)
    assert writers.returncode == 0
    io.save_params(path, PARAMS)  # the next write removes any temp of a killed writer
    assert [p.name for p in tmp_path.iterdir()] == ["p.safetensors"]
    assert _safetensors.read(path)[0]["layer_0.W"].shape == (3, 2)
