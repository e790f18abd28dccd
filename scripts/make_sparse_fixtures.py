"""Regenerate the small sparse-file fixtures under tests/data/sparse/ (committed; a few KB).

Usage: python3 scripts/make_sparse_fixtures.py

Needs NumPy and SciPy (pip install scipy). Each `<name>.npz` / `<name>.mtx` is written by SciPy
itself (or, for the MatrixMarket edge cases, spelled out below) and `<name>_dense.npy` is what
SciPy reads it as (`load_npz(...).toarray()` / `mmread(...).toarray()`), so tests/sparse_io.rs
checks our reader against SciPy's interpretation bit for bit. They cover what the shared fixtures
(all int32 indices, float64 data, sparse *matrix* classes) do not: int64 indices, float32 and
integer data, the sparse *array* classes (`_is_array.npy`), stored (uncompressed) float32,
unsorted COO with duplicates and explicit zeros, and MatrixMarket symmetric upper-triangle,
symmetric array, `double` field and CRLF line endings.
"""
import io
import os

import numpy as np
import scipy
import scipy.io
import scipy.sparse as sp

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "sparse")


def base(dtype=np.float64):
    """A 7 x 5 matrix with an empty row and an empty column, values exact in float32."""
    rng = np.random.default_rng(7)
    x = rng.integers(1, 64, size=(7, 5)).astype(dtype) / 8
    x[rng.random((7, 5)) < 0.55] = 0
    x[3, :] = 0
    x[:, 2] = 0
    return x


def save(name, m, compressed=True):
    sp.save_npz(os.path.join(OUT, name + ".npz"), m, compressed=compressed)
    dense = sp.load_npz(os.path.join(OUT, name + ".npz")).toarray()
    # Integer data is compared as float64 (exact for these small values); floats keep their dtype.
    if dense.dtype.kind in "iu":
        dense = dense.astype(np.float64)
    np.save(os.path.join(OUT, name + "_dense.npy"), dense)


def mtx(name, text):
    path = os.path.join(OUT, name + ".mtx")
    with open(path, "wb") as f:
        f.write(text.encode("ascii"))
    a = scipy.io.mmread(path)  # an ndarray for `array` files, a COO matrix for `coordinate`
    np.save(os.path.join(OUT, name + "_dense.npy"), a.toarray() if sp.issparse(a) else np.asarray(a))


def main():
    os.makedirs(OUT, exist_ok=True)
    x = base()

    m = sp.csr_matrix(x)
    m.indices = m.indices.astype(np.int64)
    m.indptr = m.indptr.astype(np.int64)
    save("csr_i8", m)

    save("csr_f32", sp.csr_matrix(base(np.float32)))
    save("csc_f32_stored", sp.csc_matrix(base(np.float32)), compressed=False)
    save("csr_array", sp.csr_array(x))
    save("coo_array", sp.coo_array(x))
    save("csr_int64_data", sp.csr_matrix((x * 8).astype(np.int64)))
    save("csc_int32_data", sp.csc_matrix((x * 8).astype(np.int32)))

    # Unsorted COO with every value split into two exact halves and a few explicit zeros.
    r, c = np.nonzero(x)
    v = x[r, c]
    rows = np.concatenate([r, r, [0, 6]])[::-1]
    cols = np.concatenate([c, c, [1, 4]])[::-1]
    vals = np.concatenate([v / 2, v / 2, [0.0, 0.0]])[::-1]
    save("coo_dups", sp.coo_matrix((vals, (rows, cols)), shape=x.shape))

    mtx("mm_symmetric_upper", "%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n1 2 0.5\n1 3 2\n2 2 1\n")
    mtx("mm_array_symmetric", "%%MatrixMarket matrix array real symmetric\n3 3\n1\n2\n0\n4\n5\n6\n")
    mtx("mm_double_crlf", "%%MatrixMarket matrix coordinate double general\r\n% crlf\r\n2 3 2\r\n1 3 0.1\r\n2 1 3e-310\r\n")
    print("wrote", OUT, "with scipy", scipy.__version__, "numpy", np.__version__)


if __name__ == "__main__":
    main()
