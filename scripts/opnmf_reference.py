"""Print the OPNMF reference numbers of docs/algorithms.md 12.9 from the published opnmf package.

Usage: pip install opnmf==0.0.2 scikit-learn; python3 scripts/opnmf_reference.py

Calls opnmf.model.opnmf(X, n_components, init="nndsvd") (tol 1e-5, max_iter 50000) on X3 with
k = 2, and on X3 transposed with k = 2 and 3. The package puts samples in columns: its W is the
transpose of our H and its H the transpose of our W (tests/sparse.rs fits the transpose to match).
NNDSVD on matrices this small uses an exact SVD, so the package's unseeded initialisation gives
the same start up to rounding. The package returns no iteration count; it is read from the
package's own "Converged in N iterations" log line (N counts from 0).
"""
import logging
import re

import numpy as np
from opnmf.model import opnmf

X3 = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 1, 2], [3, 0, 1, 2, 0], [2, 2, 2, 0, 1]], dtype=float)


def main():
    for name in ("opnmf", "opnmf.model"):
        logging.getLogger(name).addHandler(LOG)
        logging.getLogger(name).setLevel(logging.INFO)
    fmt = {"float_kind": lambda v: "%.6g" % v}
    for name, x, k in (("X3", X3, 2), ("X3 transposed", X3.T.copy(), 2), ("X3 transposed", X3.T.copy(), 3)):
        LOG.converged_at = None
        w, h, mse = opnmf(x, n_components=k, init="nndsvd", tol=1e-5, max_iter=50000)[:3]
        n_iter = LOG.converged_at + 1  # the package logs its 0-based loop index
        print("%s, k = %d: %d iterations, mse = %.6g" % (name, k, n_iter, mse))
        if name == "X3":
            print("  W =", np.array2string(w, separator=", ", formatter=fmt))
            print("  H =", np.array2string(h, separator=", ", formatter=fmt))


class ConvergenceLog(logging.Handler):
    """Keeps the loop index of the package's "Converged in N iterations" log line."""

    converged_at = None

    def emit(self, record):
        m = re.match(r"Converged in (\d+) iterations", record.getMessage())
        if m:
            self.converged_at = int(m.group(1))


LOG = ConvergenceLog()


if __name__ == "__main__":
    main()
