"""Synthetic head sets with known ground truth, for the calibration and power tests and the
recovery benchmark of the verdict's statistics.

A model has ``n_heads`` heads; in a *planted* set the first heads of every model are one
head of each archetype (:data:`phrenology.statistics.archetypes.ARCHETYPES`: previous,
current, first token, uniform over the prefix) mixed with noise, the rest random. A
random head's attention on each prompt and query is a softmax of Gaussian logits over
the keys it may see, drawn independently for every head, prompt and query, so a set with
no planted heads has no structure across models at all.
"""

from __future__ import annotations

import numpy as np

from phrenology.statistics.archetypes import ARCHETYPES, templates


def random_patterns(
    rng: np.random.Generator, n_prompts: int, n_heads: int, n_ctx: int, scale: float = 2.0
) -> np.ndarray:
    """Causal softmax patterns of Gaussian logits: float64[n_prompts, n_heads, n_ctx, n_ctx]"""
    logits = rng.normal(scale=scale, size=(n_prompts, n_heads, n_ctx, n_ctx))
    logits = np.where(np.tri(n_ctx, dtype=bool), logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def head_set(
    n_models: int,
    n_heads: int,
    n_prompts: int,
    n_ctx: int,
    noise: float,
    seed: int,
    planted: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic set of models' heads.

    noise: weight of the random pattern mixed into each planted head (0: the pure template)
    returns (patterns float64[n_prompts, n_models * n_heads, n_ctx, n_ctx] model-major,
    models int[n], kind int[n]: archetype index of a planted head, -1 for a random one)
    """
    rng = np.random.default_rng(seed)
    n = n_models * n_heads
    patterns = random_patterns(rng, n_prompts, n, n_ctx)
    kind = np.full(n, -1)
    if planted:
        tmpl = templates(n_ctx)
        n_kinds = min(len(ARCHETYPES), n_heads)
        for m in range(n_models):
            for k in range(n_kinds):
                h = m * n_heads + k
                patterns[:, h] = (1 - noise) * tmpl[k] + noise * patterns[:, h]
                kind[h] = k
    return patterns, np.repeat(np.arange(n_models), n_heads), kind


def head_distances(patterns: np.ndarray) -> np.ndarray:
    """Euclidean distances between heads' flattened patterns: float64[n, n]"""
    from phrenology.analysis.clustering import euclidean_distances
    from phrenology.analysis.heads import head_vectors

    return euclidean_distances(head_vectors(patterns))


def sweep_memberships(
    dist: np.ndarray, models: np.ndarray, k: int, n_gamma: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's kNN graph and Leiden γ sweep (γ in [0.01, 3)) on a distance matrix.

    returns (memberships int[n_gamma, n], F per γ float64[n_gamma])
    """
    from phrenology.analysis.clustering import (
        build_graph,
        draw_gammas,
        edge_weights,
        knn_edges,
        leiden_partition,
    )
    from phrenology.statistics.null import f_scores

    edges = knn_edges(dist, k)
    graph = build_graph(len(dist), edges, edge_weights(dist, edges, "unweighted"))
    memberships = np.array(
        [leiden_partition(graph, g, seed) for g in draw_gammas((0.01, 3.0), n_gamma, seed)]
    )
    return memberships, f_scores(memberships, models)[0]


def recovery(
    patterns: np.ndarray,
    models: np.ndarray,
    kind: np.ndarray,
    k: int,
    n_gamma: int,
    n_permutations: int,
    seed: int,
    min_fraction: float = 0.75,
) -> dict[str, float]:
    """Run the verdict's clustering null and matching on a synthetic set and score how well
    the planted heads come back.

    A planted head counts as recovered by the clustering when its cluster (best F over the
    sweep) holds every planted head of its kind and no planted head of another kind; by the
    matching when its head family's planted members are exactly the heads of its kind.
    returns cluster_recovery, family_recovery (shares of planted heads), f_p, matching_p,
    family_p (largest p among the families holding a planted kind; NaN if none)
    """
    from phrenology.statistics.matching import matching_test
    from phrenology.statistics.null import best_f_null

    dist = head_distances(patterns)
    memberships, f = sweep_memberships(dist, models, k, n_gamma, seed)
    best = memberships[int(np.argmax(f))]
    planted = np.flatnonzero(kind >= 0)

    def exact(group: np.ndarray, h: int) -> bool:
        inside = group[kind[group] >= 0]
        return set(inside) == set(np.flatnonzero(kind == kind[h]))

    cluster_ok = [exact(np.flatnonzero(best == best[h]), h) for h in planted]
    m = matching_test(dist, models, n_permutations, seed, min_fraction)
    family_of = {h: fam for fam in m["families"] for h in fam["members"]}
    family_ok = [h in family_of and exact(np.array(family_of[h]["members"]), h) for h in planted]
    kinds_p = [family_of[h]["p"] for h, ok in zip(planted, family_ok, strict=True) if ok]
    return {
        "cluster_recovery": float(np.mean(cluster_ok)),
        "family_recovery": float(np.mean(family_ok)),
        "f_p": best_f_null(memberships, models, n_permutations, seed)["p"],
        "matching_p": m["p"],
        "family_p": float(max(kinds_p)) if kinds_p else float("nan"),
    }
