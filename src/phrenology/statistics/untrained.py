"""The untrained baseline's head embedding: the trained models' autoencoder step, redone on the
patterns of models at initialisation (the trained family's init, or a pretrained family's
architecture freshly initialised), so that anything the clustering finds there is what the
method finds without learning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

import numpy as np


def untrained_embedding(
    attention_paths: Sequence[str],
    heads_per_model: int,
    bottleneck: int,
    settings: Mapping[str, Any],
    mode: str,
    device: Any,
    log: TextIO | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One autoencoder at the trained run's selected bottleneck, trained with the same settings
    on the untrained patterns → (codes, head embedding, training metrics).

    attention_paths: untrained patterns per model, each float[n_prompts, heads_per_model, n_ctx, n_ctx]
    returns: codes float32[n_prompts, n_heads, bottleneck], embedding as head_embedding(codes, mode)
    """
    from phrenology.analysis.autoencoder import AESettings, encode, train_autoencoder
    from phrenology.analysis.clustering import head_embedding
    from phrenology.analysis.heads import PatternRows, open_patterns

    rows = PatternRows(open_patterns(attention_paths, heads_per_model=heads_per_model))
    ae, _, metrics = train_autoencoder(
        rows, bottleneck, AESettings.from_config(settings), device, log=log
    )
    codes = encode(ae, rows).reshape(rows.n_prompts, rows.n_heads, bottleneck)
    return codes, head_embedding(codes, mode), metrics


def check_head_count(n_heads: int, heads_path: str) -> None:
    """The untrained patterns must hold as many heads as heads.tsv lists (same models, shape)."""
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError

    listed = len(io.read_tsv(heads_path, columns=["head_index"]))
    if n_heads != listed:
        raise DataError(
            f"the untrained models hold {n_heads} heads but {heads_path} lists {listed}; "
            "rerun the pipeline so they match"
        )


def write_untrained_embedding(
    attention_paths: Sequence[str],
    aic_path: str,
    heads_per_model: int,
    settings: Mapping[str, Any],
    mode: str,
    device: Any,
    codes_path: str,
    embedding_path: str,
    metrics_path: str,
    log: TextIO | None = None,
) -> None:
    """:func:`untrained_embedding` at the bottleneck the trained run selected (aic.tsv), its
    codes, head embedding and training metrics written to the given paths."""
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.pipeline import io

    k = selected_bottleneck(io.read_tsv(aic_path, columns=["bottleneck", "selected"]))
    codes, embedding, metrics = untrained_embedding(
        attention_paths, heads_per_model, k, settings, mode, device, log=log
    )
    io.save_npy(codes_path, codes)
    io.save_npy(embedding_path, embedding)
    io.write_json(metrics_path, metrics)
    if log is not None:
        print(f"untrained: bottleneck {k}, validation MSE {metrics['mse']:.3g}", file=log)
