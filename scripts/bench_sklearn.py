"""Time scikit-learn's NMF solvers for `cargo xtask bench-compare` (one configuration per call).

Usage: python3 scripts/bench_sklearn.py DATA.npy K ITERS SOLVER BETA OFFSET OUTDIR
Writes OUTDIR/W0.npy, OUTDIR/H0.npy (scikit-learn's nndsvda init, random_state=0, so both sides
start from the same factors) and prints one JSON line: seconds, seconds_per_iter,
reconstruction_err, init_seconds.
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.decomposition import _nmf


def main():
    data, k, iters, solver, beta, offset, outdir = sys.argv[1:8]
    k, iters, beta, offset = int(k), int(iters), float(beta), float(offset)
    x = np.load(data)
    if offset:
        x = x + np.asarray(offset, dtype=x.dtype)
    t0 = time.perf_counter()
    w0, h0 = _nmf._initialize_nmf(x, k, init="nndsvda", random_state=0)
    init_seconds = time.perf_counter() - t0
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "W0.npy"), w0)
    np.save(os.path.join(outdir, "H0.npy"), h0)
    t0 = time.perf_counter()
    w, h, n_iter = _nmf.non_negative_factorization(
        x, w0.copy(), h0.copy(), n_components=k, init="custom", solver=solver, beta_loss=beta, tol=0, max_iter=iters
    )
    seconds = time.perf_counter() - t0
    err = float(_nmf._beta_divergence(x, w, h, beta, square_root=True))
    print(json.dumps({"seconds": seconds, "seconds_per_iter": seconds / n_iter, "reconstruction_err": err,
                      "init_seconds": init_seconds, "n_iter": int(n_iter)}))


if __name__ == "__main__":
    main()
