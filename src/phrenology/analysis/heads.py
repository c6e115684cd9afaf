"""Heads as data: their one order, their patterns in that order, and their causal token pairs.

Every matrix in the pipeline orders heads seed-major, then layer, then head
(``heads.tsv``); :func:`load_head_patterns` gives the per-seed attention tensors
stacked in that order, checked against heads.tsv and the config.

Token pairs as features: a head's pattern on one prompt is an n_ctx × n_ctx matrix
whose cells above the diagonal are always 0 (causal mask). The autoencoder sees only
the ``n_ctx (n_ctx + 1) / 2`` cells on or below it, in row-major order of
``numpy.tril_indices``: (query 0, key 0), (1, 0), (1, 1), (2, 0), ...
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.pipeline.errors import DataError
from phrenology.pipeline.io import REBUILD_HINT, load_npy, read_tsv

if TYPE_CHECKING:
    import pandas as pd


HEAD_COLUMNS = ["head_index", "seed", "layer", "head"]
TAKE_CHUNK = 8192  # (prompt, head) squares PatternRows.take reads at once: 128 MB at n_ctx 64


def head_table(
    seeds: Sequence[int], n_layers: int, n_heads: int, models: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per head of every model: ``head_index, seed, layer, head`` (+ ``model``).

    Row ``i`` is head ``i`` of any matrix built by stacking the per-seed attention
    tensors in ``seeds`` order (their head axis is layer-major). ``models`` (a pretrained
    family's names, one per seed) adds a ``model`` column.
    """
    import pandas as pd

    rows = [
        (seed, layer, head)
        for seed in seeds
        for layer in range(n_layers)
        for head in range(n_heads)
    ]
    frame = pd.DataFrame(rows, columns=HEAD_COLUMNS[1:])
    frame.insert(0, "head_index", range(len(frame)))
    if models is not None:
        if len(models) != len(seeds):
            raise ValueError(f"{len(models)} model names for {len(seeds)} models")
        frame["model"] = np.repeat(np.asarray(models, dtype=object), n_layers * n_heads)
    return frame


def head_label(seed: int | str, layer: int, head: int) -> str:
    """Short label for plots, e.g. ``990 L0H1``, or ``<model> L0H1`` for a pretrained family."""
    return f"{seed} L{layer}H{head}"


def head_labels(heads: pd.DataFrame) -> list[str]:
    """:func:`head_label` of every row: by model name when heads.tsv has a ``model`` column."""
    who = heads["model"] if "model" in heads.columns else heads["seed"]
    return [
        head_label(w, la, h) for w, la, h in zip(who, heads["layer"], heads["head"], strict=True)
    ]


def load_heads(path: str, seeds: Sequence[int], n_layers: int, n_heads: int) -> pd.DataFrame:
    """heads.tsv, checked against the configuration that the attention files came from."""
    heads = read_tsv(path, columns=HEAD_COLUMNS)
    heads = heads[HEAD_COLUMNS + (["model"] if "model" in heads.columns else [])]
    expected = head_table(seeds, n_layers, n_heads)
    numbers = heads[HEAD_COLUMNS]
    if numbers.shape != expected.shape or not (numbers.to_numpy() == expected.to_numpy()).all():
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
    arrays, heads = open_head_patterns(attention_paths, heads_path, seeds, n_layers, n_heads)
    return np.concatenate(arrays, axis=1).astype(np.float32, copy=False), heads


def open_head_patterns(
    attention_paths: Sequence[str],
    heads_path: str,
    seeds: Sequence[int],
    n_layers: int,
    n_heads: int,
) -> tuple[list[np.ndarray], pd.DataFrame]:
    """:func:`load_head_patterns` without stacking: (per-model memory maps from
    :func:`open_patterns`, heads.tsv), with the same checks."""
    if len(attention_paths) != len(seeds):
        raise DataError(f"got {len(attention_paths)} attention files for {len(seeds)} seeds")
    heads = load_heads(heads_path, seeds, n_layers, n_heads)
    return open_patterns(attention_paths, heads_per_model=n_layers * n_heads), heads


def open_patterns(paths: Sequence[str], heads_per_model: int | None = None) -> list[np.ndarray]:
    """The per-model tensors as memory maps, checked (shapes agree, values finite), not copied.

    paths:   ``results/attention/<model>.npy`` in model order, each
             float[n_prompts, n_layers * n_heads, n_ctx, n_ctx] (float32 or float16)
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
    return arrays


def load_patterns(paths: Sequence[str], heads_per_model: int | None = None) -> np.ndarray:
    """Concatenate per-seed tensors along the head axis (in memory: see :class:`PatternRows`
    for the autoencoders' bounded-memory view).

    paths:   ``results/attention/seed{seed}.npy`` in ``seeds`` order, each
             float32[n_prompts, n_layers * n_heads, n_ctx, n_ctx]
    returns: float32[n_prompts, n_models * n_layers * n_heads, n_ctx, n_ctx]; head axis in
             heads.tsv order (seed-major, then layer, then head)
    """
    arrays = open_patterns(paths, heads_per_model)
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


class PatternRows:
    """:func:`pattern_rows` of the concatenated patterns, read from the per-model memory maps
    only for the rows asked for: the autoencoders stream their batches from disk, so memory
    stays bounded as models, heads and prompts grow (1,296 heads × 256 prompts at n_ctx 64
    are 2.8 GB of rows). Row ``p * n_heads + h`` is head h (heads.tsv order) on prompt p; the
    values equal :func:`pattern_rows`'s exactly (float32).

    arrays: from :func:`open_patterns`, each float[n_prompts, heads of that model, n_ctx, n_ctx]
    """

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.arrays = list(arrays)
        heads = [a.shape[1] for a in self.arrays]
        self.first_head = np.cumsum([0, *heads])  # head offset of each model
        self.n_prompts, self.n_heads = self.arrays[0].shape[0], int(self.first_head[-1])
        self.query, self.key = pair_index(self.arrays[0].shape[2])
        self.shape = (self.n_prompts * self.n_heads, len(self.query))

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows ``index`` (any order, repeats allowed) → float32[len(index), n_pairs]."""
        prompt, head = np.divmod(np.asarray(index, dtype=np.int64), self.n_heads)
        model = np.searchsorted(self.first_head, head, side="right") - 1
        out = np.empty((len(prompt), self.shape[1]), dtype=np.float32)
        for m in np.unique(model):
            for sel in np.array_split(np.flatnonzero(model == m), -(-len(prompt) // TAKE_CHUNK)):
                # reads just these (prompt, head) squares from the file, then their causal cells
                squares = self.arrays[m][prompt[sel], head[sel] - self.first_head[m]]
                out[sel] = squares[:, self.query, self.key]
        return out

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.take(np.arange(*rows.indices(len(self))))


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
