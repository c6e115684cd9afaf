"""Fig. 11: 2-D PCA of each token's attention to the first token across all heads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from phrenology.analysis.first_token import WORD_CLASSES
from phrenology.plots import new_figure
from phrenology.plots.text import annotate_without_overlap, display_token, omitted_note, wrap_title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

CLASS_COLORS = {
    "stop word": "tab:blue",
    "capitalised": "tab:red",
    "other word": "tab:green",
    "punctuation": "tab:purple",
    "<unk>": "0.6",
}


def plot_first_token(table: pd.DataFrame, variance_ratio: Sequence[float], n_heads: int) -> Figure:
    """table: first_token_pca.tsv (``prompt, position, token, word_class, pc1, pc2``);
    variance_ratio: float[2] of the two components; n_heads: length of each vector.

    Left: every point labelled with its word, coloured by word class. Right: the same
    points coloured by position, which drives much of the layout (attention spread
    over more keys leaves less for token 0).
    """
    n_points = len(table)
    fontsize = 6.0 if n_points <= 300 else 5.0 if n_points <= 800 else 4.0
    fig = new_figure(17.0, 8.5)
    grid = fig.add_gridspec(1, 2, width_ratios=[3.0, 1.2])
    words = fig.add_subplot(grid[0, 0])
    positions = fig.add_subplot(grid[0, 1], sharex=words, sharey=words)

    for cls in WORD_CLASSES:
        rows = table[table["word_class"] == cls]
        if rows.empty:
            continue
        color = CLASS_COLORS[cls]
        words.scatter(
            rows["pc1"], rows["pc2"], s=4, color=color, linewidths=0, label=f"{cls} ({len(rows)})"
        )
    words.legend(
        title="word class (points)", fontsize=8, title_fontsize=8, markerscale=3, loc="best"
    )

    last_position = int(table["position"].max())
    scatter = positions.scatter(
        table["pc1"],
        table["pc2"],
        c=table["position"],
        s=10,
        cmap="viridis",
        vmin=1,
        vmax=last_position,
        linewidths=0,
    )
    cbar = fig.colorbar(scatter, ax=positions, shrink=0.8)
    cbar.set_label("query position in the prompt")

    for ax in (words, positions):
        ax.set_xlabel(f"PC1 ({100 * variance_ratio[0]:.1f} % of variance)")
        ax.set_ylabel(f"PC2 ({100 * variance_ratio[1]:.1f} % of variance)")
    n_prompts = table["prompt"].nunique()
    omitted = annotate_without_overlap(
        words,
        table[["pc1", "pc2"]].to_numpy(),
        [display_token(str(t)) for t in table["token"]],
        fontsize,
        offset=(1.5, 1.5),
        colors=[CLASS_COLORS[c] for c in table["word_class"]],
        alpha=0.9,
    )
    note = f"\n({omitted_note(omitted, n_points)})" if omitted else ""
    words.set_title(
        f"each point labelled with its token, coloured by word class{note}", fontsize=10
    )
    positions.set_title("the same points coloured by position", fontsize=10)
    title = (
        f"Attention to the first token: one point per (prompt, position ≥ 1) of the first "
        f"{n_prompts} prompts, its vector over all {n_heads} heads reduced by PCA"
    )
    fig.suptitle(wrap_title(title, fig.get_figwidth(), 11), fontsize=11)
    return fig
