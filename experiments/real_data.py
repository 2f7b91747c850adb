"""jaxmlp on real data: scikit-learn's bundled digits (10 classes) and breast-cancer sets.

Trains a one-hidden-layer ReLU network with :func:`jaxmlp.train` (the hand-derived
gradients; a 10-unit softmax output for digits, one sigmoid unit for breast cancer)
and scikit-learn's own ``MLPClassifier`` with the same settings: same split,
standardised features (scaler fitted on the training part), hidden width,
activation, Adam learning rate, batch size, number of epochs, no L2 penalty, no
early stopping. Prints the test accuracy of both and writes them to ``--out``/results.json.

    python experiments/real_data.py --out out/real_data            # both data sets
    python experiments/real_data.py --out out/real_data --epochs 100 --hidden 128
    python experiments/real_data.py --out /tmp/r --quick            # 5 epochs

Needs scikit-learn (``pip install jaxmlp[sklearn]``) for the data and the reference.
"""

from __future__ import annotations

import json
import time
import warnings

import jax
import numpy as np
import optax
from _common import study_args

import jaxmlp

LOADERS = ("digits", "breast_cancer")


def load(name: str, *, seed: int = 0, test_size: float = 0.25):
    """Standardised, stratified split of a bundled scikit-learn data set.

    Returns:
      X_train (n, d) float32, X_test (m, d) float32, y_train (n,) int32, y_test (m,) int32.
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name not in LOADERS:
        raise ValueError(f"name must be one of {LOADERS}, got {name!r}")
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(X_tr)
    return (
        scaler.transform(X_tr).astype(np.float32),
        scaler.transform(X_te).astype(np.float32),
        y_tr.astype(np.int32),
        y_te.astype(np.int32),
    )


def compare(
    name: str,
    *,
    hidden: int = 64,
    epochs: int = 60,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> dict:
    """Test accuracy of jaxmlp and of ``sklearn.neural_network.MLPClassifier``.

    Both: one hidden ReLU layer of ``hidden`` units, Adam at ``learning_rate``,
    mini-batches of ``batch_size``, ``epochs`` passes, no L2, no early stopping.

    >>> r = compare("breast_cancer", epochs=2)  # doctest: +SKIP
    >>> sorted(r)[:3]  # doctest: +SKIP
    ['classes', 'epochs', 'jaxmlp_seconds']
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_tr, X_te, y_tr, y_te = load(name, seed=seed)
    k = int(y_tr.max()) + 1
    sizes = (X_tr.shape[1], hidden, 1 if k == 2 else k)
    k_init, k_shuffle = jax.random.split(jax.random.key(seed))
    steps = epochs * (X_tr.shape[0] // batch_size)  # jaxmlp drops the last partial batch

    start = time.perf_counter()
    result = jaxmlp.train(
        jaxmlp.init_mlp(k_init, sizes),
        X_tr,
        y_tr,
        activation="relu",
        optimizer=optax.adam(learning_rate),
        steps=steps,
        batch_size=batch_size,
        key=k_shuffle,
    )
    y_hat = np.asarray(jaxmlp.predict(result.params, X_te, "relu"))
    jax_seconds = time.perf_counter() - start
    if result.diverged_at is not None:
        raise RuntimeError(f"jaxmlp training diverged at step {result.diverged_at}")

    start = time.perf_counter()
    reference = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="relu",
        solver="adam",
        learning_rate_init=learning_rate,
        batch_size=batch_size,
        max_iter=epochs,
        alpha=0.0,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached, by design
        reference.fit(X_tr, y_tr)
    sk_accuracy = float(reference.score(X_te, y_te))
    sk_seconds = time.perf_counter() - start
    return {
        "dataset": name,
        "n_train": int(X_tr.shape[0]),
        "n_test": int(X_te.shape[0]),
        "features": int(X_tr.shape[1]),
        "classes": k,
        "sizes": list(sizes),
        "epochs": epochs,
        "steps": steps,
        "jaxmlp_accuracy": float(np.mean(y_hat == y_te)),
        "sklearn_accuracy": sk_accuracy,
        "jaxmlp_seconds": jax_seconds,
        "sklearn_seconds": sk_seconds,
    }


def _flags(parser) -> None:
    parser.add_argument("--datasets", default=",".join(LOADERS))
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, help="default 60 (--quick: 5)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)


def main(argv: list[str] | None = None) -> list[dict]:
    args = study_args(__doc__, argv, out="out/real_data", extra=_flags)
    if args.epochs is None:
        args.epochs = 5 if args.quick else 60
    rows = []
    print(f"{'data set':14s} {'sizes':>12s} {'jaxmlp':>8s} {'sklearn':>8s}  (test accuracy)")
    for name in args.datasets.split(","):
        r = compare(
            name,
            hidden=args.hidden,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
        )
        rows.append(r)
        sizes = "-".join(map(str, r["sizes"]))
        print(
            f"{name:14s} {sizes:>12s} {r['jaxmlp_accuracy']:8.4f} {r['sklearn_accuracy']:8.4f}"
            f"  ({r['jaxmlp_seconds']:.1f} s vs {r['sklearn_seconds']:.1f} s, {r['epochs']} epochs)"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
