"""The suite's plugins, one job each, loaded by ``pytest_plugins`` in ``tests/conftest.py``.

- ``memory_maps``: clears JAX's caches when a worker nears the kernel's limit on memory maps.
- ``scripts``: the ``load_experiment`` fixture, which imports a script of ``experiments/``.
"""
