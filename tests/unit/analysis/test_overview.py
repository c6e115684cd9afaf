"""Aggregate views of many heads: counts by layer / model and cluster, distances between layers."""

import numpy as np
import pandas as pd
import pytest

from phrenology.analysis import overview
from phrenology.pipeline.errors import DataError


def heads_and_clusters(n_models=3, n_layers=2, n_heads=2, family=False):
    rows = [
        (m * n_layers * n_heads + layer * n_heads + h, m, layer, h)
        for m in range(n_models)
        for layer in range(n_layers)
        for h in range(n_heads)
    ]
    heads = pd.DataFrame(rows, columns=["head_index", "seed", "layer", "head"])
    if family:
        heads["model"] = [f"m{s}" for s in heads["seed"]]
    clusters = heads[["head_index", "seed", "layer", "head"]].copy()
    clusters["cluster"] = clusters["layer"] * 10 + (clusters["head"] == 0) * (clusters["seed"] % 2)
    return heads, clusters


def test_model_names_are_the_family_names_or_the_seeds():
    heads, _ = heads_and_clusters()
    assert overview.model_names(heads)[:5] == ["seed0"] * 4 + ["seed1"]
    family, _ = heads_and_clusters(family=True)
    assert overview.model_names(family)[-1] == "m2"


def test_counts_by_layer_and_by_model_add_up_to_every_head():
    heads, clusters = heads_and_clusters()
    layers = overview.layer_cluster_counts(clusters)
    assert layers.columns.tolist() == ["layer", "cluster", "n_heads"]
    assert layers["n_heads"].sum() == len(heads)
    for (layer, cluster), group in clusters.groupby(["layer", "cluster"]):
        row = layers[(layers["layer"] == layer) & (layers["cluster"] == cluster)]
        assert row["n_heads"].item() == len(group)
    # zero cells are kept: layer 0's heads are never in layer 1's clusters 10 and 11
    zeros = layers[layers["n_heads"] == 0]
    assert set(map(tuple, zeros[["layer", "cluster"]].to_numpy())) == {
        (0, 10),
        (0, 11),
        (1, 0),
        (1, 1),
    }
    assert len(layers) == clusters["layer"].nunique() * clusters["cluster"].nunique()
    models = overview.model_cluster_counts(clusters, overview.model_names(heads))
    assert models["model"].drop_duplicates().tolist() == ["seed0", "seed1", "seed2"]
    assert models["n_heads"].sum() == len(heads)
    one = models[(models["model"] == "seed1") & (models["cluster"] == 1)]["n_heads"].item()
    assert one == 1  # seed 1 (odd): head 0 of layer 0 is alone in cluster 1


def test_layer_distances_average_pairs_of_different_models_only():
    heads, _ = heads_and_clusters(n_models=2, n_layers=2, n_heads=1)
    # heads: (m0 L0), (m0 L1), (m1 L0), (m1 L1)
    d = np.array([[0, 1, 2, 3], [1, 0, 4, 5], [2, 4, 0, 6], [3, 5, 6, 0]], dtype=float)
    table = overview.layer_distances(d, heads).set_index(["layer_a", "layer_b"])
    assert table.loc[(0, 0), "mean_distance"] == 2  # m0 L0 – m1 L0 only
    assert table.loc[(0, 1), "mean_distance"] == (3 + 4) / 2  # m0L0–m1L1, m1L0–m0L1
    assert table.loc[(1, 1), "mean_distance"] == 5
    assert table.loc[(0, 1), "n_pairs"] == 2
    with pytest.raises(DataError, match=r"heads\.tsv lists 4"):
        overview.layer_distances(d[:3, :3], heads)
