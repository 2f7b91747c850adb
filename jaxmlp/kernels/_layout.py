"""Deprecated name of :mod:`jaxmlp.kernels._common`, kept until the sweep's branch is merged."""

from jaxmlp.kernels._common import *  # noqa: F403
from jaxmlp.kernels._common import _NEG, _use_dot  # noqa: F401
