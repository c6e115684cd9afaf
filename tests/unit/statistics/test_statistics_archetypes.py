"""Archetype template scores and artificial heads at cluster centres (issue 12, item 5)."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.artificial import artificial_patterns
from phrenology.statistics import synthetic as S
from phrenology.statistics.archetypes import (
    ARCHETYPES,
    MIXED,
    centroid_percentiles,
    name_clusters,
    template_scores,
    templates,
)


def test_each_template_scores_one_on_itself():
    n_ctx = 6
    pats = np.repeat(templates(n_ctx)[None], 3, axis=0)  # 3 prompts × 4 heads
    scores = template_scores(pats)
    assert np.diag(scores) == pytest.approx(np.ones(4))
    # the uniform head puts 1/(i+1) on each token: its share on the current token,
    # averaged over positions 1..5, is mean(1/2, …, 1/6)
    assert scores[3, ARCHETYPES.index("current")] == pytest.approx(np.mean(1 / np.arange(2, 7)))


def test_artificial_heads_score_as_their_archetypes():
    art = artificial_patterns(8)[None]  # uniform, self, self_previous
    scores = template_scores(art)
    assert scores[0, ARCHETYPES.index("uniform")] == pytest.approx(1.0)
    assert scores[1, ARCHETYPES.index("current")] == pytest.approx(1.0)
    assert scores[2, ARCHETYPES.index("current")] == pytest.approx(0.5)
    assert scores[2, ARCHETYPES.index("previous")] == pytest.approx(0.5)


def test_cluster_names_and_mixed():
    scores = np.array([[0.9, 0.1, 0, 0], [0.8, 0.1, 0, 0], [0.3, 0.3, 0.2, 0.2]])
    names = name_clusters(scores, np.array([1, 1, 2]), threshold=0.5)
    assert names[1] == ("previous", pytest.approx(0.85)) and names[2][0] == MIXED


def test_uniform_artificial_head_at_the_centre_of_a_uniform_cluster():
    patterns, _, kind = S.head_set(6, 6, 5, 8, noise=0.3, seed=0)
    clusters = np.where(kind >= 0, kind + 1, 9)
    pct, dist = centroid_percentiles(patterns, clusters, chunk_prompts=2)
    uniform_cluster = ARCHETYPES.index("uniform")  # label k + 1 → column k
    assert pct[0, uniform_cluster] == 0.0  # nearer the centroid than every member
    assert pct[0, ARCHETYPES.index("previous")] == 100.0  # far from the previous-token heads
    assert dist.shape == (3, 5)
