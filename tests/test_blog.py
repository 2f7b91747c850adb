"""Smoke test of experiments/blog.py on reduced settings: every file, every model, the report."""

from __future__ import annotations

import json
from contextlib import redirect_stdout
from io import StringIO

import pytest

FIGURES = [
    "blobs.png",
    "circles.png",
    "circles_transformed_clf.png",
    "circles3.png",
    "decision_boundary.png",
    "projection.png",
    "hidden_classifiers.png",
    "decision_boundaries_progress.png",
    "identity_collapse.png",
    "loss_curve.png",
]


def capture_stdout():
    return redirect_stdout(StringIO())


pytestmark = pytest.mark.slow  # one reduced run of the whole post: ~10 s on 2 cores


@pytest.fixture(scope="module")
def blog_run(tmp_path_factory, load_experiment):
    blog = load_experiment("blog")
    out = tmp_path_factory.mktemp("blog")
    (out / "stale.png").write_bytes(b"\x89PNG not this run's")  # a figure of an earlier run
    with capture_stdout() as printed:
        blog.main(["--out", str(out), "--quick", "--widths", "5"])
    out.joinpath("stdout.txt").write_text(printed.getvalue())
    return out


def test_writes_every_figure(blog_run):
    for name in FIGURES:
        data = (blog_run / name).read_bytes()
        assert data.startswith(b"\x89PNG"), name


def test_counts_the_figures_it_wrote_not_the_folders(blog_run):
    printed = (blog_run / "stdout.txt").read_text()
    assert f"wrote {len(FIGURES)} figures, metrics.json and report.md" in printed


def test_metrics_name_every_model_and_hold_its_numbers(blog_run):
    metrics = json.loads((blog_run / "metrics.json").read_text())
    models = metrics["models"]
    assert set(models) == {
        "logreg_blobs",
        "logreg_circles",
        "square_features_linear_circles",
        "three_lines_by_hand_circles",
        "mlp_2_3_1_sigmoid_circles",
        "mlp_2_3_1_sigmoid_circles_autodiff",
        "mlp_2_3_1_identity_circles",
        "mlp_2_5_1_sigmoid_circles",
    }
    for name, entry in models.items():
        assert {"data", "model", "final_loss", "train_accuracy"} <= set(entry), name
        assert 0.0 <= entry["train_accuracy"] <= 1.0
    # What the post argues, even after the reduced 200 steps.
    assert models["logreg_blobs"]["train_accuracy"] >= 0.99
    assert models["logreg_circles"]["train_accuracy"] <= 0.75
    assert models["square_features_linear_circles"]["train_accuracy"] == 1.0
    assert models["three_lines_by_hand_circles"]["train_accuracy"] == 1.0
    assert models["mlp_2_3_1_identity_circles"]["train_accuracy"] <= 0.75
    assert metrics["checks"]["identity_collapse_max_abs_logit_diff"] < 1e-4
    assert metrics["checks"]["manual_vs_autodiff_max_abs_loss_diff"] < 1e-4
    assert metrics["config"]["steps"] == 200 and metrics["config"]["widths"] == [5]


def test_report_shows_every_figure_and_the_measured_numbers(blog_run):
    report = (blog_run / "report.md").read_text()
    metrics = json.loads((blog_run / "metrics.json").read_text())
    for name in FIGURES:
        assert f"]({name})" in report, name
    mlp = metrics["models"]["mlp_2_3_1_sigmoid_circles"]
    assert f"{mlp['train_accuracy']:.3f}" in report
    assert f"{mlp['loss_at_step']['200']:.4g}" in report
    assert "nan" not in report.lower()
