"Shared helpers for the integration tests: the project root, the interpreter, and fixture notebooks."
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
RUN_PARAMS = 'profile = "smoke"\noverrides = {}\ndata_root = ""\nout_dir = ""\nfig_dir = ""\ncache_dir = ""'
SETUP = ("from patchsae.core import *\n"
         "run = setup(profile, overrides, data_root=data_root, out_dir=out_dir, fig_dir=fig_dir,\n"
         "            cache_dir=cache_dir, notebook={notebook!r})")


def write_notebook(path: Path, *cells: str, params: str = RUN_PARAMS) -> Path:
    "A section-notebook fixture: a parameters cell, the setup cell (naming the notebook), `cells`."
    nb = nbformat.v4.new_notebook()
    setup_cell = nbformat.v4.new_code_cell(SETUP.format(notebook=path.stem))
    nb.cells = [nbformat.v4.new_code_cell(params), setup_cell]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def cli(*args, cwd=ROOT, timeout=600) -> subprocess.CompletedProcess:
    "Run `python -m patchsae.reproduce ARGS` (what the `patchsae reproduce` console script runs)."
    return subprocess.run([PYTHON, "-m", "patchsae.reproduce", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def quiet():
    "A log function that swallows progress lines."
    return lambda *_: None
