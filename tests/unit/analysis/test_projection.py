"""Projections of heads + artificial heads: points, kinds, determinism, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.artificial import ARTIFICIAL_HEADS, artificial_head_vectors
from phrenology.analysis.heads import head_label, head_table, head_vectors
from phrenology.analysis.projection import (
    METHODS,
    PROJECTION_COLUMNS,
    pca_2d,
    project,
    projection_table,
    with_artificial_heads,
)
from phrenology.pipeline.config import validate_config
from phrenology.pipeline.errors import ConfigError, DataError

SEEDS, N_LAYERS, N_HEADS, N_PROMPTS, N_CTX = [7, 8], 2, 3, 4, 5  # 2 models × 2 layers × 3 heads
PARAMS = {"umap": {"n_neighbors": 5, "min_dist": 0.1, "densmap": True}, "tsne": {"perplexity": 5},
          "seed": 0}  # fmt: skip


def toy_vectors() -> np.ndarray:
    rng = np.random.default_rng(3)
    n_heads = len(SEEDS) * N_LAYERS * N_HEADS
    scores = rng.normal(size=(N_PROMPTS, n_heads, N_CTX, N_CTX)) * 2
    scores[..., np.triu(np.ones((N_CTX, N_CTX), bool), k=1)] = -np.inf
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return head_vectors((w / w.sum(-1, keepdims=True)).astype(np.float32))


def labels() -> list[str]:
    heads = head_table(SEEDS, N_LAYERS, N_HEADS)
    return [
        head_label(s, la, h)
        for s, la, h in heads[["seed", "layer", "head"]].itertuples(index=False)
    ]


@pytest.fixture(scope="module")
def table_twice():
    points = with_artificial_heads(toy_vectors(), N_PROMPTS, N_CTX)
    first = projection_table(labels(), project(points, PARAMS))
    second = projection_table(labels(), project(points, PARAMS))
    return first, second


def test_points_and_kinds(table_twice):
    table, _ = table_twice
    assert list(table.columns) == PROJECTION_COLUMNS
    n_points = len(labels()) + 3
    assert len(table) == len(METHODS) * n_points
    for method in METHODS:
        rows = table[table["method"] == method]
        assert list(rows["point"]) == [*labels(), *ARTIFICIAL_HEADS]
        assert list(rows["kind"]) == ["head"] * 12 + ["artificial"] * 3
        assert np.isfinite(rows[["x", "y"]].to_numpy()).all()
        assert rows[["x", "y"]].to_numpy().std(axis=0).min() > 0


def test_same_seed_same_numbers(table_twice):
    first, second = table_twice
    np.testing.assert_array_equal(first[["x", "y"]].to_numpy(), second[["x", "y"]].to_numpy())


def test_seed_reaches_umap():
    points = with_artificial_heads(toy_vectors(), N_PROMPTS, N_CTX)
    a = project(points, PARAMS)
    b = project(points, {**PARAMS, "seed": 1})
    assert not np.allclose(a["umap"], b["umap"])
    np.testing.assert_array_equal(a["pca"], b["pca"])  # PCA has no randomness


def test_artificial_rows_appended_after_heads():
    vectors = toy_vectors()
    points = with_artificial_heads(vectors, N_PROMPTS, N_CTX)
    assert points.shape == (15, N_PROMPTS * N_CTX * N_CTX)
    np.testing.assert_array_equal(points[:12], vectors)
    np.testing.assert_array_equal(points[12:], artificial_head_vectors(N_PROMPTS, N_CTX))


def test_pca_matches_numpy_svd_up_to_sign():
    points = with_artificial_heads(toy_vectors(), N_PROMPTS, N_CTX).astype(np.float64)
    centred = points - points.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    expected = u[:, :2] * s[:2]
    got = pca_2d(points)
    for c in range(2):
        sign = np.sign(got[:, c] @ expected[:, c])
        np.testing.assert_allclose(got[:, c], sign * expected[:, c], atol=1e-8)


def test_too_few_points_is_a_clear_error():
    points = with_artificial_heads(toy_vectors()[:2], N_PROMPTS, N_CTX)  # 5 points
    with pytest.raises(DataError, match="n_neighbors"):
        project(points, PARAMS)
    with pytest.raises(DataError, match="features"):
        with_artificial_heads(toy_vectors(), N_PROMPTS + 1, N_CTX)


def test_config_rejects_neighbours_or_perplexity_above_points(quick_config):
    points = len(quick_config["seeds"]) * 2 * 4 + 3
    bad = {**quick_config, "analysis": {**quick_config["analysis"]}}
    bad["analysis"]["projection"] = {**PARAMS, "umap": {**PARAMS["umap"], "n_neighbors": points}}
    with pytest.raises(ConfigError, match=r"analysis\.projection\.umap\.n_neighbors"):
        validate_config(bad)
    bad["analysis"]["projection"] = {**PARAMS, "tsne": {"perplexity": points}}
    with pytest.raises(ConfigError, match=r"analysis\.projection\.tsne\.perplexity"):
        validate_config(bad)
