"""``grid_search``: the ``nmf grid-search`` command (``cargo xtask grid-search``) from Python.

It runs the command's own code in the extension (the GIL released), so it writes the same
results folder (``results.csv`` as each point finishes, ``grid.json``, ``report.html`` with
its charts and basis galleries) and can ``resume`` an interrupted run. The rows come back as a
list of dicts, one per grid point, with the columns of ``results.csv``.
"""

import csv
import os
import tempfile

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

from . import _core

_INTS = {"k", "n_iter"}
_TEXT = {"solver", "loss", "stop_reason", "alpha_h"}


def _values(v):
    """A grid axis for the command: a ``"start:stop:step"`` string, a number or a sequence."""
    if isinstance(v, str):
        return v
    if np.ndim(v) == 0:
        return repr(float(v))
    return ",".join(repr(float(x)) for x in v)


def _row(r):
    out = {}
    for key, text in r.items():
        if key in _TEXT:
            out[key] = text
        elif key in _INTS:
            out[key] = int(text)
        elif key == "collapsed":
            out[key] = text == "true"
        elif text == "":
            out[key] = None
        else:
            out[key] = float(text)
    return out


def grid_search(
    X="swimmer",
    *,
    out="grid-search",
    solver=("cd", "mu"),
    n_components=None,
    alpha_W="0:1:0.1",
    l1_ratio="0:1:0.1",
    alpha_H=0.0,
    pg_sparseness=(0.3, 0.5, 0.7, 0.9),
    beta_loss="frobenius",
    init="nndsvda",
    max_iter=200,
    tol=1e-4,
    random_state=0,
    batch_size=1024,
    n_jobs=None,
    warm_start=False,
    resume=False,
    target_sparseness=None,
    vocabulary=None,
    data_home=None,
):
    """Sweep ``alpha_W`` x ``l1_ratio`` (and ``pg`` sparseness targets) and return one dict per
    grid point: its settings, ``n_iter``, ``reconstruction_err``, the Hoyer sparseness of the
    basis (``basis_sparseness_mean``, ...), zero fractions and seconds.

    ``X`` is a built-in dataset name (``"swimmer"``, ``"olivetti"``, ``"corpus"``), a path
    (``.npy``, ``.csv``, SciPy ``.npz``, ``.mtx``), or a nonnegative array or SciPy sparse
    matrix (fitted in float32, as the command fits). ``out`` is the results folder;
    ``report.html`` in it is the report. ``alpha_W``, ``l1_ratio`` and ``pg_sparseness`` take a
    sequence, a number or ``"start:stop:step"``; ``solver`` a sequence of ``cd``, ``mu``, ``pg``,
    ``minibatch``. ``target_sparseness`` searches, for each ``l1_ratio``, the smallest alpha
    reaching that mean basis sparseness instead of sweeping (its rows are read from the same
    file). ``n_jobs`` is how many grid points run at once.
    """
    out = os.fspath(out)
    with tempfile.TemporaryDirectory(prefix="nmfkit-grid-") as tmp:
        if isinstance(X, (str, os.PathLike)):
            dataset = os.fspath(X)
        elif sp.issparse(X):
            dataset = os.path.join(tmp, "X.npz")
            sp.save_npz(dataset, sp.csr_matrix(X, dtype=np.float32), compressed=False)
        else:
            dataset = os.path.join(tmp, "X.npy")
            np.save(dataset, check_array(X, dtype=np.float32, order="C"))
        args = ["--dataset", dataset, "--out", out]
        args += ["--solver", ",".join([solver] if isinstance(solver, str) else solver)]
        if n_components is not None:
            args += ["-k", str(int(n_components))]
        args += ["--alpha-w", _values(alpha_W), "--l1-ratio", _values(l1_ratio)]
        args += ["--alpha-h", "same" if alpha_H == "same" else repr(float(alpha_H))]
        args += ["--pg-sparseness", _values(pg_sparseness)]
        args += ["--loss", str(beta_loss), "--init", str(init)]
        args += ["--max-iter", str(int(max_iter)), "--tol", repr(float(tol))]
        args += ["--seed", str(int(random_state)), "--batch-size", str(int(batch_size))]
        if n_jobs is not None:
            args += ["--threads", str(int(n_jobs))]
        if warm_start:
            args.append("--warm-start")
        if resume:
            args.append("--resume")
        if target_sparseness is not None:
            args += ["--target-sparseness", repr(float(target_sparseness))]
        if vocabulary is not None:
            args += ["--vocab", os.fspath(vocabulary)]
        if data_home is not None:
            args += ["--data-home", os.fspath(data_home)]
        _core.grid_search(args)
    with open(os.path.join(out, "results.csv"), newline="") as f:
        return [_row(r) for r in csv.DictReader(f)]
