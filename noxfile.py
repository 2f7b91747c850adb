"""Sessions: tests, lint, typecheck (default); figures, sweep, bench, gpu, docs (on demand)."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "typecheck"]
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Runs the test suite (pass -- -k EXPR etc. through)."""
    session.install("-e", ".[test,sklearn]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON, name="tests-x64", default=False)
def tests_x64(session: nox.Session) -> None:
    """Runs the test suite with 64-bit floats enabled."""
    session.install("-e", ".[test,sklearn]")
    session.run("pytest", *session.posargs, env={"JAX_ENABLE_X64": "1"})


@nox.session(python=PYTHON, name="tests-xla-defaults", default=False)
def tests_xla_defaults(session: nox.Session) -> None:
    """Runs the test suite with XLA's default compile settings (slower to compile; the suite
    otherwise compiles at LLVM -O0, see tests/conftest.py)."""
    session.install("-e", ".[test,sklearn]")
    session.run("pytest", *session.posargs, env={"JAXMLP_TEST_XLA": "default"})


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy over the library."""
    session.install("-e", ".", "mypy")
    session.run("mypy")


@nox.session(python=PYTHON, default=False)
def figures(session: nox.Session) -> None:
    """Reproduces every figure of the post and the report (out/blog)."""
    session.install("-e", ".")
    session.run("python", "experiments/blog.py", *session.posargs)
    # The animations, into the same out dir (default out/blog); appends to its report.md.
    args = session.posargs
    out = args[args.index("--out") : args.index("--out") + 2] if "--out" in args else []
    session.run("python", "experiments/animate.py", *out)


# benchmark script -> the docs/bench page its stored results render (bench_gpu: none yet)
BENCH_PAGES = {
    "bench": "bench",
    "bench_cold": "bench_cold",
    "bench_sweep": "sweep",
    "bench_sklearn": "bench_sklearn",
    "bench_search": "bench_search",
    "bench_playground": "bench_playground",
}


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks to out/bench (-- --quick: a smoke run), or with -- --render-only the
    docs/bench pages re-rendered from their stored JSON (nothing measured)."""
    if "--render-only" in session.posargs:
        session.install("-e", ".")
        for script in BENCH_PAGES:
            session.run("python", f"benchmarks/{script}.py", "--out", "docs/bench", "--render-only")
        return
    session.install("-e", ".[bench]")
    for script in ("bench", "bench_sweep"):
        session.run("python", f"benchmarks/{script}.py", "--out", "out/bench", *session.posargs)


@nox.session(python=PYTHON, default=False)
def gpu(session: nox.Session) -> None:
    """On a GPU machine: the kernel tests (compiled by Triton there; no test carries the gpu
    marker yet, so the whole file), then the GPU benchmark (out/bench_gpu)."""
    session.install("-e", ".[test,cuda]")
    session.run("pytest", "-n", "0", "tests/test_kernels.py")
    session.run("python", "benchmarks/bench_gpu.py", "--out", "out/bench_gpu", *session.posargs)


@nox.session(python=PYTHON, default=False)
def sweep(session: nox.Session) -> None:
    """Width x activation x seed sweep on circles and spirals (out/sweep; -- --steps N etc.),
    then learning rate x width x activation on the spirals (out/sweep-lr)."""
    session.install("-e", ".")
    session.run("python", "experiments/sweep_width_activation.py", *session.posargs)
    session.run("python", "experiments/sweep_learning_rate.py", "--out", "out/sweep-lr")


@nox.session(python=PYTHON, default=False)
def docs(session: nox.Session) -> None:
    """Builds the docs site into site/ with --strict (the tutorial executed), then checks that
    every internal link and image of the built site resolves and, in headless Chromium where
    there is one, that the tutorial's formulas render with the network cut off."""
    session.install("-e", ".[docs,test]")
    session.run("mkdocs", "build", "--strict", *session.posargs)
    session.run(
        "pytest",
        "-n",
        "0",
        "tests/test_docs.py",
        "tests/test_docs_browser.py",
        "-k",
        "site_builds or network_cut_off",
        env={"JAXMLP_DOCS_SITE": "site"},
    )
