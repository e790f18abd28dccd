"""scikit-learn's side of `cargo xtask bench-compare` (one measurement per call, JSON on stdout).

Usage:
  python3 scripts/bench_sklearn.py iter DATA.npy K ITERS SOLVER BETA OFFSET DTYPE REPEATS OUTDIR
      Writes OUTDIR/W0.npy and OUTDIR/H0.npy (scikit-learn's nndsvda start, random_state=0, so both
      sides start from the same factors), then times REPEATS fits of ITERS iterations (tol=0) from
      that start, after one untimed warm-up fit of at most 5 iterations. Prints seconds_per_iter
      (the fastest repeat), all repeats, reconstruction_err, init_seconds.
  python3 scripts/bench_sklearn.py equal-loss DATA.npy K CD_ITERS MU_MAX DTYPE REPEATS
      The time-to-equal-loss reference: nndsvda init plus CD_ITERS iterations of cd (no penalty,
      tol=0; the fastest of REPEATS) gives the target error; then mu from the same init, continued
      50 iterations at a time (mu keeps no state between calls, so this is the same run), until it
      reaches the target or MU_MAX iterations. Prints both times, init included.

  python3 scripts/bench_sklearn.py gemm DTYPE REPEATS SHAPES_JSON
      NumPy's side of the roofline: for each [rows, inner, cols, syrk] in SHAPES_JSON, the
      fastest of REPEATS products (after two untimed ones) of a C-order rows x inner matrix by an
      inner x cols one or of the transposed product (cols x inner by inner x rows), or, with
      syrk, of `a @ a.T` for a rows x inner a (NumPy hands that to BLAS's SYRK). Prints
      {"seconds": [...]} in the order given.

DTYPE is f32 or f64 (the data are cast once, before any timing). DATA may also be a sparse
.npz (scipy.sparse.save_npz's format; bench-compare writes it with nmf-rs's writer): it is
loaded as CSR, so scikit-learn factorizes the very matrix ours does (OFFSET must then be 0).
"""
import json
import os
import sys
import time

import numpy as np
import scipy.sparse
from sklearn.decomposition import _nmf


def load(data, dtype, offset=0.0):
    dt = np.float32 if dtype == "f32" else np.float64
    if data.endswith(".npz"):
        if offset:
            raise SystemExit("an offset would make sparse data dense")
        return scipy.sparse.load_npz(data).tocsr().astype(dt)
    x = np.load(data).astype(dt)
    if offset:
        x = x + np.asarray(offset, dtype=x.dtype)
    return x


def init(x, k):
    t0 = time.perf_counter()
    w0, h0 = _nmf._initialize_nmf(x, k, init="nndsvda", random_state=0)
    return w0, h0, time.perf_counter() - t0


def fit(x, w, h, k, solver, beta, iters):
    return _nmf.non_negative_factorization(
        x, w.copy(), h.copy(), n_components=k, init="custom", solver=solver, beta_loss=beta,
        tol=0, max_iter=iters,
    )


def per_iter(args):
    data, k, iters, solver, beta, offset, dtype, repeats, outdir = args
    k, iters, beta, offset, repeats = int(k), int(iters), float(beta), float(offset), int(repeats)
    x = load(data, dtype, offset)
    w0, h0, init_seconds = init(x, k)
    os.makedirs(outdir, exist_ok=True)
    np.save(os.path.join(outdir, "W0.npy"), w0)
    np.save(os.path.join(outdir, "H0.npy"), h0)
    # Untimed warm-up (BLAS threads, page faults, first-call dispatch), so a fresh process per
    # repeat (bench-compare interleaves them with ours) is not charged for starting up.
    fit(x, w0, h0, k, solver, beta, min(iters, 5))
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        w, h, n_iter = fit(x, w0, h0, k, solver, beta, iters)
        runs.append((time.perf_counter() - t0) / n_iter)
    err = float(_nmf._beta_divergence(x, w, h, beta, square_root=True))
    return {"seconds_per_iter": min(runs), "runs": runs, "reconstruction_err": err,
            "init_seconds": init_seconds, "n_iter": int(n_iter)}


def equal_loss(args):
    data, k, cd_iters, mu_max, dtype, repeats = args
    k, cd_iters, mu_max, repeats = int(k), int(cd_iters), int(mu_max), int(repeats)
    x = load(data, dtype)
    cd_runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        w0, h0, _ = init(x, k)
        w, h, _ = fit(x, w0, h0, k, "cd", 2.0, cd_iters)
        cd_runs.append(time.perf_counter() - t0)
    target = float(_nmf._beta_divergence(x, w, h, 2.0, square_root=True))
    t0 = time.perf_counter()
    w, h, _ = init(x, k)[:2] + (None,)
    elapsed = time.perf_counter() - t0
    mu_iters, mu_seconds = 0, None
    while mu_iters < mu_max:
        t0 = time.perf_counter()
        w, h, n = fit(x, w, h, k, "mu", 2.0, 50)
        elapsed += time.perf_counter() - t0
        mu_iters += n
        if float(_nmf._beta_divergence(x, w, h, 2.0, square_root=True)) <= target:
            mu_seconds = elapsed
            break
    return {"target_err": target, "cd_seconds": min(cd_runs), "cd_runs": cd_runs,
            "cd_iters": cd_iters, "mu_seconds": mu_seconds, "mu_iters": mu_iters}


def gemm(args):
    dtype, repeats, shapes = args
    dt = np.float32 if dtype == "f32" else np.float64
    rng = np.random.default_rng(0)
    seconds = []
    for rows, inner, cols, syrk in json.loads(shapes):
        # A product and its transpose are the same work: the faster orientation counts.
        best = float("inf")
        for r, c in [(rows, cols)] if syrk or rows == cols else [(rows, cols), (cols, rows)]:
            a = rng.random((r, inner)).astype(dt)
            b = a.T if syrk else rng.random((inner, c)).astype(dt)
            for i in range(int(repeats) + 2):
                t0 = time.perf_counter()
                a @ b
                if i >= 2:
                    best = min(best, time.perf_counter() - t0)
        seconds.append(best)
    return {"seconds": seconds}


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    modes = {"iter": per_iter, "equal-loss": equal_loss, "gemm": gemm}
    if mode not in modes:
        raise SystemExit(f"unknown mode {mode!r}; expected one of {sorted(modes)}")
    print(json.dumps(modes[mode](args)))


if __name__ == "__main__":
    main()
