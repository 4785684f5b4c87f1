"""Robust relative least squares: the regression every calibration group is fitted with.

The bar of the cost model of Astraea (Duan et al., ICCD 2019; IEEE TPDS 32(1), 2021) is a percentage
error, so the fit minimises *relative* residuals: non-negative least squares (``scipy.optimize.nnls``)
with each row divided by its fitted value (iteratively reweighted, starting from the measurement),
Huber weights (k = 1.5 robust standard deviations of the relative residual) so that an event stalled
by another process does not drag a coefficient, and a weight per configuration so that a repeated
configuration does not outvote the one-off variations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import nnls

__all__ = ["HUBER_K", "IRLS_ITERATIONS", "config_weights", "irls", "robust_scale"]

#: Huber's constant, in robust standard deviations of the relative residual.
HUBER_K = 1.5
#: Reweighting passes of a full fit.
IRLS_ITERATIONS = 6


def robust_scale(relative: np.ndarray) -> float:
    relative = relative[np.isfinite(relative)]
    if relative.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(relative - np.median(relative))))


def irls(x: np.ndarray, y: np.ndarray, base_weight: np.ndarray, *, start: np.ndarray | None = None,
          iterations: int = IRLS_ITERATIONS) -> np.ndarray:
    """Robust relative NNLS of ``y ~ x``: IRLS with weights 1/fitted and Huber down-weighting.

    ``start`` (fitted values to begin from, e.g. the full-sample fit's in a bootstrap) saves
    iterations; without it the first pass weights by the measurements themselves.
    """
    top = np.abs(x).max(axis=0)
    scale_cols = np.where(top > 0, top, 1.0)
    xs = x / scale_cols
    tiny = np.finfo(float).tiny
    fitted = np.maximum(y if start is None else np.where(start > 0, start, y), tiny)
    huber = np.ones_like(y)
    if start is not None:
        relative = y / fitted - 1.0
        scale = robust_scale(relative)
        if scale > 0:
            huber = np.minimum(1.0, HUBER_K * scale / np.maximum(np.abs(relative), 1e-300))
    coefficients = np.zeros(x.shape[1])
    for _ in range(iterations):
        row = np.sqrt(base_weight * huber) / fitted
        solution, _ = nnls(xs * row[:, None], y * row, maxiter=50 * x.shape[1] + 100)
        coefficients = solution / scale_cols
        prediction = x @ coefficients
        fitted = np.where(prediction > 0, prediction, np.maximum(y, tiny))
        relative = y / fitted - 1.0
        scale = robust_scale(relative)
        if scale > 0:
            huber = np.minimum(1.0, HUBER_K * scale / np.maximum(np.abs(relative), 1e-300))
    return coefficients


def config_weights(rows: pd.DataFrame) -> np.ndarray:
    """1 / (rows of the row's configuration): every configuration counts equally."""
    key = rows["config_key"] if "config_key" in rows.columns else rows["run_id"]
    counts = key.map(key.value_counts()).to_numpy(dtype=np.float64)
    return 1.0 / counts
