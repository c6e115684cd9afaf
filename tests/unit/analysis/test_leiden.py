"""Leiden: seeded and deterministic, recovers planted clusters, canonical labels, the γ sweep."""

import numpy as np
import pytest

from phrenology.analysis.clustering import (
    SWEEP_COLUMNS,
    build_graph,
    canonical_labels,
    draw_gammas,
    edge_weights,
    euclidean_distances,
    gamma_sweep,
    knn_edges,
    leiden_partition,
)


def planted(n_groups=3, size=8, seed=0):
    """Well separated Gaussian blobs → kNN graph; returns (graph, dist, truth)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=20, size=(n_groups, 5))
    x = np.concatenate([c + rng.normal(size=(size, 5)) for c in centres])
    truth = np.repeat(np.arange(n_groups), size)
    dist = euclidean_distances(x)
    edges = knn_edges(dist, 4)
    return build_graph(len(x), edges, edge_weights(dist, edges, "unweighted")), dist, truth


def same_partition(a, b):
    """Equal up to renaming of the clusters."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_recovers_planted_clusters():
    graph, _, truth = planted()
    labels = leiden_partition(graph, gamma=1.0, seed=0)
    assert same_partition(labels, truth)


def test_deterministic_for_a_seed():
    # a graph with no clear structure, so that the seed matters
    rng = np.random.default_rng(1)
    dist = euclidean_distances(rng.normal(size=(60, 3)))
    edges = knn_edges(dist, 5)
    graph = build_graph(60, edges, np.ones(len(edges)))
    runs = [leiden_partition(graph, gamma=1.5, seed=42) for _ in range(3)]
    for r in runs[1:]:
        np.testing.assert_array_equal(r, runs[0])


def test_canonical_labels_order_by_size_then_first_member():
    np.testing.assert_array_equal(
        canonical_labels(np.array([7, 3, 3, 9, 7, 3])), [2, 1, 1, 3, 2, 1]
    )
    # equal sizes: the cluster holding the lower index comes first
    np.testing.assert_array_equal(canonical_labels(np.array([5, 2, 5, 2])), [1, 2, 1, 2])


def test_draw_gammas_is_seeded_sorted_and_in_range():
    g = draw_gammas((0.01, 3.0), 200, seed=5)
    assert len(g) == 200 and (g >= 0.01).all() and (g < 3.0).all()
    assert (np.diff(g) >= 0).all()
    np.testing.assert_array_equal(g, draw_gammas((0.01, 3.0), 200, seed=5))
    assert not np.array_equal(g, draw_gammas((0.01, 3.0), 200, seed=6))


def test_gamma_sweep_rows_and_resolution_trend():
    graph, dist, truth = planted()
    models = np.tile(np.arange(8), 3)  # each planted group holds one head of each of 8 models
    gammas = np.array([0.01, 1.0, 50.0])
    sweep, memberships = gamma_sweep(graph, dist, models, gammas, seed=0)
    assert list(sweep.columns) == SWEEP_COLUMNS
    assert memberships.shape == (3, len(truth))
    np.testing.assert_array_equal(sweep["gamma"], gammas)
    n = sweep["n_clusters"].to_numpy()
    assert n[0] <= n[1] <= n[2]  # higher resolution, more clusters
    assert n[1] == 3 and same_partition(memberships[1], truth)
    # the planted partition holds every model once per cluster: perfect F
    assert sweep["f_score"][1] == pytest.approx(1.0)
    assert sweep["silhouette"][1] > 0.5
