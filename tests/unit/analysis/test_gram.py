"""The Gram-matrix route of the raw-pattern branch equals the exact one (bounded memory)."""

import numpy as np
import pytest

from phrenology.analysis import gram
from phrenology.analysis.artificial import artificial_head_vectors
from phrenology.analysis.distance import attention_distances
from phrenology.analysis.heads import head_vectors
from phrenology.analysis.projection import pca


def random_patterns(rng, n_prompts, heads, n_ctx, dtype=np.float32):
    logits = rng.normal(size=(n_prompts, heads, n_ctx, n_ctx)) * 2
    logits[..., np.triu_indices(n_ctx, 1)[0], np.triu_indices(n_ctx, 1)[1]] = -np.inf
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)).astype(dtype)


@pytest.fixture
def models(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [random_patterns(rng, 24, 6, 8) for _ in range(3)]
    paths = []
    for i, a in enumerate(arrays):  # memory maps, as the jobs read them
        np.save(tmp_path / f"m{i}.npy", a)
        paths.append(np.load(tmp_path / f"m{i}.npy", mmap_mode="r"))
    return paths, np.concatenate(arrays, axis=1)


def test_blocked_gram_distances_equal_the_exact_ones(models):
    maps, stacked = models
    for chunk in (1, 5, 24):
        np.testing.assert_allclose(
            gram.distances_from_gram(gram.blocked_gram(maps, chunk_prompts=chunk)),
            attention_distances(stacked),
            rtol=1e-10, atol=1e-10,
        )  # fmt: skip


def test_gram_pca_equals_svd_pca_with_artificial_heads(models):
    maps, stacked = models
    n_prompts, _, n_ctx, _ = stacked.shape
    vectors = np.concatenate(
        [head_vectors(stacked), artificial_head_vectors(n_prompts, n_ctx, np.float64)]
    ).astype(np.float64)
    exact = pca(vectors, 5)
    g = gram.blocked_gram(maps, artificial=True, chunk_prompts=7)
    np.testing.assert_allclose(g, vectors @ vectors.T, rtol=1e-10)
    result = gram.gram_pca(g)
    assert result.scores.shape[1] == len(vectors) - 1  # n centred points span n − 1 dims
    comps, mean = gram.components_from_blocks(
        gram.stacked_blocks(maps, 7, artificial=True), result, 5
    )
    np.testing.assert_allclose(mean, vectors.mean(0), atol=1e-12)
    comps, scores = gram.signed(result, comps)
    np.testing.assert_allclose(comps, exact.components, atol=1e-8)
    np.testing.assert_allclose(scores, exact.scores, atol=1e-8)
    np.testing.assert_allclose(result.explained_variance[:5], exact.explained_variance, rtol=1e-9)
    np.testing.assert_allclose(
        result.explained_variance_ratio[:5], exact.explained_variance_ratio, rtol=1e-9
    )
    # the reduced points keep every pairwise distance: UMAP / t-SNE see the same geometry
    full = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    reduced = np.linalg.norm(result.scores[:, None] - result.scores[None], axis=-1)
    np.testing.assert_allclose(reduced, full, atol=1e-9)


def test_float16_files_are_read_in_float64_blocks(tmp_path, models):
    _, stacked = models
    np.save(tmp_path / "half.npy", stacked.astype(np.float16))
    half = np.load(tmp_path / "half.npy", mmap_mode="r")
    d16 = gram.distances([half])
    d32 = attention_distances(stacked)
    off = ~np.eye(len(d32), dtype=bool)
    assert np.abs(d16 - d32)[off].max() / d32[off].min() < 1e-3  # the float16 storage cost


def test_chunk_for_bounds_the_block():
    assert gram.chunk_for(1296, 64, budget_bytes=256 * 2**20) == 6
    assert gram.chunk_for(10**6, 64) == 1
