import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import activations

S = jnp.array([-3.0, -0.5, 0.25, 2.0])


@pytest.mark.parametrize("name", activations.NAMES)
@pytest.mark.slow
def test_derivative_matches_autodiff(name):
    act = activations.get(name)
    expected = jax.vmap(jax.grad(act.fn))(S)
    np.testing.assert_allclose(act.derivative(S, act(S)), expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sigmoid", 1 / (1 + np.exp(-np.array([-3.0, -0.5, 0.25, 2.0])))),
        ("tanh", np.tanh([-3.0, -0.5, 0.25, 2.0])),
        ("relu", [0.0, 0.0, 0.25, 2.0]),
        ("leaky_relu", [-0.03, -0.005, 0.25, 2.0]),
        ("softplus", np.log1p(np.exp([-3.0, -0.5, 0.25, 2.0]))),
        ("identity", [-3.0, -0.5, 0.25, 2.0]),
    ],
)
def test_reference_values(name, expected):
    np.testing.assert_allclose(activations.get(name)(S), expected, rtol=1e-6)


def test_leaky_relu_slope_is_configurable_and_cached():
    act = activations.leaky_relu(0.2)
    np.testing.assert_allclose(act(S), [-0.6, -0.1, 0.25, 2.0], rtol=1e-6)
    np.testing.assert_allclose(act.derivative(S, act(S)), [0.2, 0.2, 1.0, 1.0])
    assert activations.leaky_relu(0.2) is act
    assert hash(act) == hash(activations.leaky_relu(0.2))


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="sigmoid, tanh, relu, leaky_relu, softplus, identity"):
        activations.get("swish")


def test_wrong_type():
    with pytest.raises(TypeError, match="activation must be a name"):
        activations.get(3)


def test_get_returns_activation_objects_unchanged():
    assert activations.get(activations.tanh) is activations.tanh
