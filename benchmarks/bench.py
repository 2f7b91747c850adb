"""Speed of jaxmlp against the post's NumPy loop, scikit-learn, PyTorch and a plain matmul.

    python benchmarks/bench.py --out out/bench            # full run (~10 min on 2 cores)
    python benchmarks/bench.py --out /tmp/bench --quick   # tiny sizes: a smoke test

1. The post's problem: 200 circle points, 2-3-1 sigmoid, U(0, 1) init, 1000
   full-batch gradient-descent steps (lr 2.0 on the mean loss). ``jaxmlp.train``
   (manual and autodiff gradients) against the NumPy loop of the post's formulas,
   scikit-learn's MLPClassifier (sgd, full batch, same steps), JAX with one
   jitted step per Python iteration (``jaxmlp.make_step``) and a PyTorch loop.
   First call (trace + compile + run) and steady state (median of repeats) apart.
2. Scaling: n x width, two hidden layers, Adam, mini-batches of 4096: a fixed
   number of steps per cell (the cost of a step does not depend on n; an epoch
   costs n / 4096 steps). Samples/s and GFLOP/s against the same step's matmuls
   alone (the roofline) and against PyTorch, all measured in the same run.
3. Memory: peak RSS of training at the largest n, in a fresh subprocess, against
   one at the smallest n with the same network (the difference should be the data).

Every comparison is a ratio of timings made in this process, back to back.
Optional libraries (scikit-learn, PyTorch: ``pip install -e ".[bench]"``) that
are missing give rows that say so. Writes bench.json, bench.md and bench.png to ``--out``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import warnings
from collections.abc import Callable

# PyTorch's idle OpenMP threads otherwise spin on the cores that the next timing
# (of another library, interleaved) needs; set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import _harness as harness  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from _baselines import numpy_loop  # noqa: E402
from _harness import Table, interleaved  # noqa: E402

import jaxmlp  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; written to bench.json."""

    seed: int = 0
    repeats: int = 7  # steady-state timings per row (median quoted)
    # 1. the post's problem
    n: int = 200
    sizes: tuple[int, ...] = (2, 3, 1)
    learning_rate: float = 2.0
    steps: int = 1000
    # 2. scaling
    grid_n: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
    grid_width: tuple[int, ...] = (8, 64, 256, 1024)
    grid_batch: int = 4096
    grid_adam_lr: float = 1e-3
    grid_repeats: int = 3
    # steps timed per cell, by width (a step costs ~ width^2, not n)
    grid_steps: tuple[tuple[int, int], ...] = ((8, 200), (64, 100), (256, 20), (1024, 5))
    # 3. memory
    rss_width: int = 256
    rss_steps: int = 20


QUICK = dict(
    repeats=3,
    steps=1000,
    grid_n=(1_000, 10_000),
    grid_width=(8, 64),
    grid_batch=512,
    grid_repeats=2,
    grid_steps=((8, 20), (64, 10)),
    rss_width=64,
    rss_steps=5,
)


# --------------------------------------------------------------- 1. the post's problem


def sklearn_fit(X, y, *, hidden: int, learning_rate: float, steps: int, seed: int):
    """scikit-learn's MLPClassifier as plain full-batch gradient descent for ``steps`` epochs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="logistic",
        solver="sgd",
        learning_rate_init=learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        batch_size=X.shape[0],
        max_iter=steps,
        shuffle=False,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=steps + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


def torch_loop(params, X, y, *, learning_rate: float, steps: int, device: str = "cpu"):
    """PyTorch eager: forward, BCE-with-logits, ``backward()``, ``SGD.step()`` per iteration.

    Returns:
      (steps,) the loss before each update (float32 NumPy).
    """
    import torch

    torch.set_num_threads(1)  # 200 x 3 tensors: one thread is PyTorch's fastest setting here

    tensors = [torch.tensor(np.asarray(a), device=device) for layer in params for a in layer]
    W1, b1, W2, b2 = [t.clone().requires_grad_(True) for t in tensors]
    Xt = torch.tensor(np.asarray(X), device=device)
    yt = torch.tensor(np.asarray(y), dtype=torch.float32, device=device)
    opt = torch.optim.SGD([W1, b1, W2, b2], lr=learning_rate)
    losses = torch.empty(steps, device=device)
    for i in range(steps):
        opt.zero_grad(set_to_none=True)
        logits = (torch.sigmoid(Xt @ W1.T + b1) @ W2.T + b2)[:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt)
        loss.backward()
        opt.step()
        losses[i] = loss.detach()
    if device != "cpu":
        torch.cuda.synchronize()
    return losses.cpu().numpy()


def bench_post(cfg: Config) -> dict:
    """Section 1: every implementation on the post's problem, interleaved repeats."""
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), cfg.n)
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed + 1), cfg.sizes, scheme="uniform01")
    opt = optax.sgd(cfg.learning_rate)  # one object: later calls reuse the compiled program
    np_params = [(np.asarray(W), np.asarray(b)) for W, b in params]
    Xn, yn = np.asarray(X), np.asarray(y)
    fns: dict[str, Callable[[], object]] = {}
    finals: dict[str, Callable[[], float]] = {}
    notes: dict[str, str] = {}

    def train(grad):
        return jaxmlp.train(params, X, y, optimizer=opt, steps=cfg.steps, grad=grad)

    for grad in ("manual", "autodiff"):
        name = f"jaxmlp.train, grad={grad!r}"
        fns[name] = lambda grad=grad: train(grad).loss.block_until_ready()
        finals[name] = lambda grad=grad: float(train(grad).loss[-1])
    step = jaxmlp.make_step(opt, "sigmoid")

    def step_loop():
        p, s = params, opt.init(params)
        for _ in range(cfg.steps):
            p, s, value = step(p, s, X, y)
        return value.block_until_ready()

    fns["JAX, one jitted step per Python iteration"] = step_loop
    finals["JAX, one jitted step per Python iteration"] = lambda: float(step_loop())
    numpy_kw = dict(learning_rate=cfg.learning_rate, steps=cfg.steps)
    fns["NumPy loop of the post's formulas"] = lambda: numpy_loop(np_params, Xn, yn, **numpy_kw)
    finals["NumPy loop of the post's formulas"] = lambda: float(
        numpy_loop(np_params, Xn, yn, **numpy_kw)[-1]
    )
    optional_post_fns(cfg, np_params, Xn, yn, fns, finals, notes)
    rows = interleaved(fns, cfg.repeats, warm=1)
    for name, row in rows.items():
        row["final_loss"] = finals[name]()
        row["us_per_step"] = row["median_s"] / cfg.steps * 1e6
        if name in notes:
            row["note"] = notes[name]
    for name, note in notes.items():
        rows.setdefault(name, {"note": note})
    numpy_s = rows["NumPy loop of the post's formulas"]["median_s"]
    sk_s = rows.get("scikit-learn MLPClassifier (sgd, full batch)", {}).get("median_s")
    for row in rows.values():
        if "median_s" in row:
            row["speedup_vs_numpy"] = numpy_s / row["median_s"]
            row["speedup_vs_sklearn"] = sk_s / row["median_s"] if sk_s else None
    return {"rows": rows}


def optional_post_fns(cfg: Config, np_params, Xn, yn, fns: dict, finals: dict, notes: dict):
    """Adds scikit-learn and PyTorch to section 1 when they are installed, a note if not."""
    numpy_kw = dict(learning_rate=cfg.learning_rate, steps=cfg.steps)
    hidden = cfg.sizes[1]
    try:
        import sklearn  # noqa: F401

        sk_kw = dict(hidden=hidden, learning_rate=cfg.learning_rate, steps=cfg.steps)
        name = "scikit-learn MLPClassifier (sgd, full batch)"
        fns[name] = lambda: sklearn_fit(Xn, yn, seed=cfg.seed, **sk_kw)
        # its own init (Glorot), so a different trajectory; loss_curve_[i] is after update i
        finals[name] = lambda: float(sklearn_fit(Xn, yn, seed=cfg.seed, **sk_kw).loss_curve_[-1])
        notes[name] = "own Glorot init: final loss not comparable"
    except ImportError:
        notes["scikit-learn MLPClassifier (sgd, full batch)"] = "not installed"
    try:
        import torch  # noqa: F401

        name = "PyTorch eager (autograd, SGD)"
        fns[name] = lambda: torch_loop(np_params, Xn, yn, **numpy_kw)
        finals[name] = lambda: float(torch_loop(np_params, Xn, yn, **numpy_kw)[-1])
    except ImportError:
        notes["PyTorch eager (autograd, SGD)"] = "not installed"


# ----------------------------------------------------------------------- 2. scaling


def train_flops(sizes: tuple[int, ...], batch: int) -> float:
    """Matmul FLOPs of one training step: forward 2*B*in*out per layer, backward twice that.

    >>> train_flops((2, 3, 1), 10)
    540.0
    """
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    return 6.0 * batch * macs


def matmul_only(sizes: tuple[int, ...], batch: int, steps: int, dtype=jnp.float32):
    """The roofline: one step's matmuls (forward, input- and weight-gradients), ``steps`` times.

    Same shapes as a training step, nothing else: a scan whose carry feeds every
    matmul so that none is hoisted. Returns a thunk that runs and blocks.
    """
    keys = jax.random.split(jax.random.key(0), 2 * len(sizes))
    Ws = [
        jax.random.normal(k, (o, i), dtype) * 0.01
        for k, i, o in zip(keys, sizes[:-1], sizes[1:], strict=False)
    ]
    H = jax.random.normal(keys[-1], (batch, sizes[0]), dtype)

    @jax.jit
    def run(Ws, H):
        def body(carry, _):
            Ws, H = carry
            hs, h = [H], H
            for W in Ws:
                h = h @ W.T  # forward
                hs.append(h)
            delta = h
            new = []
            for W, h_in in zip(reversed(Ws), reversed(hs[:-1]), strict=True):
                new.append(W + 1e-6 * (delta.T @ h_in))  # weight gradient
                delta = delta @ W  # input gradient
            return (new[::-1], H + 1e-6 * delta), None

        (Ws, H), _ = jax.lax.scan(body, (Ws, H), None, length=steps)
        return H

    return lambda: run(Ws, H).block_until_ready()


def torch_train(X, y, sizes, *, batch: int, steps: int, lr: float, seed: int, device="cpu"):
    """PyTorch eager: the same MLP (sigmoid hidden units), Adam, random mini-batches."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers).to(device)
    Xt = torch.as_tensor(np.array(X), device=device)  # a writable copy
    yt = torch.as_tensor(np.array(y), dtype=torch.float32, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = Xt.shape[0]

    def run():
        perm = torch.randperm(n, device=device)
        for i in range(steps):
            start = (i * batch) % (n - n % batch)
            idx = perm[start : start + batch]
            opt.zero_grad(set_to_none=True)
            logits = model(Xt[idx])[:, 0]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt[idx])
            loss.backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        return float(loss.detach())

    return run


def torch_device() -> str | None:
    """PyTorch's device for the comparison, or None when PyTorch is missing."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else "cpu"


def bench_scaling(cfg: Config) -> dict:
    """Section 2: samples/s and GFLOP/s over n x width, vs the matmul roofline and PyTorch."""
    device = torch_device()
    opt = optax.adam(cfg.grid_adam_lr)  # one object for every cell, as train's cache keys on it
    cells = []
    roofline: dict[tuple[int, int], dict] = {}  # the matmul timing per (width, batch)
    for width in cfg.grid_width:
        for n in cfg.grid_n:
            cell = scaling_cell(cfg, n, width, opt, roofline, device)
            cells.append(cell)
            print(
                f"  n={n:>8} width={width:>5}: {cell['step_s'] * 1e3:8.3f} ms/step, "
                f"{cell['gflops']:7.2f} GFLOP/s ({cell['fraction_of_roofline']:.2f} of matmul)"
                + (f", {cell['speedup_vs_torch']:.2f}x torch" if device else ""),
                flush=True,
            )
    return {"cells": cells, "torch_device": device, "has_torch": device is not None}


def scaling_cell(cfg: Config, n: int, width: int, opt, roofline: dict, device: str | None) -> dict:
    """One (n, width) cell: jaxmlp, its matmuls alone (once per shape) and PyTorch, interleaved."""
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.seed), n)
    sizes = (X.shape[1], width, width, 1)
    batch = min(cfg.grid_batch, n)
    steps = dict(cfg.grid_steps)[width]
    params = jaxmlp.init_mlp(jax.random.key(cfg.seed + 1), sizes)
    key = jax.random.key(cfg.seed + 2)

    def run():
        result = jaxmlp.train(params, X, y, optimizer=opt, steps=steps, batch_size=batch, key=key)
        return result.loss.block_until_ready()

    fns = {"jaxmlp": run}
    if (width, batch) not in roofline:
        fns["matmul"] = matmul_only(sizes, batch, steps)
    if device:
        torch_kw = dict(batch=batch, steps=steps, lr=cfg.grid_adam_lr, seed=cfg.seed)
        fns["torch"] = torch_train(X, y, sizes, device=device, **torch_kw)
    timed = interleaved(fns, cfg.grid_repeats)
    if "matmul" in timed:
        roofline[(width, batch)] = timed["matmul"]
    flops = train_flops(sizes, batch) * steps
    jax_s = timed["jaxmlp"]["median_s"]
    matmul_s = roofline[(width, batch)]["median_s"]
    return {
        "n": n,
        "width": width,
        "batch": batch,
        "steps": steps,
        "first_call_s": timed["jaxmlp"]["first_call_s"],
        "step_s": jax_s / steps,
        "epoch_s": jax_s / steps * n / batch,
        "samples_per_s": steps * batch / jax_s,
        "gflops": flops / jax_s / 1e9,
        "matmul_gflops": flops / matmul_s / 1e9,
        "fraction_of_roofline": matmul_s / jax_s,
        "torch_step_s": timed["torch"]["median_s"] / steps if device else None,
        "speedup_vs_torch": timed["torch"]["median_s"] / jax_s if device else None,
    }


# ------------------------------------------------------------------------ 3. memory


def rss_child(n: int, width: int, batch: int, steps: int, seed: int) -> None:
    """Trains in this (fresh) process; prints its RSS before and peak RSS during training (JSON).

    The peak is reset (Linux: ``/proc/self/clear_refs``) once the data exist, so it
    excludes the transient memory of generating them.
    """
    X, y = jaxmlp.datasets.circles(jax.random.key(seed), n)
    X.block_until_ready()
    before = _proc_status_bytes("VmRSS")
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to VmRSS
    except OSError:
        pass
    params = jaxmlp.init_mlp(jax.random.key(seed + 1), (X.shape[1], width, width, 1))
    result = jaxmlp.train(
        params, X, y, optimizer=optax.adam(1e-3), steps=steps,
        batch_size=min(batch, n), key=jax.random.key(seed + 2),
    )  # fmt: skip
    result.loss.block_until_ready()
    print(json.dumps({"peak_rss_bytes": _own_peak_rss(), "rss_before_training_bytes": before}))


def _proc_status_bytes(field: str) -> int | None:
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _own_peak_rss() -> int:
    """This process's peak RSS in bytes.

    On Linux, ``VmHWM`` of /proc/self/status: ``getrusage``'s ``ru_maxrss`` also
    counts the parent's RSS at the time of the (v)fork before ``exec``, so a child
    of a big benchmark process would report the parent's size.
    """
    import resource

    peak = _proc_status_bytes("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def peak_rss(n: int, width: int, batch: int, steps: int, seed: int) -> dict:
    """RSS before and peak RSS during training, in bytes, of a fresh :func:`rss_child` process."""
    args = [str(v) for v in (n, width, batch, steps, seed)]
    cmd = [sys.executable, __file__, "--rss-child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(cfg: Config) -> dict:
    """Section 3: peak RSS of training at the largest and smallest n (fresh processes)."""
    out = {
        n: peak_rss(n, cfg.rss_width, min(cfg.grid_batch, n), cfg.rss_steps, cfg.seed)
        for n in (min(cfg.grid_n), max(cfg.grid_n))
    }
    small, large = min(out), max(out)
    width, batch = cfg.rss_width, min(cfg.grid_batch, large)
    data_bytes = lambda n: n * (2 * 4 + 4)  # noqa: E731  X (n, 2) float32, y int32
    return {
        "width": width,
        "batch": batch,
        "steps": cfg.rss_steps,
        "peak_rss_bytes": {str(k): v["peak_rss_bytes"] for k, v in out.items()},
        "rss_before_training_bytes": {
            str(k): v["rss_before_training_bytes"] for k, v in out.items()
        },
        "extra_rss_bytes": out[large]["peak_rss_bytes"] - out[small]["peak_rss_bytes"],
        "extra_data_bytes": data_bytes(large) - data_bytes(small),
        # hidden activations and their gradients of one batch, float32
        "batch_activation_bytes": 2 * 2 * batch * width * 4,
        "one_epoch_copy_bytes": large * 2 * 4,
    }


# ------------------------------------------------------------------------- the page


def tables(r: dict) -> list[Table]:
    """bench.md: one table per section."""
    cfg = r["config"]
    post = []
    for name, row in r["post"]["rows"].items():
        if "median_s" not in row:
            post.append([name, row["note"], None, None, None, None, None])
            continue
        loss = f"{row['final_loss']:.4f}" + (f" ({row['note']})" if "note" in row else "")
        post.append([name, row["median_s"] * 1e3, row["us_per_step"], row["first_call_s"],
                     row["speedup_vs_numpy"], row["speedup_vs_sklearn"], loss])  # fmt: skip
    scaling = [
        [c["n"], c["width"], c["step_s"] * 1e3, c["epoch_s"], c["samples_per_s"], c["gflops"],
         c["matmul_gflops"], c["fraction_of_roofline"], c["speedup_vs_torch"], c["first_call_s"]]
        for c in r["scaling"]["cells"]
    ]  # fmt: skip
    mem, mib = r["memory"], 2**20
    before = mem.get("rss_before_training_bytes") or {}
    memory = [
        [int(n), _mib(before.get(n)), _mib(peak), _mib(peak - before[n]) if before.get(n) else None]
        for n, peak in mem["peak_rss_bytes"].items()
    ]
    return [
        Table(
            f"1. The post's problem (n={cfg['n']}, {'-'.join(map(str, cfg['sizes']))} sigmoid, "
            f"{cfg['steps']} full-batch steps)",
            ["implementation", "ms / run", "us / step", "first call (s)", "x NumPy",
             "x sklearn", "final loss"],
            post,
            f"Medians of {cfg['repeats']} rounds; in each round every implementation runs once "
            "untimed, then once timed, in turn. The first call includes tracing and compilation.",
        ),
        Table(
            f"2. Scaling (two hidden layers, sigmoid, Adam, mini-batch {cfg['grid_batch']})",
            ["n", "width", "ms / step", "epoch (s)", "samples/s", "GFLOP/s", "matmul GFLOP/s",
             "of roofline", "x PyTorch", "first call (s)"],
            scaling,
            "A fixed number of steps per cell (a step's cost does not depend on n); epoch = "
            "step x n / batch. GFLOP/s counts matmul FLOPs (6 x batch x weights per step). "
            "Roofline: the same step's matmuls alone, same shapes, same run.",
        ),
        Table(
            f"3. Memory (width {mem['width']}, batch {mem['batch']}, {mem['steps']} Adam steps)",
            ["n", "RSS with the data (MiB)", "peak RSS training (MiB)", "training adds (MiB)"],
            memory,
            f"A fresh process per n. The data differ by {mem['extra_data_bytes'] / mib:.1f} MiB; "
            f"one batch's activations and their gradients are "
            f"{mem['batch_activation_bytes'] / mib:.1f} MiB, a per-epoch shuffled copy of X "
            f"would be {mem['one_epoch_copy_bytes'] / mib:.1f} MiB; batches are gathered inside "
            "the compiled loop.",
        ),
    ]  # fmt: skip


def _mib(x) -> float | None:
    return None if x is None else round(x / 2**20)


def plot(results: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    rows = {k: v for k, v in results["post"]["rows"].items() if "median_s" in v}
    names = list(rows)
    ax = axes[0]
    ax.barh(range(len(names)), [rows[k]["us_per_step"] for k in names], color="#0072B2")
    ax.set_yticks(range(len(names)), [k.replace(", ", ",\n", 1) for k in names], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("us per step (median, log)")
    ax.set_title("The post's problem: 2-3-1, n=200, 1000 GD steps")
    cells = results["scaling"]["cells"]
    widths = sorted({c["width"] for c in cells})
    colors = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7"]
    ax = axes[1]
    for w, color in zip(widths, colors, strict=False):
        cs = [c for c in cells if c["width"] == w]
        ax.loglog(
            [c["n"] for c in cs], [c["epoch_s"] for c in cs], "o-", color=color, label=f"width {w}"
        )
    ax.set_xlabel("n (examples)")
    ax.set_ylabel("seconds per epoch")
    ax.set_title("Cost of an epoch grows linearly in n")
    ax.legend(fontsize=8)
    ax = axes[2]
    first_n = min(c["n"] for c in cells if c["batch"] == max(x["batch"] for x in cells))
    cs = sorted((c for c in cells if c["n"] == first_n), key=lambda c: c["width"])
    ws = [c["width"] for c in cs]
    ax.loglog(ws, [c["step_s"] for c in cs], "o-", color=colors[0], label="jaxmlp.train")
    ax.loglog(
        ws,
        [c["step_s"] * c["fraction_of_roofline"] for c in cs],
        "s--",
        color=colors[2],
        label="matmuls alone (roofline)",
    )
    if all(c["torch_step_s"] for c in cs):
        ax.loglog(ws, [c["torch_step_s"] for c in cs], "^-", color=colors[3], label="PyTorch")
    ref = np.array(ws, float)
    ax.loglog(
        ref, cs[-1]["step_s"] * (ref / ref[-1]) ** 2, ":", color="gray", label="slope 2 (width^2)"
    )
    ax.set_xlabel("width (two hidden layers)")
    ax.set_ylabel(f"seconds per step (batch {cs[0]['batch']})")
    ax.set_title("Cost of a step grows with width^2")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: Config, args) -> dict:
    print("1. the post's problem", flush=True)
    results = {"post": bench_post(cfg)}
    print("2. scaling", flush=True)
    results["scaling"] = bench_scaling(cfg)
    print("3. memory", flush=True)
    results["memory"] = bench_memory(cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "bench.png")
    return results


def main(argv: list[str] | None = None) -> dict:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--rss-child"]:  # what each process of section 3 runs
        rss_child(*map(int, args[1:6]))
        return {}
    # With a warm cache, first calls load compiled programs instead of compiling:
    # JAXMLP_NO_CACHE=1 measures compilation.
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv)


if __name__ == "__main__":
    main()
