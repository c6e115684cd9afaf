"""Fig. 1: which token pairs the selected autoencoder encodes, and how it decodes them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.heads import pair_label, pairs_to_square
from phrenology.plots import new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def plot_decoded_token_pairs(
    importance: pd.DataFrame, grid: pd.DataFrame, n_ctx: int, bottleneck: int
) -> Figure:
    """Left: noise-perturbation MSE of every token pair as an n_ctx × n_ctx map, top pairs
    numbered by rank. Right: the decoder's output for each top pair against code axis 1, one
    line per value of code axis 2.

    importance: pair_importance.tsv (rank, query, key, mse, mse_increase)
    grid:       decoded_grid.tsv (rank, query, key, code1, code2, value)
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    ranks = sorted(grid["rank"].unique())
    n_cols = min(4, len(ranks))
    n_rows = math.ceil(len(ranks) / n_cols)
    fig = new_figure(4.0 + 2.7 * n_cols, max(5.0, 2.3 * n_rows + 0.6))
    left, right = fig.subfigures(1, 2, width_ratios=[4.0, 2.7 * n_cols])

    # (i) importance map: the MSE increase over the clean reconstruction, in percent
    ax = left.subplots()
    by_pair = importance.sort_values(["query", "key"])
    clean = float((importance["mse"] - importance["mse_increase"]).iloc[0])
    square = pairs_to_square(100 * by_pair["mse_increase"].to_numpy() / clean, n_ctx)
    im = ax.imshow(square, cmap="magma", origin="upper")
    for row in grid.drop_duplicates("rank").itertuples(index=False):
        ax.text(row.key, row.query, str(row.rank), ha="center", va="center", fontsize=6,
                color="cyan", fontweight="bold")  # fmt: skip
    ax.set_xlabel("key position (attended to)")
    ax.set_ylabel("query position (attending)")
    ax.set_title(f"token-pair importance: MSE increase when the\npair is replaced by "
                 f"uniform noise (clean MSE {clean:.2e});\nnumbers: rank", fontsize=8)  # fmt: skip
    left.colorbar(im, ax=ax, label="MSE increase (% of clean MSE)", shrink=0.8,
                  location="bottom", pad=0.02)  # fmt: skip

    # (ii) decoded values of the top pairs over the code grid
    axes = np.atleast_1d(right.subplots(n_rows, n_cols, squeeze=False)).ravel()
    has_axis2 = grid["code2"].notna().any()
    norm = Normalize(grid["code2"].min(), grid["code2"].max()) if has_axis2 else None
    cmap = colormaps["viridis"]
    for ax, rank in zip(axes, ranks, strict=False):
        sub = grid[grid["rank"] == rank]
        for c2, line in sub.groupby("code2", dropna=False, sort=True):
            color = cmap(norm(c2)) if has_axis2 else "black"
            ax.plot(line["code1"], line["value"], color=color, lw=1.2, marker=".", ms=3)
        q, k = int(sub["query"].iloc[0]), int(sub["key"].iloc[0])
        mse = float(importance.loc[importance["rank"] == rank, "mse"].iloc[0])
        ax.set_title(f"#{rank} {pair_label(q, k)}  (noise MSE {mse:.2e})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("code axis 1", fontsize=7)
        ax.set_ylabel("decoded attention", fontsize=7)
    for ax in axes[len(ranks) :]:
        ax.set_visible(False)
    if has_axis2:
        from matplotlib.cm import ScalarMappable

        right.colorbar(ScalarMappable(norm, cmap), ax=axes.tolist(), label="code axis 2",
                       shrink=0.6)  # fmt: skip
    others = "" if bottleneck <= 2 else f"; code axes 3–{bottleneck} held at their mean"
    right.suptitle(
        f"Decoder output for the {len(ranks)} most important token pairs "
        f"(bottleneck {bottleneck}{others})",
        fontsize=10,
    )
    fig.suptitle("Fig. 1 — what the selected autoencoder encodes", fontsize=12)
    return fig
