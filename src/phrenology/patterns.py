"""Load the per-seed attention tensors as one array in heads.tsv order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from phrenology.errors import DataError
from phrenology.io import REBUILD_HINT, load_npy


def load_patterns(paths: Sequence[str], heads_per_model: int | None = None) -> np.ndarray:
    """Concatenate per-seed tensors along the head axis.

    paths:   ``results/attention/seed{seed}.npy`` in ``seeds`` order, each
             float32[n_prompts, n_layers * n_heads, n_ctx, n_ctx]
    returns: float32[n_prompts, n_models * n_layers * n_heads, n_ctx, n_ctx]; head axis in
             heads.tsv order (seed-major, then layer, then head)
    """
    arrays = [load_npy(p, ndim=4, mmap=True) for p in paths]
    first = arrays[0]
    for path, a in zip(paths, arrays, strict=True):
        if heads_per_model is not None and a.shape[1] != heads_per_model:
            raise DataError(
                f"{path} holds {a.shape[1]} heads, expected {heads_per_model}; {REBUILD_HINT}"
            )
        if a.shape[0] != first.shape[0] or a.shape[2:] != first.shape[2:]:
            raise DataError(
                f"{path} has shape {a.shape}, unlike {paths[0]} {first.shape}; {REBUILD_HINT}"
            )
        check_finite(a, path)
    return np.concatenate(arrays, axis=1).astype(np.float32, copy=False)


def check_finite(patterns: np.ndarray, path: str, chunk_prompts: int = 256) -> None:
    """A NaN or inf in an attention file (a damaged file, or a model that diverged) would
    surface as an obscure failure deep inside PCA, UMAP or Leiden: name the file instead.

    patterns: float[n_prompts, ...], read ``chunk_prompts`` prompts at a time (memory maps)
    """
    for start in range(0, len(patterns), chunk_prompts):
        block = np.asarray(patterns[start : start + chunk_prompts])
        if not np.isfinite(block).all():
            prompt = start + int(np.argwhere(~np.isfinite(block))[0][0])
            raise DataError(
                f"{path} holds NaN or infinite values (first in prompt {prompt}); "
                f"{REBUILD_HINT}, after checking that its model trained without diverging"
            )


def head_vectors(patterns: np.ndarray) -> np.ndarray:
    """Each head's patterns over all prompts as one vector.

    patterns: float[n_prompts, n_heads, n_ctx, n_ctx] → float[n_heads, n_prompts * n_ctx * n_ctx]
    """
    return np.ascontiguousarray(patterns.transpose(1, 0, 2, 3)).reshape(patterns.shape[1], -1)
