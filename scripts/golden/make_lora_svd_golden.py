#!/usr/bin/env python3
"""Golden SVDs for dev.paft.merge.TruncatedSvdTest and LoraMergeTest (paft merge --lora-out).

Run with Debian's PyTorch (torch 1.13):

    /usr/bin/python3 scripts/golden/make_lora_svd_golden.py

Writes src/test/resources/merge/lora_svd_golden.json. Every matrix is defined by a closed formula
(no random generator), which the Java test evaluates the same way in double precision:

  dense(m, n, decay):  M[i][j] = sum_{k=0}^{5} decay^k * sin(0.37*(i+1)*(k+1) + 0.11*j*(k+2))
                                                      * cos(0.23*(j+1)*(k+1) - 0.07*i)
                       + 1e-3 * sin(1.7*i + 2.9*j + 0.5*i*j)   (a small full-rank tail)
  factors(m, k, n):    B[i][c] = cos(0.31*(i+1)*(c+1)) + 0.05*c,  A[c][j] = sin(0.19*(c+1)*(j+2)) - 0.03*j*c/n
                       (the product B @ A has rank k)
  deficient(m, k, n):  as factors, then B's last column := B's first column (rank k-1)

For each it stores torch.linalg.svd's singular values (float64) and the optimal rank-r truncation
error ||M - M_r||_F / ||M||_F = sqrt(sum_{j>=r} s_j^2 / sum_j s_j^2) (Eckart-Young) for r = 1..8.
torch.linalg.svd is LAPACK's gesdd; paft's Java code (Householder QR, one-sided Jacobi, randomized
range finder) shares nothing with it.
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)


def dense(m, n, decay):
    out = torch.zeros(m, n)
    for i in range(m):
        for j in range(n):
            v = 0.0
            for k in range(6):
                v += decay ** k * math.sin(0.37 * (i + 1) * (k + 1) + 0.11 * j * (k + 2)) \
                    * math.cos(0.23 * (j + 1) * (k + 1) - 0.07 * i)
            v += 1e-3 * math.sin(1.7 * i + 2.9 * j + 0.5 * i * j)
            out[i, j] = v
    return out


def factors(m, k, n, deficient=False):
    b = torch.zeros(m, k)
    a = torch.zeros(k, n)
    for i in range(m):
        for c in range(k):
            b[i, c] = math.cos(0.31 * (i + 1) * (c + 1)) + 0.05 * c
    for c in range(k):
        for j in range(n):
            a[c, j] = math.sin(0.19 * (c + 1) * (j + 2)) - 0.03 * j * c / n
    if deficient:
        b[:, k - 1] = b[:, 0]
    return b, a


def entry(name, mat, spec):
    s = torch.linalg.svd(mat, full_matrices=False).S
    tot = float((s ** 2).sum())
    errs = []
    for r in range(1, 9):
        tail = float((s[r:] ** 2).sum()) if r < len(s) else 0.0
        errs.append(math.sqrt(tail / tot))
    return {"name": name, **spec, "singular_values": [float(x) for x in s], "optimal_error_at_rank": errs}


def main():
    cases = []
    for (m, n, decay) in [(40, 30, 0.5), (25, 60, 0.3), (64, 64, 0.8)]:
        cases.append(entry(f"dense_{m}x{n}", dense(m, n, decay), {"kind": "dense", "m": m, "n": n, "decay": decay}))
    for (m, k, n) in [(50, 6, 40), (30, 5, 70)]:
        b, a = factors(m, k, n)
        cases.append(entry(f"factors_{m}x{k}x{n}", b @ a, {"kind": "factors", "m": m, "k": k, "n": n}))
    b, a = factors(48, 6, 36, deficient=True)
    cases.append(entry("deficient_48x6x36", b @ a, {"kind": "deficient", "m": 48, "k": 6, "n": 36}))
    out = os.path.join(os.path.dirname(__file__), "..", "..", "src", "test", "resources", "merge", "lora_svd_golden.json")
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(out), len(cases), "cases")


if __name__ == "__main__":
    main()
