"""The one head order every matrix in the pipeline uses: seed-major, then layer, then head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

HEAD_COLUMNS = ["head_index", "seed", "layer", "head"]


def head_table(seeds: Sequence[int], n_layers: int, n_heads: int) -> pd.DataFrame:
    """One row per head of every model: ``head_index, seed, layer, head``.

    Row ``i`` is head ``i`` of any matrix built by stacking the per-seed attention
    tensors in ``seeds`` order (their head axis is layer-major).
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
    return frame


def head_label(seed: int, layer: int, head: int) -> str:
    """Short label for plots, e.g. ``990 L0H1``."""
    return f"{seed} L{layer}H{head}"
