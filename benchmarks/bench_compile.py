"""Compile and steady seconds of jaxmlp's public calls under XLA:CPU compile settings.

Every (case, setting) runs in its own fresh process, the processes alternating round by round
(``--rounds``), with the persistent cache off and the setting given by jaxmlp's documented
override ``JAXMLP_COMPILER_OPTIONS`` (a JSON object of XLA options, or ``default``); "chosen"
leaves it unset, so that each program gets ``jaxmlp.compile_options.CHOICES``. A case is a
public call (``train``, an estimator's ``fit``, ``predict``, ``sweep``): "compile" is the XLA
compile seconds of its first call (JAX's backend-compile events: every program it compiles),
"steady" the median of ``--repeats`` later calls; both are medians over the rounds.

    python benchmarks/bench_compile.py --out out/bench_compile
    python benchmarks/bench_compile.py --cases train_2-3-1_n200 --rounds 3 --repeats 9
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings

import _harness as harness
from _harness import Table

E, S, O = ("xla_cpu_use_fusion_emitters", "xla_cpu_parallel_codegen_split_count",
           "xla_backend_optimization_level")  # fmt: skip
SETTINGS = {
    "default": {}, "no-emitters": {E: False}, "split-1": {S: 1}, "both": {E: False, S: 1},
    "both-O1": {E: False, S: 1, O: 1}, "both-O0": {E: False, S: 1, O: 0},
    "split-1-O1": {S: 1, O: 1},
    "split-1-cheap-llvm": {S: 1, "xla_llvm_disable_expensive_passes": True},
}  # fmt: skip

CASES = {  # case -> the jaxmlp.compile_options program its call is timed for
    "train_2-3-1_n200": "train_small",
    "train_2-16-16-1_n1000": "train",
    "train_10-256-256-1_n1e4": "train",
    "train_10-1024-1024-1_n1e5": "train",
    "guarded_2-3-1_n200": "guarded_small",  # a diverging run: the fast loop, then the guarded
    "fit_adam_digits": "fit",
    "fit_sgd_digits": "fit",
    "fit_lbfgs_digits": "lbfgs",
    "fit_adam_1024_n1e5": "fit",
    "predict_2-3-1_n200": "predict",
    "predict_1024_n1e5": "predict",
    "sweep_160_models_circles": "sweep",
}
TRAIN = {  # sizes, rows, activation, optimizer and its rate, steps, batch size
    "train_2-3-1_n200": ((2, 3, 1), 200, "sigmoid", "sgd", 2.0, 1000, None),
    "guarded_2-3-1_n200": ((2, 3, 1), 200, "identity", "sgd", 1e30, 1000, None),
    "train_2-16-16-1_n1000": ((2, 16, 16, 1), 1000, "tanh", "adam", 1e-2, 1000, None),
    "train_10-256-256-1_n1e4": ((10, 256, 256, 1), 10_000, "relu", "adam", 1e-3, 100, 1024),
    "train_10-1024-1024-1_n1e5": ((10, 1024, 1024, 1), 100_000, "relu", "adam", 1e-3, 3, 4096),
}


@dataclasses.dataclass(frozen=True)
class Config:
    cases: tuple[str, ...] = tuple(CASES)
    rounds: int = 2  # fresh processes of each (case, setting), alternating
    repeats: int = 5  # steady calls in each process
    settings: tuple[str, ...] = ("default", "chosen")  # of SETTINGS, or "chosen"


QUICK = {"cases": ("train_2-3-1_n200", "predict_2-3-1_n200"), "rounds": 1, "repeats": 2}


def call(case: str):
    """The case's public call, its data and network made beforehand."""
    import jax
    import numpy as np
    import optax

    import jaxmlp

    rng = np.random.default_rng(0)
    if case in TRAIN:
        sizes, n, act, opt, rate, steps, batch = TRAIN[case]
        X = rng.normal(size=(n, sizes[0])).astype(np.float32)
        y, params = (X[:, 0] > 0).astype(np.int32), jaxmlp.init_mlp(jax.random.key(1), sizes)
        kw = dict(activation=act, optimizer=getattr(optax, opt)(rate), steps=steps)
        return lambda: jaxmlp.train(params, X, y, batch_size=batch, **kw).loss
    if case.startswith("fit_"):
        from sklearn.datasets import load_digits

        from jaxmlp.sklearn import MLPClassifier

        if "1024" in case:
            X = rng.normal(size=(100_000, 20)).astype(np.float32)
            y, est = (X[:, 0] > 0).astype(int), MLPClassifier((1024,), max_iter=1, random_state=0)
        else:
            X, y = load_digits(return_X_y=True)
            est = MLPClassifier((64,), solver=case.split("_")[1], max_iter=50, random_state=0)
        warnings.simplefilter("ignore")  # max_iter reached, by design
        return lambda: est.fit(X, y).coefs_[0]
    if case.startswith("predict_"):
        sizes, n = ((2, 3, 1), 200) if "2-3-1" in case else ((20, 1024, 10), 100_000)
        X = rng.normal(size=(n, sizes[0])).astype(np.float32)
        params = jaxmlp.init_mlp(jax.random.key(1), sizes)
        return lambda: jaxmlp.predict(params, X, "relu")
    X, y = jaxmlp.datasets.circles(jax.random.key(0), 200)
    kw = dict(widths=list(range(5, 51, 5)), activations=["relu", "tanh", "sigmoid", "leaky_relu"],
              seeds=[0, 1, 2, 3], steps=1000, optimizer=optax.adam(1e-2))  # fmt: skip
    return lambda: jaxmlp.sweep(X, y, **kw).loss


def child(cfg: Config, case: str) -> dict:
    """Runs in a fresh process: the case's first call (its compiles summed), then steady calls."""
    import jax
    import numpy as np

    run = call(case)
    jax.jit(lambda x: x + 1)(np.float32(1)).block_until_ready()  # the backend's start
    with harness.jax_events() as events:  # the first call compiles; the later ones reuse it
        t = harness.repeated(run, repeats=cfg.repeats)
    return {"compile_s": events["seconds"][harness.COMPILE], "first_s": t["first_call_s"],
            "steady_s": t["median_s"]}  # fmt: skip


def run(cfg: Config, args) -> dict:
    from jaxmlp import compile_options

    env = {k: v for k, v in os.environ.items() if k != compile_options.ENV}
    given = {s: json.dumps(SETTINGS[s]) if SETTINGS[s] else "default" for s in SETTINGS}
    envs = {s: env | {compile_options.ENV: given[s]} for s in cfg.settings if s != "chosen"}
    results = []
    for case in cfg.cases:
        commands = {s: harness.child_command(__file__, cfg, case) for s in cfg.settings}
        runs = harness.interleaved_processes(commands, cfg.rounds, env=env, envs=envs,
                                             no_cache=True)  # fmt: skip
        m = {s: harness.medians(rs) for s, rs in runs.items()}
        median = {k: {s: m[s][k] for s in m} for k in ("compile_s", "first_s", "steady_s")}
        chosen = compile_options.CHOICES[CASES[case]]
        results.append({"case": case, "program": CASES[case], "chosen": chosen, **median})
        print(case, json.dumps(median), flush=True)
    return {"results": results}


def tables(r: dict) -> list[Table]:
    """bench_compile.md: every case's compile and steady seconds, per setting."""
    settings = list(r["results"][0]["compile_s"]) if r["results"] else []
    rows = [
        [f"{x['program']} ({x['case']})", ", ".join(f"`{k}={v}`" for k, v in x["chosen"].items()),
         " / ".join(f"{x['compile_s'][s]:.3f}" for s in settings),
         " / ".join(f"{x['steady_s'][s]:.4g}" for s in settings)]
        for x in r["results"]
    ]  # fmt: skip
    columns = ["program (case)", "chosen options", f"compile s, {' / '.join(settings)}",
               f"steady s, {' / '.join(settings)}"]  # fmt: skip
    return [Table("Compile settings per program", columns, rows)]


def main(argv=None) -> dict:
    def flags(parser):
        parser.add_argument("--settings", type=harness.names, help=f"chosen,{','.join(SETTINGS)}")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child, out="out/bench_compile")  # fmt: skip


if __name__ == "__main__":
    main()
