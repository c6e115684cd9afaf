"""Head embedding from codes (concat / mean) and the UMAP layout."""

import numpy as np
import pytest

from phrenology.analysis.clustering import head_embedding, umap_layout
from phrenology.pipeline.errors import ConfigError, DataError


def test_concat_is_each_heads_codes_prompt_after_prompt():
    codes = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)  # [prompts, heads, k]
    emb = head_embedding(codes, "concat")
    assert emb.dtype == np.float32 and emb.shape == (2, 6)
    for h in range(2):
        expected = [codes[p, h, j] for p in range(3) for j in range(2)]
        np.testing.assert_array_equal(emb[h], expected)


def test_mean_is_the_average_code():
    codes = np.random.default_rng(0).normal(size=(5, 4, 3)).astype(np.float32)
    emb = head_embedding(codes, "mean")
    assert emb.shape == (4, 3)
    np.testing.assert_allclose(emb[2], codes[:, 2, :].sum(axis=0) / 5, rtol=1e-6)


def test_bad_mode_and_shape():
    with pytest.raises(ConfigError, match=r"autoencoder\.head_embedding"):
        head_embedding(np.zeros((2, 2, 2)), "median")
    with pytest.raises(DataError):
        head_embedding(np.zeros((2, 2)), "concat")


@pytest.mark.slow
def test_umap_layout_is_seeded():
    x = np.random.default_rng(0).normal(size=(20, 6))
    a = umap_layout(x, n_neighbors=5, min_dist=0.1, seed=3)
    b = umap_layout(x, n_neighbors=5, min_dist=0.1, seed=3)
    assert a.shape == (20, 2)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match=r"clustering\.umap\.n_neighbors"):
        umap_layout(x, n_neighbors=20, min_dist=0.1, seed=3)
