"""scikit-learn's side of `cargo xtask init-compare`: time and starting error of its
initialisations, next to ours.

Usage: python3 scripts/init_compare_sklearn.py DATA.npy K
Prints one JSON line per initialisation (nndsvda, nndsvd, random, random_state=0):
{"init": NAME, "seconds": fastest of 3 runs, "error": ||X - W0 H0||_F}.
"""
import json
import sys
import time

import numpy as np
from sklearn.decomposition import _nmf


def main():
    data, k = sys.argv[1], int(sys.argv[2])
    x = np.load(data)
    for init in ("nndsvda", "nndsvd", "random"):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            w, h = _nmf._initialize_nmf(x, k, init=init, random_state=0)
            best = min(best, time.perf_counter() - t)
        print(json.dumps({"init": init, "seconds": best, "error": float(np.linalg.norm(x - w @ h))}))


if __name__ == "__main__":
    main()
