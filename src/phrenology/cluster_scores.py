"""How well a clustering of heads matches "one head per model per job" (paper §2.2.2, Fig. 4).

A universal head type would appear once in every model, so a good cluster holds one
head from each model. Per cluster: TP = distinct models among its heads,
precision = TP / size (1 when no model repeats), recall = TP / number of models (1
when every model is present), F = their harmonic mean. A clustering scores the mean
over its clusters of each quantity (the authors' ``test.leiden``; unlike their code a
single all-heads cluster is scored as it is rather than as 0).

Silhouette is computed on the embedding distances. It is undefined when there is
one cluster, or one cluster per head; both get 0 — Rousseeuw's value for a head
alone in its cluster, and "no structure" for a single cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

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
