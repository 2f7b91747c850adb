"""jaxmlp: multilayer perceptrons as pure JAX functions, with the backpropagation
gradients of "Introduction to Multilayer Perceptron" derived by hand and checked
against autodiff."""

from jaxmlp import activations, baselines, datasets
from jaxmlp._sweep import SweepInterrupted, SweepResult, sweep
from jaxmlp.activations import Activation
from jaxmlp.backprop import manual_grads
from jaxmlp.losses import loss
from jaxmlp.mlp import (
    Dense,
    Params,
    forward,
    forward_with_intermediates,
    init_mlp,
    predict,
    predict_proba,
)
from jaxmlp.training import TrainResult, make_step, train

__version__ = "0.2.0"  # the package's one version (pyproject.toml reads it); CHANGELOG.md

__all__ = [
    "Activation",
    "Dense",
    "Params",
    "SweepInterrupted",
    "SweepResult",
    "TrainResult",
    "activations",
    "baselines",
    "datasets",
    "forward",
    "forward_with_intermediates",
    "init_mlp",
    "loss",
    "make_step",
    "manual_grads",
    "predict",
    "predict_proba",
    "sweep",
    "train",
]
