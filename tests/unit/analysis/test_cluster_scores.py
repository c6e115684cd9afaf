"""F-score / precision / recall per cluster, silhouette conventions, best-γ tie-break."""

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis.clustering import (
    best_clustering,
    clustering_scores,
    mean_silhouette,
    per_cluster_scores,
)


def test_scores_on_a_hand_made_clustering():
    # 3 models (A, B, C); 7 heads in 3 clusters
    models = np.array(["A", "B", "C", "A", "A", "B", "C"])
    clusters = np.array([1, 1, 1, 2, 2, 2, 3])
    # cluster 1: A B C     → TP 3, precision 3/3, recall 3/3, F 1
    # cluster 2: A A B     → TP 2, precision 2/3, recall 2/3, F 2/3
    # cluster 3: C         → TP 1, precision 1/1, recall 1/3, F 2·(1/3)/(4/3) = 1/2
    per = per_cluster_scores(clusters, models)
    assert list(per["tp"]) == [3, 2, 1]
    assert list(per["size"]) == [3, 3, 1]
    np.testing.assert_allclose(per["precision"], [1, 2 / 3, 1])
    np.testing.assert_allclose(per["recall"], [1, 2 / 3, 1 / 3])
    np.testing.assert_allclose(per["f_score"], [1, 2 / 3, 1 / 2])
    scores = clustering_scores(clusters, models)
    assert scores["n_clusters"] == 3
    assert scores["f_score"] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    assert scores["precision"] == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert scores["recall"] == pytest.approx((1 + 2 / 3 + 1 / 3) / 3)


def test_single_cluster_is_scored_as_it_is():
    models = np.repeat([0, 1, 2], 4)  # 3 models × 4 heads
    scores = clustering_scores(np.zeros(12, int), models)
    # TP 3 of 12: precision 1/4, recall 1, F = 2·(1/4)/(5/4) = 2/5
    assert scores == {
        "n_clusters": 1,
        "f_score": pytest.approx(0.4),
        "precision": 0.25,
        "recall": 1.0,
    }


def test_silhouette_matches_a_hand_computation():
    # points on a line: 0, 1 | 5, 7
    x = np.array([0.0, 1.0, 5.0, 7.0])
    dist = np.abs(x[:, None] - x[None, :])
    labels = np.array([0, 0, 1, 1])
    # s = (b − a) / max(a, b), a = mean distance within own cluster, b = to the other
    s = [
        (np.mean([5, 7]) - 1) / np.mean([5, 7]),
        (np.mean([4, 6]) - 1) / np.mean([4, 6]),
        (np.mean([5, 4]) - 2) / np.mean([5, 4]),
        (np.mean([7, 6]) - 2) / np.mean([7, 6]),
    ]
    assert mean_silhouette(dist, labels) == pytest.approx(np.mean(s))


def test_silhouette_edge_cases_are_zero():
    x = np.arange(5.0)
    dist = np.abs(x[:, None] - x[None, :])
    assert mean_silhouette(dist, np.zeros(5, int)) == 0.0  # one cluster
    assert mean_silhouette(dist, np.arange(5)) == 0.0  # every head alone


def test_best_clustering_tie_break():
    sweep = pd.DataFrame(
        {
            "gamma": [0.5, 1.0, 1.5, 2.0, 2.5],
            "f_score": [0.5, 0.8, 0.8, 0.8, 0.7],
            "silhouette": [0.9, 0.2, 0.3, 0.3, 0.1],
        }
    )
    # max F = 0.8 at rows 1-3; higher silhouette: rows 2-3; smaller γ: row 2
    assert best_clustering(sweep) == 2
