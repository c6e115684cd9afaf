"""One-to-one head matching across models (issue 12, item 2; Li et al. 2016, "Convergent
learning").

For every pair of models the optimal assignment of one model's heads to the other's
(``scipy.optimize.linear_sum_assignment``) on a head-distance matrix. Its cost is reported
relative to a random pairing of the same two models (mean matched distance / mean distance
between their heads: 1 = no better than chance, 0 = identical counterparts), which makes
raw-pattern and embedding distances, trained and untrained models, comparable.

**Head families.** Matched pairs form a graph (i—j when i and j are each other's partner
in their pair of models). A family starts from one head and its partner in every other
model; members matched to fewer than half of the others are dropped, worst first. Its
consistency is the share of its member pairs that are matched to each other (1: every
member is every other's partner), its strength the number of such pairs. Families
covering at least ``min_fraction`` of the models are kept, strongest first, disjoint.
A family's p-value compares its strength with the strongest family of label-permuted data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from phrenology.statistics import label_permutations, permutation_p


def model_groups(models: np.ndarray) -> list[np.ndarray]:
    """Head indices of each model, models in sorted label order."""
    models = np.asarray(models)
    return [np.flatnonzero(models == m) for m in np.unique(models)]


def pairwise_matching(dist: np.ndarray, models: np.ndarray) -> dict[str, np.ndarray]:
    """Optimal one-to-one matching of every pair of models.

    dist: float[n, n] head distances; models: [n] model of each head
    returns partner int[n, M] (the head matched to head i in model m; -1 for i's own
    model or when m has fewer heads), partner_dist float[n, M] (NaN where no partner),
    relative_cost float[M, M] (mean matched / mean cross distance; NaN on the diagonal)
    """
    from scipy.optimize import linear_sum_assignment

    dist = np.asarray(dist, dtype=np.float64)
    groups = model_groups(models)
    n, n_models = len(dist), len(groups)
    partner = np.full((n, n_models), -1, dtype=np.int64)
    partner_dist = np.full((n, n_models), np.nan)
    relative = np.full((n_models, n_models), np.nan)
    for a in range(n_models):
        for b in range(a + 1, n_models):
            block = dist[groups[a][:, None], groups[b][None, :]]
            rows, cols = linear_sum_assignment(block)
            i, j = groups[a][rows], groups[b][cols]
            partner[i, b], partner[j, a] = j, i
            partner_dist[i, b] = partner_dist[j, a] = block[rows, cols]
            mean_block = block.mean()
            relative[a, b] = relative[b, a] = (
                block[rows, cols].mean() / mean_block if mean_block > 0 else 1.0
            )
    return {"partner": partner, "partner_dist": partner_dist, "relative_cost": relative}


def mean_relative_cost(relative_cost: np.ndarray) -> float:
    """Mean over model pairs of the relative matched cost."""
    return float(np.nanmean(relative_cost[np.triu_indices(len(relative_cost), 1)]))


def matched_graph(partner: np.ndarray) -> np.ndarray:
    """bool[n, n]: i and j are each other's partner in their pair of models."""
    n = len(partner)
    adj = np.zeros((n, n), dtype=bool)
    rows, cols = np.nonzero(partner >= 0)
    adj[rows, partner[rows, cols]] = True
    return adj & adj.T


def _candidates(partner: np.ndarray, models: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every head's candidate family, pruned (vectorised over heads).

    returns members int[n, M] (slot m: the member from model m, -1 when none or dropped),
    adjacency of the members bool[n, M, M]
    """
    groups = np.searchsorted(np.unique(models), models)  # model slot of each head
    n, n_models = partner.shape
    members = partner.copy()
    members[np.arange(n), groups] = np.arange(n)
    adj = matched_graph(partner)
    safe = np.where(members >= 0, members, 0)
    sub = adj[safe[:, :, None], safe[:, None, :]]  # [n, M, M]
    active = members >= 0
    sub &= active[:, :, None] & active[:, None, :]
    for _ in range(n_models):
        degree = np.where(active, (sub & active[:, None, :]).sum(axis=2), n_models + 1)
        size = active.sum(axis=1)
        # the least-matched member, the later slot on ties
        worst = n_models - 1 - np.argmin(degree[:, ::-1], axis=1)
        bad = (degree[np.arange(n), worst] < 0.5 * (size - 1)) & (size >= 2)
        if not bad.any():
            break
        active[bad, worst[bad]] = False
    sub &= active[:, :, None] & active[:, None, :]
    return np.where(active, members, -1), sub


def strongest_family(partner: np.ndarray, models: np.ndarray, min_fraction: float) -> int:
    """Strength of the strongest family (0 when none): the statistic of the family null."""
    n_models = partner.shape[1]
    need = max(2, math.ceil(min_fraction * n_models - 1e-9))
    members, sub = _candidates(partner, models)
    ok = (members >= 0).sum(axis=1) >= need
    strength = sub.sum(axis=(1, 2)) // 2
    return int(strength[ok].max()) if ok.any() else 0


def head_families(
    partner: np.ndarray, models: np.ndarray, min_fraction: float
) -> list[dict[str, Any]]:
    """Disjoint head families, strongest first (see the module docstring).

    partner: int[n, M] from :func:`pairwise_matching`; models: [n]
    returns one dict per family: members (head indices, sorted), n_models, consistency,
    strength (matched member pairs)
    """
    n_models = partner.shape[1]
    need = max(2, math.ceil(min_fraction * n_models - 1e-9))
    members, sub = _candidates(partner, np.asarray(models))
    strength = sub.sum(axis=(1, 2)) // 2
    candidates: dict[tuple[int, ...], dict[str, Any]] = {}
    for i in range(len(members)):
        key = tuple(sorted(int(j) for j in members[i] if j >= 0))
        if len(key) < need or key in candidates:
            continue
        pairs = len(key) * (len(key) - 1) // 2
        candidates[key] = {
            "members": list(key),
            "n_models": len(key),
            "consistency": int(strength[i]) / pairs,
            "strength": int(strength[i]),
        }
    order = sorted(
        candidates.values(), key=lambda f: (-f["strength"], -f["consistency"], f["members"])
    )
    taken: set[int] = set()
    families = []
    for fam in order:
        if taken.isdisjoint(fam["members"]):
            families.append(fam)
            taken.update(fam["members"])
    return families


def counterpart_counts(partner_dist: np.ndarray, threshold: float) -> np.ndarray:
    """Per head, in how many other models its partner is closer than ``threshold``: int[n]."""
    with np.errstate(invalid="ignore"):
        return (np.nan_to_num(partner_dist, nan=np.inf) < threshold).sum(axis=1)


def matching_test(
    dist: np.ndarray,
    models: np.ndarray,
    n_permutations: int,
    seed: int,
    min_fraction: float,
    quantile: float = 0.05,
) -> dict[str, Any]:
    """Matching, families and their label-permutation nulls for one distance matrix.

    returns observed relative cost, its null (float[P]) and p (small cost extreme);
    families, each with a p-value (its strength against the null's strongest family);
    per-head counterpart counts below the null's ``quantile`` of matched distances;
    partner / partner_dist of the observed matching.
    """
    models = np.asarray(models)
    observed = pairwise_matching(dist, models)
    cost = mean_relative_cost(observed["relative_cost"])
    families = head_families(observed["partner"], models, min_fraction)
    null_cost = np.empty(n_permutations)
    null_strength = np.zeros(n_permutations)
    null_dists = []
    for r, perm in enumerate(label_permutations(models, n_permutations, seed)):
        m = pairwise_matching(dist, perm)
        null_cost[r] = mean_relative_cost(m["relative_cost"])
        null_strength[r] = strongest_family(m["partner"], perm, min_fraction)
        null_dists.append(m["partner_dist"][np.isfinite(m["partner_dist"])])
    pooled = np.concatenate(null_dists) if null_dists else np.array([np.inf])
    threshold = float(np.quantile(pooled, quantile))
    for fam in families:
        fam["p"] = permutation_p(fam["strength"], null_strength)
    return {
        "relative_cost": cost,
        "null": null_cost,
        "p": permutation_p(cost, null_cost, greater=False),
        "families": families,
        "null_strongest_family": null_strength,
        "threshold": threshold,
        "counterparts": counterpart_counts(observed["partner_dist"], threshold),
        "partner": observed["partner"],
        "partner_dist": observed["partner_dist"],
    }
