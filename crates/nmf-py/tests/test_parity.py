"""nmfkit against scikit-learn: the same parameters and integer random_state give the same
n_iter_, reconstruction_err_ and factors (to 1e-5 relative in float64, in practice ~1e-13), for
cd and mu with every beta, penalties, every init, fixed iterations and default stopping, dense and
sparse input, NMF and MiniBatchNMF (fit, transform, partial_fit)."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.decomposition as skd
from sklearn.exceptions import ConvergenceWarning

import nmfkit

RTOL = 1e-5


def rel(a, b):
    """Largest entrywise difference relative to the largest entry."""
    a, b = np.asarray(a), np.asarray(b)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def fit_both(cls, X, W0=None, H0=None, **params):
    with _quiet():
        ours, theirs = getattr(nmfkit, cls)(**params), getattr(skd, cls)(**params)
        if W0 is None:
            w_ours, w_theirs = ours.fit_transform(X), theirs.fit_transform(X)
        else:
            w_ours = ours.fit_transform(X, W=W0.copy(), H=H0.copy())
            w_theirs = theirs.fit_transform(X, W=W0.copy(), H=H0.copy())
    return ours, theirs, w_ours, w_theirs


class _quiet:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", ConvergenceWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def assert_same(ours, theirs, w_ours, w_theirs, rtol=RTOL):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.n_components_ == theirs.n_components_
    assert w_ours.dtype == w_theirs.dtype
    assert ours.components_.dtype == theirs.components_.dtype
    assert abs(ours.reconstruction_err_ - theirs.reconstruction_err_) <= rtol * abs(
        theirs.reconstruction_err_
    )
    assert rel(w_ours, w_theirs) <= rtol
    assert rel(ours.components_, theirs.components_) <= rtol


def planted(rng, n, m, k=5):
    """A rank-k nonnegative matrix plus noise: every component carries signal, so no
    component dies in a fit. (Where one does, whether it revives is decided by the sign of a
    gradient that is zero up to rounding, and two implementations then part ways; that is
    rounding amplified, not a difference of method.)"""
    return np.abs(rng.randn(n, k)) @ np.abs(rng.randn(k, m)) + 0.1 * np.abs(rng.randn(n, m))


def positive(rng, n=40, m=25):
    return planted(rng, n, m) + 0.1  # strictly positive: beta <= 0 allowed


def with_zeros(rng, n=40, m=25):
    X = planted(rng, n, m)
    X[rng.rand(n, m) < 0.2] = 0.0
    return X


# (A pure l2 penalty on both factors is left out: where a component of W dies, H's row is
# updated to H - (l2·H)/l2, zero only up to rounding, and whether it revives then decides the
# rest of the fit in any implementation.)
PENALTIES = [
    dict(),
    dict(alpha_W=0.002, alpha_H=0.0, l1_ratio=0.0),
    dict(alpha_W=0.002, l1_ratio=1.0),
    dict(alpha_W=0.001, alpha_H=0.004, l1_ratio=0.5),
]


@pytest.mark.parametrize("pen", PENALTIES)
@pytest.mark.parametrize("init", ["nndsvda", "nndsvd", "nndsvdar", "random"])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("stop", ["fixed", "default"])
def test_cd(rng, pen, init, shuffle, stop):
    X = with_zeros(rng)
    it = dict(tol=0.0, max_iter=30) if stop == "fixed" else dict()
    r = fit_both(
        "NMF", X, n_components=5, solver="cd", init=init, shuffle=shuffle, random_state=3,
        **pen, **it,
    )
    assert_same(*r)
    if stop == "fixed":
        assert r[0].n_iter_ == 30


@pytest.mark.parametrize("beta", [2, 1, 0, 0.5, 1.5, 3, "frobenius", "kullback-leibler", "itakura-saito"])
@pytest.mark.parametrize("pen", PENALTIES)
@pytest.mark.parametrize("stop", ["fixed", "default"])
def test_mu(rng, beta, pen, stop):
    b = {"frobenius": 2, "kullback-leibler": 1, "itakura-saito": 0}.get(beta, beta)
    X = positive(rng) if b <= 0 else with_zeros(rng)
    it = dict(tol=0.0, max_iter=40) if stop == "fixed" else dict(max_iter=300)
    r = fit_both(
        "NMF", X, n_components=4, solver="mu", beta_loss=beta, init="nndsvda", random_state=1,
        **pen, **it,
    )
    assert_same(*r)


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_custom_start_and_transform(rng, solver):
    X = with_zeros(rng, 50, 20)
    W0, H0 = np.abs(rng.randn(50, 6)), np.abs(rng.randn(6, 20))
    ours, theirs, wo, wt = fit_both("NMF", X, W0, H0, n_components=6, solver=solver, init="custom")
    assert_same(ours, theirs, wo, wt)
    Xn = with_zeros(rng, 15, 20)
    assert rel(ours.transform(Xn), theirs.transform(Xn)) <= RTOL
    assert rel(ours.inverse_transform(wo), theirs.inverse_transform(wt)) <= RTOL


def test_n_components_auto_and_default_init(rng):
    X = with_zeros(rng, 30, 12)
    assert_same(*fit_both("NMF", X, random_state=0))  # k = n_features, nndsvda
    assert_same(*fit_both("NMF", X, n_components=20, random_state=0))  # k > min: random
    W0, H0 = np.abs(rng.randn(30, 3)), np.abs(rng.randn(3, 12))
    ours, *_ = r = fit_both("NMF", X, W0, H0, init="custom")  # k from H
    assert ours.n_components_ == 3
    assert_same(*r)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver,beta", [("cd", 2), ("mu", 2), ("mu", 1), ("mu", 0.5)])
def test_sparse(rng, fmt, solver, beta):
    """Sparse input, never densified. The reference is scikit-learn on CSR: on CSC with
    beta != 2 scikit-learn pairs X.data (column order) with W·H sampled in row order and returns
    wrong factors (off by ~70% here); nmfkit gives CSC the CSR answer."""
    X = sp.random(80, 40, density=0.15, format="csr", random_state=rng, dtype=np.float64)
    params = dict(
        n_components=5, solver=solver, beta_loss=beta, init="nndsvda", random_state=0,
        max_iter=100, alpha_W=0.001,
    )
    with _quiet():
        theirs = skd.NMF(**params)
        w_theirs = theirs.fit_transform(X)
        ours = nmfkit.NMF(**params)
        w_ours = ours.fit_transform(X.asformat(fmt))
    assert_same(ours, theirs, w_ours, w_theirs)
    Xn = sp.random(10, 40, density=0.2, format="csr", random_state=rng)
    assert rel(ours.transform(Xn.asformat(fmt)), theirs.transform(Xn)) <= RTOL


def test_faces_cd_default(faces):
    X = faces.astype(np.float64)
    r = fit_both("NMF", X, n_components=10, random_state=0)
    assert_same(*r)


def test_faces_mu_kl_fixed_iterations(faces):
    X = faces.astype(np.float64)
    r = fit_both(
        "NMF", X, n_components=10, solver="mu", beta_loss="kullback-leibler", tol=0,
        max_iter=50, random_state=0,
    )
    assert_same(*r)


def test_faces_float32_stays_float32(faces):
    ours, theirs, wo, wt = fit_both("NMF", faces, n_components=8, random_state=0, max_iter=50)
    assert faces.dtype == np.float32
    assert wo.dtype == np.float32 and ours.components_.dtype == np.float32
    assert ours.transform(faces[:5]).dtype == np.float32
    # float32 rounding differs between any two implementations; the fits still agree closely.
    assert rel(ours.components_, theirs.components_) < 1e-2
    assert abs(ours.reconstruction_err_ / theirs.reconstruction_err_ - 1) < 1e-4


@pytest.mark.parametrize("beta", [2, 1, 0.5])
@pytest.mark.parametrize("fresh", [False, True])
def test_minibatch_fit_and_transform(rng, beta, fresh):
    X = with_zeros(rng, 90, 20)
    r = fit_both(
        "MiniBatchNMF", X, n_components=4, batch_size=16, beta_loss=beta,
        fresh_restarts=fresh, random_state=0, max_iter=30,
    )
    assert_same(*r)
    assert r[0].n_steps_ == r[1].n_steps_
    Xn = with_zeros(rng, 12, 20)
    assert rel(r[0].transform(Xn), r[1].transform(Xn)) <= RTOL


def test_minibatch_sparse(rng):
    X = sp.random(120, 30, density=0.2, format="csr", random_state=rng)
    r = fit_both("MiniBatchNMF", X, n_components=3, batch_size=32, random_state=0, max_iter=20)
    assert_same(*r)


def test_partial_fit_stream_and_after_fit(rng):
    X = with_zeros(rng, 100, 15)
    params = dict(n_components=3, batch_size=25, random_state=0, beta_loss=1)
    ours, theirs = nmfkit.MiniBatchNMF(**params), skd.MiniBatchNMF(**params)
    for start in range(0, 100, 25):
        ours.partial_fit(X[start : start + 25])
        theirs.partial_fit(X[start : start + 25])
        assert ours.n_steps_ == theirs.n_steps_
        assert rel(ours.components_, theirs.components_) <= RTOL
    # partial_fit continues a fit from its running statistics, as scikit-learn's does.
    with _quiet():
        ours, theirs = nmfkit.MiniBatchNMF(**params).fit(X), skd.MiniBatchNMF(**params).fit(X)
    ours.partial_fit(X[:30])
    theirs.partial_fit(X[:30])
    assert ours.n_steps_ == theirs.n_steps_
    assert rel(ours.components_, theirs.components_) <= RTOL


def test_convergence_warning_when_max_iter_is_reached(rng):
    X = with_zeros(rng)
    for cls in (nmfkit.NMF, nmfkit.MiniBatchNMF):
        with pytest.warns(ConvergenceWarning, match="Maximum number of iterations 3 reached"):
            cls(n_components=3, max_iter=3, random_state=0).fit(X)


def test_feature_names_like_sklearn(rng):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(with_zeros(rng, 20, 4), columns=list("abcd"))
    ours, theirs = nmfkit.NMF(2, random_state=0).fit(X), skd.NMF(2, random_state=0).fit(X)
    assert list(ours.feature_names_in_) == list(theirs.feature_names_in_)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
