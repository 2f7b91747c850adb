"""jaxmlp.io: round trips, atomic writes, old files, and every way a file can be bad.

Random and crafted bytes (hypothesis) are in tests/test_hostile.py.
"""

import json
import os
import pathlib
import pickle
import struct
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import _safetensors, checkpoint, cli, io


@pytest.fixture
def params():
    return jaxmlp.init_mlp(jax.random.key(3), (2, 4, 3))


@pytest.fixture
def saved(tmp_path, params):
    path = tmp_path / "p.safetensors"
    io.save_params(path, params, activation="tanh", steps=10)
    return path


def legacy_save(path, arrays, *, kind="jaxmlp.params", metadata=None, savez=np.savez, **extra):
    """A file as jaxmlp 0.1 wrote it: np.savez of the arrays plus a ``__jaxmlp__`` header."""
    header = {
        "format": kind,
        "format_version": 1,
        "jaxmlp_version": "0.1.0",
        "keys": list(arrays),
        "metadata": metadata or {},
    }
    header.update(extra)
    text = json.dumps(header).encode()
    savez(path, **arrays, __jaxmlp__=np.frombuffer(text, dtype=np.uint8))


def legacy_params(path, params, **metadata):
    arrays = {}
    for i, layer in enumerate(params):
        arrays[f"layer_{i}.W"], arrays[f"layer_{i}.b"] = np.asarray(layer.W), np.asarray(layer.b)
    sizes = [params[0].W.shape[1]] + [layer.W.shape[0] for layer in params]
    legacy_save(path, arrays, metadata={**metadata, "sizes": sizes})


def rewrite(path, arrays=None, **fields):
    """Rewrites a safetensors file with other arrays and/or metadata fields (JSON-encoded)."""
    old, raw = _safetensors.read(path)
    metadata = {**raw, **{k: json.dumps(v) for k, v in fields.items()}}
    pathlib.Path(path).write_bytes(_safetensors.encode(old if arrays is None else arrays, metadata))


@pytest.mark.slow
def test_params_round_trip_bit_identical(saved, params):
    loaded, meta = io.load_params(saved)
    assert len(loaded) == len(params)
    for a, b in zip(loaded, params, strict=True):
        assert isinstance(a, jaxmlp.Dense)
        assert a.W.dtype == b.W.dtype
        np.testing.assert_array_equal(np.asarray(a.W), np.asarray(b.W))
        np.testing.assert_array_equal(np.asarray(a.b), np.asarray(b.b))
    assert meta["activation"] == "tanh" and meta["steps"] == 10
    assert meta["sizes"] == [2, 4, 3]
    assert meta["jaxmlp_version"] == jaxmlp.__version__
    x = jnp.ones((5, 2))
    np.testing.assert_array_equal(
        jaxmlp.forward(loaded, x[0], "tanh"), jaxmlp.forward(params, x[0], "tanh")
    )


def test_results_round_trip(tmp_path):
    path = tmp_path / "r.safetensors"
    arrays = {
        "loss": np.linspace(1, 0, 7, dtype=np.float32),
        "acc": jnp.arange(6).reshape(2, 3),
        "allow_pickle": np.array([1.5]),  # numpy's own keyword: fine as a name here
        "file": np.array(True),
        "empty": np.zeros((0, 3), np.int64),
        "half": np.ones(3, jnp.bfloat16),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    io.save_results(path, arrays, note="x", seeds=[0, 1])
    got, meta = io.load_results(path)
    assert list(got) == list(arrays)  # order kept
    for name, value in arrays.items():
        assert got[name].dtype == np.asarray(value).dtype, name
        np.testing.assert_array_equal(got[name], np.asarray(value), err_msg=name)
    assert meta["note"] == "x" and meta["seeds"] == [0, 1]
    got["loss"][0] = 5.0  # writable NumPy arrays


def test_files_are_standard_safetensors(saved, params, tmp_path):
    """Our files load with the safetensors package, and its files load with ours."""
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    arrays = st.load_file(str(saved))
    np.testing.assert_array_equal(arrays["layer_1.W"], np.asarray(params[1].W))
    with safe_open(str(saved), framework="np") as f:
        assert json.loads(f.metadata()["format"]) == "jaxmlp.params"
    other = tmp_path / "by_package.safetensors"
    st.save_file(
        {"loss": np.arange(3.0)},
        str(other),
        metadata={
            "format": '"jaxmlp.results"',
            "format_version": "2",
            "keys": '["loss"]',
            "metadata": '{"k": 1}',
        },
    )
    got, meta = io.load_results(other)
    np.testing.assert_array_equal(got["loss"], np.arange(3.0))
    assert meta["k"] == 1


def test_atomic_write_leaves_old_file_on_failure(saved):
    before = saved.read_bytes()

    def half_then_fail(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        checkpoint.atomic_write(saved, half_then_fail)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["p.safetensors"]  # no temp file left


def test_atomic_write_keeps_permissions(saved, params, tmp_path):
    os.chmod(saved, 0o640)
    io.save_params(saved, params)
    assert os.stat(saved).st_mode & 0o777 == 0o640
    old = os.umask(0o022)
    try:
        io.save_params(tmp_path / "new.safetensors", params)
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new.safetensors").st_mode & 0o777 == 0o644  # as open() gives


def test_stale_temp_files_of_dead_writers_are_removed(saved, params):
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = socket.gethostname()
    stale = saved.parent / f"{saved.name}.{host}.{dead.stdout.strip()}.ab12{checkpoint.TEMP_SUFFIX}"
    alive = saved.parent / f"{saved.name}.{host}.{os.getpid()}.cd34{checkpoint.TEMP_SUFFIX}"
    stale.write_bytes(b"x")
    alive.write_bytes(b"x")
    io.save_params(saved, params)
    assert not stale.exists()
    assert alive.exists()  # a live writer's file is never touched


def test_overwrite_replaces(saved):
    io.save_params(saved, jaxmlp.init_mlp(jax.random.key(0), (2, 2, 1)))
    assert io.load_params(saved)[1]["sizes"] == [2, 2, 1]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.load_params(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(io.FileFormatError, match=str(saved)):
        io.load_params(saved)


def test_trailing_bytes_are_refused(saved):
    saved.write_bytes(saved.read_bytes() + b"\0" * 4)
    with pytest.raises(io.FileFormatError, match="cover"):
        io.load_params(saved)


def test_garbage_file(tmp_path):
    """A file that is neither safetensors nor .npz is called that, not a huge header."""
    path = tmp_path / "g.safetensors"
    path.write_bytes(b"hello, not a safetensors file at all")
    not_params = r"g.safetensors' is not a parameters file \(neither safetensors nor jaxmlp 0.1's"
    with pytest.raises(io.FileFormatError, match=not_params + r".*starts with b'hello, n'$"):
        io.load_params(path)
    with pytest.raises(io.FileFormatError, match="is not a results file"):
        io.load_results(path)
    for content, found in [(b"", "it is empty"), (b"hello", "it has only 5 bytes")]:
        path.write_bytes(content)
        with pytest.raises(io.FileFormatError, match=f"is not a parameters file .*: {found}$"):
            io.load_params(path)


def test_a_foreign_file_is_not_a_checkpoint_nor_a_safetensors_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("# notes\nnot a checkpoint\n")
    with pytest.raises(io.FileFormatError, match=r"notes.txt' is not a safetensors file"):
        checkpoint.load(str(path))


def test_a_truncated_file_is_called_truncated(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[:20])  # the length and the header's first bytes
    (n,) = struct.unpack("<Q", data[:8])
    with pytest.raises(
        io.FileFormatError, match=f"is truncated: its header declares {n} bytes, the file has 20"
    ):
        io.load_params(saved)


@pytest.mark.parametrize("n", [0, 1])
def test_a_header_too_short_for_json_is_refused(tmp_path, n):
    path = tmp_path / "s.safetensors"
    path.write_bytes(struct.pack("<Q", n) + b"{}")
    with pytest.raises(io.FileFormatError, match=f"declares a header of {n} bytes, too short"):
        io.load_results(path)


def test_huge_declared_header_is_refused_without_reading(tmp_path):
    path = tmp_path / "h.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(io.FileFormatError, match="MAX_HEADER_BYTES"):
        io.load_params(path)


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, "needs 12 bytes"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 99]}, "outside the data"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "bad shape"),
        ({"dtype": "F32", "shape": [True, 2], "data_offsets": [0, 8]}, "bad shape"),
        ({"dtype": "O", "shape": [2], "data_offsets": [0, 8]}, "unknown dtype"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0.0, 8]}, "outside the data"),
        ({"dtype": "F32", "shape": [2]}, "exactly dtype, shape and data_offsets"),
        ([1, 2], "exactly dtype"),
    ],
)
def test_crafted_entries_are_refused(tmp_path, entry, message):
    header = json.dumps({"x": entry}).encode()
    path = tmp_path / "c.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(io.FileFormatError, match=message):
        io.load_results(path)


def test_duplicate_names_are_refused(tmp_path):
    entry = '{"dtype":"U8","shape":[1],"data_offsets":[0,1]}'
    header = ('{"a":' + entry + ',"a":' + entry + "}").encode()
    path = tmp_path / "d.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0")
    with pytest.raises(io.FileFormatError, match="duplicate"):
        io.load_results(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("load", [io.load_params, io.load_results, checkpoint.load])
def test_pickle_is_refused_and_never_executed(tmp_path, load):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Evil(str(marker))))
    # sanity: the payload's reduce action (what unpickling runs) really creates a marker
    probe = tmp_path / "probe"
    action, args = _Evil(str(probe)).__reduce__()
    action(*args)
    assert probe.exists()
    with pytest.raises(io.FileFormatError, match="evil.npz"):
        load(str(path))
    assert not marker.exists()


def test_inconsistent_sizes(saved):
    rewrite(saved, metadata={"sizes": [2, 5, 3]})
    with pytest.raises(io.FileFormatError, match="inconsistent layer shapes"):
        io.load_params(saved)


def test_missing_layer(saved):
    arrays, _ = _safetensors.read(saved)
    del arrays["layer_1.b"]
    rewrite(saved, arrays, keys=list(arrays))
    with pytest.raises(io.FileFormatError, match="must hold layer_0.W"):
        io.load_params(saved)


def test_keys_must_match_arrays(saved):
    rewrite(saved, keys=["layer_0.W"])
    with pytest.raises(io.FileFormatError, match="key list"):
        io.load_params(saved)


@pytest.mark.parametrize(
    "value",
    [
        np.ones((4, 2), np.int32),
        np.ones((4, 2), np.uint8),
        np.full((4, 2), np.nan, np.float32),
        np.full((4, 2), -np.inf, np.float16),
    ],  # fmt: skip
)
def test_non_float_or_non_finite_weights_are_refused(saved, value):
    arrays, _ = _safetensors.read(saved)
    arrays["layer_0.W"] = value
    rewrite(saved, arrays)
    with pytest.raises(io.FileFormatError, match="layer_0.W"):
        io.load_params(saved)


def test_newer_format_version_is_refused(saved):
    rewrite(saved, format_version=io.FORMAT_VERSION + 1)
    with pytest.raises(io.FileFormatError, match="format_version 3.*upgrade jaxmlp"):
        io.load_params(saved)


def test_other_library_version_same_format_loads(saved, params):
    rewrite(saved, jaxmlp_version="0.0.1")
    loaded, meta = io.load_params(saved)
    assert meta["jaxmlp_version"] == "0.0.1"
    np.testing.assert_array_equal(np.asarray(loaded[1].W), np.asarray(params[1].W))


def test_wrong_kind(saved):
    with pytest.raises(io.FileFormatError, match="expected 'jaxmlp.results'"):
        io.load_results(saved)
    with pytest.raises(io.FileFormatError, match="expected 'jaxmlp.checkpoint'"):
        checkpoint.load(str(saved))


def test_foreign_safetensors(tmp_path):
    path = tmp_path / "f.safetensors"
    path.write_bytes(_safetensors.encode({"W": np.ones(2)}, {}))
    with pytest.raises(io.FileFormatError, match="no jaxmlp format"):
        io.load_params(path)


def test_bad_metadata_json(saved):
    old, raw = _safetensors.read(saved)
    saved.write_bytes(_safetensors.encode(old, {**raw, "metadata": "{not json"}))
    with pytest.raises(io.FileFormatError, match="unreadable metadata"):
        io.load_params(saved)


def test_save_argument_errors(tmp_path, params):
    with pytest.raises(TypeError, match=r"params\[0\] must be a Dense"):
        io.save_params(tmp_path / "p.safetensors", [np.ones(3)])
    with pytest.raises(ValueError, match="finite"):
        io.save_params(tmp_path / "p.safetensors", (params[0]._replace(b=params[0].b * np.nan),))
    with pytest.raises(TypeError, match="JSON-serialisable"):
        io.save_params(tmp_path / "p.safetensors", params, bad=object())
    with pytest.raises(TypeError, match="JSON-serialisable"):
        io.save_params(tmp_path / "p.safetensors", params, bad=float("nan"))
    with pytest.raises(TypeError, match="numeric array"):
        io.save_results(tmp_path / "r.safetensors", {"s": np.array(["a"])})
    with pytest.raises(TypeError, match="numeric array"):
        io.save_results(tmp_path / "r.safetensors", {"c": np.ones(2, np.complex64)})
    with pytest.raises(ValueError, match="array names"):
        io.save_results(tmp_path / "r.safetensors", {"__x": np.ones(2)})
    assert list(tmp_path.iterdir()) == []


# ---- files of jaxmlp 0.1 (.npz) ----


def test_legacy_params_load(tmp_path, params):
    path = tmp_path / "old.npz"
    legacy_params(path, params, activation="relu")
    loaded, meta = io.load_params(path)
    np.testing.assert_array_equal(np.asarray(loaded[0].W), np.asarray(params[0].W))
    assert meta["activation"] == "relu" and meta["jaxmlp_version"] == "0.1.0"


def test_legacy_results_load(tmp_path):
    path = tmp_path / "old.npz"
    legacy_save(path, {"a": np.arange(4.0), "b": np.ones((2, 2), np.int32)},
                kind="jaxmlp.results", metadata={"n": 1})  # fmt: skip
    arrays, meta = io.load_results(path)
    np.testing.assert_array_equal(arrays["a"], np.arange(4.0))
    assert arrays["b"].dtype == np.int32 and meta["n"] == 1


def test_convert_legacy_file_through_the_cli(tmp_path, params, capsys):
    old, new = tmp_path / "old.npz", tmp_path / "new.safetensors"
    legacy_params(old, params, activation="relu")
    assert cli.main(["--no-cache", "convert", str(old), str(new)]) == 0
    assert "jaxmlp.params" in capsys.readouterr().out
    loaded, meta = io.load_params(new)
    assert meta["activation"] == "relu"
    np.testing.assert_array_equal(np.asarray(loaded[1].b), np.asarray(params[1].b))
    assert new.read_bytes()[8:9] == b"{"  # a safetensors file


@pytest.mark.slow
def test_legacy_zip_bomb_is_refused_at_once(tmp_path):
    """A deflated 256 MiB member is refused from the zip directory, before any inflation."""
    import zipfile

    path = tmp_path / "bomb.npz"
    header = json.dumps({"format": "jaxmlp.results", "format_version": 1, "keys": ["x"],
                         "metadata": {}}).encode()  # fmt: skip
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("__jaxmlp__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(header, np.uint8))
        with z.open("x.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (2**26,)}
            )
            zeros = bytes(2**24)
            for _ in range(2**28 // 2**24):
                f.write(zeros)
    assert path.stat().st_size < 2**20
    start = time.perf_counter()
    with pytest.raises(io.FileFormatError, match="compressed"):
        io.load_results(path)
    assert time.perf_counter() - start < 1.0  # generous: the refusal reads only the directory


def test_legacy_object_array_is_refused_and_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    legacy_save(path, {"x": np.array([_Evil(str(marker))], dtype=object)}, kind="jaxmlp.results")
    with pytest.raises(io.FileFormatError, match="not a numeric one"):
        io.load_results(path)
    assert not marker.exists()


def test_legacy_foreign_npz(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, W=np.ones((2, 2)))
    with pytest.raises(io.FileFormatError, match="not a jaxmlp file"):
        io.load_params(path)


def test_legacy_missing_entries_and_bad_header(tmp_path):
    path = tmp_path / "m.npz"
    legacy_save(path, {"a": np.ones(2)}, kind="jaxmlp.results", keys=["a", "b"])
    with pytest.raises(io.FileFormatError, match="missing entries"):
        io.load_results(path)
    np.savez(path, __jaxmlp__=np.frombuffer(b"{not json", np.uint8))
    with pytest.raises(io.FileFormatError, match="JSONDecodeError"):
        io.load_results(path)


def test_legacy_nan_weights_are_refused(tmp_path, params):
    path = tmp_path / "nan.npz"
    legacy_params(path, (params[0]._replace(W=params[0].W * np.nan), params[1]))
    with pytest.raises(io.FileFormatError, match="NaN or inf"):
        io.load_params(path)


# ---- sweep checkpoints ----


def test_checkpoint_round_trip_and_damage(tmp_path):
    path = str(tmp_path / "ck.safetensors")
    tree = (np.arange(3, dtype=np.uint32), {"a": np.ones((2, 2), np.float32)}, np.array(True))
    checkpoint.save(path, tree, {"step": 4, "grid": [1, 2]})
    leaves, meta = checkpoint.load(path)
    assert meta == {"step": 4, "grid": [1, 2]}
    for got, want in zip(leaves, jax.tree.leaves(tree), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert json.loads(pathlib.Path(path + ".json").read_text()) == meta
    data = pathlib.Path(path).read_bytes()
    pathlib.Path(path).write_bytes(data[:-3])
    with pytest.raises(io.FileFormatError, match="ck.safetensors"):
        checkpoint.load(path)
    pathlib.Path(path).write_bytes(b"PK\x03\x04" + data)
    with pytest.raises(io.FileFormatError, match="0.1's .npz format"):
        checkpoint.load(path)
