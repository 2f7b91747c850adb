"""Reproduces the post's experiment: a 2-3-1 sigmoid MLP on concentric circles.

    python experiments/blog.py --out out/blog
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib

import jax
import optax

import jaxmlp


@dataclasses.dataclass(frozen=True)
class Config:
    data_seed: int = 0
    init_seed: int = 1
    n: int = 200
    learning_rate: float = 2.0
    steps: int = 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("out/blog"))
    args = parser.parse_args(argv)
    cfg = Config()
    X, y = jaxmlp.datasets.circles(jax.random.key(cfg.data_seed), cfg.n)
    params = jaxmlp.init_mlp(jax.random.key(cfg.init_seed), (2, 3, 1), scheme="uniform01")
    result = jaxmlp.train(
        params, X, y, activation="sigmoid", optimizer=optax.sgd(cfg.learning_rate),
        steps=cfg.steps,
    )
    accuracy = float((jaxmlp.predict(result.params, X) == y).mean())
    for step in (0, 100, 300, cfg.steps - 1):
        print(f"step {step:4d}  loss {float(result.loss[step]):.4f}")
    print(f"training accuracy {accuracy:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {"config": dataclasses.asdict(cfg), "mlp_2_3_1": {
        "final_loss": float(result.loss[-1]), "train_accuracy": accuracy}}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
