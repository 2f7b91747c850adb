"""jaxmlp.io: round trips, atomic writes, and every way a file can be bad."""

import json
import os
import pathlib
import pickle
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmlp
from jaxmlp import io


@pytest.fixture
def params():
    return jaxmlp.init_mlp(jax.random.key(3), (2, 4, 3))


@pytest.fixture
def saved(tmp_path, params):
    path = tmp_path / "p.npz"
    io.save_params(path, params, activation="tanh", steps=10)
    return path


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
    path = tmp_path / "r.npz"
    arrays = {"loss": np.linspace(1, 0, 7, dtype=np.float32), "acc": jnp.arange(6).reshape(2, 3)}
    io.save_results(path, arrays, note="x", seeds=[0, 1])
    got, meta = io.load_results(path)
    assert set(got) == {"loss", "acc"}
    np.testing.assert_array_equal(got["loss"], arrays["loss"])
    np.testing.assert_array_equal(got["acc"], np.arange(6).reshape(2, 3))
    assert meta["note"] == "x" and meta["seeds"] == [0, 1]


def test_atomic_write_leaves_old_file_on_failure(saved, params, monkeypatch):
    before = saved.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        io.save_params(saved, params)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == ["p.npz"]  # no temp file left


def test_overwrite_replaces(saved):
    io.save_params(saved, jaxmlp.init_mlp(jax.random.key(0), (2, 2, 1)))
    assert io.load_params(saved)[1]["sizes"] == [2, 2, 1]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        io.load_params(tmp_path / "nope.npz")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(io.FileFormatError, match="truncated or corrupted|not a jaxmlp"):
        io.load_params(saved)


def test_corrupted_bytes(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("layer_0.W.npy")
    # flip bytes inside the stored array data (past the local header and .npy header)
    start = info.header_offset + 30 + len(info.filename) + 128
    for i in range(start, start + 8):
        data[i] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(io.FileFormatError, match="truncated or corrupted"):
        io.load_params(saved)


def test_garbage_file(tmp_path):
    path = tmp_path / "g.npz"
    path.write_bytes(b"hello, not a zip at all")
    with pytest.raises(io.FileFormatError, match="not a zip"):
        io.load_params(path)


def test_foreign_npz(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, W=np.ones((2, 2)))
    with pytest.raises(io.FileFormatError, match="not a jaxmlp file"):
        io.load_params(path)


def test_object_array_npz_is_refused(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, __jaxmlp__=np.array([{"a": 1}], dtype=object))
    with pytest.raises(io.FileFormatError, match="truncated or corrupted"):
        io.load_params(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("load", [io.load_params, io.load_results])
def test_pickle_is_refused_and_never_executed(tmp_path, load):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    path.write_bytes(pickle.dumps(_Evil(str(marker))))
    # sanity: the payload's reduce action (what unpickling runs) really creates a marker
    probe = tmp_path / "probe"
    action, args = _Evil(str(probe)).__reduce__()
    action(*args)
    assert probe.exists()
    with pytest.raises(io.FileFormatError, match="pickle"):
        load(path)
    assert not marker.exists()


def test_pickle_inside_npz_entry_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, __jaxmlp__=np.array([_Evil(str(marker))], dtype=object))
    with pytest.raises(io.FileFormatError):
        io.load_params(path)
    assert not marker.exists()


def _rewrite(path, drop=(), header_update=None):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k not in drop}
    if header_update is not None:
        header = json.loads(arrays["__jaxmlp__"].tobytes())
        header.update(header_update)
        arrays["__jaxmlp__"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    os.remove(path)
    np.savez(path, **arrays)


def test_missing_keys(saved):
    _rewrite(saved, drop=("layer_1.b",))
    with pytest.raises(io.FileFormatError, match=r"missing entries \['layer_1.b'\]"):
        io.load_params(saved)


def test_inconsistent_sizes(saved):
    _rewrite(saved, header_update={"metadata": {"sizes": [2, 5, 3]}})
    with pytest.raises(io.FileFormatError, match="inconsistent layer shapes"):
        io.load_params(saved)


def test_newer_format_version_is_refused(saved):
    _rewrite(saved, header_update={"format_version": io.FORMAT_VERSION + 1})
    with pytest.raises(io.FileFormatError, match="format_version 2.*upgrade jaxmlp"):
        io.load_params(saved)


def test_other_library_version_same_format_loads(saved, params):
    _rewrite(saved, header_update={"jaxmlp_version": "0.0.1"})
    loaded, meta = io.load_params(saved)
    assert meta["jaxmlp_version"] == "0.0.1"
    np.testing.assert_array_equal(np.asarray(loaded[1].W), np.asarray(params[1].W))


def test_wrong_kind(tmp_path, saved):
    with pytest.raises(io.FileFormatError, match="expected 'jaxmlp.results'"):
        io.load_results(saved)


def test_bad_header(saved):
    with np.load(saved) as npz:
        arrays = dict(npz)
    arrays["__jaxmlp__"] = np.frombuffer(b"{not json", dtype=np.uint8)
    os.remove(saved)
    np.savez(saved, **arrays)
    with pytest.raises(io.FileFormatError, match="unreadable jaxmlp header"):
        io.load_params(saved)


def test_save_argument_errors(tmp_path, params):
    with pytest.raises(ValueError, match="must end with .npz"):
        io.save_params(tmp_path / "p.bin", params)
    with pytest.raises(TypeError, match="tuple of Dense"):
        io.save_params(tmp_path / "p.npz", [np.ones(3)])
    with pytest.raises(TypeError, match="JSON-serialisable"):
        io.save_params(tmp_path / "p.npz", params, bad=object())
    with pytest.raises(TypeError, match="numeric array"):
        io.save_results(tmp_path / "r.npz", {"s": np.array(["a"])})
    with pytest.raises(ValueError, match="array names"):
        io.save_results(tmp_path / "r.npz", {"__x": np.ones(2)})
    assert list(tmp_path.iterdir()) == []
