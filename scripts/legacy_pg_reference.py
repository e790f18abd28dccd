"""Print the scikit-learn 0.15 ProjectedGradientNMF reference numbers of docs/algorithms.md 12.6.

Usage: python3 scripts/legacy_pg_reference.py      (needs scikit-learn for the NNDSVD start)

scikit-learn 0.15 (2014) no longer installs on current Python, so this is a NumPy transcription of
its algorithm as docs/algorithms.md 7 describes it: alternating projected-gradient NNLS
subproblems (Lin 2007) with the Armijo-type step search, Kim & Park's augmented least squares
for sparseness, defaults tol=1e-4, max_iter=200, nls_max_iter=2000, beta=1, eta=0.1. Two of its
results can be checked against a published source, the 0.15 docstring: on X2 with
init="random", random_state=0, components_ = [[0.77032744, 0.11118662], [0.38526873, 0.38228063]]
(error 0.00746...) and, with sparseness="components", [[1.67481991, 0.29614922], [0, 0.4681982]]
(error 0.513...). tests/sparse.rs checks every number printed here.
"""
import numpy as np
from sklearn.decomposition import _nmf

X2 = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
X3 = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 1, 2], [3, 0, 1, 2, 0], [2, 2, 2, 0, 1]], dtype=float)


def nls_subproblem(v, w, h, tol, max_iter, sigma=0.01, beta=0.1):
    """min_{H >= 0} 0.5 ||V - W H||^2 from h (docs/algorithms.md 7.1)."""
    wtv = w.T @ v
    wtw = w.T @ w
    alpha = 1.0
    for n_iter in range(1, max_iter + 1):
        grad = wtw @ h - wtv
        if np.linalg.norm(grad[np.logical_or(grad < 0, h > 0)]) < tol:
            break
        for inner in range(19):
            hn = np.maximum(h - alpha * grad, 0)
            d = hn - h
            suff_decr = (1 - sigma) * np.sum(grad * d) + 0.5 * np.sum((wtw @ d) * d) < 0
            if inner == 0:
                decr_alpha = not suff_decr
                hp = h
            if decr_alpha:
                if suff_decr:
                    h = hn
                    break
                alpha *= beta
            elif not suff_decr or (hp == hn).all():
                h = hp
                break
            else:
                alpha /= beta
                hp = hn
    return h, grad, n_iter


def fit(x, w, h, sparseness=None, beta=1.0, eta=0.1, tol=1e-4, max_iter=200, nls_max_iter=2000):
    n, m = x.shape
    k = w.shape[1]
    grad_w = w @ (h @ h.T) - x @ h.T
    grad_h = (w.T @ w) @ h - w.T @ x
    init_grad = np.linalg.norm(np.r_[grad_w, grad_h.T])
    tol_w = tol_h = max(0.001, tol) * init_grad
    stop = tol * init_grad
    for n_iter in range(1, max_iter + 1):
        proj = np.linalg.norm(np.r_[grad_w[np.logical_or(grad_w < 0, w > 0)],
                                    grad_h[np.logical_or(grad_h < 0, h > 0)]])
        if proj < stop:
            break
        # W step on the transposed problem, augmented for sparseness (docs/algorithms.md 7.3).
        if sparseness is None:
            a, b = x.T, h.T
        elif sparseness == "data":
            a, b = np.r_[x.T, np.zeros((1, n))], np.r_[h.T, np.sqrt(beta) * np.ones((1, k))]
        else:
            a, b = np.r_[x.T, np.zeros((k, n))], np.r_[h.T, np.sqrt(eta) * np.eye(k)]
        wt, gwt, it_w = nls_subproblem(a, b, w.T, tol_w, nls_max_iter)
        w, grad_w = wt.T, gwt.T
        if it_w == 1:
            tol_w *= 0.1
        if sparseness is None:
            a, b = x, w
        elif sparseness == "data":
            a, b = np.r_[x, np.zeros((k, m))], np.r_[w, np.sqrt(eta) * np.eye(k)]
        else:
            a, b = np.r_[x, np.zeros((1, m))], np.r_[w, np.sqrt(beta) * np.ones((1, k))]
        h, grad_h, it_h = nls_subproblem(a, b, h, tol_h, nls_max_iter)
        if it_h == 1:
            tol_h *= 0.1
    return w, h, n_iter, np.linalg.norm(x - w @ h)


def show(name, x, w0, h0):
    fmt = {"float_kind": lambda v: "%.8g" % v}
    for sp in (None, "components", "data"):
        _, h, n_iter, err = fit(x, w0.copy(), h0.copy(), sparseness=sp)
        print("%s, sparseness=%s: n_iter %d, error %.6g, H = %s"
              % (name, sp, n_iter, err, np.array2string(h, separator=", ", formatter=fmt)))


def main():
    # 0.15's random start: unscaled |N(0, 1)|, W drawn before H.
    r = np.random.RandomState(0)
    w0 = np.abs(r.randn(6, 2))
    h0 = np.abs(r.randn(2, 2))
    show("X2, random start (seed 0)", X2, w0, h0)
    # 0.15's default start for k < n_features: NNDSVD (an exact SVD at this size).
    w0, h0 = _nmf._initialize_nmf(X3, 2, init="nndsvd", random_state=0)
    show("X3, nndsvd start", X3, w0, h0)


if __name__ == "__main__":
    main()
