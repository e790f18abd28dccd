#!/usr/bin/env python3
"""Speed from Python: nmfkit against scikit-learn, each called as a user calls it.

Every timing is a whole `fit` call from Python (validation, conversion of the array, init,
iterations, the final error), best of --repeat, both libraries with their default threads, on
the Olivetti faces (float32, 400 x 4096) in one run on one machine:

1. per fit, nndsvda start, 30 iterations (tol=0): cd and mu (Frobenius), mu (KL), k = 10, 50, 200;
2. the grid of the original question: alpha_W x l1_ratio with cd at k = 20 (default tol and
   max_iter): scikit-learn's NMF in a Python loop, nmfkit's NMF in the same loop, and
   nmfkit.grid_search (the points in parallel, report folder written);
3. the fixed cost of one call on a tiny matrix (what the Python layer adds).

    pip install crates/nmf-py        # into an environment with scikit-learn
    python3 scripts/bench_python.py [--repeat 3] [--json out.json]

Needs ../shared/data/olivetti_faces.npy (or $NMF_DATA_HOME).
"""

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
import sklearn.decomposition as skd
from sklearn.exceptions import ConvergenceWarning

import nmfkit

ROOT = Path(__file__).resolve().parents[1]
ALPHAS = [0.0, 0.01, 0.1, 1.0]
L1_RATIOS = [0.0, 0.5, 1.0]


def faces():
    home = os.environ.get("NMF_DATA_HOME")
    base = Path(home) if home else ROOT.parent / "shared" / "data"
    return np.load(base / "olivetti_faces.npy")


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def per_fit(X, repeat):
    rows = []
    cases = [("cd", "frobenius"), ("mu", "frobenius"), ("mu", "kullback-leibler")]
    for k in (10, 50, 200):
        for solver, loss in cases:
            params = dict(
                n_components=k, solver=solver, beta_loss=loss, init="nndsvda", tol=0.0,
                max_iter=30, random_state=0,
            )
            t_sk = best(lambda: skd.NMF(**params).fit(X), repeat)
            t_ours = best(lambda: nmfkit.NMF(**params).fit(X), repeat)
            rows.append(dict(case=f"{solver} {loss}", k=k, sklearn=t_sk, nmfkit=t_ours))
            print(f"  k={k:3d} {solver} {loss:16s} sklearn {t_sk:7.3f} s  nmfkit {t_ours:7.3f} s"
                  f"  {t_sk / t_ours:5.2f}x", flush=True)
    return rows


def grid(X, repeat):
    def loop(lib):
        for a in ALPHAS:
            for l1 in L1_RATIOS:
                lib.NMF(20, init="nndsvda", alpha_W=a, l1_ratio=l1, random_state=0).fit(X)

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        out["sklearn loop"] = best(lambda: loop(skd), repeat)
        out["nmfkit loop"] = best(lambda: loop(nmfkit), repeat)
        with tempfile.TemporaryDirectory() as tmp:
            runs = iter(range(repeat))
            out["nmfkit.grid_search"] = best(
                lambda: nmfkit.grid_search(
                    X, out=Path(tmp) / f"g{next(runs)}", solver="cd", n_components=20,
                    alpha_W=ALPHAS, l1_ratio=L1_RATIOS,
                ),
                repeat,
            )
    for name, t in out.items():
        print(f"  grid {len(ALPHAS)}x{len(L1_RATIOS)} {name:20s} {t:7.3f} s", flush=True)
    return out


def overhead(repeat):
    X = np.abs(np.random.RandomState(0).randn(20, 10))
    params = dict(n_components=3, init="nndsvda", tol=0.0, max_iter=1, random_state=0)
    t_sk = best(lambda: skd.NMF(**params).fit(X), repeat * 10)
    t_ours = best(lambda: nmfkit.NMF(**params).fit(X), repeat * 10)
    print(f"  one-iteration fit of 20 x 10: sklearn {t_sk * 1e3:.2f} ms, nmfkit {t_ours * 1e3:.2f} ms")
    return dict(sklearn=t_sk, nmfkit=t_ours)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    X = faces()
    print(f"faces {X.shape} {X.dtype}; scikit-learn {sklearn.__version__}, nmfkit "
          f"{nmfkit.__version__}, numpy {np.__version__}; {platform.processor() or platform.machine()},"
          f" {os.cpu_count()} cores")
    res = dict(per_fit=per_fit(X, a.repeat), grid=grid(X, a.repeat), overhead=overhead(a.repeat))
    print("\n| faces f32, 30 iterations, whole fit() | sklearn | nmfkit | speed-up |")
    print("|---|---|---|---|")
    for r in res["per_fit"]:
        print(f"| k={r['k']} {r['case']} | {r['sklearn']:.3f} s | {r['nmfkit']:.3f} s | "
              f"{r['sklearn'] / r['nmfkit']:.2f}x |")
    g = res["grid"]
    for name in ("nmfkit loop", "nmfkit.grid_search"):
        print(f"| grid {len(ALPHAS)}x{len(L1_RATIOS)} cd k=20: {name} | {g['sklearn loop']:.2f} s | "
              f"{g[name]:.2f} s | {g['sklearn loop'] / g[name]:.2f}x |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
