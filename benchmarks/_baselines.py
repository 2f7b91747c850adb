"""The baselines the benchmarks time jaxmlp against: the post's NumPy loop, scikit-learn,
PyTorch and the matmuls of a step alone (the roofline)."""

from __future__ import annotations

import os
import warnings

import numpy as np

# PyTorch's idle OpenMP threads otherwise spin on the cores that the next timing (of another
# library, interleaved) needs; set before torch is imported (only inside these functions).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def numpy_loop(params, X, y, *, learning_rate: float, steps: int) -> np.ndarray:
    """The post's formulas (P1-P4) in batch matrix form, one NumPy step per iteration.

    Args:
      params: ((W1 (h, d), b1 (h,)), (W2 (1, h), b2 (1,))) as float32 NumPy arrays.
      X: (n, d) float32; y: (n,) in {0, 1}.

    Returns:
      (steps,) the loss before each update, as ``jaxmlp.train`` reports it.
    """
    (W1, b1), (W2, b2) = [(np.array(W), np.array(b)) for W, b in params]
    X, y = np.asarray(X, np.float32), np.asarray(y, np.float32)
    n, losses = X.shape[0], np.empty(steps, np.float32)
    for i in range(steps):
        h = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))  # hidden layer
        s2 = (h @ W2.T + b2)[:, 0]
        y_hat = 1.0 / (1.0 + np.exp(-s2))
        losses[i] = np.mean(np.logaddexp(0.0, s2) - y * s2)  # BCE, stably
        delta2 = (y_hat - y)[:, None]  # (P1)
        dW2, db2 = delta2.T @ h / n, delta2.mean(axis=0)  # (P2)
        delta1 = (delta2 @ W2) * (1.0 - h) * h  # (P3)
        dW1, db1 = delta1.T @ X / n, delta1.mean(axis=0)  # (P4)
        for param, grad in zip((W1, b1, W2, b2), (dW1, db1, dW2, db2), strict=True):
            param -= learning_rate * grad  # in place
    return losses


def sklearn_fit(X, y, *, hidden: int, learning_rate: float, steps: int, seed: int, **options):
    """scikit-learn's MLPClassifier as plain full-batch gradient descent for ``steps`` epochs
    (every epoch run: no early stop); ``options`` replace its settings (``solver="adam"``)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    settings = dict(activation="logistic", solver="sgd", momentum=0.0, nesterovs_momentum=False)
    clf = MLPClassifier(
        hidden_layer_sizes=(hidden,), learning_rate_init=learning_rate, batch_size=X.shape[0],
        max_iter=steps, shuffle=False, alpha=0.0, tol=0.0, n_iter_no_change=steps + 1,
        random_state=seed, **(settings | options),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


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
    return losses.cpu().numpy()  # waits for the device


def torch_train(X, y, sizes, *, batch: int, steps: int, lr: float, seed: int, device="cpu"):
    """PyTorch eager: the same MLP (sigmoid hidden units), Adam, random mini-batches; a thunk
    that trains ``steps`` steps and returns the last loss."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers[:-1]).to(device)
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
        return float(loss.detach())  # waits for the device

    return run


def torch_device() -> str | None:
    """PyTorch's device for the comparison, or None when PyTorch is missing."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else "cpu"


def train_flops(sizes: tuple[int, ...], batch: int) -> float:
    """Matmul FLOPs of one training step: forward 2*B*in*out per layer, backward twice that.

    >>> train_flops((2, 3, 1), 10)
    540.0
    """
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    return 6.0 * batch * macs


def matmul_only(sizes: tuple[int, ...], batch: int, steps: int):
    """The roofline: one step's matmuls (forward, input- and weight-gradients), ``steps`` times.

    Same shapes as a training step, nothing else: a scan whose carry feeds every matmul so
    that none is hoisted. Returns a thunk that runs and blocks.
    """
    import jax

    keys = jax.random.split(jax.random.key(0), 2 * len(sizes))
    shapes = zip(keys, sizes, sizes[1:], strict=False)
    Ws = [jax.random.normal(k, (o, i)) * 0.01 for k, i, o in shapes]
    H = jax.random.normal(keys[-1], (batch, sizes[0]))

    @jax.jit
    def run(Ws, H):
        def body(carry, _):
            Ws, H = carry
            hs, h = [H], H
            for W in Ws:
                h = h @ W.T  # forward
                hs.append(h)
            delta, new = h, []
            for W, h_in in zip(reversed(Ws), reversed(hs[:-1]), strict=True):
                new.append(W + 1e-6 * (delta.T @ h_in))  # weight gradient
                delta = delta @ W  # input gradient
            return (new[::-1], H + 1e-6 * delta), None

        return jax.lax.scan(body, (Ws, H), None, length=steps)[0][1]

    return lambda: run(Ws, H).block_until_ready()
