"""scikit-learn side of `cargo xtask sparse-compare`: for each target mean basis sparseness,
bisect alpha_H (l1_ratio = 1, alpha_W = 0) for solvers mu and cd until the mean Hoyer sparseness
of the rows of H reaches the target (or report that it cannot).

Usage: python3 scripts/sparse_compare_sklearn.py DATA.npy K MAX_ITER TARGET [TARGET ...]
Prints one JSON line per (solver, target).
"""
import json
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


def fit(x, k, solver, alpha, max_iter):
    m = NMF(k, solver=solver, init="nndsvda", alpha_W=0.0, alpha_H=alpha, l1_ratio=1.0, max_iter=max_iter, random_state=0)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(x)
    secs = time.perf_counter() - t0
    s = np.array([hoyer(r) for r in m.components_])
    alive = np.array([np.abs(r).sum() > 0 for r in m.components_])
    return {"alpha_H": alpha, "mean": float(s.mean()), "min": float(s.min()), "max": float(s.max()),
            "err": float(m.reconstruction_err_), "seconds": secs, "n_iter": int(m.n_iter_), "dead": int((~alive).sum())}


def main():
    data, k, max_iter = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    targets = [float(t) for t in sys.argv[4:]]
    x = np.load(data)
    for solver in ("mu", "cd"):
        base = fit(x, k, solver, 0.0, max_iter)
        for t in targets:
            if base["mean"] >= t:
                best = base
            else:
                lo, hi = 0.0, 1e-4
                r = fit(x, k, solver, hi, max_iter)
                while r["mean"] < t and hi < 1e3:
                    lo, hi = hi, hi * 10
                    r = fit(x, k, solver, hi, max_iter)
                best = r if r["mean"] >= t else None
                for _ in range(8):
                    if best is None:
                        break
                    mid = np.sqrt(lo * hi) if lo > 0 else hi / 10
                    r = fit(x, k, solver, mid, max_iter)
                    if r["mean"] >= t:
                        hi, best = mid, r
                    else:
                        lo = mid
            print(json.dumps({"solver": solver, "target": t, "result": best}), flush=True)


if __name__ == "__main__":
    main()
