"""Figs. 1-6 draw and save for ordinary and edge-case inputs (one cluster, many clusters,
a 1-D bottleneck, similarity-weighted edges)."""

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis.autoencoder import build_autoencoder, encode
from phrenology.analysis.clustering import edge_weights, euclidean_distances, knn_edges
from phrenology.analysis.heads import head_table
from phrenology.analysis.importance import decoded_grid, importance_table, perturbation_mse
from phrenology.plots import save_figure
from phrenology.plots.autoencoder import plot_decoded_token_pairs
from phrenology.plots.clustering import (
    plot_cluster_patterns,
    plot_clusters_umap,
    plot_embedding_distances,
    plot_gamma_sweep,
    plot_knn_graph,
)

PNG = b"\x89PNG\r\n\x1a\n"


def saved(fig, path):
    save_figure(fig, path)
    return path.read_bytes()[:8] == PNG


@pytest.mark.parametrize("bottleneck", [1, 2, 3])
def test_fig01(tmp_path, bottleneck):
    n_ctx = 4
    model = build_autoencoder(10, bottleneck, 8, seed=0)
    rows = np.random.default_rng(0).random((50, 10)).astype(np.float32)
    mse, clean = perturbation_mse(model, rows, seed=0)
    ranked = importance_table(mse, clean, n_ctx)
    grid = decoded_grid(model, encode(model, rows), ranked, n_ctx, n_top=5, grid_size=3)
    fig = plot_decoded_token_pairs(ranked, grid, n_ctx, bottleneck)
    assert saved(fig, tmp_path / "fig01.png")


@pytest.fixture
def heads():
    return head_table([990, 991, 992], 2, 4)  # 24 heads


@pytest.mark.parametrize("n_clusters", [1, 3, 24])
def test_cluster_figures(tmp_path, heads, n_clusters):
    n = len(heads)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5))
    dist = euclidean_distances(x)
    clusters = np.arange(n) % n_clusters + 1
    assert saved(plot_embedding_distances(dist, heads, clusters), tmp_path / "fig02.png")
    xy = rng.normal(size=(n, 2))
    assert saved(plot_clusters_umap(xy, heads, clusters, 1.23), tmp_path / "fig05.png")
    mean_patterns = rng.dirichlet(np.ones(6), size=(n, 6))
    mean_patterns = np.tril(mean_patterns)
    assert saved(plot_cluster_patterns(mean_patterns, heads, clusters), tmp_path / "fig06.png")


@pytest.mark.parametrize("scheme", ["unweighted", "similarity"])
def test_fig03(tmp_path, heads, scheme):
    rng = np.random.default_rng(1)
    dist = euclidean_distances(rng.normal(size=(len(heads), 4)))
    e = knn_edges(dist, 3)
    edges = pd.DataFrame(
        {"source": e[:, 0], "target": e[:, 1], "weight": edge_weights(dist, e, scheme)}
    )
    fig = plot_knn_graph(rng.normal(size=(len(heads), 2)), edges, heads, 3)
    assert saved(fig, tmp_path / "fig03.png")


def test_fig04(tmp_path):
    g = np.linspace(0.01, 3, 20)
    sweep = pd.DataFrame(
        {
            "gamma": g,
            "n_clusters": np.ceil(g * 3).astype(int),
            "f_score": np.sin(g) / 2 + 0.4,
            "precision": g / 3,
            "recall": 1 - g / 4,
            "silhouette": 0.5 - g / 10,
            "selected": np.arange(20) == 10,
        }
    )
    assert saved(plot_gamma_sweep(sweep), tmp_path / "fig04.png")
