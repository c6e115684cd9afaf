"""The paper's three hand-made attention heads (Fig. 8), for the same prompts as the real ones.

(a) ``uniform``:       token i attends equally to tokens 0..i (weight 1/(i+1));
(b) ``self``:          every token attends only to itself;
(c) ``self_previous``: token 0 attends to itself, every later token half to itself
                       and half to the previous token.
Their patterns do not depend on the prompt, so over n prompts they are one
n_ctx × n_ctx pattern repeated n times.
"""

from __future__ import annotations

import numpy as np

ARTIFICIAL_HEADS: tuple[str, ...] = ("uniform", "self", "self_previous")

ARTIFICIAL_LABELS: dict[str, str] = {
    "uniform": "(a) uniform over tokens ≤ itself",
    "self": "(b) itself only",
    "self_previous": "(c) ½ itself + ½ previous",
}


def artificial_patterns(n_ctx: int) -> np.ndarray:
    """float64[3, n_ctx, n_ctx] (query, key) patterns in :data:`ARTIFICIAL_HEADS` order.

    Every row is a probability distribution over keys 0..query (causal).
    """
    if n_ctx < 1:
        raise ValueError(f"n_ctx must be positive, got {n_ctx}")
    causal = np.tri(n_ctx, dtype=np.float64)
    uniform = causal / causal.sum(axis=1, keepdims=True)
    itself = np.eye(n_ctx)
    self_previous = 0.5 * np.eye(n_ctx) + 0.5 * np.eye(n_ctx, k=-1)
    self_previous[0, 0] = 1.0
    return np.stack([uniform, itself, self_previous])


def artificial_head_vectors(
    n_prompts: int, n_ctx: int, dtype: np.dtype | type = np.float32
) -> np.ndarray:
    """The artificial heads as long vectors comparable with ``head_vectors(patterns)``.

    returns: dtype[3, n_prompts * n_ctx * n_ctx], features prompt-major like
             :func:`phrenology.analysis.heads.head_vectors`
    """
    patterns = artificial_patterns(n_ctx).astype(dtype)
    return np.tile(patterns.reshape(3, 1, -1), (1, n_prompts, 1)).reshape(3, -1)
