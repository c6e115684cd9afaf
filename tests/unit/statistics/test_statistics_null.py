"""The label-permutation null of the best F (issue 12, item 1a): exact scores, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.clustering import clustering_scores
from phrenology.statistics import label_permutations, permutation_p
from phrenology.statistics import synthetic as S
from phrenology.statistics.null import best_f_null, cluster_f_p, f_scores


def test_permutation_p_has_the_plus_one_correction():
    assert permutation_p(1.0, np.zeros(99)) == pytest.approx(0.01)  # never 0
    assert permutation_p(0.0, np.zeros(99)) == 1.0  # ties count as extreme
    assert permutation_p(0.5, np.array([0.1, 0.6, 0.9]), greater=False) == pytest.approx(0.5)


def test_label_permutations_keep_head_counts_and_are_reproducible_in_chunks():
    labels = np.repeat([990, 991, 992], 4)
    perms = label_permutations(labels, 10, seed=3)
    assert all(sorted(p) == sorted(labels) for p in perms)
    assert (perms[4:] == label_permutations(labels, 10, seed=3, start=4)).all()
    assert len({tuple(p) for p in perms}) > 1


def test_f_scores_equal_the_pipelines_clustering_scores():
    rng = np.random.default_rng(0)
    models = np.repeat([990, 991, 992, 993], 5)
    memberships = rng.integers(1, 7, size=(15, len(models)))
    memberships[3] = memberships[0]  # a repeated partition (many γ give the same one)
    labellings = np.stack([models, *label_permutations(models, 4, seed=1)])
    got = f_scores(memberships, labellings)
    for p, labels in enumerate(labellings):
        for g, part in enumerate(memberships):
            assert got[p, g] == pytest.approx(clustering_scores(part, labels)["f_score"])


def test_best_f_null_takes_the_maximum_over_gamma():
    models = np.repeat(np.arange(4), 4)
    perfect = np.tile(np.arange(4), 4)  # one head of each model per cluster: F = 1
    worst = models.copy()  # one cluster per model
    r = best_f_null(np.stack([worst, perfect]), models, 199, seed=0)
    assert r["observed"] == 1.0
    assert (r["null"] <= 1.0).all() and len(r["null"]) == 199
    # a shuffle scores F = 1 only if every cluster again holds one head of each model:
    # probability (4!)^4 / (16! / (4!)^4) ≈ 0.005
    assert r["p"] < 0.05
    assert r["null_mean"] < 0.9


def test_cluster_f_p_small_for_a_cluster_holding_every_model():
    models = np.repeat(np.arange(6), 4)
    clusters = np.zeros(24, dtype=int)
    clusters[[0, 4, 8, 12, 16, 20]] = 1  # one head from each model
    p = cluster_f_p(clusters, models, 199, seed=0)
    assert p[1] < 0.05


def test_calibration_false_positive_rate_near_alpha():
    """No cross-model structure (every head drawn independently): the permutation test of
    the best F over the real kNN → Leiden sweep path rejects at α = 0.05 in 2–8 % of sets."""
    n_sets, alpha = 120, 0.05
    pvalues = []
    for s in range(n_sets):
        patterns, models, _ = S.head_set(5, 6, 3, 6, 1.0, seed=1000 + s, planted=False)
        memberships, _ = S.sweep_memberships(S.head_distances(patterns), models, 3, 8, seed=s)
        pvalues.append(best_f_null(memberships, models, 99, seed=s)["p"])
    rate = float(np.mean(np.array(pvalues) <= alpha))
    assert 0.02 <= rate <= 0.08, f"false-positive rate {rate:.3f}"
