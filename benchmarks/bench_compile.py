"""Compile and steady seconds of jaxmlp's programs under XLA:CPU compile settings.

Each case runs in its own fresh process; inside it every setting's program is lowered afresh
(``jax.clear_caches()``) and compiled ``--rounds`` times in alternating order (median), then
the compiled programs run interleaved (median of ``--repeats``). "chosen" is what
``jaxmlp.compile_options.CHOICES`` gives the program. The sweep row runs in alternating fresh
processes per setting (``JAXMLP_COMPILER_OPTIONS``, ``--sweep-rounds``); its compile is the
first call's time minus a steady call's.

    python benchmarks/bench_compile.py --out out/bench_compile
    python benchmarks/bench_compile.py --cases train_2-3-1_n200 --rounds 3 --repeats 9
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
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

CASES = (
    "train_2-3-1_n200",
    "train_2-16-16-1_n1000",
    "train_10-256-256-1_n1e4",
    "train_10-1024-1024-1_n1e5",
    "guarded_2-3-1_n200",
    "fit_adam_digits",
    "fit_sgd_digits",
    "fit_lbfgs_digits",
    "fit_adam_1024_n1e5",
    "predict_2-3-1_n200",
    "predict_1024_n1e5",
)


def _case(name: str):
    """``(fun, args, kwargs)``: a jittable function, its arguments and static keywords."""
    import jax
    import numpy as np
    import optax

    import jaxmlp
    from jaxmlp import optimizers, training

    def train_case(sizes, n, act, opt, steps, batch, guarded=False):
        X = np.random.default_rng(0).normal(size=(n, sizes[0])).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int32)
        params = jaxmlp.init_mlp(jax.random.key(1), sizes)
        options = dict(
            activation=jaxmlp.activations.get(act), optimizer=optimizers.static(opt),
            steps=steps, batch_size=batch, grad="manual", snapshot_every=None,
            backend="xla", rate_name=None,
        )  # fmt: skip
        fun = training._train_guarded.__wrapped__ if guarded else training._train_fast_impl
        return fun, (params, X, y, jax.random.key(0), None, np.int32(0), None), options

    if name.startswith("train_") or name.startswith("guarded_"):
        spec = {
            "train_2-3-1_n200": ((2, 3, 1), 200, "sigmoid", optax.sgd(2.0), 1000, None),
            "guarded_2-3-1_n200": ((2, 3, 1), 200, "sigmoid", optax.sgd(2.0), 1000, None),
            "train_2-16-16-1_n1000": ((2, 16, 16, 1), 1000, "tanh", optax.adam(1e-2), 1000, None),
            "train_10-256-256-1_n1e4": (
                (10, 256, 256, 1), 10_000, "relu", optax.adam(1e-3), 100, 1024,
            ),
            "train_10-1024-1024-1_n1e5": (
                (10, 1024, 1024, 1), 100_000, "relu", optax.adam(1e-3), 3, 4096,
            ),
        }[name]  # fmt: skip
        return train_case(*spec, guarded=name.startswith("guarded_"))
    if name.startswith("fit_"):
        from sklearn.datasets import load_digits

        from jaxmlp.sklearn import MLPClassifier
        from jaxmlp.sklearn import _fit as programs

        captured = {}
        real = programs.run_epochs if "lbfgs" not in name else programs.flat_loss_and_grad

        def spy(*args, **kwargs):
            captured.setdefault("call", (args, kwargs))
            return real(*args, **kwargs)

        attr = "flat_loss_and_grad" if "lbfgs" in name else "run_epochs"
        setattr(programs, attr, spy)  # only to capture the call's arguments; put back below
        if "1024" in name:
            X = np.random.default_rng(0).normal(size=(100_000, 20)).astype(np.float32)
            y = (X[:, 0] > 0).astype(int)
            est = MLPClassifier((1024,), max_iter=1, random_state=0)
        else:
            X, y = load_digits(return_X_y=True)
            solver = name.split("_")[1]
            est = MLPClassifier((64,), solver=solver, max_iter=50, random_state=0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, y)  # at XLA's defaults
        finally:
            setattr(programs, attr, real)
        args, kwargs = captured["call"]
        return real.__wrapped__, args, kwargs
    if name.startswith("predict_"):
        from jaxmlp import mlp

        sizes, n = ((2, 3, 1), 200) if "2-3-1" in name else ((20, 1024, 10), 100_000)
        X = np.random.default_rng(0).normal(size=(n, sizes[0])).astype(np.float32)
        params = jaxmlp.init_mlp(jax.random.key(1), sizes)
        return mlp._predict._fun, (params, X), {"activation": jaxmlp.activations.get("relu")}
    raise SystemExit(f"unknown case {name}")


PROGRAM = {  # the jaxmlp.compile_options program of each case
    "train_2-3-1_n200": "train_small",
    "guarded_2-3-1_n200": "guarded_small",
    "fit_adam_digits": "fit",
    "fit_sgd_digits": "fit",
    "fit_lbfgs_digits": "lbfgs",
    "fit_adam_1024_n1e5": "fit",
}


def _program(case: str) -> str:
    return PROGRAM.get(case, case.split("_")[0])


@dataclasses.dataclass(frozen=True)
class Config:
    cases: tuple[str, ...] = CASES
    rounds: int = 2  # compiles of each setting, alternating
    repeats: int = 5  # steady runs of each compiled program, interleaved
    settings: tuple[str, ...] = ("default", "chosen")  # of SETTINGS, or "chosen"
    sweep_rounds: int = 2  # 0: no sweep row


QUICK = {"cases": ("train_2-3-1_n200", "predict_2-3-1_n200"), "rounds": 1, "repeats": 2,
         "sweep_rounds": 0}  # fmt: skip


def child(cfg: Config, case: str) -> dict:
    """Runs in a fresh process: every setting's compile (alternating), then their steady runs."""
    import jax
    import numpy as np

    from jaxmlp import compile_options

    if case == "sweep":
        return sweep_child()
    chosen = {"chosen": compile_options.CHOICES[_program(case)]}
    runs = {s: (SETTINGS | chosen)[s] for s in cfg.settings}
    fun, args, kwargs = _case(case)
    jax.jit(lambda x: x + 1)(np.float32(1)).block_until_ready()  # the backend's start
    compiles: dict[str, list[float]] = {s: [] for s in runs}
    programs = {}
    for r in range(cfg.rounds):
        for setting in list(runs)[:: -1 if r % 2 else 1]:
            jax.clear_caches()  # a fresh lowering: nothing reused from an earlier compile
            jitted = jax.jit(fun, static_argnames=tuple(kwargs), compiler_options=runs[setting])
            lowered = jitted.lower(*args, **kwargs)
            start = time.perf_counter()
            programs[setting] = lowered.compile()
            compiles[setting].append(time.perf_counter() - start)
    calls = {s: (lambda p=p: jax.block_until_ready(p(*args))) for s, p in programs.items()}
    timed = harness.interleaved(calls, cfg.repeats)  # one untimed call each, then rounds
    return {
        "case": case,
        "program": _program(case),
        "options": runs,
        "compile_s": {s: statistics.median(v) for s, v in compiles.items()},
        "steady_s": {s: t["median_s"] for s, t in timed.items()},
    }


def sweep_child() -> dict:
    """The sweep (160 models, 1000 Adam steps): the first call's and the best steady seconds."""
    import jax
    import optax

    import jaxmlp

    X, y = jaxmlp.datasets.circles(jax.random.key(0), 200)
    kw = dict(widths=list(range(5, 51, 5)), activations=["relu", "tanh", "sigmoid", "leaky_relu"],
              seeds=[0, 1, 2, 3], steps=1000, optimizer=optax.adam(1e-2))  # fmt: skip
    t = harness.interleaved({"": lambda: jax.block_until_ready(jaxmlp.sweep(X, y, **kw).loss)}, 3)
    return {"first_s": t[""]["first_call_s"], "steady_s": min(t[""]["times_s"])}


def run(cfg: Config, args) -> dict:
    commands = {case: harness.child_command(__file__, cfg, case) for case in cfg.cases}
    results = [runs[0] for runs in harness.interleaved_processes(commands, 1).values()]
    if cfg.sweep_rounds:
        from jaxmlp import compile_options

        chosen = {"default": {}, "chosen": compile_options.CHOICES["sweep"]}
        envs = {s: {**os.environ, "JAXMLP_NO_CACHE": "1",
                    "JAXMLP_COMPILER_OPTIONS": json.dumps(o) if o else "default"}
                for s, o in chosen.items()}  # fmt: skip
        commands = {s: harness.child_command(__file__, cfg, "sweep") for s in chosen}
        runs = harness.interleaved_processes(commands, cfg.sweep_rounds, envs=envs)
        med = {s: {k: statistics.median(x[k] for x in rs) for k in ("first_s", "steady_s")}
               for s, rs in runs.items()}  # fmt: skip
        results.append({
            "case": "sweep_160_models_circles", "program": "sweep", "options": chosen,
            "compile_s": {k: v["first_s"] - v["steady_s"] for k, v in med.items()},
            "steady_s": {k: v["steady_s"] for k, v in med.items()},
        })  # fmt: skip
    return {"results": results}


def tables(r: dict) -> list[Table]:
    """bench_compile.md: every case's compile and steady seconds, per setting."""
    settings = list(r["results"][0]["compile_s"]) if r["results"] else []
    rows = [
        [f"{x['program']} ({x['case']})",
         ", ".join(f"`{k}={v}`" for k, v in x["options"].get("chosen", {}).items()),
         " / ".join(f"{x['compile_s'][s]:.3f}" for s in settings),
         " / ".join(f"{x['steady_s'][s]:.4g}" for s in settings)]
        for x in r["results"]
    ]  # fmt: skip
    columns = ["program (case)", "chosen options", f"compile s, {' / '.join(settings)}",
               f"steady s, {' / '.join(settings)}"]  # fmt: skip
    return [Table("Compile settings per program", columns, rows)]


def main(argv=None) -> dict:
    def flags(parser):
        split = lambda s: tuple(s.split(","))  # noqa: E731
        parser.add_argument("--cases", "--case", type=split, help=",".join(CASES))
        parser.add_argument("--rounds", type=int, help="compiles of each setting")
        parser.add_argument("--settings", type=split, help=f"of: chosen,{','.join(SETTINGS)}")
        parser.add_argument("--sweep-rounds", type=int, help="0: no sweep row")

    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child, out="out/bench_compile")  # fmt: skip


if __name__ == "__main__":
    main()
