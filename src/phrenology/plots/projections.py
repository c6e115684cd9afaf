"""Fig. 8: PCA, UMAP and t-SNE maps of the heads plus the three artificial heads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from phrenology.analysis.artificial import ARTIFICIAL_HEADS, ARTIFICIAL_LABELS
from phrenology.analysis.heads import head_labels
from phrenology.pipeline.errors import DataError
from phrenology.pipeline.io import REBUILD_HINT
from phrenology.plots import model_colors, new_figure
from phrenology.plots.text import wrap_title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

ARTIFICIAL_COLORS = {"uniform": "black", "self": "dimgray", "self_previous": "lightgray"}
ARTIFICIAL_TAGS = {"uniform": "a", "self": "b", "self_previous": "c"}
LAYER_MARKERS = "os^Dv<>pPXh"
# A star with a black edge: tab10 has a grey of its own (8th model), so shape, not only
# the paper's black / grey shades, marks the artificial heads.
ARTIFICIAL_MARKER = "*"


def _method_titles(params: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    u, t = params["umap"], params["tsne"]
    umap_name = "densMAP" if u["densmap"] else "UMAP"
    return {
        "pca": ("PCA", "PC"),
        "umap": (
            f"{umap_name} (n_neighbors {u['n_neighbors']}, min_dist {u['min_dist']})",
            "UMAP ",
        ),
        "tsne": (f"t-SNE (perplexity {t['perplexity']})", "t-SNE "),
    }


def plot_projections(table: pd.DataFrame, heads: pd.DataFrame, params: Mapping[str, Any]) -> Figure:
    """table: projections.tsv (``point, kind, method, x, y``); heads: heads.tsv;
    params: ``analysis.projection`` (for the panel titles)."""
    from matplotlib.lines import Line2D

    seeds = list(dict.fromkeys(heads["seed"]))
    colors = model_colors(seeds)
    # a pretrained family's heads.tsv names its models; trained models go by their seed
    names = dict(
        zip(heads["seed"], heads["model"] if "model" in heads else heads["seed"], strict=True)
    )
    identity = dict(
        zip(head_labels(heads), zip(heads["seed"], heads["layer"], strict=True), strict=True)
    )
    unknown = sorted(set(table.loc[table["kind"] == "head", "point"]) - set(identity))
    if unknown:
        raise DataError(
            f"projections list heads that heads.tsv lacks: {unknown[:3]}; {REBUILD_HINT}"
        )
    n_layers = heads["layer"].nunique()
    titles = _method_titles(params)
    methods = [m for m in titles if m in set(table["method"])]

    fig = new_figure(5.0 * len(methods) + 2.2, 5.4)
    for i, method in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), i + 1)
        rows = table[table["method"] == method]
        real = rows[rows["kind"] == "head"]
        seed_layer = [identity[p] for p in real["point"]]
        for j, (_, r) in enumerate(real.iterrows()):
            seed, layer = seed_layer[j]
            ax.scatter(
                r["x"],
                r["y"],
                s=30,
                color=colors[seed],
                alpha=0.85,
                linewidths=0,
                marker=LAYER_MARKERS[layer % len(LAYER_MARKERS)],
            )
        for _, r in rows[rows["kind"] == "artificial"].iterrows():
            ax.scatter(
                r["x"],
                r["y"],
                s=170,
                color=ARTIFICIAL_COLORS[r["point"]],
                edgecolors="black",
                linewidths=0.8,
                marker=ARTIFICIAL_MARKER,
                zorder=3,
            )
            ax.annotate(
                f"({ARTIFICIAL_TAGS[r['point']]})",
                (r["x"], r["y"]),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize=9,
                fontweight="bold",
                zorder=4,
            )
        title, axis = titles[method]
        ax.set_title(wrap_title(title, 4.5), fontsize=10)
        ax.set_xlabel(f"{axis}1")
        ax.set_ylabel(f"{axis}2")

    handles = [
        Line2D([], [], linestyle="", marker="o", color=colors[s], label=f"model {names[s]}")
        for s in seeds
    ]
    if n_layers > 1:
        handles += [
            Line2D(
                [],
                [],
                linestyle="",
                marker=LAYER_MARKERS[la % len(LAYER_MARKERS)],
                color="black",
                markerfacecolor="none",
                label=f"layer {la}",
            )
            for la in sorted(heads["layer"].unique())
        ]
    handles += [
        Line2D(
            [],
            [],
            linestyle="",
            marker=ARTIFICIAL_MARKER,
            markersize=13,
            color=ARTIFICIAL_COLORS[a],
            markeredgecolor="black",
            label=ARTIFICIAL_LABELS[a],
        )
        for a in ARTIFICIAL_HEADS
    ]
    fig.legend(
        handles=handles,
        loc="outside right center",
        fontsize=8,
        title="points",
        title_fontsize=9,
        frameon=False,
    )
    title = (
        f"{len(heads)} attention heads of {len(seeds)} models and 3 artificial heads, "
        "each a point from its patterns on all prompts"
    )
    fig.suptitle(wrap_title(title, fig.get_figwidth(), 11), fontsize=11)
    return fig
