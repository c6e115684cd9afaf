"""Token pairs as features: the causal (on or below the diagonal) cells of an attention pattern.

A head's pattern on one prompt is an n_ctx × n_ctx matrix whose cells above the
diagonal are always 0 (causal mask). The autoencoder sees only the
``n_ctx (n_ctx + 1) / 2`` cells on or below it, in row-major order of
``numpy.tril_indices``: (query 0, key 0), (1, 0), (1, 1), (2, 0), ...
"""

from __future__ import annotations

import numpy as np

from phrenology.errors import DataError


def n_pairs(n_ctx: int) -> int:
    """Number of causal token pairs: n_ctx (n_ctx + 1) / 2."""
    return n_ctx * (n_ctx + 1) // 2


def pair_index(n_ctx: int) -> tuple[np.ndarray, np.ndarray]:
    """(query, key) positions of every feature column: int[n_pairs] each, key ≤ query."""
    return np.tril_indices(n_ctx)


def pattern_rows(patterns: np.ndarray) -> np.ndarray:
    """One row per (prompt, head), one column per causal token pair.

    patterns: float[n_prompts, n_heads, n_ctx, n_ctx] (heads.tsv order)
    returns:  float32[n_prompts * n_heads, n_pairs]; row ``p * n_heads + h`` is head h on prompt p
    """
    if patterns.ndim != 4 or patterns.shape[2] != patterns.shape[3]:
        raise DataError(
            f"attention patterns must be [n_prompts, n_heads, n_ctx, n_ctx], got {patterns.shape}"
        )
    n_prompts, n_heads, n_ctx, _ = patterns.shape
    query, key = pair_index(n_ctx)
    rows = np.asarray(patterns[:, :, query, key], dtype=np.float32)
    return rows.reshape(n_prompts * n_heads, len(query))


def pairs_to_square(values: np.ndarray, n_ctx: int, fill: float = np.nan) -> np.ndarray:
    """Place per-pair values back on the n_ctx × n_ctx grid; cells above the diagonal get ``fill``.

    values: float[..., n_pairs] → float[..., n_ctx, n_ctx]
    """
    values = np.asarray(values)
    if values.shape[-1] != n_pairs(n_ctx):
        raise ValueError(
            f"expected {n_pairs(n_ctx)} pair values for n_ctx {n_ctx}, got {values.shape[-1]}"
        )
    out = np.full((*values.shape[:-1], n_ctx, n_ctx), fill, dtype=np.float64)
    query, key = pair_index(n_ctx)
    out[..., query, key] = values
    return out


def pair_label(query: int, key: int) -> str:
    """Short label of a token pair, e.g. ``q5→k2`` (query position 5 attends to key position 2)."""
    return f"q{query}→k{key}"
