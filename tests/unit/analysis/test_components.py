"""PCA components of head patterns: a planted component is recovered, signs are fixed."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.heads import head_vectors
from phrenology.analysis.projection import fix_signs, pattern_components, pca, variance_table
from phrenology.pipeline.errors import DataError

N_PROMPTS, N_HEADS, N_CTX = 3, 12, 4  # 12 heads = 2 models × 2 layers × 3 heads


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


def planted_patterns(rng, strengths=(5.0, 2.0), noise=0.01):
    """patterns[p, h] = base[p] + Σ_c a[h, c] · U_c[p] + noise, in the captured layout.

    Returns (patterns float64[P, H, n, n], maps float64[C, P, n, n] with unit norm and
    largest-|value| entry positive, per-head weights a float64[H, C]).
    """
    causal = np.tri(N_CTX, dtype=bool)
    maps = []
    for c in range(len(strengths)):
        m = np.zeros((N_PROMPTS, N_CTX, N_CTX))
        m[:, causal] = rng.normal(size=(N_PROMPTS, causal.sum()))
        m[c % N_PROMPTS, c % N_CTX, 0] = 10.0 * (c + 1)  # a dominant, positive entry
        maps.append(unit(m.ravel()).reshape(m.shape))
    # make the second map orthogonal to the first (PCA components are orthogonal)
    if len(maps) > 1:
        second = maps[1].ravel() - (maps[1].ravel() @ maps[0].ravel()) * maps[0].ravel()
        maps[1] = unit(second).reshape(maps[1].shape)
    maps = np.stack(maps)
    # Centred, mutually orthogonal per-head weights of unit norm, scaled by the strengths,
    # so the planted directions are exactly the principal axes (up to the noise).
    raw = rng.normal(size=(N_HEADS, len(strengths)))
    raw -= raw.mean(axis=0)
    q, _ = np.linalg.qr(raw)
    weights = q * np.asarray(strengths) * np.sqrt(N_HEADS)
    base = rng.random((N_PROMPTS, N_CTX, N_CTX))
    patterns = base[:, None] + np.einsum("hc,cpqk->phqk", weights, maps)
    patterns += noise * rng.normal(size=patterns.shape)
    return patterns, maps, weights


def test_planted_components_are_recovered_per_prompt():
    patterns, maps, weights = planted_patterns(np.random.default_rng(0))
    result = pattern_components(head_vectors(patterns), N_PROMPTS, N_CTX, n_components=2)
    assert result.components.shape == (2, N_PROMPTS, N_CTX, N_CTX)
    # Same sign convention as the planted maps (largest entry positive) → equal, not just ±.
    np.testing.assert_allclose(result.components[0], maps[0], atol=0.02)
    np.testing.assert_allclose(result.components[1], maps[1], atol=0.02)
    np.testing.assert_allclose(result.scores[:, 0], weights[:, 0], atol=0.05)
    assert result.explained_variance_ratio[0] > 0.7
    assert result.explained_variance_ratio.sum() > 0.95
    assert result.mean.shape == (N_PROMPTS, N_CTX, N_CTX)


def test_sign_is_deterministic_whatever_the_input_sign():
    patterns, _, _ = planted_patterns(np.random.default_rng(1))
    flipped = 2 * patterns.mean(axis=1, keepdims=True) - patterns  # mirror every head
    a = pattern_components(head_vectors(patterns), N_PROMPTS, N_CTX, 2).components
    b = pattern_components(head_vectors(flipped), N_PROMPTS, N_CTX, 2).components
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_fix_signs_rule_and_reconstruction():
    rng = np.random.default_rng(2)
    comps = rng.normal(size=(3, 10))
    comps[1, 4] = -50.0  # largest magnitude, negative: must flip
    scores = rng.normal(size=(6, 3))
    fixed, fixed_scores = fix_signs(comps, scores)
    largest = fixed[np.arange(3), np.abs(fixed).argmax(axis=1)]
    assert np.all(largest > 0)
    np.testing.assert_allclose(fixed_scores @ fixed, scores @ comps)
    assert fixed[1, 4] == 50.0
    np.testing.assert_array_equal(fix_signs(np.zeros((1, 3)))[0], np.zeros((1, 3)))


def test_too_many_components_or_wrong_shape():
    x = np.random.default_rng(3).random((4, 16))
    with pytest.raises(DataError, match="5 principal components of 4 samples"):
        pca(x, 5)
    with pytest.raises(DataError, match="features"):
        pattern_components(x, 2, 3, 2)


def test_variance_table():
    x = np.random.default_rng(4).random((6, 8))
    table = variance_table(pca(x, 3))
    assert list(table["component"]) == [1, 2, 3]
    ratios = table["explained_variance_ratio"].to_numpy()
    assert np.all(np.diff(ratios) <= 0) and ratios.sum() <= 1 + 1e-12
    centred = x - x.mean(axis=0)
    eig = np.sort(np.linalg.eigvalsh(centred.T @ centred / (len(x) - 1)))[::-1]
    np.testing.assert_allclose(table["explained_variance"], eig[:3], rtol=1e-10)
