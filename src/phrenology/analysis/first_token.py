"""How much each token attends to the first token, across all heads (paper Fig. 11).

For every (prompt, position) the vector over heads of attention to token 0 is one
point; PCA maps the points to 2-D. Position 0 is left out: there the softmax runs
over a single key, so every head gives it weight 1 and all those points coincide.
Each point keeps its word and a coarse word class (stop word, capitalised, ...)
so the figure can show whether function words and sentence starts group together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.projection import PCAResult, pca
from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

FIRST_TOKEN_COLUMNS = ["prompt", "position", "token", "word_class", "pc1", "pc2"]
WORD_CLASSES: tuple[str, ...] = ("stop word", "capitalised", "other word", "punctuation", "<unk>")


def first_token_vectors(patterns: np.ndarray, n_prompts: int) -> np.ndarray:
    """Attention to token 0, per (prompt, query position), for every head.

    patterns: float[n_prompts_all, H, n_ctx, n_ctx] (query, key)
    returns:  float32[n_prompts, n_ctx, H]; [p, i, h] = patterns[p, h, i, 0]
    """
    if n_prompts > patterns.shape[0]:
        raise DataError(f"asked for {n_prompts} prompts, the patterns hold {patterns.shape[0]}")
    first = np.asarray(patterns[:n_prompts, :, :, 0], dtype=np.float32)
    return np.ascontiguousarray(first.transpose(0, 2, 1))


def first_token_patterns(arrays: Sequence[np.ndarray], n_prompts: int) -> np.ndarray:
    """The key-0 column of every head's patterns on the first ``n_prompts`` prompts, read from
    the per-model memory maps (bounded memory: n_prompts × H × n_ctx values, not every pattern).

    arrays:  per-model float[n_prompts_all, heads of that model, n_ctx, n_ctx], model order
    returns: float32[n_prompts, H, n_ctx, 1], a patterns tensor :func:`first_token_pca` accepts
    """
    if n_prompts > arrays[0].shape[0]:
        raise DataError(f"asked for {n_prompts} prompts, the patterns hold {arrays[0].shape[0]}")
    columns = [np.asarray(a[:n_prompts, :, :, :1], dtype=np.float32) for a in arrays]
    return np.concatenate(columns, axis=1)


def word_class(token: str, unknown: bool = False) -> str:
    """Coarse class of a token's text, one of :data:`WORD_CLASSES`.

    "capitalised": the first character is an upper-case letter (sentence starts, names,
    "I"), checked first; "stop word": lower-case and in scikit-learn's English stop-word
    list; ``unknown`` marks the compact vocabulary's <unk>.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if unknown:
        return "<unk>"
    text = token.strip()
    if not any(c.isalnum() for c in text):
        return "punctuation"
    if text[0].isupper():  # before stop words: "The" starting a sentence counts as capitalised
        return "capitalised"
    if text in ENGLISH_STOP_WORDS:
        return "stop word"
    return "other word"


def first_token_pca(
    patterns: np.ndarray, prompts: pd.DataFrame, n_prompts: int
) -> tuple[pd.DataFrame, PCAResult]:
    """2-D PCA of the attention-to-token-0 vectors of the first ``n_prompts`` prompts.

    patterns: float[n_prompts_all, H, n_ctx, n_ctx]
    prompts:  prompts.parquet (``prompt, position, token, gpt2_id``)
    returns:  (table ``prompt, position, token, word_class, pc1, pc2`` with one row per
              (prompt, position ≥ 1), PCA result over heads with signs fixed)
    """
    import pandas as pd

    vectors = first_token_vectors(patterns, n_prompts)  # [P, n_ctx, H]
    n_ctx, n_heads = vectors.shape[1:]
    samples = vectors[:, 1:, :].reshape(-1, n_heads)
    if len(samples) < 2 or n_heads < 2:
        raise DataError(
            f"a 2-D PCA needs at least 2 points and 2 heads; got {len(samples)} points "
            f"({n_prompts} prompts × {n_ctx - 1} positions) and {n_heads} heads"
        )
    result = pca(samples, 2)

    index = prompts.set_index(["prompt", "position"]).sort_index()
    keys = [(p, i) for p in range(n_prompts) for i in range(1, n_ctx)]
    missing = [k for k in keys if k not in index.index]
    if missing:
        raise DataError(f"prompts table lacks (prompt, position) {missing[:3]}...")
    rows = index.loc[keys]
    tokens = rows["token"].astype(str).tolist()
    unknown = (rows["gpt2_id"].to_numpy() < 0) if "gpt2_id" in rows else np.zeros(len(rows), bool)

    table = pd.DataFrame({
        "prompt": [k[0] for k in keys],
        "position": [k[1] for k in keys],
        "token": tokens,
        "word_class": [word_class(t, u) for t, u in zip(tokens, unknown, strict=True)],
        "pc1": result.scores[:, 0],
        "pc2": result.scores[:, 1],
    })  # fmt: skip
    return table, result
