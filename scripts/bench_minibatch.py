#!/usr/bin/env python3
"""Minibatch NMF side by side: scikit-learn's MiniBatchNMF against `nmf fit --solver minibatch`.

Same data, same starting factors (init="custom", written to a temporary folder), same batches,
same number of passes (tol=0, max_no_improvement=None), one machine, one run. Prints a table of
seconds per pass and the ratio, and checks that both sides reach the same error.

    cargo build --release -p nmf-cli
    python3 scripts/bench_minibatch.py [--nmf target/release/nmf] [--repeat 3]

Needs numpy, scipy, scikit-learn and ../shared/data (olivetti_faces.npy, debian_docs_counts.npz).
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import MiniBatchNMF

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def start(n, m, k, dtype, seed=0):
    rs = np.random.RandomState(seed)
    return (
        (0.1 + rs.random_sample((n, k))).astype(dtype),
        (0.1 + rs.random_sample((k, m))).astype(dtype),
    )


def sklearn_side(x, w0, h0, k, beta, batch, passes, threads):
    est = MiniBatchNMF(
        k,
        init="custom",
        beta_loss=beta,
        batch_size=batch,
        max_iter=passes,
        tol=0.0,
        max_no_improvement=None,
    )
    t = time.perf_counter()
    w = est.fit_transform(x, W=w0.copy(), H=h0.copy())
    secs = time.perf_counter() - t
    assert est.n_iter_ == passes
    return secs, est.reconstruction_err_, w


def ours(nmf, data_path, w0p, h0p, k, beta, batch, passes, out, threads):
    cmd = [
        nmf, "fit", str(data_path), "-k", str(k), "--solver", "minibatch",
        "--loss", str(beta), "--init", "custom", "--w0", str(w0p), "--h0", str(h0p),
        "--batch-size", str(batch), "--max-iter", str(passes), "--tol", "0",
        "--max-no-improvement", "none", "--threads", str(threads), "-q", "-o", str(out),
    ]
    subprocess.run(cmd, check=True)
    report = json.loads((Path(out) / "model.json").read_text())["report"]
    assert report["n_iter"] == passes, report["n_iter"]
    return report["seconds"], report["reconstruction_err"], report["solver_seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nmf", default=str(ROOT / "target" / "release" / "nmf"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    faces = np.load(DATA / "olivetti_faces.npy").astype(np.float32)
    docs = sp.load_npz(DATA / "debian_docs_counts.npz").tocsr().astype(np.float64)
    cases = [
        ("faces 400x4096 f32", faces, DATA / "olivetti_faces.npy", 16, "frobenius", 2.0, 100, 20),
        ("faces 400x4096 f32", faces, DATA / "olivetti_faces.npy", 16, "kullback-leibler", 1.0, 100, 10),
        ("docs 2243x4000 sparse", docs, DATA / "debian_docs_counts.npz", 10, "frobenius", 2.0, 256, 20),
        ("docs 2243x4000 sparse", docs, DATA / "debian_docs_counts.npz", 10, "kullback-leibler", 1.0, 256, 10),
    ]
    print(f"threads: {args.threads}; best of {args.repeat}; seconds per pass")
    print("| data | loss | k | batch | passes | scikit-learn fit | nmf-rs fit | ratio | nmf-rs loop only | error (sk / ours) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, x, path, k, loss, beta, batch, passes in cases:
            n, m = x.shape
            w0, h0 = start(n, m, k, x.dtype)
            w0p, h0p = tmp / "w0.npy", tmp / "h0.npy"
            np.save(w0p, w0)
            np.save(h0p, h0)
            sk = [sklearn_side(x, w0, h0, k, beta, batch, passes, args.threads) for _ in range(args.repeat)]
            us = [ours(args.nmf, path, w0p, h0p, k, loss, batch, passes, tmp / "out", args.threads)
                  for _ in range(args.repeat)]
            ts, es = min(s[0] for s in sk), sk[0][1]
            tu, eu = min(u[0] for u in us), us[0][1]
            tl = min(u[2] for u in us)
            assert abs(es - eu) <= 1e-3 * es, (es, eu)
            print(f"| {name} | {loss} | {k} | {batch} | {passes} | {ts / passes:.4f} | "
                  f"{tu / passes:.4f} | {ts / tu:.1f}x | {tl / passes:.4f} | {es:.6g} / {eu:.6g} |", flush=True)


if __name__ == "__main__":
    main()
