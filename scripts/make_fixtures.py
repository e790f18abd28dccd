"""Regenerate the scikit-learn reference fixtures under tests/fixtures/.

Usage: python3 scripts/make_fixtures.py            (small fixtures, committed)
       python3 scripts/make_fixtures.py --large DIR  (Olivetti fixtures, into an ignored folder)

Needs scikit-learn (pip install scikit-learn). Every number our tests compare against comes from
this script, so a reader can see exactly which scikit-learn call produced it.
"""
import argparse
import json
import os

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


def mt19937():
    out = {}
    for seed in (0, 42):
        r = np.random.RandomState(seed)
        uniforms = r.random_sample(20).tolist()
        r = np.random.RandomState(seed)
        normals = r.standard_normal(21).tolist()
        r = np.random.RandomState(seed)
        perms = [r.permutation(n).tolist() for n in (10, 50, 3, 200)]
        out[str(seed)] = {"uniforms": uniforms, "normals": normals, "permutations": perms}
    dump("mt19937.json", out)


def planted(n, m, seed):
    """A nonnegative test matrix: low rank plus noise, some exact zeros."""
    r = np.random.RandomState(seed)
    x = r.rand(n, 4) @ r.rand(4, m) + 0.1 * r.rand(n, m)
    x[r.rand(n, m) < 0.1] = 0.0
    return x


def init_cases():
    cases = []
    for init in ("nndsvd", "nndsvda", "nndsvdar", "random"):
        w, h = _nmf._initialize_nmf(X3, 3, init=init, random_state=0)
        cases.append({"x": "X3", "k": 3, "init": init, "seed": 0, "W": mat(w), "H": mat(h)})
    X2 = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    w, h = _nmf._initialize_nmf(X2, 2, init="random", random_state=0)
    cases.append({"x": "X2", "k": 2, "init": "random", "seed": 0, "W": mat(w), "H": mat(h)})
    # Larger matrices exercise the power iterations (7 when k < 0.1 min(n, m)) and the transpose.
    for (n, m, k, seed) in ((60, 50, 4, 7), (50, 60, 4, 7), (30, 20, 8, 3)):
        x = planted(n, m, seed)
        for init in ("nndsvd", "nndsvdar"):
            w, h = _nmf._initialize_nmf(x, k, init=init, random_state=seed)
            cases.append({"x": "planted", "n": n, "m": m, "data_seed": seed, "X": mat(x), "k": k,
                          "init": init, "seed": seed, "W": mat(w), "H": mat(h)})
    dump("init.json", {"X3": mat(X3), "X2": mat(X2), "cases": cases})


def large(dirname):
    os.makedirs(dirname, exist_ok=True)
    faces = os.path.join(HERE, "..", "..", "shared", "data", "olivetti_faces.npy")
    x = np.load(faces)
    w, h = _nmf._initialize_nmf(x, 20, init="nndsvda", random_state=0)
    np.save(os.path.join(dirname, "olivetti_nndsvda_k20_seed0_W.npy"), w)
    np.save(os.path.join(dirname, "olivetti_nndsvda_k20_seed0_H.npy"), h)
    print("wrote large fixtures into", dirname)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", metavar="DIR", help="also write Olivetti fixtures into DIR")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    beta_divergence()
    mt19937()
    init_cases()
    if args.large:
        large(args.large)


if __name__ == "__main__":
    main()
