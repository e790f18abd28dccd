"""Regenerate the scikit-learn reference fixtures under tests/fixtures/.

Usage: python3 scripts/make_fixtures.py            (small fixtures, committed, in tests/fixtures/)
       python3 scripts/make_fixtures.py --large DIR  (only the Olivetti fixtures, into an ignored folder)

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


def solver_cases():
    """Fixed-iteration trajectories (tol = 0) from custom starts, and full default fits."""
    nnf = _nmf.non_negative_factorization
    traj = []

    def add(name, x, w0, h0, **kw):
        w, h, n_iter = nnf(x, w0.copy(), h0.copy(), n_components=w0.shape[1], init="custom", tol=0, **kw)
        traj.append({"name": name, "X": mat(x), "W0": mat(w0), "H0": mat(h0), "params": kw,
                     "W": mat(w), "H": mat(h), "n_iter": int(n_iter)})

    for it in (1, 5):
        add("cd X4 it=%d" % it, X4, W0, H0, solver="cd", max_iter=it)
        for b in (2.0, 1.0, 0.0, 0.5, 3.0):
            add("mu X4 beta=%g it=%d" % (b, it), X4, W0, H0, solver="mu", beta_loss=b, max_iter=it)
    add("mu X4 penalised", X4, W0, H0, solver="mu", max_iter=5, alpha_W=0.1, l1_ratio=0.5)
    add("cd X4 penalised", X4, W0, H0, solver="cd", max_iter=5, alpha_W=0.1, l1_ratio=0.5)
    # Larger random problems with L1 + L2 on both factors (alpha_H differs from alpha_W).
    r = np.random.RandomState(3)
    x = planted(20, 15, 11)
    xp = x + 0.05  # strictly positive for beta <= 0
    w0 = r.rand(20, 4) + 0.1
    h0 = r.rand(4, 15) + 0.1
    pen = dict(alpha_W=0.02, alpha_H=0.05, l1_ratio=0.3)
    add("cd planted penalised", x, w0, h0, solver="cd", max_iter=20, **pen)
    add("cd planted shuffle", x, w0, h0, solver="cd", max_iter=20, shuffle=True, random_state=5, **pen)
    for b in (2.0, 1.0, 0.5, 0.0, 1.5, 3.0, -0.5):
        xx = xp if b <= 0 else x
        add("mu planted beta=%g penalised" % b, xx, w0, h0, solver="mu", beta_loss=b, max_iter=20, **pen)
    # update_H=False: transform's solve (W from its default start; H fixed).
    fixedh = []
    for solver in ("cd", "mu"):
        for b in ((2.0,) if solver == "cd" else (2.0, 1.0, 0.5)):
            for pen2 in ({}, {"alpha_W": 0.05, "l1_ratio": 0.0}):
                w, _, n_iter = nnf(x, None, h0.copy(), n_components=4, init="custom", update_H=False,
                                   solver=solver, beta_loss=b, tol=0, max_iter=7, **pen2)
                fixedh.append({"X": mat(x), "H": mat(h0), "solver": solver, "beta": b, "params": pen2,
                               "max_iter": 7, "W": mat(w)})
    # Full fits with scikit-learn's defaults (stopping rules involved): ALGORITHMS.md 12.3.
    X1 = np.arange(1, 13, dtype=float).reshape(3, 4)
    X2 = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    from sklearn.decomposition import NMF
    fits = []

    def fit(name, x, k, **kw):
        model = NMF(k, **kw)
        w = model.fit_transform(x)
        fits.append({"name": name, "X": mat(x), "k": k, "params": kw, "W": mat(w), "H": mat(model.components_),
                     "n_iter": int(model.n_iter_), "err": float(model.reconstruction_err_)})
        return model

    m = fit("D1", X2, 2, init="nndsvda")
    fits[-1]["transform_in"] = mat(1.1 * X2[:3])
    fits[-1]["transform_out"] = mat(m.transform(1.1 * X2[:3]))
    fit("D2", X3, 2, init="nndsvd")
    fit("D2b", X3, 3, init="nndsvda")
    m = fit("D3", X3, 2, solver="mu", init="nndsvda")
    fits[-1]["transform_in"] = mat(X3)
    fits[-1]["transform_out"] = mat(m.transform(X3))
    fit("D4", X3, 2, solver="mu", init="nndsvda", beta_loss="kullback-leibler")
    fit("D5a", X4, 2, solver="mu", init="nndsvda", beta_loss="itakura-saito")
    fit("D5b", X4, 2, solver="mu", init="nndsvda", beta_loss=0.5)
    fit("D5c", X4, 2, solver="mu", init="nndsvda", beta_loss=3.0)
    fit("D6a", X3, 2, init="nndsvda", alpha_W=0.01, l1_ratio=0.5)
    fit("D6b", X3, 2, solver="mu", init="nndsvda", alpha_W=0.01, l1_ratio=0.5)
    fit("D6c", X3, 2, init="nndsvda", alpha_W=0.05, alpha_H=0.0, l1_ratio=1.0)
    fit("D7", X3, 2, init="nndsvda", shuffle=True, random_state=0)
    fit("D8", X2, 2, init="random", random_state=0)
    fit("D8b", X1, 4, random_state=0)
    fit("D8c", X1, 2, init="nndsvda")
    # End to end from a seed (init stream + solver stream), as the init issue asks.
    xe = planted(50, 40, 21)
    e2e = []
    for kw in (dict(n_components=20, init="random", random_state=42, solver="mu", max_iter=5, tol=0),
               dict(n_components=6, init="nndsvdar", random_state=7, solver="cd", shuffle=True, max_iter=3, tol=0),
               dict(n_components=5, init="nndsvda", random_state=1, solver="mu", beta_loss=1.0, max_iter=30, tol=0)):
        w, h, n_iter = nnf(xe, **kw)
        e2e.append({"X": mat(xe), "params": kw, "W": mat(w), "H": mat(h), "n_iter": int(n_iter)})
    dump("solvers.json", {"trajectories": traj, "fixed_h": fixedh, "fits": fits, "end_to_end": e2e})


def large(dirname):
    os.makedirs(dirname, exist_ok=True)
    faces = os.path.join(HERE, "..", "..", "shared", "data", "olivetti_faces.npy")
    x = np.load(faces)
    w, h = _nmf._initialize_nmf(x, 20, init="nndsvda", random_state=0)
    np.save(os.path.join(dirname, "olivetti_nndsvda_k20_seed0_W.npy"), w)
    np.save(os.path.join(dirname, "olivetti_nndsvda_k20_seed0_H.npy"), h)
    # 50 iterations from that start (tol = 0): cd and mu with beta 2 and 1.
    for solver, beta in (("cd", 2.0), ("mu", 2.0), ("mu", 1.0)):
        wf, hf, _ = _nmf.non_negative_factorization(x, w.copy(), h.copy(), n_components=20, init="custom",
                                                    solver=solver, beta_loss=beta, tol=0, max_iter=50)
        tag = "olivetti_k20_%s_beta%g_it50" % (solver, beta)
        np.save(os.path.join(dirname, tag + "_W.npy"), wf)
        np.save(os.path.join(dirname, tag + "_H.npy"), hf)
    print("wrote large fixtures into", dirname)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", metavar="DIR", help="write only the Olivetti fixtures, into DIR")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if args.large:
        # Only the large fixtures: CI calls this, and must not rewrite the committed small ones
        # (scikit-learn's results move in the last bits between runs with threaded BLAS).
        large(args.large)
        return
    beta_divergence()
    mt19937()
    init_cases()
    solver_cases()


if __name__ == "__main__":
    main()
