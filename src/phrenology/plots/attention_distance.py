"""Fig. 7: heatmap of Euclidean distances between heads' raw attention patterns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.heads import head_labels
from phrenology.plots import new_figure
from phrenology.plots.text import wrap_title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _tick_fontsize(n_heads: int, axis_inches: float) -> float:
    """Font size that lets one tick label per head fit along an axis (0: too many)."""
    spacing_pt = axis_inches * 72 / n_heads
    return min(8.0, 0.8 * spacing_pt) if spacing_pt >= 4 else 0.0


def plot_attention_distance(
    distances: np.ndarray, heads: pd.DataFrame, n_prompts: int, n_ctx: int
) -> Figure:
    """distances: float[H, H] in heads.tsv order; heads: heads.tsv (``seed, layer, head``)."""
    n = len(heads)
    size = float(np.clip(4.0 + 0.09 * n, 6.5, 14.0))
    fig = new_figure(size + 1.3, size)
    ax = fig.add_subplot()
    image = ax.imshow(distances, cmap="viridis", interpolation="nearest")
    cbar = fig.colorbar(image, ax=ax, shrink=0.8)
    cbar.set_label("Euclidean distance between the heads' flattened patterns")

    seeds = heads["seed"].to_numpy()
    layers = heads["layer"].to_numpy()
    # Model boundaries (solid) and layer boundaries within a model (dotted).
    for i in range(1, n):
        if seeds[i] != seeds[i - 1]:
            for line in (ax.axhline, ax.axvline):
                line(i - 0.5, color="white", linewidth=1.2)
        elif layers[i] != layers[i - 1]:
            for line in (ax.axhline, ax.axvline):
                line(i - 0.5, color="white", linewidth=0.6, linestyle=":")

    fontsize = _tick_fontsize(n, size * 0.75)
    if fontsize:
        labels = head_labels(heads)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(n), labels, fontsize=fontsize)
    else:  # too many heads to name each: name the models at the centre of their blocks
        starts = np.flatnonzero(np.r_[True, seeds[1:] != seeds[:-1]])
        ends = np.r_[starts[1:], n]
        centres = (starts + ends - 1) / 2
        ax.set_xticks(centres, [str(seeds[s]) for s in starts], rotation=90)
        ax.set_yticks(centres, [str(seeds[s]) for s in starts])
    ax.set_xlabel("head (model seed, layer L, head H)")
    ax.set_ylabel("head (model seed, layer L, head H)")
    title = (
        "Distances between attention heads' raw patterns\n"
        f"each head = its {n_ctx}×{n_ctx} patterns on {n_prompts} prompts; "
        "white lines separate models, dotted lines layers"
    )
    ax.set_title(wrap_title(title, size), fontsize=10)
    return fig
