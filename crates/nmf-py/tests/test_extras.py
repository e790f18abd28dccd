"""What nmfkit adds to scikit-learn's API, and what a Python user relies on beyond the numbers:
Hoyer sparseness targets, OPNMF, threads that do not change results, a fit that releases the GIL,
pickling, and the grid search with its report folder."""

import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import nmfkit


def hoyer(v):
    """Hoyer's sparseness of a vector: 0 for a flat vector, 1 for a single nonzero."""
    n = v.size
    return (np.sqrt(n) - np.abs(v).sum() / np.linalg.norm(v)) / (np.sqrt(n) - 1)


def data(rng, n=60, m=30, k=4):
    return np.abs(rng.randn(n, k)) @ np.abs(rng.randn(k, m)) + 0.05 * np.abs(rng.randn(n, m))


@pytest.mark.parametrize("target", [0.3, 0.6, 0.8])
def test_pg_meets_the_sparseness_target_on_every_component(rng, target):
    X = data(rng)
    model = nmfkit.NMF(4, solver="pg", h_sparseness=target, random_state=0, max_iter=100).fit(X)
    s = [hoyer(row) for row in model.components_]
    np.testing.assert_allclose(s, target, atol=1e-6)
    assert (model.components_ >= 0).all()


def test_pg_w_sparseness_targets_the_columns_of_w(rng):
    X = data(rng)
    W = nmfkit.NMF(4, solver="pg", w_sparseness=0.5, random_state=0, max_iter=100).fit_transform(X)
    np.testing.assert_allclose([hoyer(c) for c in W.T], 0.5, atol=1e-6)


def test_opnmf_learns_nearly_orthogonal_parts(rng):
    # Four disjoint blocks of features: OPNMF's basis should pick them apart.
    H = np.zeros((4, 32))
    for t in range(4):
        H[t, 8 * t : 8 * t + 8] = 1.0
    X = np.abs(rng.randn(80, 4)) @ H + 0.01 * np.abs(rng.randn(80, 32))
    model = nmfkit.NMF(4, solver="opnmf", init="nndsvda", max_iter=500, random_state=0).fit(X)
    C = model.components_
    G = C @ C.T
    off = G - np.diag(np.diag(G))
    assert off.max() < 0.05 * np.diag(G).min()
    assert model.reconstruction_err_ < 0.05 * np.linalg.norm(X)


@pytest.mark.parametrize("solver", ["cd", "mu"])
def test_results_do_not_depend_on_n_jobs(rng, solver):
    X = data(rng, 200, 80)
    fits = [
        nmfkit.NMF(6, solver=solver, random_state=0, n_jobs=j, max_iter=50).fit(X)
        for j in (1, 2, None)
    ]
    for f in fits[1:]:
        assert np.array_equal(f.components_, fits[0].components_)


def test_fit_releases_the_gil(faces):
    """While a fit runs in another thread, this thread keeps running Python code at a good share
    of its own speed. (A held GIL would let it run only while the fitting thread is still in
    Python, validating: about 1% of the fit's time.)"""
    import time

    def spin(seconds):
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            n += 1
        return n

    alone = spin(0.2) / 0.2  # turns per second with the GIL to itself
    started = threading.Event()

    def fit():
        started.set()
        nmfkit.NMF(40, solver="mu", beta_loss=1, tol=0, max_iter=60, random_state=0).fit(faces)

    t = threading.Thread(target=fit)
    # The clock starts before the thread: a held GIL would stall this thread anywhere below,
    # and that stall must count.
    n, t0 = 0, time.perf_counter()
    t.start()
    started.wait()
    while t.is_alive():
        n += 1
        time.perf_counter()  # the same work per turn as spin()
    t.join()
    elapsed = time.perf_counter() - t0
    assert elapsed > 0.05  # the fit was long enough to tell
    # Released: this thread shares the cores with the solver's threads (a share well above 5%);
    # held: it runs only during the fit's Python validation, about 1% of the time.
    assert n / elapsed > 0.05 * alone, (n / elapsed, alone)


@pytest.mark.parametrize("cls", ["NMF", "MiniBatchNMF"])
def test_pickle_round_trip(rng, cls):
    X = data(rng)
    est = getattr(nmfkit, cls)(3, random_state=0, max_iter=30).fit(X)
    back = pickle.loads(pickle.dumps(est))
    assert np.array_equal(back.components_, est.components_)
    assert np.array_equal(back.transform(X), est.transform(X))
    assert back.get_params() == est.get_params()


def test_partial_fit_resumes_after_pickle(rng):
    X = data(rng, 120)
    a = nmfkit.MiniBatchNMF(3, batch_size=40, random_state=0)
    a.partial_fit(X[:40])
    b = pickle.loads(pickle.dumps(a))
    for chunk in (X[40:80], X[80:]):
        a.partial_fit(chunk)
        b.partial_fit(chunk)
    assert np.array_equal(a.components_, b.components_)
    assert a.n_steps_ == b.n_steps_ == 3


def test_float32_and_sparse_keep_their_dtype(rng):
    X = sp.random(50, 20, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    model = nmfkit.NMF(3, random_state=0, max_iter=50)
    W = model.fit_transform(X)
    assert W.dtype == np.float32 and model.components_.dtype == np.float32
    assert model.transform(X).dtype == np.float32


def test_grid_search_writes_the_report_folder_and_returns_rows(tmp_path):
    out = tmp_path / "grid"
    rows = nmfkit.grid_search(
        "swimmer", out=out, solver=["cd", "mu"], alpha_W=[0.0, 0.1], l1_ratio=[0.0, 1.0],
        max_iter=30, n_jobs=2,
    )
    assert len(rows) == 8
    assert {r["solver"] for r in rows} == {"cd", "mu"}
    assert {(r["alpha_w"], r["l1_ratio"]) for r in rows} == {(a, l) for a in (0.0, 0.1) for l in (0.0, 1.0)}
    for r in rows:
        assert r["k"] == 17 and 1 <= r["n_iter"] <= 30
        assert 0.0 <= r["basis_sparseness_mean"] <= 1.0
        assert r["reconstruction_err"] > 0
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "results.csv").read_text().count("\n") == 9
    # --resume: every point is finished, nothing is refitted, the same rows come back.
    again = nmfkit.grid_search(
        "swimmer", out=out, solver=["cd", "mu"], alpha_W=[0.0, 0.1], l1_ratio=[0.0, 1.0],
        max_iter=30, resume=True,
    )
    assert again == rows


def test_grid_search_on_an_array_and_a_sparse_matrix(rng, tmp_path):
    X = data(rng, 40, 16)
    dense = nmfkit.grid_search(X, out=tmp_path / "d", n_components=3, solver="cd",
                               alpha_W=[0.0], l1_ratio=[0.0], max_iter=40)
    sparse = nmfkit.grid_search(sp.csr_matrix(X), out=tmp_path / "s", n_components=3,
                                solver="cd", alpha_W=[0.0], l1_ratio=[0.0], max_iter=40)
    assert len(dense) == len(sparse) == 1
    # The same matrix, dense or sparse, gives the same fit (to the rounding of the products).
    assert abs(dense[0]["reconstruction_err"] / sparse[0]["reconstruction_err"] - 1) < 1e-4
    # The grid's point equals an nmfkit fit with the same settings (the grid fits in float32).
    model = nmfkit.NMF(3, init="nndsvda", max_iter=40).fit(X.astype(np.float32))
    assert abs(dense[0]["reconstruction_err"] / model.reconstruction_err_ - 1) < 1e-3


def test_grid_search_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="l1-ratio|l1_ratio"):
        nmfkit.grid_search("swimmer", out=tmp_path / "g", l1_ratio=[2.0], max_iter=5)
    with pytest.raises((OSError, ValueError), match="nope"):
        nmfkit.grid_search(str(Path(tmp_path) / "nope.npy"), out=tmp_path / "h", max_iter=5)
