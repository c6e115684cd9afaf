"""Figs. 12–14: knockout scatter for one head, for every head of a cluster, and the PCA of
every head's knockout effect on next-token probabilities."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.heads import head_label
from phrenology.analysis.knockout import moved_tokens
from phrenology.plots import new_figure
from phrenology.plots.text import annotate_without_overlap, omitted_note

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

ABOVE_COLOR = "tab:red"  # knocked out > original: the head suppresses the token
BELOW_COLOR = "tab:blue"  # knocked out < original: the head promotes the token
MARKERS = "osD^vP*X<>hp"


def token_text(token: str) -> str:
    """A token as a label: quoted, so leading spaces and odd characters stay visible."""
    return repr(str(token))


def prompt_text(tokens: Sequence[str]) -> str:
    """The prompt as the model saw it, tokens separated by '|' (shows <unk> and splits)."""
    return "|".join(str(t) for t in tokens)


def prompt_lines(meta: Mapping[str, Any], width: int) -> str:
    """Title lines: the prompt, then its model tokens, each wrapped to ``width`` characters."""
    import textwrap

    return "\n".join([
        textwrap.fill(f"prompt “{meta['prompt']}”", width),
        textwrap.fill(f"model tokens: {prompt_text(meta['tokens'])}", width),
    ])  # fmt: skip


def _spread(values: np.ndarray, gap: float) -> np.ndarray:
    """Move 1-D label positions apart to at least ``gap``, keeping their order and mean."""
    order = np.argsort(values, kind="stable")
    placed = np.array(values, dtype=np.float64)[order]
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    placed += np.mean(values) - placed.mean() if len(placed) else 0.0
    out = np.empty_like(placed)
    out[order] = placed
    return out


def knockout_scatter(
    ax: Axes,
    original: np.ndarray,
    knocked: np.ndarray,
    tokens: Sequence[str],
    n_labels: int,
    fontsize: float = 7.0,
) -> None:
    """Every token's logit, original (x) vs knocked out (y), the diagonal, the most moved labelled.

    original, knocked: float[d_vocab]; tokens: text of each model token id
    """
    original = np.asarray(original, dtype=np.float64)
    knocked = np.asarray(knocked, dtype=np.float64)
    ax.scatter(original, knocked, s=2, c="0.55", linewidths=0, rasterized=True, zorder=1)
    lo = min(original.min(), knocked.min())
    hi = max(original.max(), knocked.max())
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, zorder=2, label="y = x (no change)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")

    above, below = moved_tokens(original, knocked, n_labels)
    for ids, color, side in ((above, ABOVE_COLOR, -1), (below, BELOW_COLOR, 1)):
        if len(ids) == 0:
            continue
        ax.scatter(original[ids], knocked[ids], s=12, color=color, zorder=3)
        _label_points(ax, original[ids], knocked[ids], [tokens[i] for i in ids], side, lo, hi,
                      color, fontsize)  # fmt: skip


def _label_points(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    texts: Sequence[str],
    side: int,
    lo: float,
    hi: float,
    color: str,
    fontsize: float,
) -> None:
    """Label points away from the diagonal: up-left (``side`` −1) or down-right (+1).

    Near the edge the label goes straight up (down) instead, so it stays inside the axes;
    labels of one column are spread vertically so they do not overlap.
    """
    span = hi - lo
    labels = [token_text(t) for t in texts]
    # label widths in data units, from the axes' width in inches (≈ 0.6 em per character)
    axes_inches = ax.get_figure().get_figwidth() * ax.get_position().width
    room = np.array([len(t) for t in labels]) * 0.6 * fontsize / 72 * span / axes_inches
    if side < 0:
        beside = x - 0.1 * span - room > lo
        tx = np.where(beside, x - 0.1 * span, x + 0.02 * span)
        ty = np.where(beside, y + 0.05 * span, y + 0.12 * span)
        ha = np.where(beside, "right", "left")
    else:
        beside = x + 0.1 * span + room < hi
        tx = np.where(beside, x + 0.1 * span, x - 0.02 * span)
        ty = np.where(beside, y - 0.05 * span, y - 0.12 * span)
        ha = np.where(beside, "left", "right")
    gap = 0.04 * span * fontsize / 7.0
    for column in (True, False):  # spread each column of labels on its own
        pick = beside == column
        if pick.any():
            ty[pick] = _spread(ty[pick], gap)
    ty = np.clip(ty, lo + 0.02 * span, hi - 0.02 * span)
    for i, text in enumerate(labels):
        ax.annotate(
            text,
            xy=(x[i], y[i]),
            xytext=(tx[i], ty[i]),
            fontsize=fontsize,
            color=color,
            ha=ha[i],
            va="center",
            arrowprops={"arrowstyle": "-", "color": color, "lw": 0.5, "alpha": 0.7},
            zorder=4,
        )


def _legend_handles() -> list[Any]:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color="black", lw=0.8, label="y = x: knockout changes nothing"),
        Line2D([], [], ls="", marker="o", color=ABOVE_COLOR,
               label="above the diagonal = suppressed by this head"),
        Line2D([], [], ls="", marker="o", color=BELOW_COLOR,
               label="below the diagonal = promoted by this head"),
        Line2D([], [], ls="", marker="o", ms=3, color="0.55", label="every other vocabulary token"),
    ]  # fmt: skip


def single_head_figure(table: pd.DataFrame, meta: Mapping[str, Any], n_labels: int) -> Figure:
    """Fig. 12 from single_head.tsv (``token_id, token, logit_original, logit_knockout``)."""
    fig = new_figure(7.5, 8.0)
    ax = fig.add_subplot()
    table = table.sort_values("token_id")
    knockout_scatter(
        ax,
        table["logit_original"].to_numpy(),
        table["logit_knockout"].to_numpy(),
        table["token"].astype(str).tolist(),
        n_labels,
    )
    ax.set_xlabel("original logit (last position)")
    label = head_label(meta["seed"], meta["layer"], meta["head"])
    ax.set_ylabel(f"logit with head {label} knocked out")
    ax.set_title(
        f"Knockout of model {meta['seed']}, layer {meta['layer']}, head {meta['head']}: "
        "last-position logits\n" + prompt_lines(meta, 80),
        fontsize=10,
    )
    ax.legend(handles=_legend_handles(), loc="lower right", fontsize=7, framealpha=0.9)
    return fig


def cluster_figure(table: pd.DataFrame, meta: Mapping[str, Any], n_labels: int) -> Figure:
    """Fig. 13: one knockout panel per head of the chosen cluster.

    table: cluster_heads.parquet (``head_index, seed, layer, head, token_id, token,
           logit_original, logit_knockout``)
    """
    heads = (
        table[["head_index", "seed", "layer", "head"]].drop_duplicates().sort_values("head_index")
    )
    n = len(heads)
    ncols = min(n, max(1, math.ceil(math.sqrt(n))))
    nrows = math.ceil(n / ncols)
    fig = new_figure(3.6 * ncols, 3.6 * nrows + 0.9)
    # square panels (equal aspect) leave constrained layout's rows too tight for a title
    # above an x-label: keep a gap between rows
    fig.get_layout_engine().set(hspace=0.06)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, head in zip(axes, heads.itertuples(index=False), strict=False):
        rows = table[table["head_index"] == head.head_index].sort_values("token_id")
        knockout_scatter(
            ax,
            rows["logit_original"].to_numpy(),
            rows["logit_knockout"].to_numpy(),
            rows["token"].astype(str).tolist(),
            n_labels,
            fontsize=6.0,
        )
        ax.set_title(head_label(head.seed, head.layer, head.head), fontsize=9)
        ax.set_xlabel("original logit", fontsize=8)
        ax.set_ylabel("knocked-out logit", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_axis_off()
    fig.suptitle(
        f"Knockout of every head of attention cluster {meta['cluster']} ({n} heads): "
        "last-position logits\n" + prompt_lines(meta, int(3.6 * ncols * 72 / (11 * 0.6))),
        fontsize=11,
    )
    fig.legend(handles=_legend_handles(), loc="outside lower center", ncols=2, fontsize=7)
    return fig


def pca_figure(
    table: pd.DataFrame,
    explained: Sequence[float],
    seeds: Sequence[int],
    n_prompts: int,
    names: Sequence[str] | None = None,
) -> Figure:
    """Fig. 14: heads on the first two PCs of their knockout effects, colour = cluster,
    marker = model, each point labelled with its layer and head.

    table: knockout_pca.tsv (``head_index, seed, layer, head, pc1, pc2, cluster``)
    names: a pretrained family's model names, in seeds order (legend: "model <seed>" without)
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    fig = new_figure(9.5, 6.5)
    # legends get their own narrow axes: beside the plot, under the title, never clipped
    ax, legend_ax = fig.subplots(1, 2, width_ratios=[6, 1])
    legend_ax.set_axis_off()
    clusters = sorted(table["cluster"].unique())
    cmap = colormaps["tab10" if len(clusters) <= 10 else "tab20"]
    cluster_color = {c: cmap(i % cmap.N) for i, c in enumerate(clusters)}
    model_marker = {s: MARKERS[i % len(MARKERS)] for i, s in enumerate(seeds)}
    for seed, rows in table.groupby("seed", sort=False):
        ax.scatter(
            rows["pc1"],
            rows["pc2"],
            c=[cluster_color[c] for c in rows["cluster"]],
            marker=model_marker[seed],
            s=45,
            edgecolors="black",
            linewidths=0.4,
            zorder=2,
        )
    ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f} % of variance)")
    ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f} % of variance)")
    fig.suptitle(
        "Knockout effect of every head on next-token probabilities, PCA over heads\n"
        f"(knocked-out − original softmax over the vocabulary at the last position, "
        f"{n_prompts} held-out prompts concatenated)",
        fontsize=10,
    )
    ax.axhline(0, color="0.85", lw=0.6, zorder=0)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    cluster_handles = [
        Line2D([], [], ls="", marker="o", color=cluster_color[c], label=f"cluster {c}")
        for c in clusters
    ]
    model_label = (
        dict(zip(seeds, names, strict=True)) if names else {s: f"model {s}" for s in seeds}
    )
    model_handles = [
        Line2D([], [], ls="", marker=model_marker[s], color="0.4", label=model_label[s])
        for s in seeds
    ]
    first = legend_ax.legend(
        handles=cluster_handles, title="attention cluster", loc="upper left",
        fontsize=7, title_fontsize=8,
    )  # fmt: skip
    legend_ax.add_artist(first)
    legend_ax.legend(
        handles=model_handles, title="model" if names else "model (seed)", loc="lower left",
        fontsize=7, title_fontsize=8,
    )  # fmt: skip
    labels = [f"L{r.layer}H{r.head}" for r in table.itertuples(index=False)]
    omitted = annotate_without_overlap(ax, table[["pc1", "pc2"]].to_numpy(), labels, 6.0,
                                       offset=(3.0, 3.0), color="0.25")  # fmt: skip
    if omitted:
        ax.set_title(omitted_note(omitted, len(labels)), fontsize=7, color="0.35")
    return fig
