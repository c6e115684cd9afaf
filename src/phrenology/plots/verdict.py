"""The verdict's figures: the null of the best F, the consensus matrix, cross-model matching."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.heads import head_label
from phrenology.plots import model_colors, new_figure

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


def _tick_size(n: int) -> float:
    return float(np.clip(400 / max(n, 1), 3.5, 8))


def plot_null(null: pd.DataFrame, summary: dict[str, Any]) -> Figure:
    """Histogram of the label-permutation null of the best F (trained, untrained models), the
    observed value marked. null: null_f.tsv (permutation, trained, untrained); summary: null.json
    """
    fig = new_figure(9.0, 3.6)
    axes = fig.subplots(1, 2, sharex=True)
    titles = {
        "trained": "trained models",
        "untrained": "untrained models (same seeds, no training)",
    }
    lo = min(null[["trained", "untrained"]].min().min(), *(summary[k]["observed"] for k in titles))
    hi = max(null[["trained", "untrained"]].max().max(), *(summary[k]["observed"] for k in titles))
    bins = np.linspace(lo - 0.01, hi + 0.01, 31)
    for ax, (kind, title) in zip(axes, titles.items(), strict=True):
        s = summary[kind]
        ax.hist(null[kind], bins=bins, color="0.7", edgecolor="0.4", label="shuffled model labels")
        ax.axvline(s["observed"], color="tab:red", lw=2, label=f"observed {s['observed']:.3f}")
        ax.axvline(
            s["null_q95"],
            color="0.2",
            ls="--",
            lw=1,
            label=f"95 % of null below {s['null_q95']:.3f}",
        )
        ax.set_title(f"{title}\np = {s['p']:.3g} ({len(null)} shuffles)", fontsize=9)
        ax.set_xlabel("best F over every γ of the sweep")
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    axes[0].set_ylabel("shuffles")
    fig.suptitle("Is one head per model per cluster more than chance?", fontsize=10)
    return fig


def cluster_order(clusters: np.ndarray) -> np.ndarray:
    """Head indices grouped by cluster (clusters in label order), heads.tsv order within."""
    clusters = np.asarray(clusters)
    return np.lexsort((np.arange(len(clusters)), clusters))


def plot_consensus(
    consensus: np.ndarray, heads: pd.DataFrame, clusters: np.ndarray, table: pd.DataFrame
) -> Figure:
    """Co-clustering share over bootstrap replicates, heads in cluster order, cluster blocks
    outlined and labelled with their bootstrap Jaccard.

    consensus: float[n, n]; heads: clusters.tsv (seed, layer, head); clusters: int[n];
    table: verdict clusters.tsv (cluster, jaccard_bootstrap, stability, archetype)
    """
    from matplotlib.patches import Rectangle

    order = cluster_order(clusters)
    n = len(order)
    size = 4.5 + 0.06 * n
    fig = new_figure(size + 1.8, size)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(consensus[np.ix_(order, order)], cmap="viridis", vmin=0, vmax=1)
    labels = [head_label(*heads.iloc[i][["seed", "layer", "head"]].astype(int)) for i in order]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=_tick_size(n))
    ax.set_yticks(range(n), labels, fontsize=_tick_size(n))
    info = table.set_index("cluster")
    sorted_c = np.asarray(clusters)[order]
    for c in np.unique(sorted_c):
        idx = np.flatnonzero(sorted_c == c)
        a, b = idx[0] - 0.5, idx[-1] + 0.5
        ax.add_patch(Rectangle((a, a), b - a, b - a, fill=False, ec="white", lw=1.2))
        j = info.loc[c, "jaccard_bootstrap"] if c in info.index else np.nan
        ax.text(n - 0.2, (a + b) / 2, f"C{c}: J={j:.2f}", color="tab:red", fontsize=7,
                va="center", ha="left", clip_on=False)  # fmt: skip
    fig.colorbar(im, ax=ax, shrink=0.7, label="share of bootstrap replicates in the same cluster")
    ax.set_title(
        "Stability: how often two heads share a cluster when the prompts are resampled\n"
        "(boxes: the reference clusters; J = mean best-match Jaccard, ≥ 0.75 stable, < 0.5 not)",
        fontsize=9,
    )
    return fig


def plot_matching(
    partners: pd.DataFrame, heads: pd.DataFrame, families: pd.DataFrame, summary: dict[str, Any],
    space: str = "embedding",
) -> Figure:  # fmt: skip
    """Heads × models: the distance to each head's one-to-one partner in every other model
    (relative to that model pair's mean distance), counterparts closer than the null
    threshold marked; heads grouped by head family.

    partners: matching_heads.tsv; heads: clusters.tsv; families: families.tsv
    """
    from matplotlib.patches import Rectangle

    part = partners[partners["space"] == space]
    seeds = sorted(heads["seed"].unique())
    n = len(heads)
    rel = np.full((n, len(seeds)), np.nan)
    mark = np.zeros((n, len(seeds)), dtype=bool)
    col = {s: i for i, s in enumerate(seeds)}
    model_of = heads["seed"].to_numpy()
    for r in part.itertuples(index=False):
        rel[r.head_index, col[r.model]] = r.distance
        mark[r.head_index, col[r.model]] = bool(r.counterpart)
    # scale each head's row by the median partner distance overall: comparable colours
    scale = np.nanmedian(rel)
    rel = rel / scale if scale > 0 else rel
    fams = families[families["space"] == space]
    order, bounds, fam_names = [], [], []
    for r in fams.itertuples(index=False):
        members = [int(m) for m in str(r.members).split()]
        order.extend(members)
        bounds.append(len(order))
        fam_names.append(f"F{r.family} (p={r.p:.2g})")
    rest = [
        i for i in np.lexsort((np.arange(n), heads["cluster"].to_numpy())) if i not in set(order)
    ]
    order.extend(int(i) for i in rest)
    height = 2.5 + 0.12 * n
    fig = new_figure(max(7.0, 3.5 + 0.55 * len(seeds)), height)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(
        rel[order], cmap="magma_r", aspect="auto", vmin=0, vmax=np.nanquantile(rel, 0.95)
    )
    ys, xs = np.nonzero(mark[order])
    ax.scatter(xs, ys, s=10, c="tab:cyan", marker="o", label="counterpart (below the null's 5 %)")
    for i, h in enumerate(order):  # own model: no partner
        ax.add_patch(Rectangle((col[model_of[h]] - 0.5, i - 0.5), 1, 1, color="0.85"))
    start = 0
    for b, name in zip(bounds, fam_names, strict=True):
        ax.axhline(b - 0.5, color="tab:blue", lw=0.8)
        ax.text(len(seeds) - 0.4, (start + b) / 2 - 0.5, name, fontsize=6, va="center",
                ha="left", color="tab:blue", clip_on=False)  # fmt: skip
        start = b
    labels = [head_label(*heads.iloc[h][["seed", "layer", "head"]].astype(int)) for h in order]
    ax.set_yticks(range(n), labels, fontsize=_tick_size(n))
    ax.set_xticks(range(len(seeds)), [str(s) for s in seeds], fontsize=8)
    colors = model_colors(seeds)
    for t, s in zip(ax.get_yticklabels(), [model_of[h] for h in order], strict=True):
        t.set_color(colors[s])
    ax.set_xlabel("model (seed) the partner is in")
    s = summary.get(space, {}).get("trained", {})
    ax.set_title(
        f"One-to-one matching of heads across models\n({space.replace('_', ' ')} distances; "
        f"rows grouped by head family)\nmatched cost {s.get('relative_cost', float('nan')):.2f} "
        f"of a random pairing's, p = {s.get('p', float('nan')):.3g}",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, shrink=0.6, label="partner distance / median partner distance")
    fig.legend(fontsize=7, loc="outside lower center", frameon=False)
    return fig
