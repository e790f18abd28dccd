#!/usr/bin/env python3
"""NMF peers side by side: per-iteration time and time to a common error, one machine, one run.

Tools, each with 2 threads: nmf-rs through its Python package nmfkit (our defaults: no thread
setting but the machine's cores), scikit-learn, nimfa (own venv: it needs numpy < 2), the PyPI
package `nmf-rs` (an R-NMF port in Rust; own venv), and, when R has them, RcppML and R's NMF
(`apt-get install r-cran-rcppml r-cran-nmf`). Every tool runs in a subprocess
(scripts/peers_worker.py, scripts/peers_worker.R) that times only its fit call; errors are computed
here, all the same way (float64 Frobenius norm of X - WH, or the generalised KL divergence),
outside the timed region.

1. Per iteration: N iterations from one shared start (scikit-learn's nndsvda W0, H0), fastest of
   --repeat; per iteration is (t(2N) - t(N)) / N, so a call's fixed cost is reported apart. Each tool on its own algorithm (scikit-learn cd/mu; Lee's Frobenius MU
   and Brunet's KL MU for nimfa, PyPI nmf-rs and R NMF), next to ours on the same algorithm.
2. Time to a common error: the error scikit-learn's cd reaches after 50 iterations from the
   shared start (and, with R, RcppML's own error after 50 iterations from its own start). Each
   tool runs 1, 2, 3, 5, 8, ... iterations (fresh fits) until its error is at most the target,
   then bisects down to the fewest iterations that reach it; the time of that fit is the result.

    python3 scripts/bench_peers.py --setup      # venvs under target/peers (pip from PyPI)
    python3 scripts/bench_peers.py [--k 10,50] [--repeat 5] [--quick] [--only docs,generated]

Writes target/peers/peers.csv and peers.json and prints markdown tables. Needs ../shared/data.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NMF_DATA_HOME", ROOT.parent / "shared" / "data"))
WORK = ROOT / "target" / "peers"
WORKER = ROOT / "scripts" / "peers_worker.py"
RWORKER = ROOT / "scripts" / "peers_worker.R"
SCHEDULE = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377]


def venv_python(name):
    return WORK / f"venv-{name}" / "bin" / "python"


def setup():
    """Creates the three venvs and reports what R has."""
    WORK.mkdir(parents=True, exist_ok=True)
    envs = {
        "main": ["scikit-learn", "scipy", str(ROOT / "crates" / "nmf-py")],
        "nimfa": ["numpy<2", "scipy", "nimfa"],
        "nmf_rs": ["numpy", "nmf-rs"],
    }
    for name, pkgs in envs.items():
        py = venv_python(name)
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(py.parents[1])], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--upgrade", *pkgs], check=True)
        print(f"venv {name}: {' '.join(pkgs)}")
    print("R:", r_status())


def r_status():
    if not shutil.which("Rscript"):
        return "no Rscript (apt-get install r-cran-rcppml r-cran-nmf)"
    have = []
    for pkg in ("RcppML", "NMF"):
        ok = subprocess.run(
            ["Rscript", "-e", f"suppressMessages(library({pkg}))"], capture_output=True
        ).returncode == 0
        if ok:
            have.append(pkg)
    return have


def python_for(tool):
    return venv_python({"nimfa": "nimfa", "nmf_rs": "nmf_rs"}.get(tool, "main"))


# --- errors, computed the same way for every tool -------------------------------------------


def frobenius(X, W, H):
    import scipy.sparse as sp

    if sp.issparse(X):
        xsq = float(X.multiply(X).sum())
        cross = float(np.sum((X @ H.T) * W))
        wh = float(np.sum((W.T @ W) * (H @ H.T)))
        return float(np.sqrt(max(xsq - 2 * cross + wh, 0.0)))
    return float(np.linalg.norm(X - W @ H))


def kl(X, W, H):
    import scipy.sparse as sp

    Xc = sp.csr_matrix(X)
    rows = np.repeat(np.arange(Xc.shape[0]), np.diff(Xc.indptr))
    wh = np.einsum("ij,ij->i", W[rows], H[:, Xc.indices].T)
    x = Xc.data
    return float(np.sum(x * np.log(x / wh)) - x.sum() + W.sum(0) @ H.sum(1))


# --- runs ------------------------------------------------------------------------------------


class Case:
    """One dataset and k: the files every worker reads."""

    def __init__(self, name, X, k, dtype):
        import scipy.sparse as sp
        from sklearn.decomposition._nmf import _initialize_nmf

        self.name, self.X, self.k, self.dtype = name, X, k, dtype
        self.dir = WORK / f"{name}-k{k}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.sparse = sp.issparse(X)
        self.x_path = self.dir / ("X.npz" if self.sparse else "X.npy")
        if self.sparse:
            sp.save_npz(self.x_path, X.tocsr(), compressed=False)
            self.mtx = self.dir / "X.mtx"
            if not self.mtx.exists():
                import scipy.io

                scipy.io.mmwrite(self.mtx, X.tocoo())
        else:
            np.save(self.x_path, X)
            X.astype("<f8").tofile(self.dir / "X.bin")  # for R: raw row-major float64
        W0, H0 = _initialize_nmf(X.astype(np.float64), k, init="nndsvda", random_state=0)
        np.save(self.dir / "W0.npy", W0)
        np.save(self.dir / "H0.npy", H0)
        W0.astype("<f8").tofile(self.dir / "W0.bin")
        H0.astype("<f8").tofile(self.dir / "H0.bin")


def run(case, tool, algo, iters, repeat, dtype=None):
    """Returns (seconds of the fit, W, H) or None when the tool is not installed."""
    out = case.dir / f"out-{tool}-{algo}"
    if tool in ("rcppml", "rnmf"):
        if not shutil.which("Rscript"):
            return None
        x = case.mtx if case.sparse else case.dir / "X.bin"
        (n, m) = case.X.shape
        cmd = ["Rscript", str(RWORKER), tool, algo, str(x), str(n), str(m),
               str(case.dir / "W0.bin"), str(case.dir / "H0.bin"), str(case.k), str(iters),
               str(out), "2", str(repeat)]
    else:
        py = python_for(tool)
        if not py.exists():
            return None
        cmd = [str(py), str(WORKER), tool, algo, "--x", str(case.x_path), "--w0",
               str(case.dir / "W0.npy"), "--h0", str(case.dir / "H0.npy"), "--iters", str(iters),
               "--out", str(out), "--threads", "2", "--repeat", str(repeat), "--dtype",
               dtype or case.dtype]
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    if tool == "nmfkit":
        env.pop("RAYON_NUM_THREADS", None)  # our default: every core (2 here)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        print(f"    {tool} {algo}: failed: {p.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    res = json.loads(p.stdout.strip().splitlines()[-1])
    if tool in ("rcppml", "rnmf"):
        n, m = case.X.shape
        W = np.fromfile(out / "W.bin", dtype="<f8").reshape(n, case.k)
        H = np.fromfile(out / "H.bin", dtype="<f8").reshape(case.k, m)
        return res["seconds"], W, H
    return res["seconds"], np.load(out / "W.npy"), np.load(out / "H.npy")


def error_of(case, algo, W, H):
    return kl(case.X, W, H) if algo in ("mu-kl", "brunet") else frobenius(case.X, W, H)


# The per-iteration pairs: each peer on its own algorithm, next to ours on the same one.
PER_ITER = [
    ("sklearn", "cd", "cd"),
    ("sklearn", "mu-fro", "mu-fro"),
    ("sklearn", "mu-kl", "mu-kl"),
    ("nimfa", "lee", "mu-fro"),
    ("nimfa", "brunet", "mu-kl"),
    ("nmf_rs", "lee", "mu-fro"),
    ("nmf_rs", "brunet", "mu-kl"),
    ("rnmf", "lee", "mu-fro"),
    ("rnmf", "brunet", "mu-kl"),
]

# Tools racing to the common Frobenius error.
RACE = [("nmfkit", "cd"), ("sklearn", "cd"), ("nmfkit", "mu-fro"), ("sklearn", "mu-fro"),
        ("rcppml", "als"), ("nimfa", "lsnmf"), ("nmf_rs", "lee"), ("rnmf", "lee")]


F64_ONLY = ("nimfa", "nmf_rs", "rnmf", "rcppml")
DENSE_ONLY = ("nimfa", "nmf_rs", "rnmf")


def timed_per_iteration(case, tool, algo, iters, repeat):
    """Seconds per iteration without the fixed cost of a call (validation, copies, the final
    error): (t(2N) - t(N)) / N, each the fastest of `repeat` (fewer for slow tools)."""
    first = run(case, tool, algo, iters, 1)
    if first is None:
        return None
    # Enough iterations that the difference (not the call) takes >= 0.5 s: timer and scheduler
    # noise is then a few percent.
    iters = min(max(iters, int(np.ceil(0.5 / max(first[0] / iters, 1e-6)))), 400)
    rep = repeat if first[0] < 5.0 else 1
    short = run(case, tool, algo, iters, rep)
    long = run(case, tool, algo, 2 * iters, rep)
    per = (long[0] - short[0]) / iters
    if per <= 0:  # noise larger than the work: the whole call's average is an upper bound
        per = long[0] / (2 * iters)
    return per, short[0] - iters * per, long


def per_iteration(case, iters, repeat, rows):
    for peer, algo, ours_algo in PER_ITER:
        if (case.sparse and peer in DENSE_ONLY) or (case.dtype == "float32" and peer in F64_ONLY):
            continue  # each tool on the data it takes
        theirs = timed_per_iteration(case, peer, algo, iters, repeat)
        if theirs is None:
            print(f"  {peer} {algo}: not installed", flush=True)
            continue
        ours = timed_per_iteration(case, "nmfkit", ours_algo, iters, repeat)
        row = dict(case=case.name, k=case.k, kind="per_iter", tool=peer, algo=algo,
                   ours_algo=ours_algo, theirs_s=theirs[0], ours_s=ours[0],
                   theirs_fixed_s=theirs[1], ours_fixed_s=ours[1],
                   theirs_err=error_of(case, algo, theirs[2][1], theirs[2][2]),
                   ours_err=error_of(case, ours_algo, ours[2][1], ours[2][2]))
        rows.append(row)
        print(f"  per iteration {peer} {algo}: {row['theirs_s'] * 1e3:8.2f} ms, nmfkit "
              f"{ours_algo}: {row['ours_s'] * 1e3:8.2f} ms ({row['theirs_s'] / row['ours_s']:.2f}x)",
              flush=True)


def race(case, target, label, budget, rows):
    for tool, algo in RACE:
        if case.sparse and tool in DENSE_ONLY:
            continue
        if case.dtype == "float32" and tool in DENSE_ONLY:
            continue  # float64 tools race in the float64 case (RcppML races in both: no f32)
        def attempt(n):
            """A fresh fit of n iterations: (the run, whether it reaches the target)."""
            r = run(case, tool, algo, n, 1)
            if r is None:
                return None, False
            err = frobenius(case.X, r[1], r[2])
            return r, err <= target * (1 + 1e-12)

        reached, spent, below = None, 0.0, 0
        for n in SCHEDULE:
            r, hit = attempt(n)
            if r is None:
                break
            spent += r[0]
            if hit:
                reached = (n, r[0])
                break
            below = n
            if spent > budget:
                break
        else:
            n = SCHEDULE[-1]
        if r is None:
            print(f"  {tool}: not installed", flush=True)
            continue
        # The schedule's steps grow by 1.6x: bisect between the last miss and the first hit so
        # that no tool is charged for up to 60 % more iterations than it needs.
        lo = below
        while reached and reached[0] - lo > 1 and spent <= 2 * budget:
            mid = (lo + reached[0]) // 2
            r, hit = attempt(mid)
            if r is None:  # the tool failed at this count: keep what the schedule found
                break
            spent += r[0]
            if hit:
                reached = (mid, r[0])
            else:
                lo = mid
        row = dict(case=case.name, k=case.k, kind=f"to {label}", tool=tool, algo=algo,
                   target=target, iters=reached[0] if reached else None,
                   seconds=reached[1] if reached else None, spent=spent, last_iters=n)
        rows.append(row)
        if reached:
            print(f"  to {label} {target:.6g}: {tool} {algo}: {reached[1]:.3f} s ({reached[0]} it)",
                  flush=True)
        else:
            print(f"  to {label} {target:.6g}: {tool} {algo}: not by {n} iterations "
                  f"(> {spent:.2f} s)", flush=True)


def cases(ks, quick, dtypes, only):
    """Yields the cases in order; `only` (prefixes of case names) skips the others."""
    import scipy.sparse as sp

    def wanted(name):
        return not only or any(name.startswith(p) for p in only)

    faces = np.load(DATA / "olivetti_faces.npy")
    if quick:
        faces = faces[:100, ::4]
    for k in ks if wanted("faces") else []:
        for dtype in dtypes:
            yield Case(f"faces-{dtype.replace('float', 'f')}", faces.astype(dtype), k, dtype)
    def docs():
        X = sp.load_npz(DATA / "debian_docs_counts.npz").astype(np.float64).tocsr()
        return X[:400] if quick else X

    n, m = (10_000, 2_000) if quick else (100_000, 20_000)

    def generated():
        X = sp.random(n, m, density=0.001, format="csr", random_state=0, dtype=np.float64)
        X.data = np.ceil(X.data * 5)
        return X

    # Sparse data are stored once in float64; a float32 case hands the same matrix to the tools
    # that take float32 (RcppML has none and races in float64 against them). A case left out by
    # --only is never loaded or generated.
    for name, make in (("docs", docs), (f"generated-{n}x{m}", generated)):
        if not wanted(name):
            continue
        X = make()
        for dtype in dtypes:
            yield Case(f"{name}-{dtype.replace('float', 'f')}", X, 10 if quick else 20, dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--setup", action="store_true")
    ap.add_argument("--k", default="10,50")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per tool per race")
    ap.add_argument("--quick", action="store_true", help="small slices, for a smoke run")
    ap.add_argument("--only", default="", help="comma-separated case-name prefixes to run (faces, docs, generated); default all")
    ap.add_argument("--dtypes", default="float64,float32", help="precisions of every case (sparse cases: the float64 matrix handed over in each)")
    a = ap.parse_args()
    if a.setup:
        setup()
        return
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; R: {r_status()}")
    rows = []
    t0 = time.time()
    only = [p for p in a.only.split(",") if p]
    for case in cases([int(k) for k in a.k.split(",")], a.quick, a.dtypes.split(","), only):
        print(f"{case.name} k={case.k} {case.X.shape}", flush=True)
        per_iteration(case, a.iters, a.repeat, rows)
        ref = run(case, "sklearn", "cd", 50, 1)
        if ref is not None:
            race(case, frobenius(case.X, ref[1], ref[2]), "sklearn cd 50-it error", a.budget, rows)
        rc = run(case, "rcppml", "als", 50, 1)
        if rc is not None:
            race(case, frobenius(case.X, rc[1], rc[2]), "RcppML 50-it error", a.budget, rows)
        (WORK / "peers.json").write_text(json.dumps(rows, indent=1))
    keys = sorted({k for r in rows for k in r})
    with open(WORK / "peers.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    print(f"\n{len(rows)} rows in {time.time() - t0:.0f} s: {WORK / 'peers.csv'}\n")
    print("| case | k | peer, algorithm | peer per iteration | nmfkit (same algorithm) | ratio |")
    print("|---|---|---|---|---|---|")  # fixed costs per call are in peers.csv
    for r in rows:
        if r["kind"] == "per_iter":
            print(f"| {r['case']} | {r['k']} | {r['tool']} {r['algo']} | {r['theirs_s'] * 1e3:.2f} ms"
                  f" | {r['ours_s'] * 1e3:.2f} ms ({r['ours_algo']}) | {r['theirs_s'] / r['ours_s']:.2f}x |")
    print("\n| case | k | target | tool | time to target |")
    print("|---|---|---|---|---|")
    for r in rows:
        if r["kind"].startswith("to "):
            t = (f"{r['seconds']:.3f} s ({r['iters']} it)" if r["seconds"] is not None
                 else f"> {r['spent']:.2f} s (not by {r['last_iters']} it)")
            print(f"| {r['case']} | {r['k']} | {r['kind'][3:]} | {r['tool']} {r['algo']} | {t} |")


if __name__ == "__main__":
    main()
