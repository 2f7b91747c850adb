"""The playground's speed as a person sees it: frames per second while playing, and restarts.

    python experiments/bench_playground.py --out out/bench_playground            # full run
    python experiments/bench_playground.py --out /tmp/bp --quick                 # a smoke run
    python experiments/bench_playground.py --out /tmp/bp --baseline HEAD~3       # against a commit

1. Play: ``jaxmlp playground`` started in a subprocess and its page played in headless
   Chromium (playwright, software rendering) from step 0 to ``max_steps`` (the post's
   2-3-1 sigmoid network on circles, 10 steps per frame). Every ``window_s`` seconds the
   steps shown are counted (frames/s = frames shown / wall seconds), with the page's own
   timings (moving averages in ms of the request round trip and of each panel's drawing)
   and the CPU seconds of the server, the browser and its renderers per frame (psutil).
2. Restarts: in a subprocess, ``Playground.configure(setting)`` plus one ``step`` timed
   for each kind of change (learning rate, activation, optimizer, width, seed, data set,
   back to a setting seen before), each change made ``pause_s`` seconds after the last
   (a person reads the page in between; the playground may warm programs meanwhile).

With ``--baseline REF`` the package of git commit ``REF`` is checked out into a
temporary folder and both parts run for it and for this tree, alternately (baseline,
current, baseline, current, ... for ``--rounds``): the machine may be shared, so the
ratios between the two, measured in the same minutes, are the figures to trust.
Writes bench_playground.json and bench_playground.md to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; written to bench_playground.json."""

    max_steps: int = 10_000
    steps_per_frame: int = 10
    window_s: float = 10.0
    pause_s: float = 3.0
    warm_s: float = 120.0
    rounds: int = 1
    baseline: str | None = None
    viewport: tuple[int, int] = (1400, 1100)


PANELS = ("api", "draw", "regions", "loss", "network", "hidden", "units")
QUICK = {"max_steps": 3000, "window_s": 5.0, "pause_s": 2.0, "warm_s": 30.0}

# (label, settings relative to the post's) in the order they are applied
CHANGES = [
    ("first setting (everything compiled)", {}),
    ("learning rate", {"learning_rate": 1.0}),
    ("seed", {"learning_rate": 1.0, "seed": 1}),
    ("activation tanh", {"activation": "tanh"}),
    ("activation relu", {"activation": "relu"}),
    ("optimizer adam", {"optimizer": "adam", "learning_rate": 0.05}),
    ("optimizer momentum with L2", {"optimizer": "momentum", "l2": 0.01}),
    ("width 4", {"hidden": [4]}),
    ("data set moons", {"dataset": "moons", "noise": 0.1}),
    ("back to the post's setting", {}),
]


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and all their descendants."""
    import psutil

    total, seen = 0.0, set()
    for pid in pids:
        try:
            procs = [psutil.Process(pid)]
            procs += procs[0].children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for proc in procs:
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
    return total


def _start_server(tree: pathlib.Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxmlp", "playground", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # the package comes from PYTHONPATH, not the cwd
    )
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("jaxmlp playground: http"):
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r} {proc.stderr.read()}")  # type: ignore[union-attr]
    return proc, line.split()[2]


# Long by nature: one browser session, step by step (start, play, windows, stop).
def play(tree: pathlib.Path, cfg: Config, chromium: str) -> dict:
    """Plays the page of the package under ``tree`` from step 0 to max_steps."""
    from playwright.sync_api import sync_playwright

    server, url = _start_server(tree)
    windows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=chromium, args=["--no-sandbox", "--enable-unsafe-swiftshader"]
            )
            width, height = cfg.viewport
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            ready = "document.getElementById('state').dataset.state === 'ready'"
            page.wait_for_function(ready, timeout=300_000)
            for name, value in (
                ("max_steps", cfg.max_steps),
                ("steps_per_frame", cfg.steps_per_frame),
            ):
                page.fill(f"#{name}", str(value))
                page.dispatch_event(f"#{name}", "change")
                page.wait_for_function(
                    f"window.playground.data.settings.{name} === {value} && {ready}",
                    timeout=300_000,
                )
            time.sleep(cfg.pause_s)  # let any background work of the setting finish
            pids = [server.pid, os.getpid()]
            shown = (
                "() => [window.playground.frame.step, window.playground.frame.done, "
                "{...window.playground.timings}, window.playground.framesDrawn]"
            )
            step0, _, _, drawn0 = page.evaluate(shown)
            cpu0, t0 = _cpu_seconds(pids), time.perf_counter()
            page.click("#play")
            done = False
            while not done:
                page.wait_for_timeout(cfg.window_s * 1000)
                step, done, timings, drawn = page.evaluate(shown)
                cpu, t = _cpu_seconds(pids), time.perf_counter()
                frames = (step - step0) / cfg.steps_per_frame
                windows.append(
                    {
                        "steps": [step0, step],
                        "seconds": round(t - t0, 3),
                        "frames_per_s": round(frames / (t - t0), 2),
                        "draws": drawn - drawn0,
                        "cpu_ms_per_frame": round(1000 * (cpu - cpu0) / max(frames, 1), 1),
                        "page_ms": {k: round(v, 1) for k, v in timings.items()},
                    }
                )
                step0, drawn0, cpu0, t0 = step, drawn, cpu, t
                print(f"  {tree.name}: {windows[-1]}", flush=True)
            browser.close()
    finally:
        server.send_signal(2)
        try:
            server.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    full = [w for w in windows if w["steps"][1] - w["steps"][0] >= cfg.window_s]
    return {"windows": windows, "errors": errors, "full_windows": len(full)}


def restarts(cfg: Config) -> list[dict]:
    """Times ``configure`` + one ``step`` (and then ``gradients``, which the page asks for
    next) for each change of CHANGES (this process's jaxmlp), with the server's warming
    where the playground has it; after the first setting, waits up to ``warm_s`` for the
    warming of its neighbours to finish."""
    from jaxmlp.playground import Playground

    out = []
    pg = None
    try:
        for label, raw in CHANGES:
            t = time.perf_counter()
            if pg is None:
                try:
                    pg = Playground(warm=True)
                except TypeError:  # a playground from before warming
                    pg = Playground()
                pg.frame()
            else:
                pg.configure(raw)
            pg.step(1)
            seconds = time.perf_counter() - t
            pg.gradients()
            out.append(
                {
                    "change": label,
                    "seconds": round(seconds, 4),
                    "with_gradients": round(time.perf_counter() - t, 4),
                }
            )
            print(f"  restart {label}: {out[-1]}", file=sys.stderr, flush=True)
            time.sleep(cfg.pause_s)
            warmer = getattr(pg, "_warmer", None)
            if len(out) == 1 and warmer is not None:
                t = time.perf_counter()
                while warmer.pending() and time.perf_counter() - t < cfg.warm_s:
                    time.sleep(0.2)
                out[0]["warming_s"] = round(time.perf_counter() - t + cfg.pause_s, 2)
                out[0]["not_warmed"] = warmer.pending()
    finally:
        if pg is not None:
            pg.close()
    return out


def _restarts_in(tree: pathlib.Path, cfg: Config) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, __file__, "--restarts-only", "--pause-s", str(cfg.pause_s)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),
    )
    return json.loads(done.stdout)


def _checkout(ref: str, folder: pathlib.Path) -> pathlib.Path:
    tree = folder / f"baseline-{ref.replace('/', '_').replace('~', '-')}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "jaxmlp"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def _summary(play_result: dict) -> dict:
    rates = [w["frames_per_s"] for w in play_result["windows"][:-1]] or [
        w["frames_per_s"] for w in play_result["windows"]
    ]
    return {
        "min_fps": min(rates),
        "median_fps": round(statistics.median(rates), 2),
        "max_fps": max(rates),
    }


def _machine() -> dict:
    import jax

    versions = {"jax": jax.__version__, "python": platform.python_version()}
    for package in ("optax", "plotly", "playwright"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _markdown(cfg: Config, results: dict) -> str:
    lines = [
        "# Playground speed",
        "",
        f"Config: `{json.dumps(dataclasses.asdict(cfg))}`",
        f"Machine: `{json.dumps(results['machine'])}`",
        "",
        "## Playing (frames/s per window, wall clock; page timings in ms)",
        "",
        "| tree | round | steps | frames/s | CPU ms/frame | request | draw | regions | loss "
        "| network | hidden | units |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["play"]:
        for w in run["windows"]:
            ms = w["page_ms"]
            lines.append(
                f"| {run['tree']} | {run['round']} | {w['steps'][0]}-{w['steps'][1]} "
                f"| {w['frames_per_s']} | {w['cpu_ms_per_frame']} | "
                + " | ".join(str(ms.get(k)) for k in PANELS)
                + " |"
            )
    lines += ["", "| tree | round | min frames/s | median | max |", "|---|---|---|---|---|"]
    for run in results["play"]:
        s = run["summary"]
        lines.append(
            f"| {run['tree']} | {run['round']} | {s['min_fps']} | {s['median_fps']} "
            f"| {s['max_fps']} |"
        )
    if not results["restarts"]:
        return "\n".join(lines) + "\n"
    lines += ["", "## Restarts (configure + one step, seconds)", ""]
    trees = [r["tree"] for r in results["restarts"]]
    lines += ["| change | " + " | ".join(trees) + " |", "|---" * (len(trees) + 1) + "|"]
    for i, (label, _) in enumerate(CHANGES):
        cells = [
            f"{r['times'][i]['seconds']} ({r['times'][i]['with_gradients']})"
            for r in results["restarts"]
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "In brackets: with the gradients the page asks for next."]
    for r in results["restarts"]:
        if "warming_s" in r["times"][0]:
            first = r["times"][0]
            lines.append(
                f"{r['tree']}: the neighbours of the first setting warmed in "
                f"{first['warming_s']} s ({first['not_warmed']} left)."
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/bench_playground")
    parser.add_argument("--quick", action="store_true", help="a smoke run (3000 steps)")
    parser.add_argument("--baseline", help="git ref whose jaxmlp/ is measured alternately")
    parser.add_argument("--rounds", type=int, default=Config.rounds)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--pause-s", type=float)
    parser.add_argument("--no-play", action="store_true", help="restarts only")
    parser.add_argument("--no-restarts", action="store_true", help="playing only")
    parser.add_argument("--restarts-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    overrides = dict(QUICK) if args.quick else {}
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    if args.pause_s is not None:
        overrides["pause_s"] = args.pause_s
    cfg = Config(rounds=args.rounds, baseline=args.baseline, **overrides)
    if args.restarts_only:  # the child process of _restarts_in: JSON on stdout
        print(json.dumps(restarts(cfg)))
        return 0
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None and not args.no_play:
        raise SystemExit("bench_playground: no Chromium binary (apt-get install -y chromium)")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {"config": dataclasses.asdict(cfg), "machine": _machine()}
    results["play"], results["restarts"] = [], []
    with tempfile.TemporaryDirectory() as folder:
        trees = [("current", ROOT)]
        if cfg.baseline:
            trees.insert(
                0, (f"baseline {cfg.baseline}", _checkout(cfg.baseline, pathlib.Path(folder)))
            )
        for round_ in range(cfg.rounds):
            for name, tree in trees:
                print(f"round {round_}: {name}", flush=True)
                if not args.no_restarts:
                    times = _restarts_in(tree, cfg)
                    results["restarts"].append({"tree": name, "round": round_, "times": times})
                if not args.no_play:
                    run = play(tree, cfg, chromium)  # type: ignore[arg-type]
                    run.update(tree=name, round=round_, summary=_summary(run))
                    results["play"].append(run)
    results["machine"]["load_average_after"] = os.getloadavg()
    (out / "bench_playground.json").write_text(json.dumps(results, indent=1))
    (out / "bench_playground.md").write_text(_markdown(cfg, results))
    print(_markdown(cfg, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
