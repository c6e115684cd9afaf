"""Head embeddings from autoencoder codes, their distances, and a 2-D UMAP layout."""

from __future__ import annotations

import numpy as np

from phrenology.errors import ConfigError, DataError

EMBEDDING_MODES = ("concat", "mean")


def head_embedding(codes: np.ndarray, mode: str = "concat") -> np.ndarray:
    """One vector per head from its codes on every prompt.

    codes: float[n_prompts, n_heads, k] (the selected autoencoder's bottleneck)
    mode:  ``concat`` — the codes over all prompts, prompt after prompt (the paper:
           float32[n_heads, n_prompts * k]); ``mean`` — the mean code (float32[n_heads, k])
    """
    if codes.ndim != 3:
        raise DataError(f"codes must be [n_prompts, n_heads, k], got shape {codes.shape}")
    if mode == "concat":
        emb = np.ascontiguousarray(codes.transpose(1, 0, 2)).reshape(codes.shape[1], -1)
    elif mode == "mean":
        emb = codes.mean(axis=0)
    else:
        raise ConfigError("autoencoder.head_embedding", f"{mode!r} is not one of {EMBEDDING_MODES}")
    return emb.astype(np.float32)


def euclidean_distances(x: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances. x: float[n, d] → float64[n, n], symmetric, zero diagonal."""
    from scipy.spatial.distance import pdist, squareform

    return squareform(pdist(np.asarray(x, dtype=np.float64), metric="euclidean"))


def umap_layout(embedding: np.ndarray, n_neighbors: int, min_dist: float, seed: int) -> np.ndarray:
    """2-D UMAP of the head embeddings, seeded. embedding: float[n, d] → float64[n, 2]"""
    import umap

    n = len(embedding)
    if n_neighbors >= n:
        raise ConfigError(
            "clustering.umap.n_neighbors", f"{n_neighbors} must be below the number of heads ({n})"
        )
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        n_components=2,
        random_state=seed,
        n_jobs=1,  # a seeded UMAP runs single-threaded anyway; saying so avoids its warning
    )
    return reducer.fit_transform(np.asarray(embedding, dtype=np.float32)).astype(np.float64)
