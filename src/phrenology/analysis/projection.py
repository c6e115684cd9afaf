"""The heads' raw patterns in few dimensions: principal components (paper Figs. 9–10) and
2-D maps with the three artificial heads: PCA, UMAP, t-SNE (paper Fig. 8).

Components: samples are heads, features the n_prompts · n_ctx · n_ctx pattern values,
so each component can be reshaped back to one n_ctx × n_ctx map per prompt. The sign of
a principal component is arbitrary; :func:`fix_signs` makes it deterministic by
turning every component so that its largest-magnitude loading is positive.

Maps: every point is one head's patterns over all prompts as one long vector (the
artificial heads repeated over the same prompts). UMAP and t-SNE get the config's
seed as ``random_state``, so a rerun gives the same coordinates (UMAP then runs
single-threaded). t-SNE starts from the PCA layout (scikit-learn's default and more
stable than a random start), so in practice its result hardly depends on the seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.artificial import ARTIFICIAL_HEADS, artificial_head_vectors
from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


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

    vectors: float[H, n_prompts * n_ctx * n_ctx] (:func:`phrenology.analysis.heads.head_vectors`)
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


METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
PROJECTION_COLUMNS = ["point", "kind", "method", "x", "y"]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """float[n, D] → float64[n, 2] scores on the first two components (signs fixed)."""
    return pca(vectors, 2).scores


def umap_2d(
    vectors: np.ndarray, *, n_neighbors: int, min_dist: float, densmap: bool, seed: int
) -> np.ndarray:
    """float[n, D] → float64[n, 2] UMAP (densMAP if ``densmap``) embedding, seeded."""
    from phrenology.pipeline.caches import import_umap

    umap = import_umap()  # numba functions cached between jobs

    if n_neighbors >= len(vectors):
        raise DataError(f"UMAP needs n_neighbors ({n_neighbors}) below the {len(vectors)} points")
    model = umap.UMAP(
        n_components=2,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        densmap=densmap,
        random_state=seed,
        n_jobs=1,  # what random_state implies anyway; said explicitly to silence the warning
    )
    return np.asarray(model.fit_transform(vectors), dtype=np.float64)


def tsne_2d(vectors: np.ndarray, *, perplexity: float, seed: int) -> np.ndarray:
    """float[n, D] → float64[n, 2] t-SNE embedding, seeded (PCA initialisation)."""
    from sklearn.manifold import TSNE

    if perplexity >= len(vectors):
        raise DataError(f"t-SNE needs perplexity ({perplexity}) below the {len(vectors)} points")
    model = TSNE(
        n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed
    )
    return np.asarray(model.fit_transform(vectors), dtype=np.float64)


def project(vectors: np.ndarray, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """All three projections of the same points.

    vectors: float[n, D]
    params:  the config's ``analysis.projection`` (``umap``, ``tsne``, ``seed``)
    returns: {method: float64[n, 2]} for every method in :data:`METHODS`
    """
    seed = int(params["seed"])
    return {
        "pca": pca_2d(vectors),
        "umap": umap_2d(vectors, **params["umap"], seed=seed),
        "tsne": tsne_2d(vectors, **params["tsne"], seed=seed),
    }


def with_artificial_heads(vectors: np.ndarray, n_prompts: int, n_ctx: int) -> np.ndarray:
    """Real head vectors followed by the three artificial heads.

    vectors: float[H, n_prompts * n_ctx * n_ctx] → float32[H + 3, n_prompts * n_ctx * n_ctx]
    """
    if vectors.shape[1] != n_prompts * n_ctx * n_ctx:
        raise DataError(
            f"head vectors have {vectors.shape[1]} features, expected "
            f"{n_prompts} prompts × {n_ctx} × {n_ctx}"
        )
    artificial = artificial_head_vectors(n_prompts, n_ctx, dtype=np.float32)
    return np.concatenate([np.asarray(vectors, dtype=np.float32), artificial])


def projection_table(
    head_labels: Sequence[str], coordinates: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """Long table ``point, kind, method, x, y``: the heads (``kind`` = head, in the given
    order) then the artificial heads (``kind`` = artificial), for each method in turn.

    coordinates: {method: float[len(head_labels) + 3, 2]}
    """
    import pandas as pd

    points = [*head_labels, *ARTIFICIAL_HEADS]
    kinds = ["head"] * len(head_labels) + ["artificial"] * len(ARTIFICIAL_HEADS)
    frames = []
    for method, xy in coordinates.items():
        if xy.shape != (len(points), 2):
            raise ValueError(
                f"{method} coordinates have shape {xy.shape}, expected ({len(points)}, 2)"
            )
        frames.append(
            pd.DataFrame(
                {"point": points, "kind": kinds, "method": method, "x": xy[:, 0], "y": xy[:, 1]}
            )
        )
    return pd.concat(frames, ignore_index=True)[PROJECTION_COLUMNS]
