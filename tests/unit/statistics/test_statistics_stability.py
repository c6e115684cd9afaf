"""Stability (issue 12, item 3) and attention-versus-function (item 4) against hand-computed
small cases."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.statistics import synthetic as S
from phrenology.statistics.association import (
    cluster_agreement,
    distances_from_gram,
    effect_clusters,
    mantel,
)
from phrenology.statistics.stability import (
    adjusted_rand,
    best_jaccard,
    bootstrap_prompts,
    consensus_matrix,
    stability_label,
    stability_summary,
)


def test_ari_hand_computed():
    # contingency [[2, 0, 0], [0, 1, 1]]: Σ C(n_ij, 2) = 1, rows 2, columns 1, C(4, 2) = 6:
    # expected 2·1/6 = 1/3, max (2 + 1)/2 = 3/2 → ARI = (1 − 1/3) / (3/2 − 1/3) = 4/7
    assert adjusted_rand([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    assert adjusted_rand([0, 0, 1, 1], [5, 5, 7, 7]) == 1.0


def test_best_jaccard_hand_computed():
    # reference {0,1}, {2,3}; replicate {0,1,2}, {3}: J({0,1},{0,1,2}) = 2/3,
    # J({2,3},{0,1,2}) = 1/4, J({2,3},{3}) = 1/2
    assert best_jaccard(np.array([1, 1, 2, 2]), np.array([7, 7, 7, 8])) == {
        1: pytest.approx(2 / 3),
        2: pytest.approx(1 / 2),
    }


def test_consensus_and_summary():
    reference = np.array([1, 1, 2, 2])
    reps = np.array([[1, 1, 2, 2], [1, 1, 1, 2]])
    c = consensus_matrix(reps)
    assert c[0, 1] == 1.0 and c[0, 2] == 0.5 and c[2, 3] == 0.5 and np.diag(c).tolist() == [1] * 4
    s = stability_summary(reference, reps)
    assert s["ari"][0] == 1.0
    assert s["jaccard"] == {1: pytest.approx((1 + 2 / 3) / 2), 2: pytest.approx((1 + 1 / 2) / 2)}
    assert [stability_label(j) for j in (0.8, 0.6, 0.4)] == ["stable", "doubtful", "unstable"]


def test_bootstrap_replicates_are_chunk_independent():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(20, 12, 2)).astype(np.float32)
    args = ("concat", 3, "unweighted", 1.0, 0, 5)
    whole = bootstrap_prompts(codes, *args, range(0, 4))
    assert whole.shape == (4, 12)
    assert (np.concatenate([bootstrap_prompts(codes, *args, range(0, 2)),
                            bootstrap_prompts(codes, *args, range(2, 4))]) == whole).all()  # fmt: skip


def test_bootstrap_keeps_planted_clusters_stable():
    patterns, _, kind = S.head_set(5, 4, 12, 6, noise=0.1, seed=2)
    # codes: each head's pattern on each prompt, flattened (the autoencoder's role)
    codes = patterns.reshape(patterns.shape[0], patterns.shape[1], -1)
    reference = bootstrap_prompts(codes, "concat", 3, "unweighted", 0.5, 0, 9, range(1))[0]
    reps = bootstrap_prompts(codes, "concat", 3, "unweighted", 0.5, 0, 9, range(1, 11))
    s = stability_summary(reference, reps)
    for k in range(4):
        c = reference[np.flatnonzero(kind == k)[0]]
        assert s["jaccard"][int(c)] >= 0.75


def test_mantel_hand_computed():
    a = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
    b = np.array([[0, 2, 4], [2, 0, 7], [4, 7, 0]], dtype=float)
    # upper triangles [1, 2, 3] and [2, 4, 7]: r = 5 / (√2 · √(114)/3) = 15 / √228
    r = mantel(a, b, 50, seed=0)
    assert r["r"] == pytest.approx(15 / np.sqrt(228))
    assert 1 / 51 <= r["p"] <= 1.0


def test_mantel_detects_association_and_not_independence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    d1 = np.linalg.norm(x[:, None] - x[None], axis=-1)
    d2 = d1 + rng.normal(scale=0.1, size=d1.shape)
    d2 = (d2 + d2.T) / 2
    np.fill_diagonal(d2, 0)
    assert mantel(d1, d2, 199, seed=0)["p"] == pytest.approx(1 / 200)
    y = rng.normal(size=(20, 3))
    d3 = np.linalg.norm(y[:, None] - y[None], axis=-1)
    assert mantel(d1, d3, 199, seed=0)["p"] > 0.05


def test_knockout_distances_from_gram_and_cluster_agreement():
    e = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.0, 5.1]])
    d = distances_from_gram(e @ e.T)
    assert d[0, 1] == pytest.approx(0.1) and d[2, 3] == pytest.approx(0.1)
    labels = effect_clusters(d, 2)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    a = cluster_agreement(np.array([1, 1, 2, 2]), labels, 99, seed=0)
    # 2 of the 3 distinct ways to split 4 items into pairs disagree: p ≈ 1/3
    assert a["ari"] == 1.0 and 0.2 < a["p"] < 0.5
