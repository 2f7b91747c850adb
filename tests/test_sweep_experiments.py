"""experiments/sweep_learning_rate.py on a few steps: its files and their contents."""

import csv
import json

import pytest


@pytest.mark.slow  # a 384-model sweep, > 10 s
def test_learning_rate_experiment_writes_its_results(tmp_path, load_experiment):
    module = load_experiment("sweep_learning_rate")
    module.main(["--out", str(tmp_path), "--steps", "3", "--seeds", "1"])
    cfg = module.Config()
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(cfg.widths) * len(cfg.activations) * len(cfg.learning_rates)
    assert {float(r["learning_rate"]) for r in rows} == set(cfg.learning_rates)
    summary = json.loads((tmp_path / "results.json").read_text())["mean_test_accuracy"]
    assert set(summary) == set(cfg.activations)
    assert all(0 <= v <= 1 for act in summary.values() for w in act.values() for v in w.values())
    assert (tmp_path / "spirals_lr_width.png").stat().st_size > 10_000
    report = (tmp_path / "report.md").read_text()
    assert "| width | sigmoid | tanh | relu | leaky_relu |" in report
