"""Aggregate views of many heads: where the clusters sit by layer and by model, and how alike
the layers' patterns are across models. At 1,296 heads (9 × 12 × 12) a label per head is
unreadable; these tables say the same things per layer and per cluster.

Every table is long-format (one row per cell) so it can be read back without pivoting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd


def model_names(heads: pd.DataFrame) -> list[str]:
    """Each head's model name: heads.tsv's ``model`` column (a family), else ``seed<seed>``."""
    if "model" in heads.columns:
        return heads["model"].astype(str).tolist()
    return [f"seed{s}" for s in heads["seed"]]


def layer_cluster_counts(clusters: pd.DataFrame) -> pd.DataFrame:
    """Heads of every model per (layer, cluster): ``layer, cluster, n_heads`` (every pair,
    zeros included).

    clusters: clusters.tsv (``head_index, seed, layer, head, cluster``)
    """
    import pandas as pd

    table = pd.crosstab(clusters["layer"], clusters["cluster"])
    return _long(table, "layer", "cluster", "n_heads")


def model_cluster_counts(clusters: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Heads per (model, cluster): ``model, cluster, n_heads``, models in heads.tsv order.

    A cluster whose column holds exactly one head of every model is what the paper looked for.
    """
    import pandas as pd

    order = list(dict.fromkeys(names))
    table = pd.crosstab(pd.Categorical(names, categories=order), clusters["cluster"].to_numpy())
    table.index.name, table.columns.name = "model", "cluster"
    return _long(table, "model", "cluster", "n_heads")


def layer_distances(distances: np.ndarray, heads: pd.DataFrame) -> pd.DataFrame:
    """Mean raw-pattern distance between heads of layer a and heads of layer b in *different*
    models: ``layer_a, layer_b, mean_distance, n_pairs``.

    Pairs within one model are left out, so the diagonal asks "is layer a's pattern the same
    in another model?" rather than mixing in a model's heads compared with each other.

    distances: float[n_heads, n_heads], heads.tsv order
    """
    n = len(heads)
    if distances.shape != (n, n):
        raise DataError(f"distances are {distances.shape} but heads.tsv lists {n} heads")
    import pandas as pd

    layer = heads["layer"].to_numpy()
    model = heads["seed"].to_numpy()
    other = model[:, None] != model[None, :]
    rows = []
    for a in np.unique(layer):
        for b in np.unique(layer):
            mask = other & (layer[:, None] == a) & (layer[None, :] == b)
            count = int(mask.sum())
            mean = float(distances[mask].mean()) if count else float("nan")
            rows.append({"layer_a": int(a), "layer_b": int(b), "mean_distance": mean,
                         "n_pairs": count})  # fmt: skip
    return pd.DataFrame(rows)


def _long(table: pd.DataFrame, row: str, column: str, value: str) -> pd.DataFrame:
    out = table.stack().rename(value).reset_index()
    out.columns = [row, column, value]
    return out
