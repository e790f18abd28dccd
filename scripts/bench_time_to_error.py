#!/usr/bin/env python3
"""Time to reach full-batch quality: minibatch NMF (scikit-learn's and ours) against the error
scikit-learn's full-batch NMF reaches after 200 iterations.

For each case: scikit-learn's `NMF` (cd for Frobenius, mu for KL; init="custom", tol=0,
max_iter=200) gives the target error E and its time; our full-batch solver runs the same 200
iterations; then both minibatch implementations run 1, 2, 3, 5, 8, ... passes (fresh fits, same
start, same batches) until their error is within 1% of E. Prints the passes and seconds each
needed (or "not within N passes"). One machine, one run, side by side.

    cargo build --release -p nmf-cli
    python3 scripts/bench_time_to_error.py [--nmf target/release/nmf]

Needs numpy, scipy, scikit-learn and ../shared/data.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import NMF

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_minibatch import DATA, ROOT, ours, sklearn_side, start  # noqa: E402

PASSES = [1, 2, 3, 5, 8, 13, 21, 34, 55]


def sklearn_full(x, w0, h0, k, beta):
    solver = "cd" if beta == 2.0 else "mu"
    est = NMF(k, init="custom", solver=solver, beta_loss=beta, max_iter=200, tol=0.0)
    t = time.perf_counter()
    est.fit_transform(x, W=w0.copy(), H=h0.copy())
    return time.perf_counter() - t, est.reconstruction_err_, solver


def ours_full(nmf, path, w0p, h0p, k, loss, solver, out, threads):
    cmd = [
        nmf, "fit", str(path), "-k", str(k), "--solver", solver, "--loss", loss,
        "--init", "custom", "--w0", str(w0p), "--h0", str(h0p), "--max-iter", "200",
        "--tol", "0", "--threads", str(threads), "-q", "-o", str(out),
    ]
    subprocess.run(cmd, check=True)
    r = json.loads((Path(out) / "model.json").read_text())["report"]
    return r["seconds"], r["reconstruction_err"]


def first_within(run, target):
    """(passes, seconds, error) of the first pass count whose error is within 1% of target."""
    for p in PASSES:
        secs, err = run(p)
        if err <= 1.01 * target:
            return p, secs, err
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmf", default=str(ROOT / "target" / "release" / "nmf"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    faces = np.load(DATA / "olivetti_faces.npy").astype(np.float32)
    docs = sp.load_npz(DATA / "debian_docs_counts.npz").tocsr().astype(np.float64)
    cases = [
        ("faces f32", faces, DATA / "olivetti_faces.npy", 16, "frobenius", 2.0, 100),
        ("faces f32", faces, DATA / "olivetti_faces.npy", 16, "kullback-leibler", 1.0, 100),
        ("docs sparse", docs, DATA / "debian_docs_counts.npz", 10, "frobenius", 2.0, 256),
        ("docs sparse", docs, DATA / "debian_docs_counts.npz", 10, "kullback-leibler", 1.0, 256),
    ]
    print(f"threads: {args.threads}; target: within 1% of scikit-learn's full-batch error after 200 iterations")
    print("| data | loss | k | batch | sk full (200 it) | nmf-rs full (200 it) | sk minibatch | nmf-rs minibatch | minibatch ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, x, path, k, loss, beta, batch in cases:
            n, m = x.shape
            w0, h0 = start(n, m, k, x.dtype)
            w0p, h0p = tmp / "w0.npy", tmp / "h0.npy"
            np.save(w0p, w0)
            np.save(h0p, h0)
            ts_full, target, solver = sklearn_full(x, w0, h0, k, beta)
            tu_full, eu_full = ours_full(args.nmf, path, w0p, h0p, k, loss, solver, tmp / "full", args.threads)
            sk = first_within(
                lambda p: sklearn_side(x, w0, h0, k, beta, batch, p, args.threads)[:2], target)
            us = first_within(
                lambda p: ours(args.nmf, path, w0p, h0p, k, loss, batch, p, tmp / "mb", args.threads)[:2],
                target)

            def cell(r):
                return "not within %d passes" % PASSES[-1] if r is None else f"{r[1]:.3f} s ({r[0]} passes)"

            ratio = f"{sk[1] / us[1]:.1f}x" if sk and us else "-"
            print(f"| {name} | {loss} | {k} | {batch} | {ts_full:.3f} s (err {target:.5g}) | "
                  f"{tu_full:.3f} s (err {eu_full:.5g}) | {cell(sk)} | {cell(us)} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
