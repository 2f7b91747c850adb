"""Hostile input, round 3, class 1 (issue 27): a file jaxmlp writes always reads back, and
jaxmlp never writes through, nor waits on, what is not a regular file.

The contract: what ``save_*`` accepts, ``load_*`` reads back equal; what ``load_*`` refuses,
``save_*`` refuses first, naming the argument.
"""

import contextlib
import json
import os
import signal
import socket
import stat
import struct

import jax
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxmlp
from jaxmlp import _safetensors, checkpoint, cli, io

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
PARAMS = jaxmlp.init_mlp(jax.random.key(0), (2, 3, 1))

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
METADATA = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in ("jaxmlp_version", "sizes")),
    JSON_VALUES,
    max_size=5,
)
DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int8, np.uint64, np.bool_])
ARRAYS = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: not k.startswith("__")),
    st.tuples(st.lists(st.integers(0, 4), max_size=4), DTYPES).map(
        lambda sd: np.arange(int(np.prod(sd[0])), dtype=np.int64).astype(sd[1]).reshape(sd[0])
    ),
    max_size=4,
)


@contextlib.contextmanager
def at_most(seconds: float):
    """Fails the test instead of hanging (a FIFO opened for reading blocks for a writer)."""

    def expired(*_):
        raise AssertionError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _header_length(path) -> int:
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


def test_every_header_length_up_to_4_kib_reads_back(tmp_path):
    """A header of 384, 640, 896, ... bytes starts the file with 0x80, a pickle's first byte:
    such files were refused as pickles (1 in 32 of what `jaxmlp train` wrote)."""
    lengths, path = set(), tmp_path / "r.safetensors"
    for pad in range(0, 4096, 3):
        arrays = {"x": np.arange(3.0)}
        path.write_bytes(
            _safetensors.jaxmlp_bytes(
                io.RESULTS_FORMAT, io.FORMAT_VERSION, arrays, {"metadata": {"pad": "p" * pad}}
            )
        )
        lengths.add(_header_length(path))
        loaded, metadata = io.load_results(path)
        assert metadata["pad"] == "p" * pad and np.array_equal(loaded["x"], arrays["x"])
    assert {n % 256 for n in lengths} >= {0x80}, "some header must start the file with 0x80"
    assert len(lengths) >= 4096 // 8 - 8  # every 8-byte-aligned length in the range


@pytest.mark.slow  # the fast loop's budget; the full suite runs it
def test_the_reported_train_run_loads_and_converts(tmp_path):
    """`jaxmlp train --dataset xor --sizes 5,5,5 --activation sigmoid --steps 100` wrote a
    params file that load_params and convert refused as a pickle."""
    out = tmp_path / "run"
    argv = ["train", "--dataset", "xor", "--sizes", "5,5,5", "--activation", "sigmoid",
            "--steps", "100", "--out", str(out), "--no-cache"]  # fmt: skip
    assert cli.main(argv) == 0
    params, metadata = io.load_params(out / "params.safetensors")
    assert [int(layer.W.shape[0]) for layer in params] == [5, 5, 5, 1]
    assert cli.main(["convert", str(out / "params.safetensors"), str(tmp_path / "c")]) == 0


@SETTINGS
@given(arrays=ARRAYS, metadata=METADATA, pad=st.integers(0, 3000))
def test_save_results_reads_back_equal(tmp_path, arrays, metadata, pad):
    path = tmp_path / "r.safetensors"
    io.save_results(path, arrays, pad="x" * pad, **metadata)
    loaded, loaded_metadata = io.load_results(path)
    assert list(loaded) == list(arrays)
    for name, array in arrays.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert np.array_equal(loaded[name], array)
    loaded_metadata.pop("jaxmlp_version")
    assert loaded_metadata == {"pad": "x" * pad, **metadata}
    assert json.dumps(loaded_metadata, sort_keys=True) == json.dumps(
        {"pad": "x" * pad, **metadata}, sort_keys=True
    )  # equal types too: 1 is not 1.0, True is not 1


@SETTINGS
@given(metadata=METADATA, sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_save_params_reads_back_equal(tmp_path, metadata, sizes):
    rng = np.random.default_rng(len(sizes))  # NumPy weights: no compile per example
    params = tuple(
        jaxmlp.Dense(W=rng.normal(size=(b, a)).astype(np.float32), b=np.zeros(b, np.float32))
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    )
    path = tmp_path / "p.safetensors"
    io.save_params(path, params, **metadata)
    loaded, loaded_metadata = io.load_params(path)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(loaded), jax.tree.leaves(params), strict=True)
    )
    loaded_metadata.pop("jaxmlp_version")
    assert loaded_metadata == {**metadata, "sizes": sizes}


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"a": (1, 2)}, r"metadata\['a'\] is a tuple"),
        ({"a": {1: "x"}}, r"metadata\['a'\] has the key 1 \(int\)"),
        ({"a": [np.float32(1)]}, r"metadata\['a'\]\[0\] is of type float32"),
        ({"a": float("inf")}, r"metadata\['a'\] is inf"),
        ({"a": {"b": {"c": object()}}}, r"metadata\['a'\]\['b'\]\['c'\]"),
    ],
)
def test_metadata_that_would_not_read_back_equal_is_refused_by_save(tmp_path, metadata, message):
    def save_results(path):
        io.save_results(path, {}, **metadata)

    def save_params(path):
        io.save_params(path, PARAMS, **metadata)

    for save in (save_results, save_params):
        with pytest.raises(TypeError, match=message):
            save(tmp_path / "f")
        assert not (tmp_path / "f").exists()


def test_reserved_metadata_is_refused_by_save(tmp_path):
    with pytest.raises(ValueError, match="'jaxmlp_version' is reserved"):
        io.save_results(tmp_path / "r", {}, jaxmlp_version="9.9")


def test_what_the_reader_refuses_the_writer_refuses_first(tmp_path, monkeypatch):
    monkeypatch.setattr(_safetensors, "MAX_HEADER_BYTES", 4096)  # the limit, made small
    big = {f"a{i:07d}": np.zeros(0) for i in range(4096 // 50)}
    with pytest.raises(ValueError, match="MAX_HEADER_BYTES"):
        io.save_results(tmp_path / "r", big)
    io.save_results(tmp_path / "r", dict(list(big.items())[:20]))  # under it: written
    assert len(io.load_results(tmp_path / "r")[0]) == 20
    (tmp_path / "r").unlink()
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":  # NumPy 1 stops at 32 dimensions
        with pytest.raises(ValueError, match=r"arrays\['deep'\] has 33 dimensions"):
            io.save_results(tmp_path / "r", {"deep": np.zeros((1,) * 33)})
    assert not (tmp_path / "r").exists()


@SETTINGS
@given(
    dims=st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([2**63, 2**64 - 1]), max_size=3),
    zero_at=st.integers(0, 3),
)
def test_crafted_empty_arrays_of_huge_shape_are_refused(tmp_path, dims, zero_at):
    """shape [0, 2**64] spans 0 bytes, but NumPy cannot make it: a FileFormatError, not numpy's."""
    dims.insert(min(zero_at, len(dims)), 0)
    path = tmp_path / "r"
    header = {"x": {"dtype": "F32", "shape": dims, "data_offsets": [0, 0]}}
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    try:
        arrays, _ = _safetensors.read(path)
    except io.FileFormatError as e:
        assert str(path) in str(e)
    else:
        assert arrays["x"].shape == tuple(dims)


@pytest.mark.parametrize("shape", [(0, 2), (3, 0)])
def test_width_zero_layers_are_refused(tmp_path, shape):
    path = tmp_path / "p"
    W, b = np.zeros(shape, np.float32), np.zeros(shape[0], np.float32)
    metadata = {"metadata": {"sizes": [shape[1], shape[0]]}}
    path.write_bytes(
        _safetensors.jaxmlp_bytes(io.PARAMS_FORMAT, 2, {"layer_0.W": W, "layer_0.b": b}, metadata)
    )
    with pytest.raises(io.FileFormatError, match="inconsistent layer shapes"):
        io.load_params(path)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


def _writers(path):
    yield "save_params", lambda: io.save_params(path, PARAMS)
    yield "save_results", lambda: io.save_results(path, {"x": np.ones(2)})
    yield "checkpoint.save", lambda: checkpoint.save(str(path), (np.ones(2),), {"step": 1})
    yield "atomic_write", lambda: checkpoint.atomic_write(path, lambda f: f.write(b"x"))


@pytest.fixture
def unix_socket(tmp_path):
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        yield path


def test_a_device_is_never_a_destination():
    """Checked without writing: were the check to regress, a save to /dev/null run as root
    would replace the device for every process on the machine (the FIFO and socket tests
    below exercise the whole save)."""
    from jaxmlp._regular_files import check_destination

    with pytest.raises(ValueError, match="'/dev/null' is a character device"):
        check_destination("/dev/null")


@pytest.mark.parametrize("target", ["fifo", "unix_socket"])
def test_saving_over_a_fifo_or_socket_is_refused_and_leaves_it(tmp_path, request, target):
    path = str(request.getfixturevalue(target))
    before = stat.S_IFMT(os.stat(path).st_mode)
    for name, write in _writers(path):
        with at_most(5), pytest.raises(ValueError, match="jaxmlp writes only regular files"):
            write()
        assert stat.S_IFMT(os.stat(path).st_mode) == before, name
    link = tmp_path / "link"
    link.symlink_to(path)  # through a symlink too
    with pytest.raises(ValueError, match="jaxmlp writes only regular files"):
        io.save_params(link, PARAMS)
    assert link.is_symlink() and stat.S_IFMT(os.stat(path).st_mode) == before


def test_loading_a_fifo_is_refused_at_once(tmp_path, fifo):
    loaders = [
        io.load_params,
        io.load_results,
        checkpoint.load,
        lambda p: io.convert(p, tmp_path / "o"),
    ]
    for load in loaders:
        with at_most(5), pytest.raises(io.FileFormatError, match=r"a FIFO \(named pipe\)"):
            load(str(fifo))
    with at_most(5), pytest.raises(io.FileFormatError, match="a directory"):
        io.load_params(tmp_path)


def test_sweep_refuses_a_fifo_checkpoint_at_once(circles_data, fifo):
    X, y = circles_data
    with at_most(20), pytest.raises(ValueError, match=r"checkpoint .* is a FIFO"):
        jaxmlp.sweep(X, y, widths=(2,), activations=("tanh",), seeds=(0,), steps=4,
                     optimizer=optax.sgd(0.1), checkpoint=str(fifo))  # fmt: skip


def test_cli_convert_refuses_a_fifo_destination_with_exit_2(tmp_path, fifo, capsys):
    source = tmp_path / "p.safetensors"
    io.save_params(source, PARAMS)
    with at_most(20):
        assert cli.main(["convert", str(source), str(fifo)]) == 2
    assert "DESTINATION" in capsys.readouterr().err and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_train_checks_its_output_files_before_training(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / "boundary.png")
    argv = ["train", "--dataset", "circles", "--steps", "5", "--out", str(out), "--no-cache"]
    with at_most(60):
        assert cli.main(argv) == 2
    assert "boundary.png" in capsys.readouterr().err
    assert not (out / "params.safetensors").exists()


def test_every_file_train_writes_goes_through_the_atomic_write(tmp_path, monkeypatch):
    written = []
    real = checkpoint.atomic_write

    def recording(path, write):
        written.append(os.path.basename(path))
        real(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", recording)
    out = tmp_path / "run"
    argv = ["train", "--dataset", "circles", "--steps", "5", "--out", str(out), "--no-cache"]
    assert cli.main(argv) == 0
    names = ["boundary.png", "metrics.json", "params.safetensors"]
    assert sorted(written) == sorted(os.listdir(out)) == names
    assert (out / "boundary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
