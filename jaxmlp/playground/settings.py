"""The playground's settings: one frozen record, checked where it enters from the page.

Every field is what a learner can change on the page; :func:`parse_settings` turns the
page's JSON object into :class:`Settings`, raising a ``ValueError``/``TypeError`` that
names the field. :func:`command_line` and :func:`python_snippet` give the same run as a
``jaxmlp train`` command and as Python.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from jaxmlp import activations as _activations
from jaxmlp import datasets, optimizers, validation
from jaxmlp.playground.features import PLANE, check_features

GENERATED = ("blobs", "circles", "moons", "xor", "spirals")  # classification: jaxmlp.datasets
REGRESSION_SETS = ("plane", "gaussians")  # regression: jaxmlp.playground.data
MODES = ("classification", "regression")
MODE_DATASETS = {"classification": (*GENERATED, "csv"), "regression": (*REGRESSION_SETS, "csv")}
DATASETS = (*GENERATED, *REGRESSION_SETS, "csv")
MAX_POINTS = 5000
MAX_NOISE = 10.0  # the noise of a generated data set, at most (the page's noise field)
MAX_LAYERS = 6
MAX_WIDTH = 128
MAX_STEPS = 100_000
MAX_CSV_CHARS = 2_000_000


class PostStep(NamedTuple):
    """One step of the post's argument: a title, what to watch for, and the settings."""

    title: str
    caption: str
    settings: dict


_STEP = {"dataset": "circles", "activation": "sigmoid", "optimizer": "sgd",
         "learning_rate": 2.0, "l1": 0.0, "l2": 0.0, "batch_size": None,
         "steps_per_frame": 10, "max_steps": 3000}  # fmt: skip
POST_STEPS = (
    PostStep(
        "1. logistic regression fails",
        "No hidden layer: the network is logistic regression, one line w . x + b = 0 in the "
        "plane. No line separates the inner circle from the outer one: the accuracy stays "
        "near what guessing one class gives.",
        {**_STEP, "features": ["x1", "x2"], "hidden": []},
    ),
    PostStep(
        "2. squared features succeed",
        "The post's hand-made features [x1^2, x2^2]: in them the inner circle's points are "
        "the ones near 0, and the same logistic regression separates the classes with one "
        "line, a circle in the plane.",
        {**_STEP, "features": ["x1^2", "x2^2"], "hidden": []},
    ),
    PostStep(
        "3. 2-3-1 learns the triangle",
        "Back to x1, x2, with a hidden layer of 3 sigmoid units: each unit is a line (the "
        "first-layer units' panel), and the network learns to combine the three into a "
        "triangle around the inner circle: it learns its own features.",
        {**_STEP, "features": ["x1", "x2"], "hidden": [3]},
    ),
)


# What the page's mode control switches to (the data's size, split, seed and pace kept):
# regression starts on multi gaussian with a network and rate that fit it (the squared
# error at the classifier's rate 2 runs away), plain inputs and no penalty.
_PLAIN = {"features": list(PLANE), "l1": 0.0, "l2": 0.0, "batch_size": None}
MODE_STARTS = {
    "classification": {"mode": "classification", "dataset": "circles", "hidden": [3],
                       "activation": "sigmoid", "optimizer": "sgd", "learning_rate": 2.0,
                       **_PLAIN},
    "regression": {"mode": "regression", "dataset": "gaussians", "hidden": [8, 8],
                   "activation": "tanh", "optimizer": "sgd", "learning_rate": 0.15, **_PLAIN},
}  # fmt: skip


def _noise_name(dataset: str) -> str:
    """The keyword of a generator's spread: ``std`` for blobs, ``noise`` for the others."""
    return "std" if dataset == "blobs" else "noise"


def default_noise(dataset: str) -> float:
    """The generator's own default spread (what ``jaxmlp train --dataset`` uses)."""
    if dataset in REGRESSION_SETS:
        from jaxmlp.playground import data  # the regression sets' home (it imports this module)

        generator = data.REGRESSION_GENERATORS[dataset]
    else:
        generator = getattr(datasets, dataset)
    parameter = inspect.signature(generator).parameters[_noise_name(dataset)]
    return float(parameter.default)


@dataclasses.dataclass(frozen=True)
class Settings:
    """One playground run: data, network, optimizer, and the pace of the animation.

    The defaults are the post's network: circles, 2-3-1 with sigmoid units, full-batch
    gradient descent with learning rate 2.0 on the mean loss. ``mode="regression"``
    trains the identity output on the mean of half the squared error
    (``jaxmlp.train(..., output="identity")``) on a regression set.
    """

    mode: str = "classification"
    dataset: str = "circles"
    n: int = 200
    noise: float = 0.05
    test_fraction: float = 0.25
    features: tuple[str, ...] = PLANE
    hidden: tuple[int, ...] = (3,)
    activation: str = "sigmoid"
    optimizer: str = "sgd"
    learning_rate: float = 2.0
    l2: float = 0.0
    l1: float = 0.0
    batch_size: int | None = None
    seed: int = 0
    steps_per_frame: int = 10
    max_steps: int = 10_000
    csv_text: str = dataclasses.field(default="", repr=False)
    csv_name: str = "data.csv"

    def sizes(self) -> tuple[int, ...]:
        """``(len(features), *hidden, 1)``: one input per feature, one output unit."""
        return (len(self.features), *self.hidden, 1)

    @property
    def output(self) -> str | None:
        """``jaxmlp.train``'s ``output``: None (a classifier) or ``"identity"`` (regression)."""
        return "identity" if self.mode == "regression" else None

    def data_key(self) -> tuple:
        """The fields that decide the data (and its split)."""
        return (
            self.dataset, self.n, self.noise, self.test_fraction, self.seed, self.csv_text,
            self.mode,
        )  # fmt: skip

    def public(self) -> dict[str, Any]:
        """The settings as the page sees them (JSON-ready, the CSV text left out)."""
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        out["features"] = list(self.features)
        del out["csv_text"]
        return out


def _required(raw: Mapping[str, Any], name: str, default):
    """The field's value (``default`` if absent); an explicit null or empty string is an
    empty field on the page: ValueError "required"."""
    value = raw.get(name, default)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"{name} is required: enter a number")
    return value


def _number(raw: Mapping[str, Any], name: str, default, lo: float, hi: float) -> float:
    value = _required(raw, name, default)
    validation.check_number(value, name)
    if not (lo <= value <= hi) or not math.isfinite(value):
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return float(value)


def _integer(raw: Mapping[str, Any], name: str, default, lo: int, hi: int) -> int:
    value = _required(raw, name, default)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} ({value!r})")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def _choice(raw: Mapping[str, Any], name: str, default: str, choices) -> str:
    value = raw.get(name, default)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _hidden(raw: Mapping[str, Any]) -> tuple[int, ...]:
    value = raw.get("hidden", Settings.hidden)
    if isinstance(value, str):  # "3" or "8, 8"
        parts = [v.strip() for v in value.split(",") if v.strip()]
        try:
            value = [int(v) for v in parts]
        except ValueError:
            raise ValueError(f"hidden must be comma-separated widths, got {value!r}") from None
    if not isinstance(value, (list, tuple)) or len(value) > MAX_LAYERS:
        raise ValueError(f"hidden must be a list of at most {MAX_LAYERS} widths, got {value!r}")
    for width in value:
        if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
            raise ValueError(f"hidden widths must be integers in [1, {MAX_WIDTH}], got {value!r}")
    return tuple(value)


def _features(raw: Mapping[str, Any]) -> tuple[str, ...]:
    value = raw.get("features", Settings.features)
    if isinstance(value, str):  # "x1^2, x2^2"
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"features must be a list of feature names, got {value!r:.80}")
    return check_features(value)


def _name(raw: Mapping[str, Any]) -> str:
    value = raw.get("csv_name", Settings.csv_name)
    if not isinstance(value, str) or len(value) > 200:
        raise TypeError(
            f"csv_name must be a file name of at most 200 characters, got {value!r:.80}"
        )
    return value


def parse_settings(raw: Mapping[str, Any]) -> Settings:
    """Checks the page's settings object; missing fields take the defaults.

    Args:
      raw: a JSON object with any of :class:`Settings`' fields; ``hidden`` may be a
        list of widths or a string such as ``"8,8"``; ``batch_size`` null for the
        full batch; ``noise`` null for the data set's default.

    Raises:
      ValueError, TypeError: naming the field, for an unknown field or a bad value.

    >>> parse_settings({"hidden": "8,8", "activation": "tanh"}).sizes()
    (2, 8, 8, 1)
    """
    if not isinstance(raw, Mapping):
        raise TypeError(f"settings must be a JSON object, got {type(raw).__name__}")
    fields = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(fields)}")
    mode = _choice(raw, "mode", Settings.mode, MODES)
    dataset = raw.get("dataset", MODE_STARTS[mode]["dataset"])  # the page's start of the mode
    if dataset not in MODE_DATASETS[mode]:
        raise ValueError(
            f"dataset must be one of {', '.join(MODE_DATASETS[mode])} in {mode} mode; "
            f"got {dataset!r}"
        )
    noise_default = default_noise(dataset) if dataset != "csv" else 0.0
    noise = raw.get("noise")
    n = _integer(raw, "n", Settings.n, 4, MAX_POINTS)
    csv_text = raw.get("csv_text", "")
    if not isinstance(csv_text, str) or len(csv_text) > MAX_CSV_CHARS:
        raise ValueError(f"csv_text must be a string of at most {MAX_CSV_CHARS} characters")
    if dataset == "csv" and not csv_text.strip():
        raise ValueError(
            "csv_text is empty: upload a CSV file of x1, x2, "
            + ("target" if mode == "regression" else "label")
            + " rows"
        )
    max_steps = _integer(raw, "max_steps", Settings.max_steps, 1, MAX_STEPS)
    batch_size = raw.get("batch_size")
    settings = Settings(
        mode=mode,
        dataset=dataset,
        n=n,
        noise=noise_default if noise is None else _number(raw, "noise", None, 0.0, MAX_NOISE),
        test_fraction=_number(raw, "test_fraction", Settings.test_fraction, 0.05, 0.9),
        features=_features(raw),
        hidden=_hidden(raw),
        activation=_choice(raw, "activation", Settings.activation, _activations.NAMES),
        optimizer=_choice(raw, "optimizer", Settings.optimizer, optimizers.NAMES),
        learning_rate=_number(raw, "learning_rate", Settings.learning_rate, 1e-6, 100.0),
        l2=_number(raw, "l2", Settings.l2, 0.0, 10.0),
        l1=_number(raw, "l1", Settings.l1, 0.0, 10.0),
        batch_size=None if batch_size is None else _integer(raw, "batch_size", None, 1, n),
        seed=_integer(raw, "seed", Settings.seed, 0, datasets.MAX_RUN_SEED),
        steps_per_frame=_integer(raw, "steps_per_frame", Settings.steps_per_frame, 1, max_steps),
        max_steps=max_steps,
        csv_text=csv_text if dataset == "csv" else "",
        csv_name=_name(raw),
    )
    return settings


def _fmt(x: float) -> str:
    """``x`` as the shortest text that reads back as the same float (``2``, ``0.0123456789``).

    >>> _fmt(2.0), _fmt(0.1), _fmt(0.0123456789)
    ('2', '0.1', '0.0123456789')
    """
    short = f"{x:g}"
    return short if float(short) == x else repr(float(x))


def command_line(settings: Settings, steps: int) -> tuple[str | None, str]:
    """The ``jaxmlp train`` command of this run after ``steps`` updates, if it has one.

    Returns:
      ``(command or None, note)``: None, with the reason in ``note``, for what the
      command line cannot express (regression, an uploaded CSV, a noise other than the
      data set's default, input features other than x1, x2, L1 or L2).

    >>> command_line(Settings(), 1000)[0].split()[:4]
    ['jaxmlp', 'train', '--dataset', 'circles']
    """
    missing = []
    if settings.mode == "regression":
        missing.append("regression (the identity output)")
    if settings.dataset == "csv":
        missing.append("an uploaded CSV")
    elif settings.noise != default_noise(settings.dataset) and settings.mode != "regression":
        missing.append(f"noise {_fmt(settings.noise)}")
    if settings.features != PLANE:
        missing.append(f"the input features {', '.join(settings.features)}")
    if settings.l1:
        missing.append("L1")
    if settings.l2:
        missing.append("L2")
    if missing:
        return None, (
            f"no jaxmlp train command for this run: it has no option for "
            f"{' or '.join(missing)}. The Python snippet below reproduces it"
        )
    parts = [
        "jaxmlp train",
        f"--dataset {settings.dataset}",
        f"--n {settings.n}",
        f"--sizes {','.join(map(str, settings.hidden))}",
        f"--activation {settings.activation}",
        f"--optimizer {settings.optimizer}",
        f"--lr {_fmt(settings.learning_rate)}",
        f"--steps {steps}",
        f"--test-fraction {_fmt(settings.test_fraction)}",
        f"--seed {settings.seed}",
    ]
    if settings.batch_size:
        parts.append(f"--batch-size {settings.batch_size}")
    parts.append("--out out/playground")
    return " ".join(parts), (
        "the same data, split, initialisation and compiled updates as the page: the same "
        "parameters to the last bit (both pass the learning rate to jaxmlp.train as "
        "optimizer state)"
    )


def inner_rule(settings: Settings) -> str:
    """The optimizer's own update rule in the snippet, of ``learning_rate``."""
    if settings.optimizer == "momentum":
        return "optax.sgd(learning_rate, momentum=0.9)"
    return f"optax.{settings.optimizer}(learning_rate)"


def python_snippet(settings: Settings, steps: int) -> str:
    """Python that trains this run for ``steps`` updates with jaxmlp, as the page does.

    >>> "jaxmlp.train(" in python_snippet(Settings(), 10)
    True
    """
    s = settings
    keys = datasets.run_keys(s.seed)
    regression = s.mode == "regression"
    if s.dataset == "csv" and regression:
        data = (
            f"table = np.loadtxt({s.csv_name!r}, delimiter=',', ndmin=2)  # x1, x2, target\n"
            "X = jnp.asarray(table[:, :2], jnp.float32)\n"
            "y = jnp.asarray(table[:, 2], jnp.float32)\n"
        )
    elif s.dataset == "csv":
        data = (
            f"table = np.loadtxt({s.csv_name!r}, delimiter=',', ndmin=2)  # x1, x2, label\n"
            "# labels: the smaller of the two values is class 0\n"
            "labels = np.unique(table[:, 2])\n"
            "X = jnp.asarray(table[:, :2], jnp.float32)\n"
            "y = jnp.asarray(table[:, 2] == labels[1], jnp.int32)\n"
        )
    else:
        module = "" if regression else "datasets."  # the regression sets: imported below
        data = (
            f"X, y = {module}{s.dataset}(jax.random.key({keys.data}), {s.n}, "
            f"{_noise_name(s.dataset)}={_fmt(s.noise)})\n"
        )
    if s.features != PLANE:
        data += f"features = {s.features!r}  # the network's inputs, computed from x1, x2\n"
    # the rate is given to jaxmlp.train, as the page does: the same program, so the
    # same params to the last bit (optax.adam(rate) itself may round differently)
    if not (s.l2 or s.l1) and s.optimizer != "momentum":
        optimizer = f"optimizer = optax.{s.optimizer}  # takes the learning rate\n"
    else:
        inner = rule = inner_rule(s)
        penalties = []
        if s.l2:  # the same order as trajectory.optimizer_factory: L2, L1, the optimizer
            penalties.append(f"optax.add_decayed_weights({_fmt(s.l2)}, mask=weights),  # + l2 * W")
        if s.l1:
            penalties.append(
                "optax.masked(optax.stateless(lambda g, p: jax.tree.map(\n"
                f"            lambda gi, pi: gi + {_fmt(s.l1)} * jnp.sign(pi), g, p)), weights),"
                "  # + l1 * sign(W)"
            )
        if penalties:
            inner = "optax.chain(\n" + "".join(f"        {p}\n" for p in penalties)
            inner += f"        {rule},\n    )"
        mask = (
            "\n\ndef weights(params):  # L1 and L2 act on the weights, not the biases\n"
            "    return tuple(jaxmlp.Dense(W=True, b=False) for _ in params)\n"
            if penalties
            else "\n"
        )
        optimizer = f"{mask}\n\ndef optimizer(learning_rate):\n    return {inner}\n\n\n"
    batch = (
        f"batch_size={s.batch_size}, key=jax.random.key({keys.shuffle}),"
        if s.batch_size
        else "batch_size=None,"
    )
    featured = (
        "X_train = input_features(X_train, features)\nX_test = input_features(X_test, features)\n"
        if s.features != PLANE
        else ""
    )
    imports = (
        "from jaxmlp.playground.features import input_features\n" if s.features != PLANE else ""
    )
    if regression and s.dataset != "csv":
        imports = f"from jaxmlp.playground.data import {s.dataset}\n" + imports
    # regression: the identity output and the mean of half the squared error
    train_output = ' output="identity",' if regression else ""
    loss_output = ', output="identity"' if regression else ""
    return (
        "import jax\nimport jax.numpy as jnp\nimport numpy as np\nimport optax\n\n"
        f"import jaxmlp\nfrom jaxmlp import datasets, io\n{imports}\n"
        f"{data}"
        "X_train, X_test, y_train, y_test = datasets.train_test_split(\n"
        f"    jax.random.key({keys.split}), X, y, test_fraction={_fmt(s.test_fraction)})\n"
        f"{featured}"
        f"params = jaxmlp.init_mlp(jax.random.key({keys.init}), {s.sizes()})\n"
        f"{optimizer}"
        "result = jaxmlp.train(\n"
        f"    params, X_train, y_train, activation={s.activation!r}, optimizer=optimizer,\n"
        f"    learning_rate={_fmt(s.learning_rate)}, steps={steps}, {batch}{train_output}\n)\n"
        f"print(jaxmlp.loss(result.params, X_test, y_test, {s.activation!r}{loss_output}))\n"
        f"io.save_params('params.safetensors', result.params, activation={s.activation!r})\n"
    )
