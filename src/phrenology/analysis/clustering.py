"""Clustering the heads (paper §2.2.2, Figs. 2–6): head embeddings from autoencoder codes →
kNN graph → Leiden over a sweep of resolutions γ → scores of "one head per model per job".

**Scores.** A universal head type would appear once in every model, so a good cluster
holds one head from each model. Per cluster: TP = distinct models among its heads,
precision = TP / size (1 when no model repeats), recall = TP / number of models (1
when every model is present), F = their harmonic mean. A clustering scores the mean
over its clusters of each quantity (the authors' ``test.leiden``; unlike their code a
single all-heads cluster is scored as it is rather than as 0). Silhouette is computed
on the embedding distances. It is undefined when there is one cluster, or one cluster
per head; both get 0 — Rousseeuw's value for a head alone in its cluster, and "no
structure" for a single cluster.

**kNN graph.** Undirected: an edge joins i and j when j is among i's k nearest heads
*or* i among j's (the union of the directed kNN edges), so every head has degree ≥ k;
no self loops. Edge weights must bind near neighbours more strongly than far ones — the
authors' code weighted edges by *distance*, the reverse. Two schemes:

- ``unweighted`` (default): every edge weight 1. The kNN rule already encodes
  nearness by rank, the graph does not depend on the scale of the embedding
  (which grows with the number of prompts under ``concat``), and modularity's
  resolution γ keeps its usual meaning — the paper's γ range stays comparable.
- ``similarity``: w = exp(−(d / σ)²) with σ the median edge distance, a
  self-tuning Gaussian kernel: 1 for identical heads, e^−1 at a typical edge.

**Leiden.** Objective: modularity with a resolution parameter
(``leidenalg.RBConfigurationVertexPartition``), seeded — the authors' runs were not.
Cluster labels are canonical: 1 = the largest cluster, ties by lowest head index,
so the same partition always gets the same labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.pipeline.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd


def per_cluster_scores(clusters: np.ndarray, models: np.ndarray) -> pd.DataFrame:
    """``cluster, size, tp, precision, recall, f_score`` per cluster (sorted by cluster label).

    clusters: int[n] label per head; models: [n] model (seed) of each head
    """
    import pandas as pd

    clusters, models = np.asarray(clusters), np.asarray(models)
    n_models = len(np.unique(models))
    rows = []
    for c in np.unique(clusters):
        members = models[clusters == c]
        tp = len(np.unique(members))
        precision, recall = tp / len(members), tp / n_models
        rows.append(
            {
                "cluster": c,
                "size": len(members),
                "tp": tp,
                "precision": precision,
                "recall": recall,
                "f_score": 2 * precision * recall / (precision + recall),
            }
        )
    return pd.DataFrame(rows)


def clustering_scores(clusters: np.ndarray, models: np.ndarray) -> dict[str, float]:
    """Mean over clusters of F, precision and recall, and the number of clusters."""
    per = per_cluster_scores(clusters, models)
    return {
        "n_clusters": len(per),
        "f_score": float(per["f_score"].mean()),
        "precision": float(per["precision"].mean()),
        "recall": float(per["recall"].mean()),
    }


def mean_silhouette(dist: np.ndarray, clusters: np.ndarray) -> float:
    """Mean silhouette over heads on a precomputed distance matrix; 0 for 1 or n clusters."""
    from sklearn.metrics import silhouette_score

    n_clusters = len(np.unique(clusters))
    if n_clusters < 2 or n_clusters >= len(clusters):
        return 0.0
    return float(
        silhouette_score(np.asarray(dist, dtype=np.float64), clusters, metric="precomputed")
    )


def best_clustering(sweep: pd.DataFrame) -> int:
    """Row index of the best clustering of a γ sweep: the highest F; ties (many γ give the
    same partition) go to the higher silhouette, then to the smaller γ."""
    order = sweep.sort_values(
        ["f_score", "silhouette", "gamma"], ascending=[False, False, True], kind="stable"
    )
    return int(order.index[0])


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
    from phrenology.pipeline.caches import import_umap

    umap = import_umap()  # numba functions cached between jobs

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
