"""Side by side of a grid search and scikit-learn's loop over the same grid.

Usage: python3 scripts/compare_grid.py OURS_DIR SKLEARN.csv SKLEARN_SECONDS
  OURS_DIR: a `cargo xtask grid-search --out` folder (results.csv, summary.json)
  SKLEARN.csv, SKLEARN_SECONDS: written / printed by scripts/sklearn_grid.py
Prints the wall-time ratio and, point by point, whether our penalised objective is at least as
good as scikit-learn's (relative slack 1e-6), with the worst ratio.
"""
import csv
import json
import os
import sys


def main():
    ours_dir, sk_csv, sk_seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(os.path.join(ours_dir, "summary.json")) as f:
        ours_seconds = json.load(f)["total_seconds"]
    key = lambda r: (round(float(r["alpha_w"]), 9), round(float(r["l1_ratio"]), 9))
    with open(os.path.join(ours_dir, "results.csv")) as f:
        ours = {key(r): r for r in csv.DictReader(f)}
    with open(sk_csv) as f:
        sk = {key(r): r for r in csv.DictReader(f)}
    common = sorted(set(ours) & set(sk))
    worse = []
    worst = 0.0
    for k in common:
        o, s = float(ours[k]["objective"]), float(sk[k]["objective"])
        ratio = o / s if s > 0 else (1.0 if o == 0 else float("inf"))
        worst = max(worst, ratio)
        if o > s * (1 + 1e-6) + 1e-12:
            worse.append((k, o, s))
    print(f"points {len(common)}; wall time ours {ours_seconds:.1f} s, scikit-learn {sk_seconds:.1f} s: "
          f"{sk_seconds / ours_seconds:.2f}x")
    print(f"objective at least as good as scikit-learn's at {len(common) - len(worse)}/{len(common)} points; "
          f"worst ours/sklearn {worst:.6f}")
    for k, o, s in worse[:10]:
        print(f"  alpha_w={k[0]} l1_ratio={k[1]}: ours {o:.6g} vs scikit-learn {s:.6g}")


if __name__ == "__main__":
    main()
