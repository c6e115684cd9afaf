"""The k-nearest-neighbour graph of heads (paper §2.2.2, Fig. 3).

Undirected: an edge joins i and j when j is among i's k nearest heads *or* i among
j's (the union of the directed kNN edges), so every head has degree ≥ k; no self
loops. Edge weights must bind near neighbours more strongly than far ones — the
authors' code weighted edges by *distance*, the reverse. Two schemes:

- ``unweighted`` (default): every edge weight 1. The kNN rule already encodes
  nearness by rank, the graph does not depend on the scale of the embedding
  (which grows with the number of prompts under ``concat``), and modularity's
  resolution γ keeps its usual meaning — the paper's γ range stays comparable.
- ``similarity``: w = exp(−(d / σ)²) with σ the median edge distance, a
  self-tuning Gaussian kernel: 1 for identical heads, e^−1 at a typical edge.
"""

from __future__ import annotations

import numpy as np

from phrenology.errors import ConfigError

EDGE_WEIGHTS = ("unweighted", "similarity")


def knn_indices(dist: np.ndarray, k: int) -> np.ndarray:
    """Each node's k nearest other nodes, nearest first; ties go to the lower index.

    dist: float[n, n] symmetric distances → int[n, k]
    """
    n = len(dist)
    if not 1 <= k < n:
        raise ConfigError(
            "clustering.k", f"{k} must be between 1 and the number of heads − 1 ({n - 1})"
        )
    d = np.array(dist, dtype=np.float64)
    np.fill_diagonal(d, np.inf)  # a node is not its own neighbour
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def knn_edges(dist: np.ndarray, k: int) -> np.ndarray:
    """Undirected kNN edges, the union of the directed ones: int[m, 2], each row i < j, sorted."""
    nbrs = knn_indices(dist, k)
    src = np.repeat(np.arange(len(dist)), k)
    dst = nbrs.ravel()
    pairs = np.stack([np.minimum(src, dst), np.maximum(src, dst)], axis=1)
    return np.unique(pairs, axis=0)


def edge_weights(dist: np.ndarray, edges: np.ndarray, scheme: str) -> np.ndarray:
    """Weight of every edge: float64[m]; larger = nearer (see the module docstring)."""
    if scheme == "unweighted":
        return np.ones(len(edges))
    if scheme == "similarity":
        d = dist[edges[:, 0], edges[:, 1]]
        sigma = float(np.median(d)) if len(d) else 0.0
        if sigma <= 0:  # all edges join identical heads
            return np.ones(len(edges))
        return np.exp(-((d / sigma) ** 2))
    raise ConfigError("clustering.edge_weights", f"{scheme!r} is not one of {EDGE_WEIGHTS}")
