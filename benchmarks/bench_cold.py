"""The cold path as people meet it: first calls in fresh processes, with empty caches.

Each row runs jaxmlp and its baseline (scikit-learn's MLP, or the post's NumPy loop) in
alternating fresh processes, ``--rounds`` times; every jaxmlp process gets an empty
``JAXMLP_CACHE_DIR`` unless the row says warm (then a process before it filled one).
Times exclude the interpreter's start and imports unless a row says "process"; the first
``train`` and ``predict`` come after the data and the network are made as in the README.

    python benchmarks/bench_cold.py --out docs/bench          # about 10 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
row, side = sys.argv[1], sys.argv[2]
import numpy as np
compile_s = [0.0]
if side == "jaxmlp":
    import jax
    jax.monitoring.register_event_duration_secs_listener(
        lambda e, d, **k: compile_s.__setitem__(0, compile_s[0] + d)
        if e == "/jax/core/compile/backend_compile_duration" else None)
    import jaxmlp
    from jaxmlp.sklearn import MLPClassifier
else:
    from sklearn.neural_network import MLPClassifier
from sklearn.datasets import load_digits
X, y = load_digits(return_X_y=True)
out = {}
if row == "fit":
    t = time.perf_counter()
    MLPClassifier((64,), max_iter=50, random_state=0).fit(X, y)
    out["s"] = time.perf_counter() - t
elif row in ("train", "predict"):
    n = 200  # the post's problem, data and network made as the README does (not timed)
    if side == "jaxmlp":
        import optax
        Xc, yc = jaxmlp.datasets.circles(jax.random.key(0), n)
        params = jaxmlp.init_mlp(jax.random.key(1), (2, 3, 1), scheme="uniform01")
        jax.block_until_ready(params)
        compile_s[0] = 0.0  # the data's and the network's programs are not the row's
        t = time.perf_counter()
        if row == "train":
            opt = optax.sgd(2.0)
            jax.block_until_ready(jaxmlp.train(params, Xc, yc, optimizer=opt, steps=1000).params)
        else:
            jax.block_until_ready(jaxmlp.predict(params, Xc))
        out["s"] = time.perf_counter() - t
    else:
        rng = np.random.default_rng(0)
        r = np.where(np.arange(n) < n // 2, 3.0, 1.0) + rng.normal(0, 0.05, n)
        a = rng.uniform(0, 2 * np.pi, n)
        Xc = np.stack([r * np.cos(a), r * np.sin(a)], 1).astype(np.float32)
        yc = (np.arange(n) >= n // 2).astype(np.float32)
        W1, b1 = rng.uniform(size=(3, 2)).astype(np.float32), rng.uniform(size=3).astype(np.float32)
        W2, b2 = rng.uniform(size=(1, 3)).astype(np.float32), rng.uniform(size=1).astype(np.float32)
        sig = lambda z: 1 / (1 + np.exp(-z))
        t = time.perf_counter()
        for _ in range(1000 if row == "train" else 1):
            H = sig(Xc @ W1.T + b1)
            p = sig(H @ W2.T + b2)[:, 0]
            if row == "predict":
                pred = (p >= 0.5).astype(np.int32)
                break
            d2 = (p - yc)[:, None] / n
            d1 = (d2 @ W2) * H * (1 - H)
            W2 = W2 - 2.0 * d2.T @ H; b2 = b2 - 2.0 * d2.sum(0)
            W1 = W1 - 2.0 * d1.T @ Xc; b1 = b1 - 2.0 * d1.sum(0)
        out["s"] = time.perf_counter() - t
elif row.startswith("grid"):
    from sklearn.model_selection import GridSearchCV
    kw = {"max_iter": 50} if row == "grid50" else {}
    grid = {"learning_rate_init": [1e-3, 3e-3, 1e-2], "alpha": [1e-4, 1e-3, 1e-2]}
    t = time.perf_counter()
    GridSearchCV(MLPClassifier((64,), random_state=0, **kw), grid, cv=3).fit(X, y)
    out["s"] = time.perf_counter() - t
elif row == "cvs":
    from sklearn.model_selection import cross_val_score
    t = time.perf_counter()
    cross_val_score(MLPClassifier((64,), random_state=0), X, y, cv=5, n_jobs=2)
    out["s"] = time.perf_counter() - t
out["compile_s"] = compile_s[0]
print(json.dumps(out))
"""

ROWS = {
    "fit": "first fit on digits (64 relu, adam, max_iter=50)",
    "fit_warm": "first fit, a later process (warm cache)",
    "train": "first train, post's problem (2-3-1 sigmoid, sgd 2.0, 1000 steps)",
    "predict": "first predict (2-3-1, 200 rows)",
    "grid": "GridSearchCV, 27 fits (3 rates x 3 alphas x 3 folds), defaults",
    "grid50": "GridSearchCV, 27 fits, max_iter=50",
    "cvs": "cross_val_score(cv=5, n_jobs=2), defaults",
    "cvs_warm": "cross_val_score(cv=5, n_jobs=2), a later process (warm cache)",
    "blog": "python experiments/blog.py --out ... (process, cold)",
    "blog_warm": "python experiments/blog.py --out ... (process, warm cache)",
}
BASELINE = {"train": "NumPy loop", "predict": "NumPy forward", "blog": None, "blog_warm": None}


def child(row: str, side: str, cache: str) -> dict:
    env = {**os.environ, "JAXMLP_CACHE_DIR": cache, "JAX_PLATFORMS": "cpu"}
    env.pop("JAXMLP_NO_CACHE", None)
    if row.startswith("blog"):
        out = pathlib.Path(cache) / "blog"
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "experiments" / "blog.py"), "--out", str(out)],
                       env=env, cwd=ROOT, capture_output=True, check=True)  # fmt: skip
        return {"s": time.perf_counter() - t}
    done = subprocess.run([sys.executable, "-c", CHILD, row.removesuffix("_warm"), side],
                          env=env, capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(rows: list[str], rounds: int) -> dict:
    got: dict = {row: {"jaxmlp": [], "baseline": []} for row in rows}
    for r in range(rounds):
        for row in rows:
            sides = ["jaxmlp"] if BASELINE.get(row, "x") is None else ["jaxmlp", "baseline"]
            for side in sides if r % 2 == 0 else sides[::-1]:
                with tempfile.TemporaryDirectory() as cache:
                    if row.endswith("_warm") and side == "jaxmlp":
                        child(row.removesuffix("_warm"), side, cache)  # fills the cache
                    got[row][side].append(child(row, side, cache))
            print(row, {s: [round(x["s"], 3) for x in v] for s, v in got[row].items()}, flush=True)
    return got


def summary(got: dict) -> dict:
    med = lambda xs, k="s": statistics.median(x[k] for x in xs) if xs else None  # noqa: E731
    return {
        row: {
            "jaxmlp_s": med(v["jaxmlp"]),
            "jaxmlp_compile_s": med(v["jaxmlp"], "compile_s")
            if "compile_s" in (v["jaxmlp"] or [{}])[0]
            else None,
            "baseline_s": med(v["baseline"]),
            "ratio": med(v["jaxmlp"]) / med(v["baseline"]) if v["baseline"] else None,
            "runs": v,
        }
        for row, v in got.items()
    }


def markdown(s: dict, meta: dict) -> str:
    lines = [
        "# The cold path",
        "",
        f"`{meta['command']}` on {meta['date']}: {meta['machine']}, jax {meta['jax']}, "
        f"scikit-learn {meta['sklearn']}; {meta['rounds']} rounds of alternating fresh "
        f"processes, medians; load average {meta['load_before']} before, "
        f"{meta['load_after']} after (the machine was shared).",
        "",
        "| row | jaxmlp (s) | of which XLA compile (s) | baseline | baseline (s)"
        " | jaxmlp / baseline |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for row, v in s.items():
        base = BASELINE.get(row, "scikit-learn MLPClassifier") or "-"
        fmt = lambda x, f=".3f": "-" if x is None else format(x, f)  # noqa: E731
        lines.append(
            f"| {ROWS[row]} | {fmt(v['jaxmlp_s'])} | {fmt(v['jaxmlp_compile_s'])} | {base}"
            f" | {fmt(v['baseline_s'])} | {fmt(v['ratio'], '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=pathlib.Path)
    a = parser.parse_args(argv)
    import jax
    import sklearn

    load_before = os.getloadavg()[0]
    got = run(a.rows.split(","), a.rounds)
    meta = {
        "command": "python benchmarks/bench_cold.py " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}",
        "jax": jax.__version__,
        "sklearn": sklearn.__version__,
        "rounds": a.rounds,
        "load_before": round(load_before, 1),
        "load_after": round(os.getloadavg()[0], 1),
    }
    s = summary(got)
    print(markdown(s, meta))
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / "bench_cold.json").write_text(json.dumps({"meta": meta, "rows": s}, indent=1))
        (a.out / "bench_cold.md").write_text(markdown(s, meta))


if __name__ == "__main__":
    main()
