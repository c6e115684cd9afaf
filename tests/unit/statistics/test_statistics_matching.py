"""Cross-model one-to-one matching and head families (issue 12, item 2)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from phrenology.statistics import synthetic as S
from phrenology.statistics.matching import (
    counterpart_counts,
    head_families,
    matching_test,
    pairwise_matching,
)


def test_matching_finds_the_known_optimal_assignment():
    # model A heads 0..2, model B heads 3..5. Of the 3! assignments, (1, 0, 2) alone costs 5;
    # greedy nearest-first (1→1 at 0, then 0→2, 2→0) costs 6
    cross = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    costs = {p: sum(cross[i, p[i]] for i in range(3)) for p in itertools.permutations(range(3))}
    assert min(costs, key=costs.get) == (1, 0, 2) and sorted(costs.values())[:2] == [5.0, 6.0]
    dist = np.zeros((6, 6))
    dist[:3, 3:], dist[3:, :3] = cross, cross.T
    m = pairwise_matching(dist, np.array([0, 0, 0, 1, 1, 1]))
    assert list(m["partner"][:3, 1]) == [4, 3, 5]
    assert list(m["partner"][3:, 0]) == [1, 0, 2] and (m["partner"][:3, 0] == -1).all()
    assert list(m["partner_dist"][:3, 1]) == [1.0, 2.0, 2.0]
    assert m["relative_cost"][0, 1] == pytest.approx(5 / 3 / cross.mean())


def test_families_are_the_mutually_matched_heads():
    # 4 models × 3 heads; head j of every model is the same head plus a little noise
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(3, 10)) * 5
    x = np.concatenate([protos + rng.normal(scale=0.1, size=(3, 10)) for _ in range(4)])
    dist = np.linalg.norm(x[:, None] - x[None], axis=-1)
    models = np.repeat(np.arange(4), 3)
    m = pairwise_matching(dist, models)
    fams = head_families(m["partner"], models, min_fraction=1.0)
    assert sorted(f["members"] for f in fams) == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]
    assert all(f["consistency"] == 1.0 and f["strength"] == 6 for f in fams)
    assert (counterpart_counts(m["partner_dist"], 1.0) == 3).all()


def test_matching_test_planted_families_significant_random_not():
    patterns, models, kind = S.head_set(8, 6, 4, 6, noise=0.1, seed=1)
    r = matching_test(S.head_distances(patterns), models, 199, seed=0, min_fraction=0.75)
    assert r["p"] < 0.01
    planted = {tuple(np.flatnonzero(kind == k)) for k in range(4)}
    found = {tuple(f["members"]) for f in r["families"] if f["p"] < 0.05}
    assert planted <= found


def test_matching_calibration_false_positive_rate_near_alpha():
    """No cross-model structure: the matched-cost permutation test rejects at α = 0.05 in
    2–8 % of 120 simulated sets."""
    pvalues = [
        matching_test(
            S.head_distances(S.head_set(4, 5, 3, 6, 1.0, seed=2000 + s, planted=False)[0]),
            np.repeat(np.arange(4), 5), 99, seed=s, min_fraction=0.75,
        )["p"]
        for s in range(120)
    ]  # fmt: skip
    rate = float(np.mean(np.array(pvalues) <= 0.05))
    assert 0.02 <= rate <= 0.08, f"false-positive rate {rate:.3f}"
