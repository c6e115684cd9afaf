"""Euclidean distances between heads' attention patterns (paper Fig. 7).

Each head is one long vector: its n_ctx × n_ctx patterns over every prompt. The
distances come from the Gram matrix, accumulated over blocks of prompts in
float64, so nothing of size H × H × D (or even a float64 copy of all patterns)
is ever held in memory: ‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def gram_matrix(blocks: Iterable[np.ndarray]) -> np.ndarray:
    """Sum of ``block @ block.T`` over feature blocks, in float64.

    blocks:  float[H, d_b] each; the same H rows (heads) in every block, any d_b
    returns: float64[H, H], the Gram matrix of the rows concatenated along features
    """
    gram = None
    for block in blocks:
        b = np.asarray(block, dtype=np.float64)
        part = b @ b.T
        gram = part if gram is None else gram + part
    if gram is None:
        raise ValueError("gram_matrix needs at least one block")
    return gram


def distances_from_gram(gram: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix from a Gram matrix.

    gram:    float[H, H], symmetric
    returns: float64[H, H], symmetric, exact zeros on the diagonal. Round-off can
             make a squared distance slightly negative for near-identical heads;
             those are clipped to 0 before the square root.
    """
    gram = np.asarray(gram, dtype=np.float64)
    norms = np.diag(gram)
    squared = norms[:, None] + norms[None, :] - 2.0 * gram
    squared = (squared + squared.T) / 2.0  # BLAS need not return an exactly symmetric product
    np.clip(squared, 0.0, None, out=squared)
    distances = np.sqrt(squared)
    np.fill_diagonal(distances, 0.0)
    return distances


def pattern_blocks(patterns: np.ndarray, chunk_prompts: int) -> Iterable[np.ndarray]:
    """Head-vector blocks of ``chunk_prompts`` prompts each (works on a memory map).

    patterns: float[n_prompts, H, n_ctx, n_ctx]
    yields:   float[H, chunk * n_ctx * n_ctx]; concatenated they are
              :func:`phrenology.analysis.heads.head_vectors` (prompt-major features)
    """
    if chunk_prompts < 1:
        raise ValueError(f"chunk_prompts must be positive, got {chunk_prompts}")
    n_heads = patterns.shape[1]
    for start in range(0, patterns.shape[0], chunk_prompts):
        chunk = np.asarray(patterns[start : start + chunk_prompts])
        yield chunk.transpose(1, 0, 2, 3).reshape(n_heads, -1)


def attention_distances(patterns: np.ndarray, chunk_prompts: int = 64) -> np.ndarray:
    """Euclidean distance between every pair of heads' flattened patterns.

    patterns: float[n_prompts, H, n_ctx, n_ctx], head axis in heads.tsv order
    returns:  float64[H, H] in the same head order
    """
    return distances_from_gram(gram_matrix(pattern_blocks(patterns, chunk_prompts)))
