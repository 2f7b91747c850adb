"""Compile and steady seconds of jaxmlp's programs under XLA:CPU compile settings.

Each case runs in its own fresh process (``--case``); inside it every setting is
compiled in alternating order (rounds), then the compiled programs run interleaved.
Prints one JSON line per case; ``--out`` writes them all as JSON and a markdown table.

    python benchmarks/bench_compile.py --out out/bench_compile

The sweep row runs in fresh processes per setting (``JAXMLP_COMPILER_OPTIONS``); its
compile is the first call's time minus a steady call's.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import time

SETTINGS = {
    "default": {},
    "no-emitters": {"xla_cpu_use_fusion_emitters": False},
    "split-1": {"xla_cpu_parallel_codegen_split_count": 1},
    "both": {"xla_cpu_use_fusion_emitters": False, "xla_cpu_parallel_codegen_split_count": 1},
    "both-O1": {
        "xla_cpu_use_fusion_emitters": False,
        "xla_cpu_parallel_codegen_split_count": 1,
        "xla_backend_optimization_level": 1,
    },
    "both-O0": {
        "xla_cpu_use_fusion_emitters": False,
        "xla_cpu_parallel_codegen_split_count": 1,
        "xla_backend_optimization_level": 0,
    },
    "split-1-O1": {"xla_cpu_parallel_codegen_split_count": 1, "xla_backend_optimization_level": 1},
    "split-1-cheap-llvm": {
        "xla_cpu_parallel_codegen_split_count": 1,
        "xla_llvm_disable_expensive_passes": True,
    },
}

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
        key = jax.random.key(0) if batch else jax.random.key(0)
        options = dict(
            activation=jaxmlp.activations.get(act), optimizer=optimizers.static(opt),
            steps=steps, batch_size=batch, grad="manual", snapshot_every=None,
            backend="xla", rate_name=None,
        )  # fmt: skip
        fun = training._train_guarded.__wrapped__ if guarded else training._train_fast_impl
        return fun, (params, X, y, key, None, np.int32(0), None), options

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
        setattr(programs, attr, spy)
        if "1024" in name:
            X = np.random.default_rng(0).normal(size=(100_000, 20)).astype(np.float32)
            y = (X[:, 0] > 0).astype(int)
            est = MLPClassifier((1024,), max_iter=1, random_state=0)
        else:
            X, y = load_digits(return_X_y=True)
            solver = name.split("_")[1]
            est = MLPClassifier((64,), solver=solver, max_iter=50, random_state=0)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)  # at XLA's defaults: only to capture the call's arguments
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


def run_case(name: str, rounds: int, repeats: int, settings: list[str]) -> dict:
    import jax
    import numpy as np

    from jaxmlp import compile_options

    SETTINGS["chosen"] = compile_options.CHOICES[_program(name)]
    runs = {s: SETTINGS[s] for s in settings}
    fun, args, kwargs = _case(name)
    jax.jit(lambda x: x + 1)(np.float32(1)).block_until_ready()  # the backend's start
    compiles: dict[str, list[float]] = {s: [] for s in runs}
    programs = {}
    for r in range(rounds):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for setting in order:
            jax.clear_caches()  # a fresh lowering: nothing reused from an earlier compile
            jitted = jax.jit(fun, static_argnames=tuple(kwargs), compiler_options=runs[setting])
            lowered = jitted.lower(*args, **kwargs)
            start = time.perf_counter()
            programs[setting] = lowered.compile()
            compiles[setting].append(time.perf_counter() - start)
    steady: dict[str, list[float]] = {s: [] for s in runs}
    for setting in runs:  # one untimed run each
        jax.block_until_ready(programs[setting](*args))
    for r in range(repeats):
        order = list(runs) if r % 2 == 0 else list(reversed(runs))
        for setting in order:
            start = time.perf_counter()
            jax.block_until_ready(programs[setting](*args))
            steady[setting].append(time.perf_counter() - start)
    return {
        "case": name,
        "program": _program(name),
        "options": runs,
        "compile_s": {s: statistics.median(v) for s, v in compiles.items()},
        "steady_s": {s: statistics.median(v) for s, v in steady.items()},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help="run one case in this process (JSON on stdout)")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--settings", default="default,chosen", help=f"of: chosen,{','.join(SETTINGS)}"
    )
    parser.add_argument("--sweep-rounds", type=int, default=2, help="0: no sweep row")
    parser.add_argument("--out", type=pathlib.Path)
    a = parser.parse_args(argv)
    if a.case:
        print(json.dumps(run_case(a.case, a.rounds, a.repeats, a.settings.split(","))))
        return
    results = []
    for case in a.cases.split(","):
        done = subprocess.run(
            [sys.executable, __file__, "--case", case, "--rounds", str(a.rounds),
             "--repeats", str(a.repeats), "--settings", a.settings],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    if a.sweep_rounds:
        from jaxmlp import compile_options

        chosen = {"default": {}, "chosen": compile_options.CHOICES["sweep"]}
        sweep = sweep_rows(chosen, a.sweep_rounds)
        results.append({
            "case": "sweep_160_models_circles", "program": "sweep", "options": chosen,
            "compile_s": {k: v["first_s"] - v["steady_s"] for k, v in sweep.items()},
            "steady_s": {k: v["steady_s"] for k, v in sweep.items()},
        })  # fmt: skip
        print(json.dumps(results[-1]), flush=True)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "bench_compile.json").write_text(json.dumps(results, indent=1))
        (a.out / "bench_compile.md").write_text(markdown(results))


def markdown(results: list[dict]) -> str:
    """The default-against-chosen table of the docs."""
    lines = [
        "| program (case) | chosen options | compile s, default / chosen"
        " | steady s, default / chosen |",
        "|---|---|---:|---:|",
    ]
    for r in results:
        c, t = r["compile_s"], r["steady_s"]
        options = ", ".join(f"`{k}={v}`" for k, v in r["options"].get("chosen", {}).items())
        lines.append(
            f"| {r['program']} ({r['case']}) | {options} | {c['default']:.3f} / {c['chosen']:.3f}"
            f" | {t['default']:.4g} / {t['chosen']:.4g} |"
        )
    return "\n".join(lines) + "\n"


SWEEP_SCRIPT = """
import json, time, jax, optax, jaxmlp
X, y = jaxmlp.datasets.circles(jax.random.key(0), 200)
kw = dict(widths=list(range(5, 51, 5)), activations=["relu", "tanh", "sigmoid", "leaky_relu"],
          seeds=[0, 1, 2, 3], steps=1000, optimizer=optax.adam(1e-2))
def timed():
    t = time.perf_counter()
    jax.block_until_ready(jaxmlp.sweep(X, y, **kw).loss)
    return time.perf_counter() - t
first = timed()
steady = [timed() for _ in range(3)]
print(json.dumps({"first_s": first, "steady_s": min(steady)}))
"""


def sweep_rows(settings: dict[str, dict], rounds: int) -> dict:
    """The sweep (160 models, 1000 Adam steps) in fresh processes, one setting after another
    (``JAXMLP_COMPILER_OPTIONS``), alternating over rounds; medians."""
    import os

    out: dict[str, list] = {s: [] for s in settings}
    for r in range(rounds):
        for s in settings if r % 2 == 0 else list(reversed(settings)):
            options = json.dumps(settings[s]) if settings[s] else "default"
            env = {**os.environ, "JAXMLP_NO_CACHE": "1", "JAXMLP_COMPILER_OPTIONS": options}
            done = subprocess.run([sys.executable, "-c", SWEEP_SCRIPT], env=env,
                                  capture_output=True, text=True, check=True)  # fmt: skip
            out[s].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        s: {k: statistics.median(row[k] for row in rows) for k in ("first_s", "steady_s")}
        for s, rows in out.items()
    }


if __name__ == "__main__":
    main()
