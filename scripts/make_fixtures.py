"""Regenerate the scikit-learn reference fixtures under tests/fixtures/.

Usage: python3 scripts/make_fixtures.py            (small fixtures, committed)
       python3 scripts/make_fixtures.py --large DIR  (Olivetti fixtures, into an ignored folder)

Needs scikit-learn (pip install scikit-learn). Every number our tests compare against comes from
this script, so a reader can see exactly which scikit-learn call produced it.
"""
import argparse
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.decomposition import _nmf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "fixtures")

X3 = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 1, 2], [3, 0, 1, 2, 0], [2, 2, 2, 0, 1]], dtype=float)
X4 = np.array([[1 + ((3 * i + 5 * j) % 7) for j in range(4)] for i in range(5)], dtype=float)
W0 = np.array([[0.5 + 0.25 * ((i + 2 * r) % 3) for r in range(2)] for i in range(5)])
H0 = np.array([[1 + 0.5 * ((r + j) % 2) for j in range(4)] for r in range(2)])


def mat(a):
    return np.asarray(a, dtype=float).tolist()


def dump(name, obj):
    obj["_generated_by"] = "scripts/make_fixtures.py with scikit-learn %s, numpy %s" % (
        sklearn.__version__,
        np.__version__,
    )
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f)
        f.write("\n")
    print("wrote", os.path.relpath(path))


def beta_divergence():
    betas = [2.0, 1.0, 0.0, 0.5, 1.5, 3.0, -0.5]
    cases = []
    for b in betas:
        d = float(_nmf._beta_divergence(X4, W0, H0, b))
        cases.append({"beta": b, "x": "X4", "d": d})
    # With zeros in X (entries <= EPS skipped) on X3 with nndsvda factors.
    wa, ha = _nmf._initialize_nmf(X3, 2, init="nndsvda", random_state=0)
    for b in [2.0, 1.0, 0.5, 1.5, 3.0]:
        d = float(_nmf._beta_divergence(X3, wa, ha, b))
        cases.append({"beta": b, "x": "X3", "d": d})
    dump(
        "beta_divergence.json",
        {"X4": mat(X4), "W0": mat(W0), "H0": mat(H0), "X3": mat(X3), "Wa": mat(wa), "Ha": mat(ha), "cases": cases},
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", metavar="DIR", help="also write Olivetti fixtures into DIR")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    beta_divergence()
    if args.large:
        print("no large fixtures defined yet", file=sys.stderr)


if __name__ == "__main__":
    main()
