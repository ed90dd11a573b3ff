"""Jet substructure observables on padded constituent arrays.

N2 (Moult, Necib, Thaler 2016) with beta = 1: the ratio of generalised energy correlation
functions 2e3 / (1e2)^2, with pT-fraction weights z_i = pT_i / sum pT and angles
Delta R_ij = sqrt(Delta y^2 + Delta phi^2) (pseudorapidity here, as the candidates are massless
or nearly so). 2e3 sums, over triplets, z_i z_j z_k times the product of the two smallest of the
three pairwise angles (each to the power beta).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _n2_one(pt, eta, phi, n, beta):
    total = 0.0
    for i in range(n):
        total += pt[i]
    if n < 3 or total <= 0.0:
        return 0.0
    dr = np.empty((n, n))
    for i in range(n):
        dr[i, i] = 0.0
        for j in range(i + 1, n):
            dphi = phi[i] - phi[j]
            dphi = (dphi + np.pi) % (2.0 * np.pi) - np.pi
            d = (np.sqrt((eta[i] - eta[j]) ** 2 + dphi ** 2)) ** beta
            dr[i, j] = d
            dr[j, i] = d
    z = pt[:n] / total
    e2 = 0.0
    e3 = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            zij = z[i] * z[j]
            a = dr[i, j]
            e2 += zij * a
            for k in range(j + 1, n):
                b = dr[i, k]
                c = dr[j, k]
                # product of the two smallest angles = all three over the largest
                largest = max(a, max(b, c))
                if largest > 0.0:
                    e3 += zij * z[k] * (a * b * c / largest)
    if e2 <= 0.0:
        return 0.0
    return e3 / (e2 * e2)


@numba.njit(cache=True)
def _n2_batch(pt, eta, phi, counts, beta):
    out = np.zeros(pt.shape[0])
    for row in range(pt.shape[0]):
        out[row] = _n2_one(pt[row], eta[row], phi[row], counts[row], beta)
    return out


def n2(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, counts: np.ndarray,
       beta: float = 1.0) -> np.ndarray:
    """N2^(beta) per jet from (m, N) padded constituent pT, eta, phi and (m,) real counts.

    Jets with fewer than three constituents get 0.
    """
    return _n2_batch(np.ascontiguousarray(pt, dtype=np.float64),
                     np.ascontiguousarray(eta, dtype=np.float64),
                     np.ascontiguousarray(phi, dtype=np.float64),
                     np.asarray(counts, dtype=np.int64), float(beta))
