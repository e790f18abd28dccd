"""Print the nmfsc reference trajectories of docs/algorithms.md 12.8 (checked by tests/sparse.rs).

Usage: python3 scripts/nmfsc_reference.py      (needs NumPy)

A NumPy transcription of the algorithm of Hoyer's nmfsc.m (JMLR 5, 2004; docs/algorithms.md 8.3)
in the literature convention V ~ W H, with the fixed starts of 12.8 instead of random ones: V = X3,
r = 2, V rescaled by its maximum, H updated before W, step sizes halved until the objective does
not increase and grown by 1.2 after each accepted step. The objective f = 0.5 ||V - W H||^2 is
printed at iterations 0, 1, 10 and 50, and the factors after 50 iterations of the doubly
constrained run. The projection is Hoyer's projfunc (nonnegative mode), exact for these tie-free
inputs.
"""
import numpy as np

X3 = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 1, 2], [3, 0, 1, 2, 0], [2, 2, 2, 0, 1]], dtype=float)


def projfunc(s, k1, k2):
    """Nearest nonnegative v to s with sum(v) = k1 and sum(v^2) = k2 (Hoyer's iteration)."""
    n = s.size
    v = s + (k1 - s.sum()) / n
    zero = np.zeros(n, dtype=bool)
    while True:
        mid = np.where(zero, 0.0, k1 / (n - zero.sum()))
        w = v - mid
        a, b, c = (w ** 2).sum(), 2 * w @ v, (v ** 2).sum() - k2
        v = v + (-b + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a) * w
        if (v >= 0).all():
            return v
        zero = v <= 0
        v[zero] = 0
        v[~zero] += (k1 - v.sum()) / (n - zero.sum())
        v[zero] = 0


def objective(v, w, h):
    return 0.5 * ((v - w @ h) ** 2).sum()


def nmfsc(v, w, h, sw, sh, iters):
    v = v / v.max()
    vdim, samples = v.shape
    rdim = w.shape[1]
    h = h / np.sqrt((h ** 2).sum(axis=1, keepdims=True))
    if sw is not None:
        l1a = np.sqrt(vdim) - (np.sqrt(vdim) - 1) * sw
        for i in range(rdim):
            w[:, i] = projfunc(w[:, i], l1a, 1.0)
    if sh is not None:
        l1s = np.sqrt(samples) - (np.sqrt(samples) - 1) * sh
        for i in range(rdim):
            h[i, :] = projfunc(h[i, :], l1s, 1.0)
    history = [objective(v, w, h)]
    step_w = step_h = 1.0
    for _ in range(iters):
        if sh is not None:
            dh = w.T @ (w @ h - v)
            begobj = history[-1]
            while True:
                hnew = h - step_h * dh
                for i in range(rdim):
                    hnew[i, :] = projfunc(hnew[i, :], l1s, 1.0)
                if objective(v, w, hnew) <= begobj:
                    break
                step_h /= 2
                if step_h < 1e-200:
                    return history, w, h
            step_h *= 1.2
            h = hnew
        else:
            h = h * (w.T @ v) / (w.T @ w @ h + 1e-9)
            norms = np.sqrt((h ** 2).sum(axis=1))
            h = h / norms[:, None]
            w = w * norms[None, :]
        if sw is not None:
            dw = (w @ h - v) @ h.T
            begobj = objective(v, w, h)
            while True:
                wnew = w - step_w * dw
                norms = np.sqrt((wnew ** 2).sum(axis=0))
                for i in range(rdim):
                    wnew[:, i] = projfunc(wnew[:, i], l1a * norms[i], norms[i] ** 2)
                if objective(v, wnew, h) <= begobj:
                    break
                step_w /= 2
                if step_w < 1e-200:
                    return history, w, h
            step_w *= 1.2
            w = wnew
        else:
            w = w * (v @ h.T) / (w @ h @ h.T + 1e-9)
        history.append(objective(v, w, h))
    return history, w, h


def starts():
    w0 = np.array([[0.5 + ((r + 2) * (i + 1) % 5) / 5 + 0.01 * i for r in range(2)] for i in range(4)])
    h0 = np.array([[0.5 + ((r + 1) * (j + 2) % 7) / 7 + 0.01 * j for j in range(5)] for r in range(2)])
    return w0, h0


def main():
    for sw, sh in ((0.5, None), (None, 0.6), (0.5, 0.6)):
        w0, h0 = starts()
        hist, w, h = nmfsc(X3.copy(), w0, h0, sw, sh, 50)
        at = lambda it: hist[min(it, len(hist) - 1)]
        print("sW = %s, sH = %s: f(0) = %.6g, f(1) = %.6g, f(10) = %.6g, f(50) = %.6g"
              % (sw, sh, at(0), at(1), at(10), at(50)))
        if sw is not None and sh is not None:
            fmt = {"float_kind": lambda x: "%.6g" % x}
            print("  W =", np.array2string(w, separator=", ", formatter=fmt))
            print("  H =", np.array2string(h, separator=", ", formatter=fmt))


if __name__ == "__main__":
    main()
