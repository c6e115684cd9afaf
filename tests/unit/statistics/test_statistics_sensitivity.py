"""The sensitivity table: the verdict's clustering null redone over bottlenecks × k × weightings."""

from __future__ import annotations

import numpy as np

from phrenology.analysis.clustering import (
    build_graph,
    draw_gammas,
    edge_weights,
    euclidean_distances,
    gamma_sweep,
    head_embedding,
    knn_edges,
)
from phrenology.statistics import synthetic as S
from phrenology.statistics.null import best_f_null
from phrenology.statistics.sensitivity import SENSITIVITY_COLUMNS, sensitivity_table, valid_ks

GAMMAS = draw_gammas((0.01, 3.0), 20, 0)


def as_codes(patterns: np.ndarray) -> np.ndarray:
    """Synthetic patterns as 'codes' [n_prompts, n_heads, n_ctx²]: the concat embedding is then
    each head's flattened patterns."""
    n_prompts, n_heads = patterns.shape[:2]
    return patterns.reshape(n_prompts, n_heads, -1)


def table(codes, models, k=3, n_permutations=99, seed=0):
    return sensitivity_table(
        codes, models, mode="concat", k=k, k_offsets=[-1, 0, 1], gammas=GAMMAS,
        leiden_seed=0, n_iterations=-1, n_permutations=n_permutations, seed=seed,
        reference=(next(iter(codes)), k, "unweighted"),
    )  # fmt: skip


def test_valid_ks_drop_graphs_that_cannot_exist():
    assert valid_ks(3, [-2, -1, 0, 1, 2], 24) == [1, 2, 3, 4, 5]
    assert valid_ks(2, [-2, -1, 0, 5], 6) == [1, 2]  # 0 and 7 ≥ 6 heads are dropped


def test_one_row_per_setting_and_the_reference_row_is_the_verdict_path():
    patterns, models, _ = S.head_set(4, 6, 4, 6, noise=0.3, seed=2)
    codes = {8: as_codes(patterns), 4: as_codes(patterns)[..., :18]}
    t = table(codes, models)
    assert list(t.columns) == SENSITIVITY_COLUMNS
    assert len(t) == 2 * 3 * 2  # bottlenecks × k in {2, 3, 4} × both weightings
    assert t["reference"].sum() == 1
    ref = t[t["reference"]].iloc[0]
    # the pipeline's own path (knn_graph + leiden_sweep + verdict_null) at the reference setting
    emb = head_embedding(codes[8], "concat")
    dist = euclidean_distances(emb)
    edges = knn_edges(dist, 3)
    graph = build_graph(len(dist), edges, edge_weights(dist, edges, "unweighted"))
    _, memberships = gamma_sweep(graph, dist, models, GAMMAS, 0)
    direct = best_f_null(memberships, models, 99, 0)
    assert ref["best_f"] == direct["observed"] and ref["p"] == direct["p"]
    assert (t["p"] > 0).all() and (t["p"] <= 1).all()


def test_planted_heads_are_significant_in_every_setting():
    """Power: with one planted head of each archetype per model, every bottleneck, k and
    weighting finds the structure (p < 0.05)."""
    patterns, models, _ = S.head_set(6, 5, 6, 8, noise=0.1, seed=11)
    t = table({64: as_codes(patterns)}, models, k=3)
    assert (t["p"] < 0.05).all(), t


def test_no_structure_is_rarely_significant():
    """Calibration of the reference row (the verdict's own null): on head sets with no
    cross-model structure, p < 0.05 about 5 % of the time (60 sets; ≤ 8 allows for chance)."""
    hits = 0
    for i in range(60):
        patterns, models, _ = S.head_set(3, 4, 3, 5, noise=1.0, seed=100 + i, planted=False)
        codes = {25: as_codes(patterns)}
        t = sensitivity_table(
            codes, models, mode="concat", k=2, k_offsets=[0], gammas=GAMMAS[:10],
            leiden_seed=0, n_iterations=-1, n_permutations=99, seed=i,
            reference=(25, 2, "unweighted"),
        )  # fmt: skip
        hits += int(t[t["reference"]]["p"].iloc[0] < 0.05)
    assert hits <= 8, hits
