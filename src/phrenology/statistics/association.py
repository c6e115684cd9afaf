"""Attention versus function (issue 12, item 4): do heads that attend alike also act alike
when knocked out (the paper's Fig. 14 claim, judged there by eye)?

- **Mantel test**: Pearson correlation between the upper triangles of two distance
  matrices (attention embedding, knockout effect), the null from permuting the heads of
  one matrix (rows and columns together).
- **Cluster agreement**: the adjusted Rand index between the attention clusters and a
  clustering of the knockout effects into as many clusters (average linkage on the
  knockout distances), the null from permuting the attention labels.

Knockout distances come from the stored Gram matrix of the effects (Fig. 14 data):
‖e_i − e_j‖² = G_ii + G_jj − 2 G_ij.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from phrenology.analysis.distance import distances_from_gram  # noqa: F401  (knockout distances)
from phrenology.statistics import permutation_p


def mantel(a: np.ndarray, b: np.ndarray, n_permutations: int, seed: int) -> dict[str, Any]:
    """Mantel correlation r of two distance matrices and its one-sided (r > 0) p-value.

    a, b: float[n, n] symmetric; permutation r uses ``default_rng([seed, r])``
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = len(a)
    iu = np.triu_indices(n, 1)
    x = a[iu] - a[iu].mean()
    x /= np.linalg.norm(x) or 1.0
    y = b[iu]

    def corr(values: np.ndarray) -> np.ndarray:  # values: [P, m]
        v = values - values.mean(axis=-1, keepdims=True)
        norm = np.linalg.norm(v, axis=-1)
        return (v @ x) / np.where(norm > 0, norm, 1.0)

    r = float(corr(y[None])[0])
    perms = np.stack(
        [np.random.default_rng([seed, p]).permutation(n) for p in range(n_permutations)]
    )
    null = np.empty(n_permutations)
    for start in range(0, n_permutations, 200):
        block = perms[start : start + 200]
        null[start : start + len(block)] = corr(b[block[:, iu[0]], block[:, iu[1]]])
    return {"r": r, "null": null, "p": permutation_p(r, null)}


def effect_clusters(dist: np.ndarray, n_clusters: int) -> np.ndarray:
    """Average-linkage clusters of a distance matrix, cut at ``n_clusters``: labels int[n]."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = np.asarray(dist, dtype=np.float64)
    n_clusters = max(1, min(int(n_clusters), len(dist)))
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=n_clusters, criterion="maxclust").astype(np.int64)


def cluster_agreement(
    attention_clusters: np.ndarray, effect_labels: np.ndarray, n_permutations: int, seed: int
) -> dict[str, Any]:
    """ARI of two labelings and its permutation p-value (large ARI extreme)."""
    from sklearn.metrics import adjusted_rand_score

    attention_clusters = np.asarray(attention_clusters)
    ari = float(adjusted_rand_score(attention_clusters, effect_labels))
    null = np.array(
        [
            adjusted_rand_score(
                np.random.default_rng([seed, p]).permutation(attention_clusters), effect_labels
            )
            for p in range(n_permutations)
        ]
    )
    return {"ari": ari, "null": null, "p": permutation_p(ari, null)}
