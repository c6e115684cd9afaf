"""results/metrics.json: Table 1 and the chosen clustering as DVC metrics."""

from __future__ import annotations

import pandas as pd
import pytest

from phrenology.pipeline.errors import DataError
from phrenology.provenance.metrics import run_metrics


def tables(aic_selected=(False, True), sweep_selected=(False, True, False)):
    aic = pd.DataFrame({"bottleneck": [8, 2], "n_layers": [10, 14], "mse": [0.1, 0.2],
                        "aic": [28.9, 16.7], "selected": list(aic_selected)})  # fmt: skip
    sweep = pd.DataFrame({"gamma": [0.1, 1.5, 2.0], "n_clusters": [1, 5, 9],
                          "f_score": [0.2, 0.7, 0.5], "precision": [0.1, 0.6, 0.9],
                          "recall": [1.0, 0.9, 0.4], "silhouette": [0.0, 0.1, 0.05],
                          "selected": list(sweep_selected)})  # fmt: skip
    return aic, sweep


def test_metrics_hold_table_1_and_the_selected_clustering():
    m = run_metrics(*tables())
    assert m["autoencoder"] == {"selected_bottleneck": 2, "aic": {"k2": 16.7, "k8": 28.9},
                                "mse": {"k2": 0.2, "k8": 0.1}}  # fmt: skip
    assert m["clustering"] == {"gamma": 1.5, "n_clusters": 5, "f_score": 0.7,
                               "precision": 0.6, "recall": 0.9, "silhouette": 0.1}  # fmt: skip


@pytest.mark.parametrize("which", ["aic", "sweep"])
def test_not_exactly_one_selected_row_is_an_error(which):
    bad = (
        tables(aic_selected=(True, True)) if which == "aic" else tables(sweep_selected=(False,) * 3)
    )
    with pytest.raises(DataError, match="expected exactly one"):
        run_metrics(*bad)
