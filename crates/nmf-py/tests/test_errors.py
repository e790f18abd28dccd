"""Bad input raises what scikit-learn raises: the same exception type, and the same message
wherever the check is scikit-learn's (input validation, given factors, settings shared with
scikit-learn). Each case runs both libraries and compares."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.decomposition as skd
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import nmfkit


def outcome(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the point is to compare whatever is raised
        return type(e), str(e)
    return None, None


def good(n=20, m=6):
    return np.abs(np.random.RandomState(0).randn(n, m)) + 0.1


def neg():
    X = good()
    X[3, 2] = -1.0
    return X


def nan():
    X = good()
    X[1, 1] = np.nan
    return X


def inf():
    X = good()
    X[1, 1] = np.inf
    return X


BAD_X = {
    "negative": neg,
    "nan": nan,
    "inf": inf,
    "one-dimensional": lambda: good()[:, 0],
    "three-dimensional": lambda: good().reshape(20, 3, 2),
    "no rows": lambda: np.zeros((0, 6)),
    "no columns": lambda: np.zeros((20, 0)),
    "object strings": lambda: np.array([["a", "b"], ["c", "d"]], dtype=object),
    "strings": lambda: np.array([["1.0", "x"], ["2", "3"]]),
    "complex": lambda: good().astype(np.complex128),
    "list of lists": lambda: [[1.0, 2.0], [3.0, -4.0]],
    "ragged": lambda: np.array([[1.0, 2.0], [3.0]], dtype=object),
    "sparse negative": lambda: sp.csr_matrix(neg()),
    "sparse nan": lambda: sp.csr_matrix(nan()),
    "scalar": lambda: 3.0,
}

ESTIMATORS = [
    ("NMF", dict(n_components=2, random_state=0, max_iter=20)),
    ("NMF", dict(n_components=2, solver="mu", random_state=0, max_iter=20)),
    ("MiniBatchNMF", dict(n_components=2, random_state=0, max_iter=5, batch_size=8)),
]


@pytest.mark.parametrize("cls,params", ESTIMATORS)
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_x_in_fit(cls, params, case):
    ours = outcome(lambda: getattr(nmfkit, cls)(**params).fit(BAD_X[case]()))
    theirs = outcome(lambda: getattr(skd, cls)(**params).fit(BAD_X[case]()))
    assert theirs[0] is not None
    assert ours == theirs


@pytest.mark.parametrize("cls,params", ESTIMATORS)
@pytest.mark.parametrize("case", ["negative", "nan", "inf", "one-dimensional", "no rows", "complex"])
def test_bad_x_in_transform(cls, params, case):
    def run(lib):
        est = getattr(lib, cls)(**params).fit(good())
        return outcome(lambda: est.transform(BAD_X[case]()))

    ours, theirs = run(nmfkit), run(skd)
    if cls == "MiniBatchNMF" and case == "negative":
        # scikit-learn's MiniBatchNMF.transform does not check the sign and returns factors of
        # negative data; nmfkit refuses it with the message its fit gives.
        assert theirs == (None, None)
        assert ours == (ValueError, "Negative values in data passed to MiniBatchNMF (input X).")
    else:
        assert ours == theirs


@pytest.mark.parametrize("cls,params", ESTIMATORS)
def test_wrong_feature_count_and_not_fitted(cls, params):
    def run(lib):
        est = getattr(lib, cls)(**params).fit(good())
        return outcome(lambda: est.transform(good(5, 4)))

    kind, msg = run(nmfkit)
    assert (kind, msg) == run(skd)
    assert kind is ValueError and "4 features" in msg
    ours = outcome(lambda: getattr(nmfkit, cls)(**params).transform(good()))
    assert ours == outcome(lambda: getattr(skd, cls)(**params).transform(good()))
    assert ours[0] is NotFittedError


def custom_cases():
    X = good()
    W, H = np.abs(np.random.RandomState(1).randn(20, 2)), np.abs(np.random.RandomState(2).randn(2, 6))
    yield "W wrong rows", X, W[:5], H
    yield "H wrong columns", X, W, H[:, :3]
    yield "W negative", X, -W, H
    yield "H all zero", X, W, np.zeros_like(H)
    yield "H nan", X, W, np.where(np.arange(12).reshape(2, 6) == 4, np.nan, H)
    yield "W float32", X, W.astype(np.float32), H
    yield "W missing", X, None, H


@pytest.mark.parametrize("case", [c[0] for c in custom_cases()])
@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_bad_custom_factors(case, solver):
    _, X, W, H = next(c for c in custom_cases() if c[0] == case)
    params = dict(n_components=2, init="custom", solver=solver, max_iter=10)
    ours = outcome(lambda: nmfkit.NMF(**params).fit(X, W=W, H=H))
    if case == "H nan":
        # scikit-learn checks given factors with finiteness checks switched off and returns
        # NaN components; nmfkit refuses them.
        fitted = skd.NMF(**params).fit(X, W=W, H=H)
        assert np.isnan(fitted.components_).any()
        assert ours == (ValueError, "Input contains NaN.")
        return
    theirs = outcome(lambda: skd.NMF(**params).fit(X, W=W, H=H))
    assert theirs[0] is not None
    assert ours == theirs


SHARED_SETTINGS = [
    dict(n_components=0),
    dict(n_components=2.5),
    dict(init="svd"),
    dict(beta_loss="euclid"),
    dict(tol=-1.0),
    dict(max_iter=0),
    dict(alpha_W=-0.1),
    dict(alpha_H="different"),
    dict(l1_ratio=1.5),
    dict(random_state="seed"),
    dict(random_state=-3),
    dict(solver="cd", beta_loss="kullback-leibler"),
    dict(solver="mu", beta_loss=0),  # X has zeros below
]


@pytest.mark.parametrize("settings", SHARED_SETTINGS, ids=str)
def test_bad_settings(settings):
    X = good()
    X[0, 0] = 0.0
    params = {"n_components": 2, "max_iter": 10, **settings}
    ours = outcome(lambda: nmfkit.NMF(**params).fit(X))
    theirs = outcome(lambda: skd.NMF(**params).fit(X))
    assert theirs[0] is not None
    assert ours == theirs


def test_our_settings_are_validated_the_same_way():
    X = good()
    kind, msg = outcome(lambda: nmfkit.NMF(2, solver="als").fit(X))
    assert kind is InvalidParameterError and "'solver' parameter of NMF" in msg
    kind, msg = outcome(lambda: nmfkit.NMF(2, solver="pg", h_sparseness=1.5).fit(X))
    assert kind is InvalidParameterError and "'h_sparseness' parameter" in msg
    kind, msg = outcome(lambda: nmfkit.NMF(2, solver="cd", h_sparseness=0.5).fit(X))
    assert kind is ValueError and "solver='pg'" in msg
    kind, msg = outcome(lambda: nmfkit.NMF(2, solver="pg", beta_loss=1).fit(X))
    assert kind is ValueError and "does not handle beta_loss" in msg
    kind, _ = outcome(lambda: nmfkit.NMF(2, n_jobs="two").fit(X))
    assert kind is InvalidParameterError


def test_transform_dtype_mismatch_is_scikit_learns_type_error():
    def run(lib):
        est = lib.NMF(2, random_state=0, max_iter=20).fit(good().astype(np.float32))
        return outcome(lambda: est.transform(good()))

    ours = run(nmfkit)
    assert ours == run(skd)
    assert ours[0] is TypeError
