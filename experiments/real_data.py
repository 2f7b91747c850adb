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

import dataclasses
import time
import warnings

import jax
import numpy as np
import optax
from _common import study_config, write_record

import jaxmlp

LOADERS = ("digits", "breast_cancer")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of the run; written to results.json."""

    datasets: tuple[str, ...] = LOADERS
    hidden: int = 64
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    seed: int = 0
    test_size: float = 0.25


QUICK = {"epochs": 5}


def load(name: str, cfg: Config):
    """Standardised, stratified split of a bundled scikit-learn data set: X_train (n, d),
    X_test (m, d) float32, y_train (n,), y_test (m,) int32."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if name not in LOADERS:
        raise ValueError(f"name must be one of {LOADERS}, got {name!r}")
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    split = train_test_split(X, y, test_size=cfg.test_size, stratify=y, random_state=cfg.seed)
    scaler = StandardScaler().fit(split[0])
    X_tr, X_te = (scaler.transform(part).astype(np.float32) for part in split[:2])
    return X_tr, X_te, *(part.astype(np.int32) for part in split[2:])


def compare(name: str, cfg: Config) -> dict:
    """Test accuracy and seconds of jaxmlp and of ``sklearn.neural_network.MLPClassifier``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_tr, X_te, y_tr, y_te = load(name, cfg)
    k = int(y_tr.max()) + 1
    sizes = (X_tr.shape[1], cfg.hidden, 1 if k == 2 else k)
    k_init, k_shuffle = jax.random.split(jax.random.key(cfg.seed))
    steps = cfg.epochs * (X_tr.shape[0] // cfg.batch_size)  # jaxmlp drops the last partial batch

    start = time.perf_counter()
    params, opt = jaxmlp.init_mlp(k_init, sizes), optax.adam(cfg.learning_rate)
    result = jaxmlp.train(params, X_tr, y_tr, activation="relu", optimizer=opt, steps=steps,
                          batch_size=cfg.batch_size, key=k_shuffle)  # fmt: skip
    y_hat = np.asarray(jaxmlp.predict(result.params, X_te, "relu"))
    jax_seconds = time.perf_counter() - start
    if result.diverged_at is not None:
        raise RuntimeError(f"jaxmlp training diverged at step {result.diverged_at}")

    start = time.perf_counter()
    reference = MLPClassifier(
        hidden_layer_sizes=(cfg.hidden,), activation="relu", solver="adam", alpha=0.0,
        learning_rate_init=cfg.learning_rate, batch_size=cfg.batch_size, max_iter=cfg.epochs,
        tol=0.0, n_iter_no_change=cfg.epochs + 1, random_state=cfg.seed,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached, by design
        reference.fit(X_tr, y_tr)
    sk_accuracy = float(reference.score(X_te, y_te))
    return {
        "dataset": name, "n_train": int(X_tr.shape[0]), "n_test": int(X_te.shape[0]),
        "features": int(X_tr.shape[1]), "classes": k, "sizes": list(sizes),
        "epochs": cfg.epochs, "steps": steps, "jaxmlp_accuracy": float(np.mean(y_hat == y_te)),
        "sklearn_accuracy": sk_accuracy, "jaxmlp_seconds": jax_seconds,
        "sklearn_seconds": time.perf_counter() - start,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict]:
    def flags(parser) -> None:
        parser.add_argument("--datasets", type=lambda s: tuple(s.split(",")), help="digits,...")
        for flag, dest, kind in (("--hidden", "hidden", int), ("--epochs", "epochs", int),
                                 ("--batch-size", "batch_size", int), ("--seed", "seed", int),
                                 ("--lr", "learning_rate", float)):  # fmt: skip
            parser.add_argument(flag, dest=dest, type=kind, help=f"default {getattr(Config, dest)}")

    args, cfg = study_config(__doc__, argv, out="out/real_data", config=Config, quick=QUICK,
                             extra=flags)  # fmt: skip
    rows = []
    print(f"{'data set':14s} {'sizes':>12s} {'jaxmlp':>8s} {'sklearn':>8s}  (test accuracy)")
    for name in cfg.datasets:
        rows.append(r := compare(name, cfg))
        print(f"{name:14s} {'-'.join(map(str, r['sizes'])):>12s} {r['jaxmlp_accuracy']:8.4f} "
              f"{r['sklearn_accuracy']:8.4f}  ({r['jaxmlp_seconds']:.1f} s vs "
              f"{r['sklearn_seconds']:.1f} s, {r['epochs']} epochs)")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    write_record(args.out / "results.json", cfg, {"rows": rows})
    return rows


if __name__ == "__main__":
    main()
