# rcppml_masked.R -- time RcppML's masked NMF (mask_zeros = TRUE) on the
# Olivetti faces with 30% of each image's pixels held out, for a side-by-side
# comparison with the Rust library nmf-rs.
#
# What it does:
#   1. reads /work/shared/data/olivetti_faces.npy (float32, 400 x 4096, C order)
#      with readBin, after skipping the .npy v1 header; checks shape and range;
#   2. builds a missing-at-random mask: for each image (row) i, round(0.3*4096)
#      pixels chosen uniformly without replacement are held out (set.seed(0));
#      writes the mask to faces_mask30.bin (raw uint8, row-major 400 x 4096,
#      1 = observed, 0 = held out);
#   3. builds a sparse dgCMatrix A (4096 pixels x 400 images, i.e. t(X)) that
#      stores ONLY the observed entries;
#   4. times RcppML::nmf(A, k, mask_zeros = TRUE) for k = 10 and 50 with 1
#      thread (2 crash, see below), fastest of 3 runs, elapsed time of the
#      call only; and the unmasked fit on the dense faces matrix
#      (mask_zeros = FALSE) likewise, with 1 and with 2 threads;
#   5. computes RMSE of the masked fits on the held-out and observed pixels
#      (double precision), with the model A ~ w diag(d) h.
#
# Threads (findings with RcppML 0.3.7 from Debian, 2-core machine):
#   * mask_zeros = TRUE is NOT thread-safe in 0.3.7: inside its OpenMP loop it
#     allocates an R vector per column (SparseMatrix::nonzeroRows), and with
#     2 threads R aborts/hangs printing "*** recursive gc invocation". So the
#     masked fit is run with setRcppMLthreads(1); the unmasked fit is timed with
#     both 1 and 2 threads.
#   * Eigen's own OpenMP-parallel matrix product (used for the masked Gram
#     matrices w_ %*% t(w_)) spin-waits and becomes ~100x slower on a loaded
#     machine; OMP_NUM_THREADS=1 switches that off without affecting RcppML's
#     own loops (they use an explicit num_threads(threads) clause). libR links
#     libgomp, so the variable must be set before R starts: the script re-runs
#     itself with OMP_NUM_THREADS=1 if it is not set.
#
# How to run (from the repository root):
#   Rscript scripts/rcppml_masked.R [FACES.npy] [MASK_OUT.bin]
# then time our side on the same mask:
#   cargo xtask bench-masked --mask faces_mask30.bin -k 10,50
# Needs the Debian packages r-cran-rcppml (RcppML 0.3.x) and r-cran-matrix.
# RcppML is only called here; none of its code is copied.

if (Sys.getenv("OMP_NUM_THREADS") != "1") {
  self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  stopifnot(length(self) == 1)
  rc <- system2(file.path(R.home("bin"), "Rscript"),
                c(shQuote(self), shQuote(commandArgs(trailingOnly = TRUE))),
                env = "OMP_NUM_THREADS=1")
  quit(save = "no", status = rc)
}

suppressPackageStartupMessages({
  library(Matrix)
  library(RcppML)
})

args      <- commandArgs(trailingOnly = TRUE)
npy_path  <- if (length(args) >= 1) args[1] else "../shared/data/olivetti_faces.npy"
mask_path <- if (length(args) >= 2) args[2] else "faces_mask30.bin"
ks        <- c(10, 50)
maxit     <- 50
tol       <- 1e-20   # accepted by RcppML 0.3.7; far below anything reached in 50 iterations
nrep      <- 3
threads   <- 2

cat("RcppML version:", as.character(packageVersion("RcppML")), "\n")
cat("Matrix version:", as.character(packageVersion("Matrix")), "\n")
cat("OMP_NUM_THREADS:", Sys.getenv("OMP_NUM_THREADS"), "\n")
cat("load average at start:", readLines("/proc/loadavg"), "\n")
# setRcppMLthreads(n) sets the env var RcppMLthreads, read by every nmf() call
cat("\n")

## ---- 1. read the .npy file -------------------------------------------------
read_npy_f32 <- function(path) {
  con <- file(path, "rb")
  on.exit(close(con))
  magic <- readBin(con, "raw", 6)
  stopifnot(identical(magic, as.raw(c(0x93, charToRaw("NUMPY")))))
  ver <- readBin(con, "raw", 2)
  stopifnot(as.integer(ver[1]) == 1L)
  hb <- readBin(con, "raw", 2)                       # bytes 9-10: header length, little-endian
  hlen <- as.integer(hb[1]) + 256L * as.integer(hb[2])
  header <- rawToChar(readBin(con, "raw", hlen))
  stopifnot(grepl("'<f4'", header, fixed = TRUE),
            grepl("'fortran_order': False", header, fixed = TRUE))
  shp_txt <- sub(".*'shape': \\(([^)]*)\\).*", "\\1", header)
  shp <- as.integer(regmatches(shp_txt, gregexpr("[0-9]+", shp_txt))[[1]])
  stopifnot(length(shp) == 2)
  n <- prod(shp)
  v <- readBin(con, "double", n = n, size = 4, endian = "little")
  stopifnot(length(v) == n)
  # C order (row-major): fill by rows
  matrix(v, nrow = shp[1], ncol = shp[2], byrow = TRUE)
}

X <- read_npy_f32(npy_path)          # 400 images x 4096 pixels, double
cat(sprintf("faces: %d x %d, min %.6g, max %.6g, exact zeros %d\n",
            nrow(X), ncol(X), min(X), max(X), sum(X == 0)))
stopifnot(nrow(X) == 400, ncol(X) == 4096, min(X) >= 0, max(X) <= 1)
n_img <- nrow(X); n_pix <- ncol(X)

## ---- 2. the mask -------------------------------------------------------------
set.seed(0)
n_miss <- round(0.3 * n_pix)         # 1229 held-out pixels per image
M <- matrix(TRUE, n_img, n_pix)      # TRUE = observed
for (i in seq_len(n_img)) M[i, sample.int(n_pix, n_miss)] <- FALSE
n_obs <- sum(M)
cat(sprintf("held out per image: %d; observed entries: %d of %d (%.4f)\n",
            n_miss, n_obs, length(M), n_obs / length(M)))
writeBin(as.raw(as.integer(t(M))), mask_path)   # t() -> row-major byte order
cat(sprintf("mask written to %s (%d bytes, uint8 row-major %d x %d, 1 = observed)\n",
            normalizePath(mask_path), file.size(mask_path), n_img, n_pix))

## ---- 3. sparse matrix of the observed entries ----------------------------------
obs_zero <- sum(X[M] == 0)
cat(sprintf("observed pixels that are exactly 0: %d\n", obs_zero))
idx <- which(t(M), arr.ind = TRUE)   # rows = pixel, cols = image (A = t(X) orientation)
vals <- t(X)[idx]
eps <- 0
if (obs_zero > 0) {
  eps <- 1e-12                       # so that no observed entry is dropped as a zero
  vals <- vals + eps
  cat("added 1e-12 to every observed value so exact zeros stay stored\n")
}
A_mask <- sparseMatrix(i = idx[, 1], j = idx[, 2], x = vals,
                       dims = c(n_pix, n_img), repr = "C")
A_mask <- as(A_mask, "dgCMatrix")
stopifnot(length(A_mask@x) == n_obs, all(A_mask@x != 0))
cat(sprintf("sparse A: %d x %d dgCMatrix, %d stored entries\n",
            nrow(A_mask), ncol(A_mask), length(A_mask@x)))
A_dense <- t(X)                      # 4096 x 400, dense, unmasked
cat("\n")

## ---- 4. timing ----------------------------------------------------------------
time_nmf <- function(A, k, mask_zeros, nthreads) {
  setRcppMLthreads(nthreads)
  stopifnot(getRcppMLthreads() == nthreads)
  best <- Inf; fit <- NULL
  for (r in seq_len(nrep)) {
    gc()
    t <- system.time(
      f <- RcppML::nmf(A, k, tol = tol, maxit = maxit, verbose = FALSE,
                       seed = 1, mask_zeros = mask_zeros)
    )[["elapsed"]]
    if (t < best) { best <- t; fit <- f }
  }
  cat(sprintf("  k=%d mask_zeros=%s threads=%d: best %.3f s, %d iter, %.5f s/iter\n",
              k, mask_zeros, nthreads, best, fit$iter, best / fit$iter))
  list(time = best, fit = fit, iter = fit$iter)
}

rmse <- function(fit, sel) {
  R <- t(fit$w %*% (fit$d * fit$h))  # model w diag(d) h, back to 400 x 4096
  sqrt(mean((R[sel] - X[sel])^2))
}

res <- data.frame(); err <- data.frame()
for (k in ks) {
  m  <- time_nmf(A_mask,  k, TRUE,  1)        # masked: 1 thread only (see top)
  u1 <- time_nmf(A_dense, k, FALSE, 1)
  u2 <- time_nmf(A_dense, k, FALSE, threads)
  res <- rbind(res, data.frame(
    k = k,
    masked_1t_s_per_iter   = m$time / m$iter,   masked_iter = m$iter,
    unmasked_1t_s_per_iter = u1$time / u1$iter, unmasked_1t_iter = u1$iter,
    unmasked_2t_s_per_iter = u2$time / u2$iter, unmasked_2t_iter = u2$iter,
    ratio_masked_unmasked_1t = (m$time / m$iter) / (u1$time / u1$iter),
    masked_total_s = m$time, unmasked_1t_total_s = u1$time, unmasked_2t_total_s = u2$time))
  err <- rbind(err, data.frame(
    k = k,
    masked_rmse_heldout = rmse(m$fit, !M), masked_rmse_observed = rmse(m$fit, M),
    unmasked_rmse_all = rmse(u1$fit, matrix(TRUE, n_img, n_pix)),
    masked_final_tol = m$fit$tol))
}
options(width = 250)
cat(sprintf("timings: fastest of %d runs, elapsed seconds of the nmf() call, maxit %d, tol %g\n",
            nrep, maxit, tol))
print(res, digits = 5, row.names = FALSE)
cat("\nerrors (double precision, vs. the true pixel values):\n")
print(err, digits = 6, row.names = FALSE)
cat("\nload average at end:", readLines("/proc/loadavg"), "\n")
