#!/usr/bin/env python3
"""One timed NMF run of one peer tool, for scripts/bench_peers.py.

Runs in whichever environment has the tool (nimfa needs numpy < 2, so it lives in its own venv):
it imports only the tool it is asked for. Reads X (.npy dense, or a SciPy .npz, CSR) and the
start W0/H0 (.npy), runs exactly --iters iterations of --algo with --threads threads, best of
--repeat, writes W.npy and H.npy into --out and prints one JSON line:
{"seconds": best wall time of the fit call, "n_iter": iterations the tool reports}.

    python3 scripts/peers_worker.py sklearn cd --x X.npy --w0 W0.npy --h0 H0.npy --iters 50 --out DIR

Tools and algorithms: sklearn and nmfkit (cd, mu-fro, mu-kl; the same parameters), nimfa (lee,
brunet, lsnmf), nmf_rs, the PyPI package (lee, brunet). The error is not computed here: the
caller computes every tool's error the same way, in float64, outside the timed region.
"""

import argparse
import json
import os
import time
import warnings
from pathlib import Path


def load_x(path, dtype):
    import numpy as np

    if path.endswith(".npz"):
        import scipy.sparse as sp

        return sp.load_npz(path).tocsr().astype(dtype)
    return np.load(path).astype(dtype, copy=False)


def best_of(repeat, fn):
    out, best = None, float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run_estimator(lib, algo, X, W0, H0, iters, repeat):
    solver, loss = {
        "cd": ("cd", "frobenius"),
        "mu-fro": ("mu", "frobenius"),
        "mu-kl": ("mu", "kullback-leibler"),
    }[algo]
    params = dict(
        n_components=W0.shape[1], init="custom", solver=solver, beta_loss=loss, tol=0.0,
        max_iter=iters,
    )

    def fit():
        est = lib.NMF(**params)
        W = est.fit_transform(X, W=W0.copy(), H=H0.copy())
        return W, est.components_, est.n_iter_

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return best_of(repeat, fit)


def run_nimfa(algo, X, W0, H0, iters, repeat):
    import nimfa
    import numpy as np

    common = dict(
        seed="fixed", W=W0, H=H0, rank=W0.shape[1], max_iter=iters,
        test_conv=iters + 1,  # the convergence test would run every test_conv iterations: never
        min_residuals=None, n_run=1,
    )
    make = {
        "lee": lambda: nimfa.Nmf(X, update="euclidean", objective="fro", **common),
        "brunet": lambda: nimfa.Nmf(X, update="divergence", objective="div", **common),
        "lsnmf": lambda: nimfa.Lsnmf(X, **common),
    }[algo]

    def fit():
        common["W"], common["H"] = W0.copy(), H0.copy()
        f = make()()
        return np.asarray(f.basis()), np.asarray(f.coef()), f.fit.n_iter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return best_of(repeat, fit)


def run_nmf_rs(algo, X, W0, H0, iters, repeat, threads):
    import nmf_rs

    def fit():
        r = nmf_rs.nmf(
            X, rank=W0.shape[1], method=algo, W0=W0.copy(), H0=H0.copy(), max_iter=iters,
            stop="max_iter", rescale=False, num_threads=threads,
        )
        return r.W, r.H, r.n_iter

    return best_of(repeat, fit)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tool", choices=["sklearn", "nmfkit", "nimfa", "nmf_rs"])
    ap.add_argument("algo")
    ap.add_argument("--x", required=True)
    ap.add_argument("--w0", required=True)
    ap.add_argument("--h0", required=True)
    ap.add_argument("--iters", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dtype", default="float64")
    a = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        if not (a.tool == "nmfkit" and var == "RAYON_NUM_THREADS"):  # ours: its default, every core
            os.environ.setdefault(var, str(a.threads))
    import numpy as np

    X = load_x(a.x, a.dtype)
    W0 = np.load(a.w0).astype(a.dtype)
    H0 = np.load(a.h0).astype(a.dtype)
    if a.tool in ("sklearn", "nmfkit"):
        if a.tool == "sklearn":
            import sklearn.decomposition as lib
        else:
            import nmfkit as lib
        seconds, (W, H, n_iter) = run_estimator(lib, a.algo, X, W0, H0, a.iters, a.repeat)
    elif a.tool == "nimfa":
        seconds, (W, H, n_iter) = run_nimfa(a.algo, X, W0, H0, a.iters, a.repeat)
    else:
        seconds, (W, H, n_iter) = run_nmf_rs(a.algo, X, W0, H0, a.iters, a.repeat, a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    np.save(a.out / "W.npy", np.asarray(W, dtype=np.float64))
    np.save(a.out / "H.npy", np.asarray(H, dtype=np.float64))
    print(json.dumps({"seconds": seconds, "n_iter": int(n_iter)}))


if __name__ == "__main__":
    main()
