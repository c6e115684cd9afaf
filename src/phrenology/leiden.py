"""Leiden clustering of the kNN graph over a sweep of resolutions γ (paper §2.2.2, Figs. 4–5).

Objective: modularity with a resolution parameter
(``leidenalg.RBConfigurationVertexPartition``), seeded — the authors' runs were not.
Cluster labels are canonical: 1 = the largest cluster, ties by lowest head index,
so the same partition always gets the same labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.cluster_scores import clustering_scores, mean_silhouette

if TYPE_CHECKING:
    import pandas as pd

SWEEP_COLUMNS = ["gamma", "n_clusters", "f_score", "precision", "recall", "silhouette"]


def draw_gammas(gamma_range: tuple[float, float], n: int, seed: int) -> np.ndarray:
    """n resolutions uniform in [lo, hi) from ``default_rng(seed)``, sorted: float64[n]."""
    lo, hi = gamma_range
    return np.sort(np.random.default_rng(seed).uniform(lo, hi, n))


def build_graph(n_nodes: int, edges: np.ndarray, weights: np.ndarray) -> Any:
    """Undirected igraph Graph with a ``weight`` edge attribute. edges: int[m, 2]"""
    import igraph as ig

    graph = ig.Graph(n=n_nodes, edges=[tuple(map(int, e)) for e in edges], directed=False)
    graph.es["weight"] = [float(w) for w in weights]
    return graph


def canonical_labels(membership: np.ndarray) -> np.ndarray:
    """Relabel clusters 1..C by decreasing size, ties by their lowest member: int[n]."""
    membership = np.asarray(membership)
    labels = np.unique(membership)
    first = {c: int(np.flatnonzero(membership == c)[0]) for c in labels}
    size = {c: int((membership == c).sum()) for c in labels}
    order = sorted(labels, key=lambda c: (-size[c], first[c]))
    new = {c: i + 1 for i, c in enumerate(order)}
    return np.array([new[c] for c in membership], dtype=np.int64)


def leiden_partition(graph: Any, gamma: float, seed: int, n_iterations: int = -1) -> np.ndarray:
    """Leiden partition maximising modularity at resolution γ: canonical labels int[n].

    n_iterations < 0 iterates until a pass changes nothing.
    """
    import leidenalg

    partition = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=float(gamma),
        n_iterations=n_iterations,
        seed=seed,
    )
    return canonical_labels(np.asarray(partition.membership))


def gamma_sweep(
    graph: Any,
    dist: np.ndarray,
    models: np.ndarray,
    gammas: np.ndarray,
    seed: int,
    n_iterations: int = -1,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Leiden at every γ, each clustering scored (cluster_scores).

    dist: float[n, n] embedding distances (silhouette); models: [n] model of each head
    returns (one row per γ: gamma, n_clusters, f_score, precision, recall, silhouette;
    memberships int[n_gamma, n])
    """
    import pandas as pd

    rows, memberships = [], []
    scored: dict[bytes, dict[str, float]] = {}  # many γ give the same partition: score it once
    for gamma in gammas:
        labels = leiden_partition(graph, gamma, seed, n_iterations)
        key = labels.tobytes()
        if key not in scored:
            scored[key] = {
                **clustering_scores(labels, models),
                "silhouette": mean_silhouette(dist, labels),
            }
        rows.append({"gamma": float(gamma), **scored[key]})
        memberships.append(labels)
    return pd.DataFrame(rows)[SWEEP_COLUMNS], np.array(memberships, dtype=np.int64)
