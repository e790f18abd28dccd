"""Print the rounded reference numbers that the Rust tests hard-code, from scikit-learn, NumPy and SciPy.

Usage: python3 scripts/reference_values.py      (needs: pip install scikit-learn)

Sections follow docs/algorithms.md 12: 12.1 (beta divergence), 12.2 (NNDSVD of X3), 12.4 (a cd
trajectory), 12.7 (Hoyer's measure and projection) and 12.10 (quality measures). The full-precision
fixtures are written by scripts/make_fixtures.py; this script covers the literal numbers in
tests/*.rs and the unit tests of the crates, so each one can be traced to the call that gives it.
Values are printed with 6 significant digits, as the tests compare them.
"""
import numpy as np
from scipy.cluster.hierarchy import cophenet, linkage
from sklearn.decomposition import NMF, _nmf

X3 = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 1, 2], [3, 0, 1, 2, 0], [2, 2, 2, 0, 1]], dtype=float)
X4 = np.array([[1 + ((3 * i + 5 * j) % 7) for j in range(4)] for i in range(5)], dtype=float)
W0 = np.array([[0.5 + 0.25 * ((i + 2 * r) % 3) for r in range(2)] for i in range(5)])
H0 = np.array([[1 + 0.5 * ((r + j) % 2) for j in range(4)] for r in range(2)])


def g(a):
    """6 significant digits, as a nested list."""
    return np.array2string(np.asarray(a, dtype=float), precision=6, floatmode="maxprec", separator=", ",
                           max_line_width=120, formatter={"float_kind": lambda v: "%.6g" % v})


def section_12_1():
    print("12.1 beta divergence D(X4 | W0 H0) and sqrt(2 D)  [tests/core.rs]")
    for beta in (2.0, 1.0, 0.0, 0.5, 1.5, 3.0, -0.5):
        d = _nmf._beta_divergence(X4, W0, H0, beta)
        print("  beta %4g: D = %.6g, sqrt(2D) = %.6g" % (beta, d, np.sqrt(2 * d)))
    wa, ha = _nmf._initialize_nmf(X3, 2, init="nndsvda", random_state=0)
    for beta in (2.0, 1.0, 0.5, 1.5, 3.0):
        print("  X3, nndsvda(k=2) factors, beta %g: D = %.6g" % (beta, _nmf._beta_divergence(X3, wa, ha, beta)))


def section_12_2():
    print("12.2 nndsvd(X3, k=3), random_state=0  [tests/init.rs, nmf-init doc example]")
    w, h = _nmf._initialize_nmf(X3, 3, init="nndsvd", random_state=0)
    print("  W =", g(w))
    print("  H =", g(h))


def section_12_4():
    print("12.4 cd from W0/H0 on X4, tol=0, max_iter=5  [tests/solvers.rs]")
    w, h, n_iter = _nmf.non_negative_factorization(X4, W0.copy(), H0.copy(), n_components=2, init="custom",
                                                   solver="cd", tol=0, max_iter=5)
    print("  W =", g(w))
    print("  D = %.6g (n_iter %d)" % (_nmf._beta_divergence(X4, w, h, 2.0), n_iter))


def hoyer(x):
    x = np.abs(np.asarray(x, dtype=float))
    n = x.size
    return (np.sqrt(n) - x.sum() / np.sqrt((x ** 2).sum())) / (np.sqrt(n) - 1)


def hoyer_projection(x, l1, l2):
    """Hoyer's projfunc (nonnegative mode) for tie-free input: returns (v, passes)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    v = x + (l1 - x.sum()) / n
    zero = np.zeros(n, dtype=bool)
    passes = 0
    while True:
        passes += 1
        mid = np.where(zero, 0.0, l1 / (n - zero.sum()))
        w = v - mid
        a, b, c = (w ** 2).sum(), 2 * w @ v, (v ** 2).sum() - l2 ** 2
        v = v + (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a) * w
        if (v >= 0).all():
            return v, passes
        zero = v <= 0
        v[zero] = 0
        v[~zero] += (l1 - v.sum()) / (n - zero.sum())


def section_12_7():
    print("12.7 Hoyer sparseness and projection  [nmf-core sparseness unit tests]")
    for x in ([1, 0, 0, 0], [1, 1, 1, 1], [1, 2, 3, 4], [0.5, 0.25, 0, 0.25], [3, 0, 0, 1, 0, 0]):
        print("  s(%s) = %.6g" % (x, hoyer(x)))
    x = np.array([0.1, 0.9, 0.3, 0.5, 0.2])
    n = x.size
    for s, l2 in ((0.2, 1.0), (0.5, 1.0), (0.9, 1.0), (0.5, 2.0)):
        l1 = l2 * (np.sqrt(n) - (np.sqrt(n) - 1) * s)
        v, passes = hoyer_projection(x, l1, l2)
        print("  project x to s* = %g, L2 = %g: lambda1 = %.6g, %d passes, v = %s" % (s, l2, l1, passes, g(v)))
    y = np.array([-0.4, 0.9, 0.1, -0.2, 0.3, 0.0])
    l1 = np.sqrt(y.size) - (np.sqrt(y.size) - 1) * 0.6
    v, _ = hoyer_projection(np.abs(y), l1, 1.0)
    print("  signed mode, y = %s, s* = 0.6: %s" % (y.tolist(), g(np.sign(y) * v)))


def nimfa_sparseness(x):
    """nimfa's measure: epsilon-stabilised, magnitudes, an all-zero vector scores 1."""
    x = np.asarray(x, dtype=float)
    eps = np.finfo(float).eps
    n = x.size
    return (np.sqrt(n) - (np.abs(x).sum() + eps) / (np.sqrt((x ** 2).sum()) + eps)) / (np.sqrt(n) - 1)


def section_12_10():
    print("12.10 quality measures on X4  [tests/metrics.rs, nmf-metrics unit tests]")
    m = NMF(2, init="random", random_state=0, max_iter=1000, tol=1e-6)
    w = m.fit_transform(X4)
    h = m.components_
    print("  W =", g(w))
    print("  H =", g(h))
    rss = ((X4 - w @ h) ** 2).sum()
    print("  RSS = %.6g, explained variance (uncentred) = %.6g" % (rss, 1 - rss / (X4 ** 2).sum()))
    print("  nimfa sparseness: rows of H %.6g, rows of W %.6g" % (
        np.mean([nimfa_sparseness(r) for r in h]), np.mean([nimfa_sparseness(r) for r in w])))
    runs = []
    for seed in range(5):
        wr = NMF(2, init="random", random_state=seed, max_iter=1000, tol=1e-6).fit_transform(X4)
        runs.append(np.argmax(wr, axis=1))
    print("  labels of runs 0..4:", [list(map(int, r)) for r in runs])
    c = np.mean([np.equal.outer(r, r).astype(float) for r in runs], axis=0)
    print("  consensus =", g(c))
    n = c.shape[0]
    y = np.array([1 - c[i, j] for i in range(n) for j in range(i + 1, n)])
    coph, _ = cophenet(linkage(y, method="average"), y)
    print("  cophenetic correlation = %.6g" % coph)
    print("  dispersion = %.6g" % (np.sum(4 * (c - 0.5) ** 2) / n ** 2))
    classes = np.array([0, 1, 0, 1, 1])
    labels = runs[0]
    table = np.array([[np.sum((labels == k) & (classes == j)) for j in np.unique(classes)]
                      for k in np.unique(labels)])
    purity = table.max(axis=1).sum() / n
    q = table.shape[1]
    ent = 0.0
    for row in table:
        for v in row:
            if v > 0:
                ent += v * np.log2(v / row.sum())
    print("  with classes %s: purity = %.6g, entropy = %.6g" % (classes.tolist(), purity, -ent / (n * np.log2(q))))
    for x in ([0, 0, 0, 0], [2, 0, 0, 0], [1, 1, 1, 1], [-1, 2, 0, 0]):
        print("  nimfa-style sparseness %s = %.6g" % (x, nimfa_sparseness(x)))


if __name__ == "__main__":
    section_12_1()
    section_12_2()
    section_12_4()
    section_12_7()
    section_12_10()
