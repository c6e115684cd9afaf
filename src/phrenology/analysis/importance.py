"""What the selected autoencoder encodes (paper Fig. 1; the authors' ``R/cluster.R``).

(i) Importance of a token pair: the reconstruction MSE (against the clean rows) when
that one input column is replaced by uniform(0, 1) noise — pairs the code depends on
raise the error most. (ii) The decoder's output for the most important pairs over a
grid of code values: for a 2-D bottleneck over both code axes; for a wider one along
code axes 1 and 2 with the other axes held at their mean code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from phrenology.analysis.autoencoder import EVAL_BATCH, Autoencoder, Rows, decode
from phrenology.analysis.heads import pair_index

if TYPE_CHECKING:
    import pandas as pd


# Rows up to this size are read into memory once; larger ones (a family of 1,296 heads at
# n_ctx 64 has 2.8 GB of rows) are read batch by batch from the memory maps for every column.
ROWS_IN_MEMORY_BYTES = 1 << 30


@torch.no_grad()
def perturbation_mse(
    model: Autoencoder,
    rows: Rows,
    seed: int,
    batch_size: int = EVAL_BATCH,
    in_memory_bytes: int = ROWS_IN_MEMORY_BYTES,
) -> tuple[np.ndarray, float]:
    """Per-column MSE with that column replaced by uniform(0, 1) noise.

    rows: float32[n, n_features]: an array, or heads.PatternRows (read into memory when they
          fit in ``in_memory_bytes``, else streamed: one pass over the files per column, memory
          bounded by the batch; the same numbers either way)
    returns (float64[n_features] MSE against the clean rows, the clean-input MSE)
    The noise for column j is drawn from ``default_rng(seed)`` in column order, so the
    result does not depend on the batch size, the device or where the rows come from.
    """
    device = next(model.parameters()).device
    model.eval()
    rng = np.random.default_rng(seed)
    n, n_features = rows.shape
    if not isinstance(rows, np.ndarray) and n * n_features * 4 <= in_memory_bytes:
        rows = rows[:]

    def batches():
        for s in range(0, n, batch_size):
            yield s, torch.as_tensor(rows[s : s + batch_size], dtype=torch.float32).to(device)

    result = np.empty(n_features)
    for j in range(n_features):
        noise = torch.as_tensor(rng.random(n, dtype=np.float32))
        total = 0.0
        for s, x in batches():
            x_noisy = x.clone()
            x_noisy[:, j] = noise[s : s + len(x)].to(device)
            total += float(((model(x_noisy) - x) ** 2).sum())
        result[j] = total / (n * n_features)
    baseline = sum(float(((model(x) - x) ** 2).sum()) for _, x in batches())
    return result, baseline / (n * n_features)


def importance_table(mse: np.ndarray, baseline: float, n_ctx: int) -> pd.DataFrame:
    """Ranked list: ``rank, query, key, mse, mse_increase`` (rank 1 = most important)."""
    import pandas as pd

    query, key = pair_index(n_ctx)
    frame = pd.DataFrame({"query": query, "key": key, "mse": mse, "mse_increase": mse - baseline})
    # stable sort: equal MSEs keep feature order, so the ranking is reproducible
    frame = frame.sort_values("mse", ascending=False, kind="stable", ignore_index=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def code_grid(codes: np.ndarray, grid_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid of code vectors spanning the codes the data use on axes 1 and 2.

    codes: float[n, k] (the encoded rows)
    returns (axis-1 values float[g], axis-2 values float[g] (one 0 when k = 1),
    code vectors float32[g * g2, k], axis-2 varying fastest, the other axes at their mean)
    The grid spans each axis's observed min..max (the paper used the whole tanh range
    [-1, 1]², most of which no head reaches).
    """
    k = codes.shape[1]
    mean = codes.mean(axis=0)
    axis1 = np.linspace(codes[:, 0].min(), codes[:, 0].max(), grid_size)
    axis2 = np.linspace(codes[:, 1].min(), codes[:, 1].max(), grid_size) if k > 1 else np.zeros(1)
    grid = np.tile(mean, (len(axis1) * len(axis2), 1))
    grid[:, 0] = np.repeat(axis1, len(axis2))
    if k > 1:
        grid[:, 1] = np.tile(axis2, len(axis1))
    return axis1, axis2, grid.astype(np.float32)


def decoded_grid(
    model: Autoencoder,
    codes: np.ndarray,
    ranked: pd.DataFrame,
    n_ctx: int,
    n_top: int,
    grid_size: int,
) -> pd.DataFrame:
    """Decoder output for the ``n_top`` most important pairs over :func:`code_grid`.

    returns rows ``rank, query, key, code1, code2, value``
    """
    import pandas as pd

    _, _, grid = code_grid(codes, grid_size)
    decoded = decode(model, grid)  # [g * g2, n_features]
    query, key = pair_index(n_ctx)
    column = {(int(q), int(k)): j for j, (q, k) in enumerate(zip(query, key, strict=True))}
    parts = []
    for row in ranked.head(n_top).itertuples(index=False):
        parts.append(
            pd.DataFrame(
                {
                    "rank": row.rank,
                    "query": row.query,
                    "key": row.key,
                    "code1": grid[:, 0],
                    "code2": grid[:, 1] if grid.shape[1] > 1 else np.nan,
                    "value": decoded[:, column[(int(row.query), int(row.key))]],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
