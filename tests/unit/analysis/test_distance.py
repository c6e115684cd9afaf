"""Head-distance matrix against a direct pairwise computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from phrenology.analysis.distance import attention_distances, distances_from_gram, gram_matrix
from phrenology.analysis.heads import head_vectors

# A toy of 2 models × 2 layers × 3 heads, 5 prompts, n_ctx 4.
N_MODELS, N_LAYERS, N_HEADS, N_PROMPTS, N_CTX = 2, 2, 3, 5, 4


def causal_patterns(rng: np.random.Generator, n_prompts: int, n_heads: int, n_ctx: int):
    """Random attention patterns: softmax over keys ≤ query, float32[P, H, n, n]."""
    scores = rng.normal(size=(n_prompts, n_heads, n_ctx, n_ctx)) * 2
    scores[..., np.triu(np.ones((n_ctx, n_ctx), bool), k=1)] = -np.inf
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def patterns():
    return causal_patterns(
        np.random.default_rng(0), N_PROMPTS, N_MODELS * N_LAYERS * N_HEADS, N_CTX
    )


def explicit_distances(patterns: np.ndarray) -> np.ndarray:
    """Straight from the definition: loops over head pairs, sum of squared differences."""
    n = patterns.shape[1]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            diff = patterns[:, i].astype(np.float64) - patterns[:, j].astype(np.float64)
            out[i, j] = np.sqrt((diff**2).sum())
    return out


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
def test_matches_explicit_loops_for_any_chunking(patterns, chunk):
    got = attention_distances(patterns, chunk_prompts=chunk)
    assert got.shape == (12, 12)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, explicit_distances(patterns), rtol=1e-9, atol=1e-9)


def test_matches_scipy_cdist_on_head_vectors(patterns):
    vectors = head_vectors(patterns).astype(np.float64)
    np.testing.assert_allclose(
        attention_distances(patterns), cdist(vectors, vectors), rtol=1e-9, atol=1e-9
    )


def test_symmetric_zero_diagonal_nonnegative(patterns):
    d = attention_distances(patterns, chunk_prompts=2)
    assert np.array_equal(d, d.T)
    assert np.all(np.diag(d) == 0.0)
    assert np.all(d >= 0)


def test_identical_heads_have_zero_distance_not_nan(patterns):
    twins = np.concatenate([patterns, patterns[:, :1]], axis=1)  # last head = head 0
    d = attention_distances(twins)
    assert not np.isnan(d).any()
    assert d[0, -1] == pytest.approx(0.0, abs=1e-6)
    assert d[0, 1] > 0.1


def test_head_order_is_kept(patterns):
    order = np.random.default_rng(1).permutation(patterns.shape[1])
    d = attention_distances(patterns)
    d_perm = attention_distances(patterns[:, order])
    np.testing.assert_allclose(d_perm, d[np.ix_(order, order)], atol=1e-12)


def test_clips_round_off_negatives():
    gram = np.array([[1.0, 1.0 + 1e-12], [1.0 + 1e-12, 1.0]])  # squared distance −2e-12
    d = distances_from_gram(gram)
    assert np.array_equal(d, np.zeros((2, 2)))


def test_works_on_a_memory_map(tmp_path, patterns):
    path = tmp_path / "p.npy"
    np.save(path, patterns)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(attention_distances(mapped, 2), attention_distances(patterns))


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one block"):
        gram_matrix([])
    with pytest.raises(ValueError, match="chunk_prompts"):
        attention_distances(np.zeros((2, 3, 4, 4), np.float32), chunk_prompts=0)
