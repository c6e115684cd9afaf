"""Figs. 9b–9c: NMF and sparse-PCA components of the heads' patterns, drawn like Fig. 9, each
row naming the heads that score highest (and, for sparse PCA, lowest) on it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.heads import head_label
from phrenology.plots import new_figure
from phrenology.plots.pca_components import _causal_masked, _cmap
from phrenology.plots.text import wrap_title

if TYPE_CHECKING:
    import pandas as pd

TITLES = {
    "nmf": (
        "NMF",
        "non-negative parts: each head ≈ a non-negative mix of these patterns; white = 0",
    ),
    "sparse_pca": (
        "sparse PCA",
        "contrasts like PCA, but most loadings exactly 0; sign fixed so the largest loading "
        "is positive",
    ),
}
N_NAMED = 3  # heads named per side in a row label


def _heads_text(extremes: pd.DataFrame, component: int, side: str) -> str:
    rows = extremes[(extremes["component"] == component) & (extremes["side"] == side)]
    rows = rows.sort_values("rank").head(N_NAMED)
    return ", ".join(head_label(r.seed, r.layer, r.head) for r in rows.itertuples(index=False))


def plot_decomposition(
    method: str,
    components: np.ndarray,
    share: Sequence[float],
    extremes: pd.DataFrame,
    n_prompts_shown: int,
):
    """components: float[k, n_prompts, n_ctx, n_ctx]; share: float[k]; extremes: the rows of
    extreme_heads.tsv for this method. Rows are components, columns the first prompts."""
    from matplotlib import colormaps

    label, note = TITLES[method]
    k, n_prompts, n_ctx, _ = components.shape
    shown = min(n_prompts_shown, n_prompts)
    fig = new_figure(1.55 * shown + 3.4, 1.6 * k + 1.3)
    grid = fig.add_gridspec(k, shown)
    nonnegative = method == "nmf"
    cmap = colormaps["Reds"].with_extremes(bad="0.85") if nonnegative else _cmap()
    ticks = list(range(0, n_ctx, 5))
    for c in range(k):
        maps = _causal_masked(components[c, :shown])
        vmax = float(np.abs(maps).max()) or 1.0
        row_axes = []
        for p in range(shown):
            ax = fig.add_subplot(grid[c, p])
            image = ax.imshow(
                maps[p], cmap=cmap, vmin=0.0 if nonnegative else -vmax, vmax=vmax,
                interpolation="nearest",
            )  # fmt: skip
            ax.set_xticks(ticks)
            ax.set_yticks(ticks)
            ax.tick_params(labelsize=6, length=2)
            if c == 0:
                ax.set_title(f"prompt {p}", fontsize=9)
            if c == k - 1:
                ax.set_xlabel("key position", fontsize=7)
            else:
                ax.set_xticklabels([])
            if p == 0:
                ax.set_ylabel(f"{label} {c + 1}\n({100 * share[c]:.0f} %)\nquery", fontsize=7)
            else:
                ax.set_yticklabels([])
            row_axes.append(ax)
        cbar = fig.colorbar(image, ax=row_axes, shrink=0.9, pad=0.01, aspect=12)
        cbar.ax.tick_params(labelsize=6)
        text = "highest:\n" + _heads_text(extremes, c + 1, "high").replace(", ", "\n")
        if not nonnegative:
            text += "\nlowest:\n" + _heads_text(extremes, c + 1, "low").replace(", ", "\n")
        cbar.set_label(text, fontsize=6.5, rotation=0, ha="left", va="center", labelpad=4)
    title = (
        f"{label} components of the heads' attention patterns, per prompt ({note}; "
        "grey: keys after the query, always 0). Row label: share of the fitted reconstruction; "
        "right: the heads scoring highest"
        + ("" if nonnegative else " and lowest")
        + " on the component"
    )
    fig.suptitle(wrap_title(title, fig.get_figwidth()), fontsize=9)
    return fig
