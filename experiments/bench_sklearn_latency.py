"""First-fit latency of jaxmlp.sklearn: a fresh process, then refits with new shapes and options.

Each library runs the same sequence in a fresh Python process (JAX's persistent
compilation cache off): a first ``MLPClassifier.fit`` on digits, then refits as
a user meets them (fewer rows, another ``learning_rate_init``, other
``hidden_layer_sizes``, ``activation``, ``solver``, ``batch_size``,
``early_stopping``, ``warm_start``, ``partial_fit``, ``lbfgs``, ``predict`` on
a new row count), then a steady refit (median of 3). Every step is timed; for
jaxmlp also its XLA compilations. ``--baseline DIR`` runs a second jaxmlp tree
(e.g. an older commit: ``git archive <commit> jaxmlp | tar -x -C DIR``) in the
same way; the processes alternate (baseline, jaxmlp, scikit-learn, repeated
``--rounds`` times) so that the machine's load falls on each alike, and each
step's figure is the median over rounds. Writes ``bench_sklearn_latency.json``
and ``.md`` to ``--out``::

    python experiments/bench_sklearn_latency.py --baseline /tmp/old --out out/bench
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time
import warnings


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 64
    max_iter: int = 30
    rounds: int = 2
    seed: int = 0


def steps() -> list[tuple[str, dict, int | None, str]]:
    """(name, options, rows, call) of the sequence after the first fit (rows None: all)."""
    return [
        ("first fit", {}, None, "fit"),
        ("same shape and options (compiled)", {}, None, "fit"),
        ("fewer rows (1500)", {}, 1500, "fit"),
        ("learning_rate_init=0.01", {"learning_rate_init": 0.01}, None, "fit"),
        ("hidden_layer_sizes=(32,)", {"hidden_layer_sizes": (32,)}, None, "fit"),
        ("activation='tanh'", {"activation": "tanh"}, None, "fit"),
        ("solver='sgd'", {"solver": "sgd"}, None, "fit"),
        ("solver='sgd', 1500 rows", {"solver": "sgd"}, 1500, "fit"),
        ("batch_size=100", {"batch_size": 100}, None, "fit"),
        ("early_stopping=True", {"early_stopping": True}, None, "fit"),
        ("early_stopping=True, 1500 rows", {"early_stopping": True}, 1500, "fit"),
        ("warm_start refit", {"warm_start": True}, None, "warm"),
        ("partial_fit x3 (1797, 1500, 1000 rows)", {}, None, "partial"),
        ("solver='lbfgs'", {"solver": "lbfgs"}, None, "fit"),
        ("solver='lbfgs', 1500 rows", {"solver": "lbfgs"}, 1500, "fit"),
        ("predict 333 rows", {}, 333, "predict"),
    ]


def child(library: str, cfg: Config) -> dict:
    """Runs in a fresh process: the sequence of :func:`steps`, each timed."""
    start = time.perf_counter()
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    compiles = [0]
    if library == "sklearn":
        from sklearn.neural_network import MLPClassifier
    else:
        import jax

        from jaxmlp.sklearn import MLPClassifier

        def listener(name, duration, **kwargs):
            compiles[0] += name == "/jax/core/compile/backend_compile_duration"

        jax.monitoring.register_event_duration_secs_listener(listener)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    imported = time.perf_counter() - start
    base = dict(hidden_layer_sizes=(cfg.hidden,), max_iter=cfg.max_iter, random_state=cfg.seed)
    rows, fitted = [], None
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, options, n, call in steps():
        Xn, yn = X[:n], y[:n]
        model = MLPClassifier(**{**base, **options})
        before, start = compiles[0], time.perf_counter()
        if call == "fit":
            fitted = model.fit(Xn, yn)
        elif call == "warm":
            model.fit(X, y).fit(X, y)
        elif call == "partial":
            for m in (1797, 1500, 1000):
                model.partial_fit(X[:m], y[:m], classes=list(range(10)))
        else:
            fitted.predict(Xn)
        rows.append(
            {"step": name, "s": time.perf_counter() - start, "compiles": compiles[0] - before}
        )
    steady = []
    for _ in range(3):
        start = time.perf_counter()
        MLPClassifier(**base).fit(X, y)
        steady.append(time.perf_counter() - start)
    return {"import_s": imported, "steps": rows, "steady_s": statistics.median(steady)}


def run_child(library: str, tree: str | None, cfg: Config) -> dict:
    env = {**os.environ, "JAXMLP_NO_CACHE": "1"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if tree:
        env["PYTHONPATH"] = os.pathsep.join([tree, env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, __file__, "--child", library, "--max-iter", str(cfg.max_iter)],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summarize(runs: dict[str, list[dict]]) -> dict:
    """Median over rounds of every step's seconds (and compiles) per variant."""
    out = {}
    for variant, results in runs.items():
        names = [r["step"] for r in results[0]["steps"]]
        out[variant] = {
            "import_s": statistics.median(r["import_s"] for r in results),
            "steady_s": statistics.median(r["steady_s"] for r in results),
            "steps": {
                name: {
                    "s": statistics.median(r["steps"][i]["s"] for r in results),
                    "compiles": results[0]["steps"][i]["compiles"],
                }
                for i, name in enumerate(names)
            },
        }
    return out


def markdown(summary: dict, load: list[float]) -> str:
    variants = list(summary)
    head = " | ".join(f"{v} s (compiles)" for v in variants)
    lines = [
        "# jaxmlp.sklearn first-fit latency (digits, MLPClassifier, fresh process)",
        "",
        f"Load average at start: {load}. Median over rounds; processes alternate.",
        "",
        f"| step | {head} | jaxmlp / baseline |",
        "|---|" + "---|" * (len(variants) + 1),
    ]

    def ratio(seconds: dict) -> str:  # variant -> seconds
        return f"{seconds['jaxmlp'] / seconds['baseline']:.2f}" if "baseline" in seconds else ""

    totals = dict.fromkeys(variants, 0.0)
    for name in summary[variants[0]]["steps"]:
        rows = {v: summary[v]["steps"][name] for v in variants}
        cells = []
        for v, row in rows.items():
            totals[v] += row["s"]
            compiles = f" ({row['compiles']})" if v != "sklearn" else ""
            cells.append(f"{row['s']:.2f}{compiles}")
        seconds = {v: row["s"] for v, row in rows.items()}
        lines.append(f"| {name} | {' | '.join(cells)} | {ratio(seconds)} |")
    lines.append(f"| **sequence total** | {' | '.join(f'{totals[v]:.2f}' for v in variants)} "
                 f"| {ratio(totals)} |")  # fmt: skip
    steady = {v: summary[v]["steady_s"] for v in variants}
    steady_cells = " | ".join(f"{s:.3f}" for s in steady.values())
    lines.append(f"| steady refit, compiled (median of 3) | {steady_cells} | {ratio(steady)} |")
    return "\n".join(lines + [""])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/bench")
    parser.add_argument("--baseline", help="a jaxmlp tree (directory holding jaxmlp/) to compare")
    parser.add_argument("--rounds", type=int, default=Config.rounds)
    parser.add_argument("--max-iter", type=int, default=Config.max_iter)
    parser.add_argument("--child", choices=("jaxmlp", "sklearn"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cfg = Config(rounds=args.rounds, max_iter=args.max_iter)
    if args.child:
        print(json.dumps(child(args.child, cfg)))
        return
    import _common  # here, not at the top: a child's timed imports must start without jax

    machine = _common.machine()
    load = machine["load_average_at_start"]
    variants = {"jaxmlp": (str(pathlib.Path(__file__).resolve().parents[1]), "jaxmlp")}
    if args.baseline:
        variants = {"baseline": (args.baseline, "jaxmlp"), **variants}
    variants["sklearn"] = (None, "sklearn")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(cfg.rounds):
        for variant, (tree, library) in variants.items():
            runs[variant].append(run_child(library, tree, cfg))
    summary = summarize(runs)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"config": dataclasses.asdict(cfg), "machine": machine, "runs": runs,
              "summary": summary}  # fmt: skip
    (out / "bench_sklearn_latency.json").write_text(json.dumps(result, indent=2))
    (out / "bench_sklearn_latency.md").write_text(markdown(summary, load))
    print(markdown(summary, load))


if __name__ == "__main__":
    main()
