"""Watch the post's network learn: training animation, per-unit maps and the network graph.

    python experiments/animate.py --out out/blog           # ~30 s on a laptop CPU
    python experiments/animate.py --out /tmp/a --quick      # reduced settings, for smoke tests

Writes training.gif (decision regions, the 3-D hidden space with the output
plane, the loss curve, frame by frame), hidden_units.png and hidden_units.gif
(each hidden unit's activation over the plane with its line, for the post's
3-unit network and a wider one), network.png (the trained 2-3-1 network as a
graph) and animate.json (settings and what was drawn). If the out dir holds the
blog reproduction's report.md, a "Watch it learn" section embedding these
figures is appended to it (replaced on reruns).

Every frame comes from parameter snapshots recorded inside ONE compiled
training run per network (``jaxmlp.train(..., snapshot_every=k)``).
"""

from __future__ import annotations

import dataclasses
import pathlib
import time

import jax
import numpy as np
import optax
from _common import study_config, write_record

import jaxmlp
from jaxmlp import datasets
from jaxmlp.plots import animation, network, unit_maps

REPORT_MARKER = "<!-- animate.py: watch it learn -->"


@dataclasses.dataclass(frozen=True)
class Config:
    """Every setting; the data and training are the blog reproduction's (experiments/blog.py)."""

    data_seed: int = 0
    init_seed: int = 1
    n: int = 200
    radii: tuple[float, float] = (3.0, 1.0)
    noise: float = 0.05
    init_scheme: str = "uniform01"
    learning_rate: float = 2.0
    steps: int = 1000
    snapshot_every: int = 5
    wide: int = 8  # hidden units of the wider network in the unit maps
    frames: int = 48  # frames of training.gif
    unit_frames: int = 32  # frames of hidden_units.gif
    frame_power: float = 1.7  # > 1: more frames early, where training changes fastest
    resolution: int = 90
    unit_resolution: int = 50
    fps: float = 8.0
    gif_dpi: float = 72.0
    png_dpi: float = 100.0


QUICK = {  # wide=3: the post's network's shape, one compile less
    "steps": 40, "snapshot_every": 10, "wide": 3, "frames": 4, "unit_frames": 3,
    "resolution": 12, "unit_resolution": 12, "gif_dpi": 30.0, "png_dpi": 40.0,
}  # fmt: skip


# One compiled initialiser per shape, instead of a few eager random ops per shape.
init_mlp = jax.jit(jaxmlp.init_mlp, static_argnames=("sizes", "scheme"))


def train_with_snapshots(cfg: Config, X, y, width: int) -> jaxmlp.TrainResult:
    params = init_mlp(jax.random.key(cfg.init_seed), sizes=(2, width, 1), scheme=cfg.init_scheme)
    kw = dict(optimizer=optax.sgd(cfg.learning_rate), steps=cfg.steps, activation="sigmoid")
    return jaxmlp.train(params, X, y, snapshot_every=cfg.snapshot_every, **kw)


def save(animation_: animation.Animation, cfg: Config, path: pathlib.Path) -> None:
    """Writes a GIF that pauses ~1 s on its first frame and ~2 s on its last."""
    hold = int(round(2 * cfg.fps))
    kw = dict(fps=cfg.fps, dpi=cfg.gif_dpi, hold_first=hold // 2, hold_last=hold)
    animation.save_gif(animation_, path, **kw)


def training_gif(cfg: Config, out: pathlib.Path, X, y, post, frames) -> animation.Animation:
    """training.gif: the post's network learning, three panels."""
    anim = animation.training_animation(
        X, y, post.snapshots, post.snapshot_steps, post.loss, frames=frames,
        resolution=cfg.resolution, title="The post's 2-3-1 sigmoid network learning the circles",
    )  # fmt: skip
    save(anim, cfg, out / "training.gif")
    return anim


def unit_figures(cfg: Config, out: pathlib.Path, X, y, post, wide, frames) -> animation.Animation:
    """hidden_units.png (after training) and hidden_units.gif (during), both networks."""
    labels = ("3 hidden units (the post)", f"{cfg.wide} hidden units")
    kw = {"labels": labels, "resolution": cfg.unit_resolution}
    title = (
        f"What each hidden unit computes after {cfg.steps} steps. Grey: the unit is on; "
        "line: $w_i \\cdot x + b_i = 0$; (number): its weight to the output, + votes class 1"
    )
    fig = unit_maps.hidden_unit_maps(X, y, [post.params, wide.params], title=title, **kw)
    fig.savefig(out / "hidden_units.png", dpi=cfg.png_dpi)
    title = "Each hidden unit's activation (grey: on) and line; (weight to the output)"
    snapshots = [post.snapshots, wide.snapshots]
    units = unit_maps.hidden_units_animation(X, y, snapshots, post.snapshot_steps, frames=frames,
                                             title=title, **kw)  # fmt: skip
    save(units, cfg, out / "hidden_units.gif")
    return units


def summary(r: jaxmlp.TrainResult, X, y) -> dict:
    return {
        "final_loss": float(jaxmlp.loss(r.params, X, y)),
        "train_accuracy": float((jaxmlp.predict(r.params, X) == y).mean()),
        "snapshots": int(animation.snapshot_count(r.snapshots)),
    }


def run(cfg: Config, out: pathlib.Path) -> dict:
    """Trains the two networks once each, writes every figure; returns what was drawn."""
    out.mkdir(parents=True, exist_ok=True)
    X, y = datasets.circles(jax.random.key(cfg.data_seed), cfg.n, radii=cfg.radii, noise=cfg.noise)
    post = train_with_snapshots(cfg, X, y, 3)
    wide = train_with_snapshots(cfg, X, y, cfg.wide)
    m = animation.snapshot_count(post.snapshots)
    frames = animation.frame_indices(m, cfg.frames, power=cfg.frame_power)
    unit_frames = animation.frame_indices(m, cfg.unit_frames, power=cfg.frame_power)
    anim = training_gif(cfg, out, X, y, post, frames)
    units = unit_figures(cfg, out, X, y, post, wide, unit_frames)
    title = f"The trained 2-3-1 network (after {cfg.steps} steps)"
    fig = network.network_graph(post.params, title=title)
    fig.savefig(out / "network.png", dpi=cfg.png_dpi)
    gifs = ("training.gif", "hidden_units.gif")
    return {"mlp_2_3_1": summary(post, X, y), f"mlp_2_{cfg.wide}_1": summary(wide, X, y),
            "training_gif_steps": anim.steps.tolist(),
            "hidden_units_gif_steps": units.steps.tolist(),
            "gif_bytes": {name: (out / name).stat().st_size for name in gifs}}  # fmt: skip


def report_section(cfg: Config, results: dict) -> str:
    """The "Watch it learn" section for the blog reproduction's report.md."""
    post = results["mlp_2_3_1"]
    return f"""{REPORT_MARKER}
## Watch it learn

![training](training.gif)

The post's 2-3-1 network on the circles ({cfg.steps} steps, learning rate {cfg.learning_rate:g},
U(0, 1) initialisation), trained once with `train(..., snapshot_every={cfg.snapshot_every})`: each
frame is one of the parameter snapshots of that single compiled run (frames denser early, where
training moves fastest). Left, the input plane: the three hidden units' lines move until they
enclose the inner circle, and the decision boundary follows. Middle, the hidden space
h = sigma(W x + b): the points are carried apart until the output unit's plane can separate
them. Right, the loss. Final loss
{post["final_loss"]:.4g}, accuracy {post["train_accuracy"]:.3f}
(`python experiments/animate.py --out {results["out"]}`).

![hidden units](hidden_units.png)

Each hidden unit's activation over the input plane (grey where the unit is on), with its line
w_i . x + b_i = 0, for the post's 3 units and for {cfg.wide} units; the last map of each row is
the network's decision. The sign of the outgoing weight w_m,i says which class a unit votes for
when it is on. The same maps over training: [hidden_units.gif](hidden_units.gif); the trained
network as a graph: [network.png](network.png).
"""


def update_report(path: pathlib.Path, section: str) -> bool:
    """Appends ``section`` to an existing report (replacing an earlier one); False if none."""
    if not path.exists():
        return False
    text = path.read_text()
    if REPORT_MARKER in text:
        text = text[: text.index(REPORT_MARKER)].rstrip("\n") + "\n"
    path.write_text(text.rstrip("\n") + "\n\n" + section)
    return True


def main(argv: list[str] | None = None) -> dict:
    args, cfg = study_config(__doc__, argv, out="out/blog", config=Config, quick=QUICK)
    start = time.perf_counter()
    results = run(cfg, args.out)
    results["seconds"] = time.perf_counter() - start
    results["out"] = str(args.out)
    results = write_record(args.out / "animate.json", cfg, results)
    appended = update_report(args.out / "report.md", report_section(cfg, results))
    sizes = ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in results["gif_bytes"].items())
    print(f"wrote training.gif, hidden_units.png, hidden_units.gif, network.png to {args.out} "
          f"in {results['seconds']:.1f} s ({sizes})"
          + ("; appended a section to report.md" if appended else ""))  # fmt: skip
    return results


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
