"""Attention to the first token: vectors straight from the patterns, PCA, word classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis.first_token import (
    FIRST_TOKEN_COLUMNS,
    first_token_pca,
    first_token_vectors,
    word_class,
)
from phrenology.pipeline.errors import DataError

N_PROMPTS, N_HEADS, N_CTX = 6, 12, 5  # 12 heads = 2 models × 2 layers × 3 heads
WORDS = ["The", " cat", " sat", " on", ",", " the", " mat", " and", " Paris", "<unk>"]


def toy():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(N_PROMPTS, N_HEADS, N_CTX, N_CTX)) * 2
    scores[..., np.triu(np.ones((N_CTX, N_CTX), bool), k=1)] = -np.inf
    w = np.exp(scores - scores.max(-1, keepdims=True))
    patterns = (w / w.sum(-1, keepdims=True)).astype(np.float32)
    ids = rng.integers(0, len(WORDS), size=(N_PROMPTS, N_CTX))
    prompts = pd.DataFrame({
        "prompt": np.repeat(np.arange(N_PROMPTS), N_CTX),
        "position": np.tile(np.arange(N_CTX), N_PROMPTS),
        "token": [WORDS[i] for i in ids.ravel()],
        "gpt2_id": [-1 if WORDS[i] == "<unk>" else i for i in ids.ravel()],
    })  # fmt: skip
    return patterns, prompts


def test_vectors_are_attention_to_token_zero():
    patterns, _ = toy()
    got = first_token_vectors(patterns, 4)
    assert got.shape == (4, N_CTX, N_HEADS)
    for p in range(4):
        for pos in range(N_CTX):
            np.testing.assert_array_equal(got[p, pos], patterns[p, :, pos, 0])
    np.testing.assert_array_equal(got[:, 0], 1.0)  # position 0 can only attend to itself


def test_pca_table_rows_tokens_and_scores():
    patterns, prompts = toy()
    n = 4
    table, result = first_token_pca(patterns, prompts, n)
    assert list(table.columns) == FIRST_TOKEN_COLUMNS
    assert len(table) == n * (N_CTX - 1)  # position 0 left out
    assert set(table["position"]) == set(range(1, N_CTX))
    lookup = prompts.set_index(["prompt", "position"])["token"]
    assert list(table["token"]) == [
        lookup[(p, i)] for p, i in zip(table["prompt"], table["position"], strict=True)
    ]

    # Independent PCA: numpy SVD of the centred (point × head) matrix, same sign rule.
    samples = np.array(
        [patterns[p, :, i, 0] for p, i in zip(table["prompt"], table["position"], strict=True)],
        dtype=np.float64,
    )
    centred = samples - samples.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    for c in range(2):
        v = vt[c] * np.sign(vt[c][np.abs(vt[c]).argmax()])
        np.testing.assert_allclose(table[f"pc{c + 1}"], centred @ v, atol=1e-6)
    np.testing.assert_allclose(
        result.explained_variance_ratio, s[:2] ** 2 / (s**2).sum(), rtol=1e-6
    )


def test_more_prompts_than_patterns_is_an_error():
    patterns, prompts = toy()
    with pytest.raises(DataError, match="prompts"):
        first_token_pca(patterns, prompts, N_PROMPTS + 1)
    with pytest.raises(DataError, match="lacks"):
        first_token_pca(patterns, prompts[prompts["prompt"] != 1], 3)


@pytest.mark.parametrize(
    ("token", "unknown", "expected"),
    [(" the", False, "stop word"), ("The", False, "capitalised"), (" Paris", False, "capitalised"),
     (" cat", False, "other word"), (",", False, "punctuation"), ("``", False, "punctuation"),
     ("<unk>", True, "<unk>"), (" 1961", False, "other word")],
)  # fmt: skip
def test_word_class(token, unknown, expected):
    assert word_class(token, unknown) == expected


def test_first_token_columns_from_the_memory_maps_equal_the_stacked_patterns(tmp_path):
    from phrenology.analysis.first_token import first_token_patterns, first_token_vectors
    from phrenology.analysis.heads import load_patterns, open_patterns

    rng = np.random.default_rng(3)
    paths = []
    for m, h in enumerate((2, 3)):
        a = np.tril(rng.random((12, h, 5, 5)))
        np.save(tmp_path / f"m{m}.npy", (a / a.sum(-1, keepdims=True)).astype(np.float32))
        paths.append(str(tmp_path / f"m{m}.npy"))
    columns = first_token_patterns(open_patterns(paths), 7)
    assert columns.shape == (7, 5, 5, 1)
    want = first_token_vectors(load_patterns(paths), 7)
    np.testing.assert_array_equal(first_token_vectors(columns, 7), want)
