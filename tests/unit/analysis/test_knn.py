"""kNN graph: symmetric union of directed kNN edges, degree ≥ k, no self loops, true neighbours."""

import numpy as np
import pytest

from phrenology.analysis.clustering import edge_weights, euclidean_distances, knn_edges, knn_indices
from phrenology.pipeline.errors import ConfigError


def random_dist(n=30, d=4, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x, euclidean_distances(x)


def test_euclidean_distances_match_brute_force():
    x, dist = random_dist(n=7)
    brute = np.array([[np.sqrt(((a - b) ** 2).sum()) for b in x] for a in x])
    np.testing.assert_allclose(dist, brute, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 9])
def test_graph_is_symmetric_without_self_loops_and_degree_at_least_k(k):
    _, dist = random_dist()
    n = len(dist)
    edges = knn_edges(dist, k)
    adj = np.zeros((n, n), bool)
    adj[edges[:, 0], edges[:, 1]] = True
    adj |= adj.T
    assert not adj.diagonal().any()
    assert (edges[:, 0] < edges[:, 1]).all()
    assert len(np.unique(edges, axis=0)) == len(edges)  # no duplicate edges
    assert (adj.sum(axis=1) >= k).all()
    # union of directed kNN edges: i–j present iff j in kNN(i) or i in kNN(j)
    directed = np.zeros((n, n), bool)
    for i in range(n):
        others = sorted((dist[i, j], j) for j in range(n) if j != i)
        for _, j in others[:k]:
            directed[i, j] = True
    np.testing.assert_array_equal(adj, directed | directed.T)


def test_neighbours_are_the_k_nearest():
    _, dist = random_dist(n=20, seed=1)
    nbrs = knn_indices(dist, 4)
    for i in range(20):
        d_nbrs = dist[i, nbrs[i]]
        others = np.delete(np.arange(20), np.r_[nbrs[i], i])
        assert d_nbrs.max() <= dist[i, others].min()
        assert list(d_nbrs) == sorted(d_nbrs)  # nearest first
        assert i not in nbrs[i]


def test_ties_go_to_the_lower_index():
    # points on a line at 0, 1, 2, 3: node 1 has two neighbours at distance 1
    dist = euclidean_distances(np.arange(4.0)[:, None])
    assert knn_indices(dist, 1)[1, 0] == 0


def test_bad_k_names_the_key():
    _, dist = random_dist(n=5)
    with pytest.raises(ConfigError, match=r"clustering\.k"):
        knn_edges(dist, 5)
    with pytest.raises(ConfigError, match=r"clustering\.k"):
        knn_edges(dist, 0)


def test_weights_bind_near_neighbours_more_strongly():
    _, dist = random_dist()
    edges = knn_edges(dist, 5)
    np.testing.assert_array_equal(edge_weights(dist, edges, "unweighted"), 1.0)
    w = edge_weights(dist, edges, "similarity")
    d = dist[edges[:, 0], edges[:, 1]]
    assert ((w > 0) & (w <= 1)).all()
    order = np.argsort(d)
    assert (np.diff(w[order]) <= 0).all()  # farther → weaker, never stronger
    sigma = np.median(d)
    np.testing.assert_allclose(w, np.exp(-((d / sigma) ** 2)))
    with pytest.raises(ConfigError, match=r"clustering\.edge_weights"):
        edge_weights(dist, edges, "distance")
