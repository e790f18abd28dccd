"""nmfkit: nonnegative matrix factorization with scikit-learn's API, the nmf-rs solvers' speed,
and control over the sparseness of the parts.

``from nmfkit import NMF`` instead of ``from sklearn.decomposition import NMF``: the same
parameters, attributes and (with an integer ``random_state``) the same results to rounding.
Beyond scikit-learn: ``NMF(solver="pg", h_sparseness=0.7)`` (Hoyer's sparseness targets),
``solver="opnmf"``, ``n_jobs``, and ``grid_search`` (alpha_W x l1_ratio with an HTML report).
"""

from ._core import __version__
from ._grid import grid_search
from ._nmf import NMF, MiniBatchNMF

__all__ = ["NMF", "MiniBatchNMF", "grid_search", "__version__"]
