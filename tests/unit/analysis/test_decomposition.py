"""NMF and sparse PCA of head patterns (Figs. 9b–9c) and the most extreme heads per component."""

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis.decomposition import (
    causal_cells,
    cells_to_maps,
    decompose,
    extreme_heads,
    score_table,
)
from phrenology.analysis.heads import head_table

N_CTX, N_PROMPTS = 6, 4
PARAMS = {"n_components": 2, "n_prompts": N_PROMPTS, "seed": 0, "max_iter": 500,
          "sparse_alpha": 0.05, "n_extreme_heads": 3}  # fmt: skip


def planted_patterns(n_heads: int = 12, noise: float = 0.02, seed: int = 0) -> np.ndarray:
    """Heads 0..5 attend to themselves, 6..11 to the previous token (token 0: itself), + noise.

    returns float32[N_PROMPTS, n_heads, N_CTX, N_CTX], each row a distribution over keys ≤ query
    """
    rng = np.random.default_rng(seed)
    own = np.eye(N_CTX)
    previous = np.eye(N_CTX, k=-1)
    previous[0, 0] = 1.0
    heads = [own if h < n_heads // 2 else previous for h in range(n_heads)]
    base = np.stack([np.stack(heads)] * N_PROMPTS)
    mask = np.tril(np.ones((N_CTX, N_CTX)))
    noisy = (base + noise * rng.random(base.shape)) * mask
    return (noisy / noisy.sum(-1, keepdims=True)).astype(np.float32)


def test_causal_cells_round_trip():
    patterns = planted_patterns()
    cells = causal_cells(patterns, N_PROMPTS)
    assert cells.shape == (12, N_PROMPTS * N_CTX * (N_CTX + 1) // 2)
    back = cells_to_maps(cells, N_PROMPTS, N_CTX)  # heads as "components"
    np.testing.assert_allclose(back, patterns.transpose(1, 0, 2, 3), atol=1e-7)


def test_planted_self_and_previous_heads_get_their_own_components():
    fitted = decompose(planted_patterns(), PARAMS)
    own, previous = np.arange(6), np.arange(6, 12)
    for method in ("nmf", "sparse_pca"):
        d = fitted[method]
        assert d.components.shape == (2, N_PROMPTS, N_CTX, N_CTX)
        assert np.all(np.triu(np.ones((N_CTX, N_CTX)), 1)[None, None] * d.components == 0)
    # NMF: each group of planted heads loads on its own part
    dominant = fitted["nmf"].scores.argmax(axis=1)
    assert len(set(dominant[own])) == 1 and len(set(dominant[previous])) == 1
    assert dominant[0] != dominant[6]
    # sparse PCA centres the heads: two groups are one contrast, the first component
    first = fitted["sparse_pca"].scores[:, 0]
    assert (np.sign(first[own]) == np.sign(first[0])).all()
    assert (np.sign(first[previous]) == -np.sign(first[0])).all()
    assert (fitted["nmf"].components >= 0).all() and (fitted["nmf"].scores >= 0).all()
    # sparse PCA zeroes most loadings; NMF's parts are the planted diagonals
    assert (fitted["sparse_pca"].components == 0).mean() > 0.5
    c_own = fitted["nmf"].components[fitted["nmf"].scores[0].argmax(), 0]
    assert np.diag(c_own).sum() > 0.9 * c_own.sum()


def test_decomposition_is_seeded():
    a, b = decompose(planted_patterns(), PARAMS), decompose(planted_patterns(), PARAMS)
    for method in a:
        np.testing.assert_array_equal(a[method].components, b[method].components)


def test_extreme_heads_lists_both_ends_for_contrasts_only():
    heads = head_table([1, 2], 1, 3)
    scores = {"pca": np.array([[5.0], [1.0], [-4.0], [0.0], [2.0], [-1.0]]),
              "nmf": np.array([[0.1], [0.9], [0.3], [0.0], [0.5], [0.2]])}  # fmt: skip
    table = extreme_heads(score_table(heads, scores), 2, two_sided=("pca",))

    def pick(method, side):
        rows = table[(table["method"] == method) & (table["side"] == side)]
        return rows["head_index"].tolist()

    assert pick("pca", "high") == [0, 4]
    assert pick("pca", "low") == [2, 5]
    assert pick("nmf", "high") == [1, 4]
    assert pick("nmf", "low") == []
    assert list(table.columns) == ["method", "component", "side", "rank", "head_index", "seed",
                                   "layer", "head", "score"]  # fmt: skip


def test_score_table_checks_the_head_count():
    with pytest.raises(Exception, match="heads"):
        score_table(head_table([1], 1, 2), {"nmf": np.zeros((3, 1))})
    assert isinstance(score_table(head_table([1], 1, 2), {"nmf": np.zeros((2, 1))}), pd.DataFrame)
