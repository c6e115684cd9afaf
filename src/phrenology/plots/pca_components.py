"""Figs. 9–10: principal components of the heads' patterns, as one map per prompt."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from phrenology.plots import new_figure
from phrenology.plots.text import display_token, wrap_title

CMAP = "RdBu_r"  # diverging: red positive, blue negative, white 0
MASKED = "0.85"  # above the diagonal (keys after the query): always 0 in a causal head


def _causal_masked(maps: np.ndarray) -> np.ma.MaskedArray:
    """Mask key > query entries of float[..., n_ctx, n_ctx] maps."""
    n_ctx = maps.shape[-1]
    upper = np.triu(np.ones((n_ctx, n_ctx), dtype=bool), k=1)
    return np.ma.masked_array(maps, mask=np.broadcast_to(upper, maps.shape))


def _cmap():
    from matplotlib import colormaps

    return colormaps[CMAP].with_extremes(bad=MASKED)


def _variance_text(ratio: float) -> str:
    return f"{100 * ratio:.1f} % of variance"


def plot_pca_components(
    components: np.ndarray, variance_ratio: Sequence[float], n_prompts_shown: int
):
    """Fig. 9. components: float[k, n_prompts, n_ctx, n_ctx]; variance_ratio: float[k].

    Rows are components, columns the first ``n_prompts_shown`` prompts; each row has
    its own colour scale, symmetric about 0.
    """
    k, n_prompts, n_ctx, _ = components.shape
    shown = min(n_prompts_shown, n_prompts)
    fig = new_figure(1.55 * shown + 1.6, 1.55 * k + 1.2)
    grid = fig.add_gridspec(k, shown)
    cmap = _cmap()
    ticks = list(range(0, n_ctx, 5))
    for c in range(k):
        maps = _causal_masked(components[c, :shown])
        vmax = float(np.abs(maps).max()) or 1.0
        row_axes = []
        for p in range(shown):
            ax = fig.add_subplot(grid[c, p])
            image = ax.imshow(maps[p], cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
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
                ax.set_ylabel(
                    f"PC{c + 1} ({_variance_text(variance_ratio[c])})\nquery position", fontsize=7
                )
            else:
                ax.set_yticklabels([])
            row_axes.append(ax)
        cbar = fig.colorbar(image, ax=row_axes, shrink=0.9, pad=0.01, aspect=12)
        cbar.ax.tick_params(labelsize=6)
        cbar.set_label("loading", fontsize=7)
    title = (
        f"First {k} principal components of the heads' attention patterns, per prompt\n"
        "(PCA over heads; sign fixed so each component's largest loading is positive; "
        "grey: keys after the query, always 0)"
    )
    fig.suptitle(wrap_title(title, fig.get_figwidth()), fontsize=10)
    return fig


def plot_component_tokens(
    component: np.ndarray,
    component_number: int,
    variance_ratio: float,
    tokens: Sequence[Sequence[str]],
    n_columns: int = 4,
):
    """Fig. 10. component: float[n_prompts_shown, n_ctx, n_ctx], one component's maps;
    tokens: the prompts' token texts (query tokens on y, key tokens on x)."""
    n_shown, n_ctx, _ = component.shape
    cols = min(n_columns, n_shown)
    rows = -(-n_shown // cols)
    fig = new_figure(3.3 * cols + 1.0, 3.4 * rows + 0.9)
    cmap = _cmap()
    maps = _causal_masked(component)
    vmax = float(np.abs(maps).max()) or 1.0
    axes = []
    for p in range(n_shown):
        ax = fig.add_subplot(rows, cols, p + 1)
        image = ax.imshow(maps[p], cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
        labels = [display_token(t) for t in tokens[p]]
        ax.set_xticks(range(n_ctx), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(n_ctx), labels, fontsize=6)
        ax.tick_params(length=1.5, pad=1)
        ax.set_title(f"prompt {p}", fontsize=9)
        if p % cols == 0:
            ax.set_ylabel("query token", fontsize=8)
        if p >= n_shown - cols:
            ax.set_xlabel("key token", fontsize=8)
        axes.append(ax)
    cbar = fig.colorbar(image, ax=axes, shrink=0.6, pad=0.01)
    cbar.set_label(f"PC{component_number} loading")
    title = (
        f"Principal component {component_number} of the heads' attention patterns "
        f"({_variance_text(variance_ratio)}) on the prompts' tokens\n"
        "red: heads with a positive score on this component attend there more than the average "
        "head, blue: less (sign fixed so the largest loading is positive); grey: keys after the query"
    )
    fig.suptitle(wrap_title(title, fig.get_figwidth()), fontsize=10)
    return fig
