"""Fault injection: degenerate heads — constant (the same pattern on every prompt: uniform rows,
or all mass on token 0), duplicated across models, or all-zero (not a distribution at all, as a
damaged tensor might hold) — pass through every analysis without a crash or a NaN."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.artificial import artificial_patterns
from phrenology.analysis.heads import head_table

SEEDS, N_LAYERS, N_HEADS = [1, 2], 1, 4  # 8 heads
N_PROMPTS, N_CTX = 6, 5


def random_patterns(rng, n_prompts, n_heads, n_ctx) -> np.ndarray:
    logits = rng.normal(size=(n_prompts, n_heads, n_ctx, n_ctx)) * 2
    logits = np.where(np.tri(n_ctx, dtype=bool), logits, -np.inf)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


FIRST_TOKEN = np.zeros((N_CTX, N_CTX), np.float32)
FIRST_TOKEN[:, 0] = 1.0  # every token attends only to token 0
UNIFORM = artificial_patterns(N_CTX)[0].astype(np.float32)  # uniform over tokens ≤ itself


@pytest.fixture
def degenerate() -> np.ndarray:
    """float32[N_PROMPTS, 8, N_CTX, N_CTX]: heads 0 and 4 attend to token 0 on every prompt (one
    in each model: a duplicated point), head 1 is uniform on every prompt, head 6 is all zero."""
    p = random_patterns(np.random.default_rng(0), N_PROMPTS, len(SEEDS) * N_HEADS, N_CTX)
    p[:, 0] = p[:, 4] = FIRST_TOKEN
    p[:, 1] = UNIFORM
    p[:, 6] = 0.0
    return p


def all_constant() -> np.ndarray:
    """The extreme: every head attends only to token 0 on every prompt (zero variance)."""
    return np.broadcast_to(FIRST_TOKEN, (N_PROMPTS, 8, N_CTX, N_CTX)).copy()


def finite(*arrays) -> bool:
    return all(np.isfinite(np.asarray(a, dtype=np.float64)).all() for a in arrays)


def test_distances(degenerate):
    from phrenology.analysis.distance import attention_distances

    d = attention_distances(degenerate, chunk_prompts=4)
    assert finite(d) and np.allclose(d, d.T) and (np.diag(d) == 0).all()
    assert d[0, 4] == 0.0  # identical heads
    # zero head vs token-0 head: one 1 per row → sqrt(prompts × rows)
    assert d[6, 0] == pytest.approx(np.sqrt(N_PROMPTS * N_CTX))
    assert (
        finite(attention_distances(all_constant()))
        and attention_distances(all_constant()).max() == 0
    )


@pytest.mark.parametrize("make", ["degenerate", "all_constant"])
def test_projections(make, degenerate):
    from phrenology.analysis.heads import head_vectors
    from phrenology.analysis.projection import project, with_artificial_heads

    patterns = degenerate if make == "degenerate" else all_constant()
    points = with_artificial_heads(head_vectors(patterns), N_PROMPTS, N_CTX)
    params = {"umap": {"n_neighbors": 4, "min_dist": 0.1, "densmap": True},
              "tsne": {"perplexity": 3}, "seed": 0}  # fmt: skip
    coords = project(points, params)
    for method, xy in coords.items():
        assert xy.shape == (len(points), 2) and finite(xy), method


@pytest.mark.parametrize("make", ["degenerate", "all_constant"])
def test_pca_components(make, degenerate):
    from phrenology.analysis.heads import head_vectors
    from phrenology.analysis.projection import pattern_components

    patterns = degenerate if make == "degenerate" else all_constant()
    result = pattern_components(head_vectors(patterns), N_PROMPTS, N_CTX, 3)
    assert finite(result.components, result.scores, result.explained_variance_ratio)
    if make == "all_constant":  # nothing varies: no component explains anything
        assert (result.explained_variance_ratio == 0).all()
        assert np.abs(result.scores).max() < 1e-6


@pytest.mark.parametrize("make", ["degenerate", "all_constant"])
def test_first_token_pca(make, degenerate):
    import pandas as pd

    from phrenology.analysis.first_token import first_token_pca

    patterns = degenerate if make == "degenerate" else all_constant()
    prompts = pd.DataFrame(
        [{"prompt": p, "position": i, "token": f" w{i}", "gpt2_id": i}
         for p in range(N_PROMPTS) for i in range(N_CTX)]
    )  # fmt: skip
    table, result = first_token_pca(patterns, prompts, N_PROMPTS)
    assert len(table) == N_PROMPTS * (N_CTX - 1)
    assert finite(table[["pc1", "pc2"]], result.explained_variance_ratio)


def test_autoencoder_embedding_knn_and_leiden(degenerate):
    from phrenology.analysis.autoencoder import AESettings, encode, train_autoencoder
    from phrenology.analysis.clustering import (
        build_graph,
        draw_gammas,
        edge_weights,
        euclidean_distances,
        gamma_sweep,
        head_embedding,
        knn_edges,
        mean_silhouette,
        umap_layout,
    )
    from phrenology.analysis.heads import pattern_rows
    from phrenology.analysis.importance import decoded_grid, importance_table, perturbation_mse

    rows = pattern_rows(degenerate)
    settings = AESettings(first_width=8, epochs=3, batch_size=8, lr=1e-3, seed=0,
                          validation_fraction=0.2)  # fmt: skip
    model, history, metrics = train_autoencoder(rows, 2, settings)
    assert finite([h["train_mse"] for h in history], metrics["mse"])
    codes = encode(model, rows).reshape(N_PROMPTS, 8, 2)
    assert finite(codes)
    mse, baseline = perturbation_mse(model, rows, seed=0)
    ranked = importance_table(mse, baseline, N_CTX)
    assert finite(mse, baseline)
    assert finite(decoded_grid(model, codes.reshape(-1, 2), ranked, N_CTX, 3, 4)["value"])

    embedding = head_embedding(codes, "concat")
    dist = euclidean_distances(embedding)
    assert dist[0, 4] == 0.0  # the duplicated head has the same codes
    edges = knn_edges(dist, 3)
    for scheme in ("unweighted", "similarity"):
        assert finite(edge_weights(dist, edges, scheme))
    models = head_table(SEEDS, N_LAYERS, N_HEADS)["seed"].to_numpy()
    graph = build_graph(8, edges, edge_weights(dist, edges, "similarity"))
    sweep, memberships = gamma_sweep(graph, dist, models, draw_gammas((0.1, 3.0), 8, 0), 0)
    assert finite(sweep.drop(columns="n_clusters")) and memberships.shape == (8, 8)
    assert finite(umap_layout(embedding, 3, 0.1, 0))
    # every head at the same point: distances all 0
    assert mean_silhouette(np.zeros((8, 8)), np.array([1, 1, 1, 1, 2, 2, 2, 2])) == 0.0


def test_similarity_weights_when_every_edge_has_length_zero():
    from phrenology.analysis.clustering import edge_weights, knn_edges

    dist = np.zeros((5, 5))
    assert (edge_weights(dist, knn_edges(dist, 2), "similarity") == 1.0).all()


def test_knockout_pca_of_heads_whose_knockout_changes_nothing():
    from phrenology.analysis.knockout import gram_pca

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 40))
    x[2] = 0.0  # a head that does nothing: knocking it out changes no probability
    x[4] = x[1]  # two heads with the same effect
    scores, ratio = gram_pca(x @ x.T, 2)
    assert finite(scores, ratio) and np.allclose(scores[4], scores[1])
    scores, ratio = gram_pca(np.zeros((6, 6)), 2)  # no head does anything
    assert finite(scores, ratio) and (ratio == 0).all() and (scores == 0).all()


def test_figures_of_degenerate_heads(degenerate, tmp_path):
    from phrenology.analysis.distance import attention_distances
    from phrenology.analysis.heads import head_vectors
    from phrenology.analysis.projection import pattern_components
    from phrenology.plots import save_figure
    from phrenology.plots.attention_distance import plot_attention_distance
    from phrenology.plots.clustering import plot_cluster_patterns
    from phrenology.plots.pca_components import plot_pca_components

    heads = head_table(SEEDS, N_LAYERS, N_HEADS)
    save_figure(plot_attention_distance(attention_distances(degenerate), heads, N_PROMPTS, N_CTX),
                tmp_path / "fig07.png")  # fmt: skip
    clusters = heads.assign(cluster=[1, 2, 1, 2, 1, 2, 3, 3])
    means = degenerate.mean(axis=0, dtype="float64")
    save_figure(plot_cluster_patterns(means, clusters, clusters["cluster"].to_numpy()),
                tmp_path / "fig06.png")  # fmt: skip
    result = pattern_components(head_vectors(all_constant()), N_PROMPTS, N_CTX, 2)
    save_figure(plot_pca_components(result.components, result.explained_variance_ratio, 3),
                tmp_path / "fig09.png")  # fmt: skip
    assert all(
        (tmp_path / f).stat().st_size > 5000 for f in ("fig07.png", "fig06.png", "fig09.png")
    )
