"""2-D maps of the heads plus the three artificial heads: PCA, UMAP, t-SNE (paper Fig. 8).

Every point is one head's patterns over all prompts as one long vector (the
artificial heads repeated over the same prompts). UMAP and t-SNE get the config's
seed as ``random_state``, so a rerun gives the same coordinates (UMAP then runs
single-threaded). t-SNE starts from the PCA layout (scikit-learn's default and more
stable than a random start), so in practice its result hardly depends on the seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.artificial import ARTIFICIAL_HEADS, artificial_head_vectors
from phrenology.components import pca
from phrenology.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

METHODS: tuple[str, ...] = ("pca", "umap", "tsne")
PROJECTION_COLUMNS = ["point", "kind", "method", "x", "y"]


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """float[n, D] → float64[n, 2] scores on the first two components (signs fixed)."""
    return pca(vectors, 2).scores


def umap_2d(
    vectors: np.ndarray, *, n_neighbors: int, min_dist: float, densmap: bool, seed: int
) -> np.ndarray:
    """float[n, D] → float64[n, 2] UMAP (densMAP if ``densmap``) embedding, seeded."""
    import umap

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
