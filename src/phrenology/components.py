"""Principal components of the heads' attention patterns (paper Figs. 9–10).

Samples are heads, features the n_prompts · n_ctx · n_ctx pattern values, so each
component can be reshaped back to one n_ctx × n_ctx map per prompt. The sign of
a principal component is arbitrary; :func:`fix_signs` makes it deterministic by
turning every component so that its largest-magnitude loading is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phrenology.errors import DataError


def fix_signs(components: np.ndarray, scores: np.ndarray | None = None):
    """Flip each component so that its largest-|value| loading is positive.

    components: float[k, D] (rows are components)
    scores:     float[n, k] or None; flipped with their component so scores @ components
                is unchanged
    returns:    (components, scores) with the same shapes (new arrays)
    """
    components = np.array(components, copy=True)
    largest = np.abs(components).argmax(axis=1)
    signs = np.sign(components[np.arange(len(components)), largest])
    signs[signs == 0] = 1.0  # an all-zero component stays as it is
    components *= signs[:, None]
    if scores is None:
        return components, None
    return components, np.asarray(scores) * signs[None, :]


@dataclass(frozen=True)
class PCAResult:
    """components: float64[k, D] unit rows; explained_variance, explained_variance_ratio:
    float64[k]; scores: float64[n, k] (each sample's coordinates); mean: float64[D]."""

    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    scores: np.ndarray
    mean: np.ndarray


def pca(samples: np.ndarray, n_components: int) -> PCAResult:
    """PCA (exact SVD, float64) with deterministic component signs.

    samples: float[n, D]; n_components ≤ min(n, D)
    """
    from sklearn.decomposition import PCA

    n, d = samples.shape
    if n_components > min(n, d):
        raise DataError(
            f"cannot take {n_components} principal components of {n} samples × {d} features"
        )
    x = np.asarray(samples, dtype=np.float64)
    # Samples that do not vary at all (every head the same constant pattern) leave
    # scikit-learn dividing 0 by 0 for the explained-variance ratio: their ratio is 0.
    with np.errstate(invalid="ignore", divide="ignore"):
        model = PCA(n_components=n_components, svd_solver="full").fit(x)
    ratio = np.nan_to_num(model.explained_variance_ratio_, nan=0.0)
    scores = (x - model.mean_) @ model.components_.T
    components, scores = fix_signs(model.components_, scores)
    return PCAResult(
        components=components,
        explained_variance=model.explained_variance_.copy(),
        explained_variance_ratio=ratio,
        scores=scores,
        mean=model.mean_.copy(),
    )


def pattern_components(
    vectors: np.ndarray, n_prompts: int, n_ctx: int, n_components: int
) -> PCAResult:
    """PCA over heads; components reshaped to one map per prompt.

    vectors: float[H, n_prompts * n_ctx * n_ctx] (:func:`phrenology.patterns.head_vectors`)
    returns: PCAResult whose ``components`` is float64[k, n_prompts, n_ctx, n_ctx]
             (query × key per prompt) and ``mean`` float64[n_prompts, n_ctx, n_ctx]
    """
    if vectors.shape[1] != n_prompts * n_ctx * n_ctx:
        raise DataError(
            f"head vectors have {vectors.shape[1]} features, expected "
            f"{n_prompts} prompts × {n_ctx} × {n_ctx}"
        )
    result = pca(vectors, n_components)
    return PCAResult(
        components=result.components.reshape(n_components, n_prompts, n_ctx, n_ctx),
        explained_variance=result.explained_variance,
        explained_variance_ratio=result.explained_variance_ratio,
        scores=result.scores,
        mean=result.mean.reshape(n_prompts, n_ctx, n_ctx),
    )


def variance_table(result: PCAResult):
    """``component`` (1-based), ``explained_variance``, ``explained_variance_ratio``."""
    import pandas as pd

    k = len(result.explained_variance)
    return pd.DataFrame({
        "component": np.arange(1, k + 1),
        "explained_variance": result.explained_variance,
        "explained_variance_ratio": result.explained_variance_ratio,
    })  # fmt: skip
