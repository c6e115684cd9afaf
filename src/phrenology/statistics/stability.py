"""How stable the chosen clustering is (issue 12, item 3).

Two kinds of replicate, each a full re-clustering at the selected γ:

- **prompt bootstrap**: the analysis prompts resampled with replacement; each head's
  embedding rebuilt from the stored autoencoder codes of the drawn prompts, then the
  same kNN graph and Leiden partition as the pipeline (:mod:`phrenology.analysis.clustering`,
  :mod:`phrenology.analysis.clustering`, :mod:`phrenology.analysis.clustering`);
- **Leiden seeds**: the reference graph, Leiden with other seeds.

Summaries: the consensus matrix (share of replicates in which two heads share a cluster),
the adjusted Rand index of every replicate against the reference, and per reference
cluster the mean over replicates of its best Jaccard match (Hennig 2007, ``clusterboot``:
below 0.5 a cluster dissolves, above 0.75 it is stable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phrenology.analysis.clustering import (
    build_graph,
    edge_weights,
    euclidean_distances,
    head_embedding,
    knn_edges,
    leiden_partition,
)

UNSTABLE, STABLE = 0.5, 0.75  # Hennig's thresholds on the mean best-match Jaccard


def embedding_graph(embedding: np.ndarray, k: int, weights: str) -> Any:
    """The pipeline's kNN graph (knn_graph rule) of an embedding float[n, d]: an igraph Graph."""
    dist = euclidean_distances(embedding)
    edges = knn_edges(dist, k)
    return build_graph(len(dist), edges, edge_weights(dist, edges, weights))


def cluster_embedding(
    embedding: np.ndarray, k: int, weights: str, gamma: float, seed: int, n_iterations: int = -1
) -> np.ndarray:
    """The pipeline's kNN → Leiden path at one γ. embedding: float[n, d] → labels int[n]"""
    return leiden_partition(embedding_graph(embedding, k, weights), gamma, seed, n_iterations)


def bootstrap_prompts(
    codes: np.ndarray,
    mode: str,
    k: int,
    weights: str,
    gamma: float,
    leiden_seed: int,
    seed: int,
    replicates: range,
    n_iterations: int = -1,
) -> np.ndarray:
    """Leiden partitions of prompt-bootstrap replicates.

    codes: float[n_prompts, n_heads, k_ae] (the selected autoencoder's codes)
    replicates: which replicate numbers to draw; replicate b resamples with
        ``default_rng([seed, b])``, so chunks in separate jobs give the same rows
    returns int[len(replicates), n_heads]
    """
    n_prompts = codes.shape[0]
    out = []
    for b in replicates:
        idx = np.random.default_rng([seed, b]).integers(0, n_prompts, n_prompts)
        emb = head_embedding(codes[idx], mode)
        out.append(cluster_embedding(emb, k, weights, gamma, leiden_seed, n_iterations))
    return np.array(out, dtype=np.int64).reshape(len(out), codes.shape[1])


def seed_replicates(
    embedding: np.ndarray,
    k: int,
    weights: str,
    gamma: float,
    seeds: range,
    n_iterations: int = -1,
) -> np.ndarray:
    """Leiden partitions of the reference embedding with other seeds: int[len(seeds), n]"""
    dist = euclidean_distances(embedding)
    edges = knn_edges(dist, k)
    graph = build_graph(len(dist), edges, edge_weights(dist, edges, weights))
    return np.array(
        [leiden_partition(graph, gamma, s, n_iterations) for s in seeds], dtype=np.int64
    ).reshape(len(seeds), len(dist))


def consensus_matrix(memberships: np.ndarray) -> np.ndarray:
    """Share of replicates in which heads i and j share a cluster. int[R, n] → float64[n, n]"""
    memberships = np.asarray(memberships)
    out = np.zeros((memberships.shape[1],) * 2)
    for labels in memberships:
        out += labels[:, None] == labels[None, :]
    return out / len(memberships)


def adjusted_rand(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same items."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def best_jaccard(reference: np.ndarray, replicate: np.ndarray) -> dict[int, float]:
    """Per reference cluster, the Jaccard similarity of its best match in ``replicate``."""
    reference, replicate = np.asarray(reference), np.asarray(replicate)
    out = {}
    for c in np.unique(reference):
        members = reference == c
        best = 0.0
        for d in np.unique(replicate[members]):  # only clusters that overlap can match
            other = replicate == d
            best = max(best, (members & other).sum() / (members | other).sum())
        out[int(c)] = float(best)
    return out


def stability_summary(reference: np.ndarray, replicates: np.ndarray) -> dict[str, object]:
    """ARI of every replicate, per-cluster mean best-match Jaccard and the consensus matrix.

    reference: int[n]; replicates: int[R, n]
    """
    ari = np.array([adjusted_rand(reference, r) for r in replicates])
    jaccards = [best_jaccard(reference, r) for r in replicates]
    clusters = sorted(jaccards[0]) if jaccards else sorted(map(int, np.unique(reference)))
    mean_jaccard = {c: float(np.mean([j[c] for j in jaccards])) for c in clusters}
    return {"ari": ari, "jaccard": mean_jaccard, "consensus": consensus_matrix(replicates)}


def stability_label(jaccard: float) -> str:
    """Hennig's reading of a mean best-match Jaccard."""
    if jaccard >= STABLE:
        return "stable"
    if jaccard < UNSTABLE:
        return "unstable"
    return "doubtful"
