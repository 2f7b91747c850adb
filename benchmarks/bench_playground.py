"""The playground's speed as a person sees it: frames per second while playing, and restarts.

    python benchmarks/bench_playground.py --out out/bench_playground            # full run
    python benchmarks/bench_playground.py --out /tmp/bp --quick                 # a smoke run
    python benchmarks/bench_playground.py --out /tmp/bp --baseline HEAD~3       # against a commit

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
current, baseline, current, ... for ``--repeats`` rounds): the machine may be shared, so the
ratios between the two, measured in the same minutes, are the figures to trust.
Writes bench_playground.json and bench_playground.md to ``--out``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _harness as harness
from _harness import ROOT, Table


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting of a run; written to bench_playground.json."""

    max_steps: int = 10_000
    steps_per_frame: int = 10
    window_s: float = 10.0
    pause_s: float = 3.0
    warm_s: float = 120.0
    repeats: int = 1  # rounds (alternating the baseline and this tree)
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

    procs, total = {}, 0.0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs |= {p.pid: p for p in [psutil.Process(pid), *psutil.Process(pid).children(True)]}
    for proc in procs.values():
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(proc.cpu_times()[:2])  # user, system
    return total


def _start_server(tree: pathlib.Path) -> tuple[subprocess.Popen, str]:
    env = harness.tree_env(tree, JAX_PLATFORMS="cpu")  # the package from PYTHONPATH, not the cwd
    proc = subprocess.Popen([sys.executable, "-m", "jaxmlp", "playground", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tempfile.gettempdir())  # fmt: skip
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
            args = ["--no-sandbox", "--enable-unsafe-swiftshader"]
            browser = p.chromium.launch(executable_path=chromium, args=args)
            page = browser.new_page(viewport={"width": cfg.viewport[0], "height": cfg.viewport[1]})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            ready = "document.getElementById('state').dataset.state === 'ready'"
            page.wait_for_function(ready, timeout=300_000)
            for name, value in (("max_steps", cfg.max_steps),
                                ("steps_per_frame", cfg.steps_per_frame)):  # fmt: skip
                page.fill(f"#{name}", str(value))
                page.dispatch_event(f"#{name}", "change")
                same = f"window.playground.data.settings.{name} === {value}"
                page.wait_for_function(f"{same} && {ready}", timeout=300_000)
            time.sleep(cfg.pause_s)  # let any background work of the setting finish
            pids = [server.pid, os.getpid()]
            shown = ("() => [window.playground.frame.step, window.playground.frame.done, "
                     "{...window.playground.timings}, window.playground.framesDrawn]")  # fmt: skip
            step0, _, _, drawn0 = page.evaluate(shown)
            cpu0, t0 = _cpu_seconds(pids), time.perf_counter()
            page.click("#play")
            done = False
            while not done:
                page.wait_for_timeout(cfg.window_s * 1000)
                step, done, timings, drawn = page.evaluate(shown)
                cpu, t = _cpu_seconds(pids), time.perf_counter()
                frames = (step - step0) / cfg.steps_per_frame
                windows.append({
                    "steps": [step0, step], "seconds": round(t - t0, 3),
                    "frames_per_s": round(frames / (t - t0), 2), "draws": drawn - drawn0,
                    "cpu_ms_per_frame": round(1000 * (cpu - cpu0) / max(frames, 1), 1),
                    "page_ms": {k: round(v, 1) for k, v in timings.items()},
                })  # fmt: skip
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

    out, pg = [], None
    try:
        for label, raw in CHANGES:
            t = time.perf_counter()
            if pg is None:
                pg = Playground(warm=True)
                pg.frame()
            else:
                pg.configure(raw)
            pg.step(1)
            seconds = round(time.perf_counter() - t, 4)
            pg.gradients()  # the page asks for them next
            out.append({"change": label, "seconds": seconds,
                        "with_gradients": round(time.perf_counter() - t, 4)})  # fmt: skip
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


def _summary(play_result: dict) -> dict:
    windows = play_result["windows"]
    rates = [w["frames_per_s"] for w in windows[:-1] or windows]  # the last: a part window
    return {"min_fps": min(rates), "median_fps": round(statistics.median(rates), 2),
            "max_fps": max(rates)}  # fmt: skip


def tables(r: dict) -> list[Table]:
    """bench_playground.md: frames/s per window, their summary, and the restarts."""
    windows = [
        [run["tree"], run["round"], f"{w['steps'][0]}-{w['steps'][1]}", w["frames_per_s"],
         w["cpu_ms_per_frame"], *(w["page_ms"].get(k) for k in PANELS)]
        for run in r["play"]
        for w in run["windows"]
    ]  # fmt: skip
    summary = [[run["tree"], run["round"], *run["summary"].values()] for run in r["play"]]
    out = [
        Table(
            "Playing (frames/s per window, wall clock; page timings in ms)",
            ["tree", "round", "steps", "frames/s", "CPU ms/frame", "request", *PANELS[1:]],
            windows,
        ),
        Table("Frames/s over a run", ["tree", "round", "min", "median", "max"], summary),
    ]
    if r["restarts"]:
        rows = [
            [label, *(f"{x['times'][i]['seconds']} ({x['times'][i]['with_gradients']})"
                      for x in r["restarts"])]
            for i, (label, _) in enumerate(CHANGES)
        ]  # fmt: skip
        notes = ["In brackets: with the gradients the page asks for next."]
        notes += [
            f"{x['tree']}: the neighbours of the first setting warmed in "
            f"{x['times'][0]['warming_s']} s ({x['times'][0]['not_warmed']} left)."
            for x in r["restarts"]
            if "warming_s" in x["times"][0]
        ]
        columns = ["change", *(x["tree"] for x in r["restarts"])]
        title = "Restarts (configure + one step, seconds)"
        out.append(Table(title, columns, rows, " ".join(notes)))
    return out


def run(cfg: Config, args) -> dict:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None and not args.no_play:
        raise SystemExit("bench_playground: no Chromium binary (apt-get install -y chromium)")
    results: dict = {"play": [], "restarts": []}
    with tempfile.TemporaryDirectory() as folder:
        trees = {"current": ROOT}
        if cfg.baseline:
            trees = {f"baseline {cfg.baseline}": harness.tree_of(cfg.baseline, folder), **trees}
        for round_ in range(cfg.repeats):
            for name, tree in trees.items():
                print(f"round {round_}: {name}", flush=True)
                if not args.no_restarts:
                    env = harness.tree_env(tree, JAX_PLATFORMS="cpu")
                    command = {name: harness.child_command(__file__, cfg)}
                    [times] = harness.interleaved_processes(command, 1, env=env)[name]
                    results["restarts"].append({"tree": name, "round": round_, **times})
                if not args.no_play:
                    played = play(tree, cfg, chromium)  # type: ignore[arg-type]
                    played.update(tree=name, round=round_, summary=_summary(played))
                    results["play"].append(played)
    results["load_average_after"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> dict:
    def flags(parser) -> None:
        parser.add_argument("--no-play", action="store_true", help="restarts only")
        parser.add_argument("--no-restarts", action="store_true", help="playing only")

    child = lambda cfg: {"times": restarts(cfg)}  # noqa: E731
    return harness.main(__file__, __doc__, Config, QUICK, run, tables, argv, flags=flags,
                        child=child, out="out/bench_playground")  # fmt: skip


if __name__ == "__main__":
    main()
