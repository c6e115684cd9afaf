"""The head overview: the clustering and the raw-pattern distances aggregated by layer and by
model, readable at any number of heads (the per-head figures thin their labels beyond ~100)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phrenology.plots import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_ANNOTATED_CELLS = 400  # counts are written in the cells up to this many cells per panel
MAX_TICKS = 40  # tick labels per axis; beyond, every k-th


def _grid(long: pd.DataFrame, row: str, column: str, value: str) -> pd.DataFrame:
    return long.pivot(index=row, columns=column, values=value).sort_index(axis=1)


def _ticks(ax: Axes, axis: str, labels: list) -> None:
    step = max(1, -(-len(labels) // MAX_TICKS))
    positions = np.arange(0, len(labels), step)
    names = [str(labels[i]) for i in positions]
    if axis == "x":
        ax.set_xticks(positions, names, fontsize=7, rotation=90 if len(labels) > 12 else 0)
    else:
        ax.set_yticks(positions, names, fontsize=7)


def _heatmap(ax: Axes, grid: pd.DataFrame, cmap: str, label: str, fmt: str) -> None:
    from matplotlib.ticker import MaxNLocator

    values = grid.to_numpy(dtype=float)
    image = ax.imshow(values, aspect="auto", cmap=cmap, interpolation="nearest")
    bar = ax.figure.colorbar(image, ax=ax, shrink=0.8, label=label)
    if fmt == ".0f":  # counts: whole-number ticks
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    _ticks(ax, "x", list(grid.columns))
    _ticks(ax, "y", list(grid.index))
    if values.size <= MAX_ANNOTATED_CELLS:
        top = np.nanmax(values) if np.isfinite(values).any() else 0.0
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=6,
                        color="white" if v > 0.6 * top else "black")  # fmt: skip


def overview_figure(
    layers: pd.DataFrame, models: pd.DataFrame, distances: pd.DataFrame, n_heads: int
) -> Figure:
    """Three panels: heads per layer × cluster, heads per model × cluster, and the mean
    raw-pattern distance between layers across models.

    layers:    layer_clusters.tsv (``layer, cluster, n_heads``)
    models:    model_clusters.tsv (``model, cluster, n_heads``)
    distances: layer_distances.tsv (``layer_a, layer_b, mean_distance, n_pairs``)
    """
    by_layer = _grid(layers, "layer", "cluster", "n_heads")
    by_model = _grid(models, "model", "cluster", "n_heads")
    by_model = by_model.loc[list(dict.fromkeys(models["model"]))]  # heads.tsv order
    between = _grid(distances, "layer_a", "layer_b", "mean_distance")
    n_layers, n_clusters = by_layer.shape
    fig = new_figure(14, 4.6 + 0.08 * max(n_layers, len(by_model)))
    ax_l, ax_m, ax_d = fig.subplots(1, 3, width_ratios=[1.4, 1.4, 1])
    _heatmap(ax_l, by_layer, "viridis", "heads (all models)", ".0f")
    ax_l.set(xlabel="Leiden cluster", ylabel="layer", title="heads per layer and cluster")
    _heatmap(ax_m, by_model, "viridis", "heads", ".0f")
    ax_m.set(xlabel="Leiden cluster", ylabel="model", title="heads per model and cluster")
    # a cluster holding exactly one head of every model: the paper's "same head" criterion
    one_each = [j for j, c in enumerate(by_model.columns) if (by_model[c] == 1).all()]
    for j in one_each:
        ax_m.add_patch(_outline(j, len(by_model)))
    _heatmap(ax_d, between, "magma_r", "mean distance", ".2f")
    ax_d.set(xlabel="layer (other model)", ylabel="layer",
             title="raw-pattern distance between layers,\nheads of different models")  # fmt: skip
    counts = [(n_clusters, "cluster"), (len(by_model), "model"), (n_layers, "layer")]
    listed = ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts)
    fig.suptitle(
        f"Overview of {n_heads} heads: {listed} ({len(one_each)} of the clusters hold exactly "
        "one head of every model, outlined)",
        fontsize=11,
    )
    return fig


def _outline(column: int, n_rows: int):
    from matplotlib.patches import Rectangle

    return Rectangle((column - 0.5, -0.5), 1, n_rows, fill=False, edgecolor="red", lw=1.5)
