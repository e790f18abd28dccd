"""scikit-learn's ``NMF`` and ``MiniBatchNMF`` on the nmf-rs solvers.

The estimators validate input with scikit-learn's own helpers (so exception types and messages
are scikit-learn's), follow scikit-learn's order of checks and its rules for ``init``,
``n_components="auto"``, ``W``/``H`` and warnings, and hand the numerical work to the Rust
extension ``nmfkit._core`` with the GIL released. An integer ``random_state`` selects the
library's scikit-learn compatible random streams, so the same parameters give scikit-learn's
factors to rounding.
"""

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.decomposition import MiniBatchNMF as _SkMiniBatchNMF
from sklearn.decomposition import NMF as _SkNMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from . import _core

_BETA = {"frobenius": 2, "kullback-leibler": 1, "itakura-saito": 0}
_FLOATS = [np.float64, np.float32]


def _beta_of(beta_loss):
    return _BETA[beta_loss] if isinstance(beta_loss, str) else beta_loss


def _check_init(A, shape, whom):
    """A given W or H: finite, the expected shape, nonnegative and not all zero (scikit-learn's
    rule and messages)."""
    A = check_array(A)
    if shape[0] != "auto" and A.shape[0] != shape[0]:
        raise ValueError(
            f"Array with wrong first dimension passed to {whom}. Expected {shape[0]}, "
            f"but got {A.shape[0]}."
        )
    if shape[1] != "auto" and A.shape[1] != shape[1]:
        raise ValueError(
            f"Array with wrong second dimension passed to {whom}. Expected {shape[1]}, "
            f"but got {A.shape[1]}."
        )
    check_non_negative(A, whom)
    if np.max(A) == 0:
        raise ValueError(f"Array passed to {whom} is full of zeros.")
    return A


def _to_core(X):
    """X as the extension takes it: a NumPy array, or a CSR/CSC matrix's arrays (never
    densified)."""
    if sp.issparse(X):
        # Unsorted indices and duplicates are fine: the library canonicalises (summing
        # duplicates as SciPy does) and builds both CSR and CSC from either.
        return (
            X.format,
            X.shape[0],
            X.shape[1],
            np.asarray(X.indptr, dtype=np.int64),
            X.indices,
            np.ascontiguousarray(X.data),
        )
    return X


def _seed(random_state):
    """The library's seed: an integer as given (scikit-learn's streams for that integer),
    otherwise one integer drawn from the generator (or from NumPy's global one for None)."""
    if isinstance(random_state, numbers.Integral):
        check_random_state(random_state)  # scikit-learn's error for an invalid seed
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _BaseNMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """What NMF and MiniBatchNMF share: checks, W/H handling, penalties, transform plumbing."""

    _solver_kind = None  # the library's solver name; NMF reads self.solver

    def _check_params(self, X):
        self._n_components = self.n_components
        if self._n_components is None:
            self._n_components = X.shape[1]
        self._beta_loss = _beta_of(self.beta_loss)

    def _check_w_h(self, X, W, H, update_H):
        """scikit-learn's rules for given factors; returns (init name, W, H) for the
        extension, or the fixed H when update_H is False."""
        n_samples, n_features = X.shape
        name = type(self).__name__
        if self.init == "custom" and update_H:
            H = _check_init(H, (self._n_components, n_features), f"{name} (input H)")
            W = _check_init(W, (n_samples, self._n_components), f"{name} (input W)")
            if self._n_components == "auto":
                self._n_components = H.shape[0]
            if H.dtype != X.dtype or W.dtype != X.dtype:
                raise TypeError(
                    "H and W should have the same dtype as X. Got "
                    f"H.dtype = {H.dtype} and W.dtype = {W.dtype}."
                )
            return "custom", W, H
        if not update_H:
            if W is not None:
                warnings.warn(
                    "When update_H=False, the provided initial W is not used.", RuntimeWarning
                )
            H = _check_init(H, (self._n_components, n_features), f"{name} (input H)")
            if self._n_components == "auto":
                self._n_components = H.shape[0]
            if H.dtype != X.dtype:
                raise TypeError(f"H should have the same dtype as X. Got H.dtype = {H.dtype}.")
            return None, None, H
        if W is not None or H is not None:
            warnings.warn(
                "When init!='custom', provided W or H are ignored. Set "
                " init='custom' to use them as initialization.",
                RuntimeWarning,
            )
        if self._n_components == "auto":
            self._n_components = X.shape[1]
        return self.init, None, None

    def _spec(self, X, init):
        alpha_h = self.alpha_H
        return {
            "n_components": int(self._n_components),
            "solver": self._solver_kind,
            "beta": float(self._beta_loss),
            "init": init,
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
            "seed": _seed(self.random_state),
            "alpha_w": float(self.alpha_W),
            "alpha_h": "same" if isinstance(alpha_h, str) else float(alpha_h),
            "l1_ratio": float(self.l1_ratio),
            "threads": self._threads(),
        }

    def _threads(self):
        n_jobs = getattr(self, "n_jobs", None)
        if n_jobs is None or n_jobs < 0:
            return None  # every core; the results do not depend on the thread count
        return int(n_jobs)

    def _check_zeros(self, X):
        if self._beta_loss <= 0 and X.min() == 0:
            raise ValueError(
                "When beta_loss <= 0 and X contains zeros, "
                "the solver may diverge. Please add small values "
                "to X, or use a positive beta_loss."
            )

    def _fit_core(self, X, W, H):
        """Checks, then init and solve in Rust; returns the extension's result dict."""
        self._check_params(X)
        self._check_zeros(X)
        init, W, H = self._check_w_h(X, W, H, update_H=True)
        if init != "custom":
            # scikit-learn checks X's sign in its initialisation; a custom start skips that
            # there, but nonnegative data is this library's rule in every case.
            check_non_negative(X, f"{type(self).__name__} initialization")
        res = _core.fit(_to_core(X), W, H, self._spec(X, init))
        if res["n_iter"] == self.max_iter and self.tol > 0:
            warnings.warn(self._max_iter_message(), ConvergenceWarning)
        for w in res["warnings"]:
            warnings.warn(w, RuntimeWarning)
        if self.verbose:
            print(
                f"{type(self).__name__}: {res['n_iter']} iterations, stopped by "
                f"{res['stop_reason']}, reconstruction error {res['reconstruction_err']:.6g}"
            )
        return res

    def _transform_core(self, X):
        self._check_params(X)
        self._check_zeros(X)
        _, _, H = self._check_w_h(X, None, self.components_, update_H=False)
        spec = self._spec(X, None)
        spec["n_components"] = H.shape[0]
        return _core.transform(_to_core(X), H, spec)

    def fit(self, X, y=None, **params):
        """Learn an NMF model for X (see ``fit_transform``); returns the estimator."""
        self.fit_transform(X, **params)
        return self

    def inverse_transform(self, X):
        """X back in data space: ``X @ components_``."""
        check_is_fitted(self)
        return X @ self.components_

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class NMF(_BaseNMF):
    """scikit-learn's ``NMF`` (same parameters, defaults, attributes and results), on the
    nmf-rs solvers, plus:

    - ``solver="pg"``: Hoyer's sparseness-constrained NMF; ``h_sparseness`` (every row of
      ``components_``) and ``w_sparseness`` (every column of W) are Hoyer sparseness targets in
      [0, 1], met exactly.
    - ``solver="opnmf"``: orthogonal projective NMF (Yang & Oja 2010), X ≈ X·Hᵀ·H.
    - ``n_jobs``: threads (None or -1: every core). Results do not depend on it.

    See ``sklearn.decomposition.NMF`` for the rest of the parameters.

    >>> import numpy as np
    >>> from nmfkit import NMF
    >>> X = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    >>> model = NMF(n_components=2, init="random", random_state=0)
    >>> W = model.fit_transform(X)
    >>> model.components_.shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **_SkNMF._parameter_constraints,
        "solver": [StrOptions({"cd", "mu", "pg", "opnmf"})],
        "h_sparseness": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "w_sparseness": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        init=None,
        solver="cd",
        beta_loss="frobenius",
        tol=1e-4,
        max_iter=200,
        random_state=None,
        alpha_W=0.0,
        alpha_H="same",
        l1_ratio=0.0,
        verbose=0,
        shuffle=False,
        h_sparseness=None,
        w_sparseness=None,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.init = init
        self.solver = solver
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.verbose = verbose
        self.shuffle = shuffle
        self.h_sparseness = h_sparseness
        self.w_sparseness = w_sparseness
        self.n_jobs = n_jobs

    @property
    def _solver_kind(self):
        return self.solver

    def _check_params(self, X):
        super()._check_params(X)
        if self.solver != "mu" and self.beta_loss not in (2, "frobenius"):
            raise ValueError(
                f"Invalid beta_loss parameter: solver {self.solver!r} does not handle "
                f"beta_loss = {self.beta_loss!r}"
            )
        if self.solver == "mu" and self.init == "nndsvd":
            warnings.warn(
                "The multiplicative update ('mu') solver cannot update "
                "zeros present in the initialization, and so leads to "
                "poorer results when used jointly with init='nndsvd'. "
                "You may try init='nndsvda' or init='nndsvdar' instead.",
                UserWarning,
            )
        if self.solver != "pg" and (
            self.h_sparseness is not None or self.w_sparseness is not None
        ):
            raise ValueError(
                "h_sparseness and w_sparseness are targets of solver='pg' "
                f"(Hoyer's constrained NMF), not of solver={self.solver!r}"
            )

    def _spec(self, X, init):
        spec = super()._spec(X, init)
        spec["shuffle"] = bool(self.shuffle)
        spec["h_sparseness"] = self.h_sparseness
        spec["w_sparseness"] = self.w_sparseness
        return spec

    def _max_iter_message(self):
        return (
            "Maximum number of iterations %d reached. Increase "
            "it to improve convergence." % self.max_iter
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, W=None, H=None):
        """Learn an NMF model for X and return W (n_samples x n_components).

        ``W`` and ``H`` are the starting point when ``init="custom"``.
        """
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=_FLOATS)
        res = self._fit_core(X, W, H)
        self.reconstruction_err_ = res["reconstruction_err"]
        self.n_components_ = res["H"].shape[0]
        self.components_ = res["H"]
        self.n_iter_ = res["n_iter"]
        return res["W"]

    def transform(self, X):
        """W for X with ``components_`` fixed: the fit's nonnegative, penalised problem solved
        for W (the same solver and stopping rule), never a pseudo-inverse."""
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=_FLOATS,
            reset=False,
            ensure_non_negative=True,
        )
        return self._transform_core(X)


class MiniBatchNMF(_BaseNMF):
    """scikit-learn's ``MiniBatchNMF`` (same parameters, defaults, attributes, results and
    ``partial_fit``), on the nmf-rs online solver, plus ``n_jobs`` (threads; None or -1: every
    core; results do not depend on it).

    >>> import numpy as np
    >>> from nmfkit import MiniBatchNMF
    >>> X = np.abs(np.random.RandomState(0).randn(60, 8))
    >>> model = MiniBatchNMF(n_components=3, batch_size=20, random_state=0).fit(X)
    >>> model.components_.shape
    (3, 8)
    """

    _parameter_constraints: dict = {
        **_SkMiniBatchNMF._parameter_constraints,
        "n_jobs": [numbers.Integral, None],
    }
    _solver_kind = "minibatch"

    def __init__(
        self,
        n_components="auto",
        *,
        init=None,
        batch_size=1024,
        beta_loss="frobenius",
        tol=1e-4,
        max_no_improvement=10,
        max_iter=200,
        alpha_W=0.0,
        alpha_H="same",
        l1_ratio=0.0,
        forget_factor=0.7,
        fresh_restarts=False,
        fresh_restarts_max_iter=30,
        transform_max_iter=None,
        random_state=None,
        verbose=0,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.init = init
        self.batch_size = batch_size
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.max_iter = max_iter
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.forget_factor = forget_factor
        self.fresh_restarts = fresh_restarts
        self.fresh_restarts_max_iter = fresh_restarts_max_iter
        self.transform_max_iter = transform_max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    def _check_params(self, X):
        super()._check_params(X)
        self._batch_size = min(self.batch_size, X.shape[0])
        self._transform_max_iter = (
            self.max_iter if self.transform_max_iter is None else self.transform_max_iter
        )

    def _spec(self, X, init):
        spec = super()._spec(X, init)
        spec.update(
            batch_size=int(self.batch_size),
            forget_factor=float(self.forget_factor),
            fresh_restarts=bool(self.fresh_restarts),
            fresh_restarts_max_iter=int(self.fresh_restarts_max_iter),
            transform_max_iter=int(self._transform_max_iter),
            max_no_improvement=self.max_no_improvement,
        )
        return spec

    def _max_iter_message(self):
        return (
            f"Maximum number of iterations {self.max_iter} reached. "
            "Increase it to improve convergence."
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, W=None, H=None):
        """Learn the model from X by minibatches and return W (n_samples x n_components)."""
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=_FLOATS)
        check_non_negative(X, "MiniBatchNMF (input X)")
        res = self._fit_core(X, W, H)
        self.reconstruction_err_ = res["reconstruction_err"]
        self.n_components_ = res["H"].shape[0]
        self.components_ = res["H"]
        self.n_iter_ = res["n_iter"]
        self.n_steps_ = res["n_steps"]
        # What partial_fit continues from, as scikit-learn keeps it.
        self._components_numerator = res["A"]
        self._components_denominator = res["B"]
        self._rho = res["rho"]
        return res["W"]

    def transform(self, X):
        """W for X with ``components_`` fixed (multiplicative updates, ``transform_max_iter``
        steps at most)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=_FLOATS, reset=False)
        check_non_negative(X, "MiniBatchNMF (input X)")
        return self._transform_core(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, W=None, H=None):
        """Update the model with one chunk of rows (online learning); ``W`` and ``H`` start
        the first call when ``init="custom"``."""
        has_components = hasattr(self, "components_")
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=_FLOATS,
            reset=not has_components,
        )
        check_non_negative(X, "MiniBatchNMF (input X)")
        if not has_components:
            self._check_params(X)
            self._check_zeros(X)
            init, W, H = self._check_w_h(X, W, H, update_H=True)
            res = _core.partial_fit(_to_core(X), None, W, H, self._spec(X, init))
        else:
            self._check_zeros(X)
            if self.components_.dtype != X.dtype:
                raise TypeError(
                    "H should have the same dtype as X. Got H.dtype = "
                    f"{self.components_.dtype}."
                )
            spec = self._spec(X, None)
            spec["n_components"] = self.components_.shape[0]
            state = (
                self.components_,
                self._components_numerator,
                self._components_denominator,
                self._rho,
                self.n_steps_,
            )
            res = _core.partial_fit(_to_core(X), state, None, None, spec)
        self.components_ = res["H"]
        self._components_numerator = res["A"]
        self._components_denominator = res["B"]
        self._rho = res["rho"]
        self.n_components_ = res["H"].shape[0]
        self.n_steps_ = res["n_steps"]
        return self
