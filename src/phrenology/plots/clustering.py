"""Figs. 2–6: embedding distances, the kNN graph, the γ sweep, the clusters and their patterns."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from phrenology.analysis.heads import head_labels, pair_index
from phrenology.plots import model_colors, new_figure
from phrenology.plots.text import annotate_without_overlap, omitted_note

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _labels(heads: pd.DataFrame) -> list[str]:
    return head_labels(heads)


def _tick_size(n: int) -> float:
    """Font size that keeps n tick labels legible on a ~9-inch axis."""
    return float(np.clip(400 / max(n, 1), 3.5, 8))


def cluster_colors(labels: np.ndarray) -> dict[int, tuple[float, float, float, float]]:
    """A colour per cluster label (Dark2 up to eight clusters, tab20, then a continuous map)."""
    from matplotlib import colormaps

    uniq = sorted(np.unique(labels))
    if len(uniq) <= 20:  # Dark2, not tab10: cluster colours must not look like model colours
        cmap = colormaps["Dark2" if len(uniq) <= 8 else "tab20"]
        return {c: cmap(i) for i, c in enumerate(uniq)}
    cmap = colormaps["turbo"]
    return {c: cmap(i / (len(uniq) - 1)) for i, c in enumerate(uniq)}


def _model_legend(ax: Axes, seeds: list[int], colors: dict, title: str = "model (seed)") -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=colors[s], label=str(s)) for s in seeds]
    ax.legend(handles=handles, title=title, fontsize=7, title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)  # fmt: skip


def plot_embedding_distances(dist: np.ndarray, heads: pd.DataFrame, clusters: np.ndarray) -> Figure:
    """Fig. 2: distance heatmap in hierarchical-clustering (average linkage) leaf order, with its
    dendrogram and strips giving each head's model and Leiden cluster.

    dist: float[n, n]; heads: heads.tsv; clusters: int[n] (clusters.tsv, heads.tsv order)
    """
    from matplotlib.colors import ListedColormap
    from scipy.cluster.hierarchy import dendrogram, linkage
    from scipy.spatial.distance import squareform

    n = len(dist)
    condensed = squareform(np.asarray(dist, dtype=np.float64), checks=False)
    tree = linkage(condensed, method="average", optimal_ordering=True)
    fig = new_figure(10, 9.6)
    gs = fig.add_gridspec(2, 4, width_ratios=[0.35, 0.35, 12, 0.4], height_ratios=[1.6, 12])
    ax_tree = fig.add_subplot(gs[0, 2])
    order = dendrogram(tree, ax=ax_tree, no_labels=True, color_threshold=0,
                       above_threshold_color="0.3")["leaves"]  # fmt: skip
    ax_tree.set_axis_off()
    ax_tree.set_title("Fig. 2 — Euclidean distances between head embeddings "
                      "(average-linkage leaf order)", fontsize=11)  # fmt: skip

    ax = fig.add_subplot(gs[1, 2])
    im = ax.imshow(dist[np.ix_(order, order)], cmap="viridis_r", interpolation="nearest",
                   aspect="auto")  # fmt: skip
    labels = np.array(_labels(heads))[order]
    size = _tick_size(n)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=size)
    ax.set_xlabel("head (model seed, layer, head)")
    fig.colorbar(im, cax=fig.add_subplot(gs[1, 3]), label="distance")

    seeds = list(dict.fromkeys(heads["seed"]))
    mcol = model_colors(seeds)
    ax_m = fig.add_subplot(gs[1, 0], sharey=ax)
    seed_idx = {s: i for i, s in enumerate(seeds)}
    ax_m.imshow(np.array([[seed_idx[s]] for s in heads["seed"].to_numpy()[order]]),
                cmap=ListedColormap([mcol[s] for s in seeds]), aspect="auto",
                interpolation="nearest", vmin=-0.5, vmax=len(seeds) - 0.5)  # fmt: skip
    ax_m.set_xticks([0], ["model"], rotation=90, fontsize=8)
    ax_m.set_yticks(range(n), labels, fontsize=size)
    ccol = cluster_colors(clusters)
    cl_uniq = sorted(ccol)
    ax_c = fig.add_subplot(gs[1, 1], sharey=ax)
    cl_idx = {c: i for i, c in enumerate(cl_uniq)}
    ax_c.imshow(np.array([[cl_idx[c]] for c in np.asarray(clusters)[order]]),
                cmap=ListedColormap([ccol[c] for c in cl_uniq]), aspect="auto",
                interpolation="nearest", vmin=-0.5, vmax=len(cl_uniq) - 0.5)  # fmt: skip
    ax_c.set_xticks([0], ["cluster"], rotation=90, fontsize=8)
    ax_c.tick_params(axis="y", left=False, labelleft=False)
    ax.tick_params(axis="y", left=False, labelleft=False)  # labels sit on the model strip
    for i, c in enumerate(np.asarray(clusters)[order]):
        ax_c.text(0, i, str(c), ha="center", va="center", fontsize=size * 0.8, color="white")
    return fig


def plot_knn_graph(xy: np.ndarray, edges: pd.DataFrame, heads: pd.DataFrame, k: int) -> Figure:
    """Fig. 3: the kNN graph drawn on the UMAP layout, heads coloured by model.

    xy: float[n, 2] UMAP layout; edges: knn_edges.tsv (source, target, weight)
    """
    from matplotlib.collections import LineCollection

    fig = new_figure(9, 7.5)
    ax = fig.add_subplot()
    seg = np.stack([xy[edges["source"].to_numpy()], xy[edges["target"].to_numpy()]], axis=1)
    w = edges["weight"].to_numpy(dtype=float)
    unweighted = np.allclose(w, 1)
    widths = 0.8 if unweighted else 0.3 + 1.7 * w / w.max()
    ax.add_collection(LineCollection(seg, colors="0.45", linewidths=widths, alpha=0.55, zorder=1))
    seeds = list(dict.fromkeys(heads["seed"]))
    colors = model_colors(seeds)
    ax.scatter(xy[:, 0], xy[:, 1], c=[colors[s] for s in heads["seed"]], s=36,
               edgecolors="black", linewidths=0.4, zorder=2)  # fmt: skip
    ax.autoscale()
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    weighted = "" if unweighted else "; line width ∝ similarity weight"
    ax.set_title(f"Fig. 3 — {k}-nearest-neighbour graph of head embeddings on a UMAP layout\n"
                 f"({len(xy)} heads, {len(edges)} undirected edges{weighted})", fontsize=11)  # fmt: skip
    _model_legend(ax, seeds, colors)
    omitted = annotate_without_overlap(ax, xy, _labels(heads), _tick_size(len(xy)) * 0.9,
                                       color="0.25", zorder=3)  # fmt: skip
    _caption(fig, omitted_note(omitted, len(xy)))
    return fig


def _caption(fig: Figure, text: str) -> None:
    """A small note under the axes (constrained layout makes room for it)."""
    if text:
        fig.supxlabel(text, fontsize=7, color="0.35")


SWEEP_PANELS = [
    ("f_score", "mean F score"),
    ("precision", "mean precision"),
    ("recall", "mean recall"),
    ("silhouette", "mean silhouette"),
    ("n_clusters", "number of clusters"),
]


def plot_gamma_sweep(sweep: pd.DataFrame) -> Figure:
    """Fig. 4: F, precision, recall, silhouette and number of clusters against γ; the selected
    γ marked."""
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(11, 6.5)
    axes = fig.subplots(2, 3).ravel()
    chosen = sweep[sweep["selected"].astype(str).str.lower() == "true"]
    g_best = float(chosen["gamma"].iloc[0]) if len(chosen) else None
    for ax, (col, label) in zip(axes, SWEEP_PANELS, strict=False):
        ax.scatter(sweep["gamma"], sweep[col], s=6, color="black", alpha=0.6, linewidths=0)
        if g_best is not None:
            ax.axvline(g_best, color="tab:red", ls="--", lw=1)
            ax.scatter([g_best], chosen[col], s=40, color="tab:red", zorder=3)
        ax.set_xlabel("resolution γ")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if col == "n_clusters":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_axis_off()
    if g_best is not None:
        row = chosen.iloc[0]
        axes[-1].text(0.05, 0.5,
                      f"selected (red): γ = {g_best:.3f}\n{int(row['n_clusters'])} clusters\n"
                      f"F = {row['f_score']:.3f}\nprecision = {row['precision']:.3f}\n"
                      f"recall = {row['recall']:.3f}\nsilhouette = {row['silhouette']:.3f}\n\n"
                      f"{len(sweep)} γ values; highest F wins,\nties: higher silhouette, "
                      "then smaller γ", transform=axes[-1].transAxes, va="center",
                      fontsize=9)  # fmt: skip
    fig.suptitle("Fig. 4 — Leiden clusterings over the resolution sweep", fontsize=12)
    return fig


def plot_clusters_umap(
    xy: np.ndarray, heads: pd.DataFrame, clusters: np.ndarray, gamma: float
) -> Figure:
    """Fig. 5: the UMAP layout coloured by Leiden cluster (left) and by model (right)."""
    fig = new_figure(14, 6.2)
    ax_c, ax_m = fig.subplots(1, 2)
    clusters = np.asarray(clusters)
    ccol = cluster_colors(clusters)
    ax_c.scatter(xy[:, 0], xy[:, 1], c=[ccol[c] for c in clusters], s=40, edgecolors="black",
                 linewidths=0.4, zorder=3)  # fmt: skip
    for c in sorted(ccol):  # the number just above the cluster's highest head
        members = xy[clusters == c]
        ax_c.annotate(str(c), (members[:, 0].mean(), members[:, 1].max()), xytext=(0, 7),
                      textcoords="offset points", fontsize=11, fontweight="bold", ha="center",
                      va="bottom", color=ccol[c], zorder=4,
                      bbox={"facecolor": "white", "alpha": 0.7, "lw": 0,
                            "boxstyle": "round,pad=0.15"})  # fmt: skip
    ax_c.set_title(f"by Leiden cluster (γ = {gamma:.3f}, {len(ccol)} clusters)")
    from matplotlib.lines import Line2D

    n_col = 1 if len(ccol) <= 16 else 2
    ax_c.legend(handles=[Line2D([], [], ls="", marker="o", color=ccol[c], label=str(c))
                         for c in sorted(ccol)], title="cluster", fontsize=7, ncol=n_col,
                loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)  # fmt: skip
    seeds = list(dict.fromkeys(heads["seed"]))
    mcol = model_colors(seeds)
    ax_m.scatter(xy[:, 0], xy[:, 1], c=[mcol[s] for s in heads["seed"]], s=40,
                 edgecolors="black", linewidths=0.4)  # fmt: skip
    ax_m.set_title("by model")
    _model_legend(ax_m, seeds, mcol)
    for ax in (ax_c, ax_m):
        ax.margins(0.08)  # room for the cluster numbers above the points
        ax.set_xlabel("UMAP 1")
        ax.set_ylabel("UMAP 2")
    fig.suptitle("Fig. 5 — heads on the UMAP of their embeddings", fontsize=12)
    omitted = annotate_without_overlap(ax_m, xy, _labels(heads), _tick_size(len(xy)) * 0.85,
                                       color="0.3")  # fmt: skip
    _caption(fig, omitted_note(omitted, len(xy)))
    return fig


MAX_CLUSTER_PANELS = 16


def plot_cluster_patterns(
    mean_patterns: np.ndarray, heads: pd.DataFrame, clusters: np.ndarray
) -> Figure:
    """Fig. 6: every head's mean attention pattern (token pairs on or below the diagonal),
    heads grouped by cluster; below, each cluster's mean n_ctx × n_ctx pattern.

    mean_patterns: float[n_heads, n_ctx, n_ctx], the pattern averaged over prompts
    """
    n_heads, n_ctx, _ = mean_patterns.shape
    clusters = np.asarray(clusters)
    order = np.lexsort((np.arange(n_heads), clusters))  # by cluster, then head order
    query, key = pair_index(n_ctx)
    values = mean_patterns[:, query, key][order]  # [n_heads, n_pairs]
    uniq = sorted(np.unique(clusters))
    shown = sorted(uniq, key=lambda c: -(clusters == c).sum())[:MAX_CLUSTER_PANELS]
    shown.sort()
    n_cols = min(8, len(shown))
    n_rows_small = math.ceil(len(shown) / n_cols)
    fig = new_figure(12, 7 + 0.06 * n_heads + 1.7 * n_rows_small)
    top, bottom = fig.subfigures(2, 1, height_ratios=[4 + 0.06 * n_heads, 1.8 * n_rows_small])

    from matplotlib.colors import PowerNorm

    ax = top.subplots()
    # square-root scale: attention weights are in [0, 1] and mostly small; a linear scale
    # would show little beyond the always-1 pair (query 0, key 0)
    norm = PowerNorm(0.5, vmin=0.0, vmax=1.0)
    im = ax.imshow(values, aspect="auto", cmap="viridis", norm=norm, interpolation="nearest")
    labels = np.array(_labels(heads))[order]
    ax.set_yticks(range(n_heads), labels, fontsize=_tick_size(n_heads))
    starts = np.flatnonzero(np.r_[True, np.diff(clusters[order]) != 0])
    ends = np.r_[starts[1:], n_heads]
    for s, e in zip(starts, ends, strict=True):
        if s > 0:
            ax.axhline(s - 0.5, color="white", lw=1.5)
        ax.text(len(query) + 0.5, (s + e - 1) / 2, f"cluster {clusters[order][s]}",
                va="center", ha="left", fontsize=min(8.0, _tick_size(n_heads) + 1), clip_on=False)  # fmt: skip
    block = np.flatnonzero(key == 0)  # first pair of each query position
    centres, names, last = [], [], -np.inf
    for q, b in enumerate(block):
        centre = b + q / 2  # block q holds q + 1 pairs
        if centre - last >= 2.5:  # skip labels that would collide on narrow blocks
            centres.append(centre)
            names.append(f"q{q}")
            last = centre
    ax.set_xticks(centres, names, fontsize=7)
    for b in block[1:]:
        ax.axvline(b - 0.5, color="white", lw=0.4, alpha=0.6)
    ax.set_xlabel("token pair: blocks of query position q, keys 0…q within each block")
    ax.set_ylabel("head (model seed, layer, head)")
    ax.set_title("mean attention weight per token pair, heads grouped by Leiden cluster")
    top.colorbar(im, ax=ax, label="mean attention weight (square-root scale)", pad=0.07,
                 shrink=0.8)  # fmt: skip

    small = np.atleast_1d(bottom.subplots(n_rows_small, n_cols, squeeze=False)).ravel()
    for ax_s, c in zip(small, shown, strict=False):
        mean = mean_patterns[clusters == c].mean(axis=0)
        ax_s.imshow(np.where(np.tril(np.ones((n_ctx, n_ctx))) > 0, mean, np.nan), cmap="viridis",
                    norm=norm)  # fmt: skip
        ax_s.set_title(f"cluster {c} (n={int((clusters == c).sum())})", fontsize=8)
        ax_s.set_xticks([0, n_ctx - 1])
        ax_s.set_yticks([0, n_ctx - 1])
        ax_s.tick_params(labelsize=6)
        ax_s.set_xlabel("key", fontsize=7, labelpad=1)
        ax_s.set_ylabel("query", fontsize=7, labelpad=1)
    for ax_s in small[len(shown) :]:
        ax_s.set_visible(False)
    more = f" ({len(shown)} largest of {len(uniq)})" if len(shown) < len(uniq) else ""
    bottom.suptitle(f"cluster mean patterns{more}", fontsize=10)
    fig.suptitle("Fig. 6 — attention patterns grouped by cluster", fontsize=12)
    return fig
