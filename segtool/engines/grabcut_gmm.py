"""Colour models of GrabCut: OpenCV's 5-component GMM layout ``(1, 65)`` read, re-learnt and tabled.

Layout (OpenCV ``cv::GMM``): 5 weights, then 5x3 means, then 5x3x3 covariances, float64.
"""

from __future__ import annotations

import numpy as np


def gmm_log_likelihood(model: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Log density of an OpenCV GrabCut GMM ``(1, 65)`` at ``colours`` float32 ``(N, 3)`` -> ``(N,)``."""
    m = np.asarray(model, np.float64).reshape(-1)
    coefs, means, covs = m[:5], m[5:20].reshape(5, 3), m[20:65].reshape(5, 3, 3)
    out = np.full(len(colours), -np.inf, np.float64)
    for k in range(5):
        if coefs[k] <= 0:
            continue
        cov = covs[k] + np.eye(3) * 1e-2
        inv = np.linalg.inv(cov)
        d = colours.astype(np.float64) - means[k]
        mahal = np.sum((d @ inv) * d, axis=1)
        logp = np.log(coefs[k]) - 0.5 * (mahal + np.log(np.linalg.det(cov)) + 3 * np.log(2 * np.pi))
        out = np.logaddexp(out, logp)
    return out


def tempered(model: np.ndarray, factor: float) -> np.ndarray:
    """A copy of an OpenCV GMM ``(1, 65)`` with every covariance multiplied by ``factor``."""
    out = np.array(model, np.float64, copy=True)
    out[0, 20:65] *= factor
    for k in range(5):
        cov = out[0, 20 + 9 * k:29 + 9 * k].reshape(3, 3)
        if out[0, k] > 0 and np.linalg.det(cov) <= 1e-9:  # keep OpenCV's det > eps assertion true
            cov += np.eye(3) * 0.01
    return out


def learn_gmm(model: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """One hard-EM step of a 5-component GMM, as in OpenCV's GrabCut.

    Each colour (float32 ``(N, 3)``) goes to its most likely component of ``model`` (``(1, 65)``:
    5 weights, 5x3 means, 5x3x3 covariances); weights, means and covariances are re-estimated.
    """
    m = np.asarray(model, np.float64).reshape(-1)
    means, covs = m[5:20].reshape(5, 3), m[20:65].reshape(5, 3, 3)
    score = np.full((len(colours), 5), -np.inf)
    for k in range(5):
        if m[k] <= 0:
            continue
        cov = covs[k] + np.eye(3) * 1e-2
        d = colours - means[k]
        mahal = np.sum((d @ np.linalg.inv(cov).astype(np.float32)) * d, axis=1)
        score[:, k] = np.log(m[k]) - 0.5 * (mahal + np.log(np.linalg.det(cov)))
    comp = np.argmax(score, axis=1)
    counts = np.bincount(comp, minlength=5).astype(np.float64)
    c64 = colours.astype(np.float64)
    sums = np.stack([np.bincount(comp, c64[:, i], minlength=5) for i in range(3)], axis=1)
    prods = np.zeros((5, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            prods[:, i, j] = prods[:, j, i] = np.bincount(comp, c64[:, i] * c64[:, j], minlength=5)
    out = np.zeros((1, 65), np.float64)
    for k in np.flatnonzero(counts):
        mu = sums[k] / counts[k]
        cov = prods[k] / counts[k] - np.outer(mu, mu)
        if np.linalg.det(cov) <= 1e-6:  # (nearly) singular, e.g. one grey level: OpenCV asserts
            cov = cov + np.eye(3) * 0.01
        out[0, k] = counts[k] / len(colours)
        out[0, 5 + 3 * k:8 + 3 * k] = mu
        out[0, 20 + 9 * k:29 + 9 * k] = cov.reshape(-1)
    return out


_LUT_BITS = 5


def colour_index(colours: np.ndarray) -> np.ndarray:
    """Index ``(N,)`` into a ``2**(3*_LUT_BITS)`` colour table of uint8 colours ``(N, 3)``."""
    q = (colours >> (8 - _LUT_BITS)).astype(np.intp)
    return (q[:, 0] << (2 * _LUT_BITS)) | (q[:, 1] << _LUT_BITS) | q[:, 2]


def llr_table(fgd: np.ndarray, bgd: np.ndarray) -> np.ndarray:
    """float32 table of ``log p_fg - log p_bg`` (clipped to +-10) at the centre of each colour bin."""
    n = 1 << _LUT_BITS
    centres = (np.arange(n, dtype=np.float32) + 0.5) * (256 / n)
    grid = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), axis=-1).reshape(-1, 3)
    llr = gmm_log_likelihood(fgd, grid) - gmm_log_likelihood(bgd, grid)
    return np.clip(llr, -10, 10).astype(np.float32)


def has_models(bgd: np.ndarray, fgd: np.ndarray) -> bool:
    """True when both GrabCut GMMs ``(1, 65)`` have a component with weight (a colour decision is possible)."""
    return bool(np.any(bgd[0, :5] > 0) and np.any(fgd[0, :5] > 0))
