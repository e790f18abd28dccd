"""scikit-learn's side of the original question: NMF over an alpha_W x l1_ratio grid on a data
matrix, recording the mean Hoyer sparseness of the components and the error, with the total wall
time. Used for the side-by-side numbers in the grid-search notes.

Usage: python3 scripts/sklearn_grid.py DATA.npy K SOLVER MAX_ITER TOL OUT.csv
"""
import sys
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF


def hoyer(v):
    n = v.size
    l2 = np.sqrt((v.astype(float) ** 2).sum())
    if l2 == 0 or n < 2:
        return 0.0
    return float((np.sqrt(n) - np.abs(v).sum() / l2) / (np.sqrt(n) - 1))


def main():
    data, k, solver, max_iter, tol, out = sys.argv[1:7]
    x = np.load(data)
    grid = np.round(np.arange(0, 1.01, 0.1), 10)
    rows = []
    t0 = time.perf_counter()
    for aw in grid:
        for l1 in grid:
            t = time.perf_counter()
            m = NMF(int(k), solver=solver, alpha_W=aw, alpha_H=0.0, l1_ratio=l1, max_iter=int(max_iter),
                    tol=float(tol), random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                w = m.fit_transform(x)
            secs = time.perf_counter() - t
            s = [hoyer(r) for r in m.components_]
            # The penalised objective scikit-learn minimises (alpha_H = 0 here).
            obj = 0.5 * m.reconstruction_err_ ** 2 + x.shape[1] * aw * (
                l1 * np.abs(w).sum() + 0.5 * (1 - l1) * float((w.astype(float) ** 2).sum()))
            rows.append((aw, l1, m.n_iter_, m.reconstruction_err_, float(obj), float(np.mean(s)), secs))
    total = time.perf_counter() - t0
    with open(out, "w") as f:
        f.write("alpha_w,l1_ratio,n_iter,reconstruction_err,objective,basis_sparseness_mean,seconds\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")
    print("total_seconds", total)


if __name__ == "__main__":
    main()
