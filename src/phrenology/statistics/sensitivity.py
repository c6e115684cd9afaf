"""How much the verdict's clustering answer depends on the analyst's choices.

The verdict fixes three choices the paper made by hand or by a criterion that is not a
likelihood: the autoencoder bottleneck (the paper's AIC picks the smallest almost by
construction), the kNN graph's k, and the edge weighting. :func:`sensitivity_table` redoes
the clustering branch — head embedding from the stored codes → kNN graph → Leiden over the
same seeded γ sweep → best F — for every trained bottleneck × k in ``k + k_offsets`` × both
weightings, each with its label-permutation p-value (:func:`phrenology.statistics.null.best_f_null`,
the same null as the verdict's). One small table: if the answer (p < α or not) changes
across rows, the verdict depends on these choices and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.clustering import EDGE_WEIGHTS, head_embedding, leiden_partition
from phrenology.statistics.null import best_f_null, f_scores
from phrenology.statistics.stability import embedding_graph

if TYPE_CHECKING:
    import pandas as pd

SENSITIVITY_COLUMNS = [
    "bottleneck", "k", "edge_weights", "reference", "best_gamma", "n_clusters",
    "best_f", "null_mean", "p",
]  # fmt: skip


def sweep(
    embedding: np.ndarray, k: int, weights: str, gammas: np.ndarray, seed: int, n_iterations: int
) -> np.ndarray:
    """The pipeline's kNN → Leiden path at every γ. embedding: float[n, d] → int[n_gamma, n]"""
    graph = embedding_graph(embedding, k, weights)
    return np.array([leiden_partition(graph, g, seed, n_iterations) for g in gammas])


def valid_ks(k: int, offsets: Sequence[int], n_heads: int) -> list[int]:
    """k + each offset, kept where a kNN graph exists (1 ≤ k' < n_heads), sorted, unique."""
    return sorted({k + o for o in offsets if 1 <= k + o < n_heads})


def sensitivity_table(
    codes: Mapping[int, np.ndarray],
    models: np.ndarray,
    *,
    mode: str,
    k: int,
    k_offsets: Sequence[int],
    gammas: np.ndarray,
    leiden_seed: int,
    n_iterations: int,
    n_permutations: int,
    seed: int,
    reference: tuple[int, int, str],
) -> pd.DataFrame:
    """One row per (bottleneck, k, edge weighting): best F over γ and its permutation p.

    codes:     bottleneck → float[n_prompts, n_heads, bottleneck] (each autoencoder's codes)
    models:    int[n_heads] model of each head
    reference: (bottleneck, k, weighting) of the verdict itself, flagged in ``reference``
    returns    SENSITIVITY_COLUMNS
    """
    import pandas as pd

    rows = []
    for bottleneck, c in codes.items():
        embedding = head_embedding(c, mode)
        for kk in valid_ks(k, k_offsets, len(models)):
            for weights in EDGE_WEIGHTS:
                memberships = sweep(embedding, kk, weights, gammas, leiden_seed, n_iterations)
                null = best_f_null(memberships, models, n_permutations, seed)
                best = int(np.argmax(f_scores(memberships, models)[0]))
                rows.append({
                    "bottleneck": int(bottleneck), "k": kk, "edge_weights": weights,
                    "reference": (int(bottleneck), kk, weights) == tuple(reference),
                    "best_gamma": float(gammas[best]),
                    "n_clusters": len(np.unique(memberships[best])),
                    "best_f": null["observed"], "null_mean": null["null_mean"], "p": null["p"],
                })  # fmt: skip
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
