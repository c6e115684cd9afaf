"""The three artificial heads, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from phrenology.analysis.artificial import (
    ARTIFICIAL_HEADS,
    artificial_head_vectors,
    artificial_patterns,
)
from phrenology.analysis.heads import head_vectors


def test_exact_values_n_ctx_4():
    uniform, itself, self_previous = artificial_patterns(4)
    np.testing.assert_array_equal(
        uniform,
        [[1, 0, 0, 0], [1 / 2, 1 / 2, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0], [1 / 4] * 4],
    )
    np.testing.assert_array_equal(itself, np.eye(4))
    np.testing.assert_array_equal(
        self_previous,
        [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0.5, 0.5]],
    )
    assert ARTIFICIAL_HEADS == ("uniform", "self", "self_previous")


@pytest.mark.parametrize("n_ctx", [1, 2, 3, 16])
def test_rows_are_causal_distributions(n_ctx):
    patterns = artificial_patterns(n_ctx)
    assert patterns.shape == (3, n_ctx, n_ctx)
    np.testing.assert_allclose(patterns.sum(axis=-1), 1.0, rtol=0, atol=1e-15)
    assert np.all(patterns >= 0)
    upper = np.triu(np.ones((n_ctx, n_ctx), bool), k=1)
    assert np.all(patterns[:, upper] == 0)


def test_uniform_weight_is_one_over_i_plus_one():
    uniform = artificial_patterns(16)[0]
    for i in range(16):
        np.testing.assert_allclose(uniform[i, : i + 1], 1 / (i + 1), rtol=1e-15)


def test_vectors_match_head_vectors_of_repeated_patterns():
    n_prompts, n_ctx = 3, 5
    repeated = np.broadcast_to(
        artificial_patterns(n_ctx)[None], (n_prompts, 3, n_ctx, n_ctx)
    ).astype(np.float32)  # [prompt, head, query, key], the layout of captured patterns
    got = artificial_head_vectors(n_prompts, n_ctx)
    assert got.shape == (3, n_prompts * n_ctx * n_ctx)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, head_vectors(repeated))
