"""No code of the project reads a file with pickle: the library, the studies, the benchmarks,
the tests, the nox sessions, the docs site's hooks, the tutorial notebook's cells and the
Python examples of the README and the docs pages.

Checked on the source (its syntax tree), so a new reader cannot slip in unnoticed: no
pickle-family module is imported, no loader that unpickles is called (``np.load``,
``joblib.load``, ``torch.load``, ``pd.read_pickle``, ``read_array``), and nothing passes
``allow_pickle=True``. Files are read by :mod:`jaxmlp.io` (safetensors, the hardened 0.1
``.npz`` reader), :mod:`jaxmlp.checkpoint`, JSON and CSV parsers.
"""

from __future__ import annotations

import ast
import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [ROOT / "noxfile.py"]
    + [p for folder in ("jaxmlp", "experiments", "benchmarks", "tests", "docs")
       for p in (ROOT / folder).rglob("*.py")]
)  # fmt: skip
NOTEBOOKS = sorted((ROOT / "docs").rglob("*.ipynb"))
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# tests that *write* a pickle, for jaxmlp to refuse: (file, what) -> why it is not a reader
WRITERS = {
    ("tests/test_io.py", "import pickle"): "writes a pickle that every loader must refuse",
    ("tests/test_hostile.py", "allow_pickle=True"): "writes an object array to be refused",
}
PICKLE_MODULES = {"pickle", "_pickle", "cPickle", "dill", "cloudpickle", "shelve", "marshal"}
UNPICKLING_CALLS = {"load", "loads", "read_pickle", "read_array", "Unpickler"}
# readers of formats that hold no code: JSON, TOML, and jaxmlp's checkpoints (safetensors)
SAFE_READERS = {"json", "tomllib", "checkpoint", "_checkpoint"}


def pickle_uses(source: str) -> list[str]:
    """The places in ``source`` that could read pickled data, as ``"line: what"``.

    >>> pickle_uses("import numpy as np\\nnp.load('x.npy')")
    ['2: np.load']
    >>> pickle_uses("import json\\njson.loads('{}')")
    []
    >>> pickle_uses("np.load('x.npy', allow_pickle=False)")
    []
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            modules = names if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in PICKLE_MODULES:
                    found.append(f"{node.lineno}: import {module}")
            if isinstance(node, ast.ImportFrom) and (node.module or "") == "joblib":
                found += [f"{node.lineno}: joblib.{n}" for n in names if n in UNPICKLING_CALLS]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in UNPICKLING_CALLS:
                owner = func.value
                name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
                refuses = any(  # np.load(..., allow_pickle=False) reads no pickle
                    k.arg == "allow_pickle" and isinstance(k.value, ast.Constant)
                    and k.value.value is False for k in node.keywords
                )  # fmt: skip
                if name.split(".")[-1] not in SAFE_READERS and not refuses:
                    found.append(f"{node.lineno}: {name}.{func.attr}")
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "allow_pickle" and not (
                    isinstance(value, ast.Constant) and value.value is False
                ):
                    found.append(f"{node.lineno}: allow_pickle={ast.unparse(value)}")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_reads_pickle(path):
    relative = path.relative_to(ROOT).as_posix()
    found = [use for use in pickle_uses(path.read_text())
             if (relative, use.split(": ", 1)[1]) not in WRITERS]  # fmt: skip
    assert found == [], path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_notebook_cell_reads_pickle(path):
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    # IPython's magics and shell lines are not Python: left out of the parse
    source = "\n".join(line for cell in code for line in cell.splitlines()
                       if not line.lstrip().startswith(("%", "!")))  # fmt: skip
    assert code and pickle_uses(source) == [], path


def test_no_example_in_the_readme_or_docs_reads_pickle():
    """What users copy: every ```python fence (doctest prompts stripped) parses and reads no
    pickle."""
    examples = []
    for page in PAGES:
        for block in re.findall(r"```(?:python|py)\n(.*?)```", page.read_text(), re.S):
            if block.lstrip().startswith(">>>"):
                block = "\n".join(line[4:] for line in block.splitlines()
                                  if line.startswith((">>> ", "... ")))  # fmt: skip
            examples.append((page.relative_to(ROOT), pickle_uses(block)))
    assert len(examples) >= 10
    assert [(page, found) for page, found in examples if found] == []


def test_the_check_finds_each_kind_of_reader():
    found = pickle_uses(
        "import pickle\nfrom joblib import load\nimport numpy as np\n"
        "np.load('a', allow_pickle=True)\ntorch.load('m.pt')\npd.read_pickle('f')\n"
    )
    assert found == [
        "1: import pickle",
        "2: joblib.load",
        "4: np.load",
        "4: allow_pickle=True",
        "5: torch.load",
        "6: pd.read_pickle",
    ]
