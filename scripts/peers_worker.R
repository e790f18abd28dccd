# One timed NMF run of an R peer, for scripts/bench_peers.py (the R twin of peers_worker.py).
#
#   Rscript scripts/peers_worker.R TOOL ALGO X n m W0.bin H0.bin k iters OUTDIR threads repeat
#
# TOOL rcppml (ALGO als: RcppML::nmf, alternating exact NNLS; it cannot take a start, so it
# starts from its own seed, 1) or rnmf (ALGO lee / brunet: the NMF package's multiplicative
# updates from the given W0/H0). X is a raw little-endian float64 row-major file (numpy's
# tofile) or a MatrixMarket .mtx (sparse; RcppML only). Only the fit call is timed, fastest of
# `repeat`; W and H are written as raw row-major float64 into OUTDIR and one JSON line is printed.
a <- commandArgs(trailingOnly = TRUE)
if (length(a) < 12) stop("usage: TOOL ALGO X n m W0.bin H0.bin k iters OUTDIR threads repeat")
tool <- a[1]; algo <- a[2]; xfile <- a[3]; n <- as.integer(a[4]); m <- as.integer(a[5])
k <- as.integer(a[8]); iters <- as.integer(a[9]); out <- a[10]
threads <- as.integer(a[11]); repeats <- as.integer(a[12])

read_f64 <- function(f, nr, nc) {
  v <- readBin(f, what = "double", n = nr * nc, size = 8, endian = "little")
  stopifnot(length(v) == nr * nc)
  matrix(v, nrow = nr, ncol = nc, byrow = TRUE)
}
write_f64 <- function(M, f) writeBin(as.vector(t(M)), f, size = 8, endian = "little")

if (grepl("\\.mtx$", xfile)) {
  suppressPackageStartupMessages(library(Matrix))
  X <- as(readMM(xfile), "CsparseMatrix")
} else {
  X <- read_f64(xfile, n, m)
}

best <- Inf
if (tool == "rcppml") {
  suppressPackageStartupMessages(library(RcppML))
  setRcppMLthreads(threads)
  for (r in seq_len(repeats)) {
    t0 <- proc.time()[["elapsed"]]
    # tol = -1: its stopping test (1 - cor(w, w_prev) < tol) never fires, so exactly `iters`.
    fit <- RcppML::nmf(X, k, tol = -1, maxit = iters, verbose = FALSE, seed = 1, diag = TRUE)
    best <- min(best, proc.time()[["elapsed"]] - t0)
  }
  W <- fit$w %*% diag(fit$d, nrow = k); H <- fit$h; n_iter <- fit$iter
} else if (tool == "rnmf") {
  suppressPackageStartupMessages(library(NMF))
  W0 <- read_f64(a[6], n, k); H0 <- read_f64(a[7], k, m)
  nmf.options(pbackend = NA)  # one run is sequential C++ in this package: no threads to set
  extra <- if (algo == "lee") list(rescale = FALSE) else list()  # plain Lee & Seung
  for (r in seq_len(repeats)) {
    t0 <- proc.time()[["elapsed"]]
    # .stop must be an integer: an integer is a fixed iteration count, a double a threshold.
    fit <- do.call(nmf, c(list(X, k, method = algo, seed = nmfModel(W = W0, H = H0),
                               .stop = iters, .options = "-p-v-t", .pbackend = NA), extra))
    best <- min(best, proc.time()[["elapsed"]] - t0)
  }
  W <- basis(fit); H <- coef(fit); n_iter <- niter(fit)
} else {
  stop("unknown tool ", tool)
}
dir.create(out, showWarnings = FALSE, recursive = TRUE)
write_f64(W, file.path(out, "W.bin")); write_f64(H, file.path(out, "H.bin"))
cat(sprintf('{"seconds": %.9f, "n_iter": %d}\n', best, as.integer(n_iter)))
