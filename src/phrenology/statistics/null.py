"""Null distribution of the best clustering score (issue 12, item 1a).

The reported F is the maximum over every γ of the sweep, so its null must be a maximum too.
Shuffling which model each head belongs to (each model keeps its head count) breaks any
link between a head's position in the graph and its model, while the graph and the Leiden
partitions stay as they are: only the labels change, so the stored memberships are
re-scored, not recomputed. F of one clustering is the mean over clusters of the harmonic
mean of precision (distinct models / size) and recall (distinct models / n_models), exactly
:func:`phrenology.analysis.clustering.clustering_scores`; here vectorised over permutations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phrenology.statistics import label_permutations, permutation_p


def _codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, codes = np.unique(np.asarray(labels), return_inverse=True)
    return codes.astype(np.int64), len(uniq)


def f_scores(memberships: np.ndarray, models: np.ndarray) -> np.ndarray:
    """Mean-over-clusters F of every partition under every model labelling.

    memberships: int[G, n] cluster label per head, one row per partition (γ)
    models:      [n] or [P, n] model label per head, one row per labelling
    returns:     float64[P, G] (P = 1 for a single labelling)
    """
    memberships = np.atleast_2d(np.asarray(memberships))
    models = np.atleast_2d(np.asarray(models))
    codes = np.stack([_codes(m)[0] for m in models])  # [P, n]
    n_labellings = len(codes)
    n_models = int(codes.max()) + 1
    rows = np.arange(n_labellings)[:, None]
    # many γ give the same partition: score each distinct one once
    unique, inverse = np.unique(memberships, axis=0, return_inverse=True)
    out = np.empty((n_labellings, len(unique)))
    for u, part in enumerate(unique):
        clusters = np.unique(part, return_inverse=True)[1].ravel()  # 0..C-1
        n_clusters = int(clusters.max()) + 1
        size = np.bincount(clusters, minlength=n_clusters)  # [C]
        # present[p, c, m]: model m has a head in cluster c under labelling p
        present = np.zeros((n_labellings, n_clusters * n_models), dtype=bool)
        present[rows, clusters[None, :] * n_models + codes] = True
        tp = present.reshape(n_labellings, n_clusters, n_models).sum(axis=2)  # [P, C]
        precision, recall = tp / size, tp / n_models
        out[:, u] = (2 * precision * recall / (precision + recall)).mean(axis=1)
    return out[:, np.asarray(inverse).ravel()]


def best_f_null(
    memberships: np.ndarray, models: np.ndarray, n_permutations: int, seed: int
) -> dict[str, Any]:
    """Observed best F over the sweep against its label-permutation null.

    memberships: int[G, n] (results/clustering/memberships.npy); models: [n] model of each head
    returns observed (max F over γ), null (float64[n_permutations]: max F over γ per shuffle),
    p (+1-corrected, large F extreme) and the null's mean, sd and quantiles.
    """
    observed = float(f_scores(memberships, models).max())
    null = np.empty(n_permutations)
    chunk = 250  # bounds the [P, C, M] temporaries
    for start in range(0, n_permutations, chunk):
        stop = min(start + chunk, n_permutations)
        perms = label_permutations(models, stop, seed, start)
        null[start:stop] = f_scores(memberships, perms).max(axis=1)
    return {
        "observed": observed,
        "null": null,
        "p": permutation_p(observed, null),
        **describe(null),
    }


def describe(null: np.ndarray) -> dict[str, float]:
    """mean, sd and the 5/50/95 % quantiles of a null sample."""
    null = np.asarray(null, dtype=np.float64)
    q05, q50, q95 = np.quantile(null, [0.05, 0.5, 0.95])
    return {
        "null_mean": float(null.mean()),
        "null_sd": float(null.std(ddof=1)) if len(null) > 1 else 0.0,
        "null_q05": float(q05),
        "null_median": float(q50),
        "null_q95": float(q95),
    }


def cluster_f_p(
    clusters: np.ndarray, models: np.ndarray, n_permutations: int, seed: int
) -> dict[int, float]:
    """Per cluster of one clustering: the permutation p-value of its own F (precision/recall
    harmonic mean) under the same label shuffles as :func:`best_f_null`."""
    clusters, models = np.asarray(clusters), np.asarray(models)
    codes, n_models = _codes(models)
    perms = np.stack([codes, *label_permutations(codes, n_permutations, seed)])  # row 0: observed
    out = {}
    for c in np.unique(clusters):
        members = perms[:, clusters == c]  # [1 + P, size]
        tp = np.array([len(np.unique(row)) for row in members])
        precision, recall = tp / members.shape[1], tp / n_models
        f = 2 * precision * recall / (precision + recall)
        out[int(c)] = permutation_p(f[0], f[1:])
    return out
