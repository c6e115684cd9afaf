"""The inputs every head-comparison job starts from: heads.tsv and the patterns in its order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.errors import DataError
from phrenology.heads import HEAD_COLUMNS, head_table
from phrenology.io import REBUILD_HINT, read_tsv
from phrenology.patterns import load_patterns

if TYPE_CHECKING:
    import pandas as pd


def load_heads(path: str, seeds: Sequence[int], n_layers: int, n_heads: int) -> pd.DataFrame:
    """heads.tsv, checked against the configuration that the attention files came from."""
    heads = read_tsv(path, columns=HEAD_COLUMNS)[HEAD_COLUMNS]
    expected = head_table(seeds, n_layers, n_heads)
    if heads.shape != expected.shape or not (heads.to_numpy() == expected.to_numpy()).all():
        raise DataError(
            f"{path} does not list {len(seeds)} seeds × {n_layers} layers × {n_heads} heads "
            f"in seed/layer/head order as the config does; {REBUILD_HINT}"
        )
    return heads


def load_head_patterns(
    attention_paths: Sequence[str],
    heads_path: str,
    seeds: Sequence[int],
    n_layers: int,
    n_heads: int,
) -> tuple[np.ndarray, pd.DataFrame]:
    """(patterns float32[n_prompts, H, n_ctx, n_ctx] in heads.tsv order, heads.tsv)."""
    if len(attention_paths) != len(seeds):
        raise DataError(f"got {len(attention_paths)} attention files for {len(seeds)} seeds")
    heads = load_heads(heads_path, seeds, n_layers, n_heads)
    patterns = load_patterns(attention_paths, heads_per_model=n_layers * n_heads)
    return patterns, heads
