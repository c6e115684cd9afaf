"""The head overview draws at the paper's size and at a 1,296-head family (9 × 12 × 12)."""

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis import overview
from phrenology.plots import save_figure
from phrenology.plots.overview import MAX_TICKS, overview_figure


def family(n_models, n_layers, n_heads, n_clusters, seed=0):
    rng = np.random.default_rng(seed)
    rows = [
        (m, layer, h) for m in range(n_models) for layer in range(n_layers) for h in range(n_heads)
    ]
    heads = pd.DataFrame(rows, columns=["seed", "layer", "head"])
    heads.insert(0, "head_index", range(len(heads)))
    heads["model"] = [f"pythia-160m-seed{s + 1}" for s in heads["seed"]]
    clusters = heads[["head_index", "seed", "layer", "head"]].copy()
    clusters["cluster"] = rng.integers(0, n_clusters, len(heads))
    x = rng.random((len(heads), 5))
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    return heads, clusters, d


@pytest.mark.parametrize(("shape", "n_clusters"), [((9, 1, 8), 7), ((9, 12, 12), 60)])
def test_overview_draws_with_capped_tick_labels(tmp_path, shape, n_clusters):
    heads, clusters, d = family(*shape, n_clusters)
    layers = overview.layer_cluster_counts(clusters)
    models = overview.model_cluster_counts(clusters, overview.model_names(heads))
    between = overview.layer_distances(d, heads)
    fig = overview_figure(layers, models, between, n_heads=len(heads))
    ax_layers, ax_models, ax_between = fig.axes[:3]  # then their three colour bars
    assert len(ax_models.get_yticklabels()) == shape[0]  # every model named
    assert models["model"].iloc[0] == ax_models.get_yticklabels()[0].get_text()
    assert 0 < len(ax_layers.get_xticklabels()) <= MAX_TICKS  # clusters: thinned beyond 40
    assert len(ax_between.get_xticklabels()) == shape[1]
    save_figure(fig, tmp_path / "overview.png")
    assert (tmp_path / "overview.png").read_bytes()[:4] == b"\x89PNG"
    assert f"Overview of {len(heads)} heads: {n_clusters} clusters" in fig.get_suptitle()
