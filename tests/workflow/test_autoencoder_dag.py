"""The autoencoder and clustering rules in the DAG: fan-out per bottleneck, outputs of the quick run."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from phrenology.analysis.heads import HEAD_COLUMNS

from conftest import REPO, run_snakemake


def job_counts(stdout: str) -> dict[str, int]:
    """Parse Snakemake's 'Job stats' table of a dry run."""
    block = stdout.split("Job stats:", 1)[1]
    counts = {}
    for line in block.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def test_paper_config_fans_out_one_autoencoder_job_per_bottleneck(tmp_path):
    proc = run_snakemake(tmp_path, "-n", configfile=REPO / "config" / "config.yaml")
    counts = job_counts(proc.stdout)
    paper = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert counts["train_autoencoder"] == len(paper["autoencoder"]["bottlenecks"]) == 6
    for rule in ("select_autoencoder", "head_embedding", "pair_importance", "knn_graph",
                 "umap_layout", "leiden_sweep", "plot_fig01", "plot_fig06"):  # fmt: skip
        assert counts[rule] == 1, rule


def test_bottleneck_list_sets_the_fan_out(tmp_path, config_override):
    cfg = config_override({"autoencoder": {"bottlenecks": [2, 3, 5, 16]}})
    counts = job_counts(run_snakemake(tmp_path, "-n", configfile=cfg).stdout)
    assert counts["train_autoencoder"] == 4


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (
            {"autoencoder": {"perturbation": {"n_top_pairs": 137}}},
            "autoencoder.perturbation.n_top_pairs",
        ),
        ({"clustering": {"umap": {"n_neighbors": 24}}}, "clustering.umap.n_neighbors"),
        ({"clustering": {"n_iterations": 0}}, "clustering.n_iterations"),
        ({"autoencoder": {"bottlenecks": [256]}}, "autoencoder.bottlenecks"),
    ],
)
def test_inconsistent_config_names_the_key(change, key, config_override):
    from phrenology.pipeline.config import load_config
    from phrenology.pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(config_override(change))


@pytest.mark.integration
def test_quick_dag_produces_every_output(quick_dag, quick_config):
    res = quick_dag / "results"
    heads = pd.read_csv(res / "heads.tsv", sep="\t")
    n_heads = len(heads)
    ae = quick_config["autoencoder"]

    for k in ae["bottlenecks"]:
        for name in ("model.pt", "metrics.json", "history.tsv", "codes.npy"):
            assert (res / f"autoencoder/k{k}/{name}").stat().st_size > 0
    aic = pd.read_csv(res / "autoencoder/aic.tsv", sep="\t")
    # Table 1's columns, then the Gaussian-likelihood criteria beside them (docs/departures.md)
    assert list(aic.columns) == ["bottleneck", "n_layers", "mse", "aic", "selected",
                                 "n_values", "n_parameters", "gaussian_aic", "gaussian_bic"]  # fmt: skip
    assert sorted(aic["bottleneck"]) == sorted(ae["bottlenecks"])
    assert aic["selected"].sum() == 1
    np.testing.assert_allclose(
        aic["aic"], 2 * aic["bottleneck"] - 2 * np.log(aic["mse"]), rtol=1e-6
    )
    chosen = int(aic.loc[aic["selected"], "bottleneck"].iloc[0])
    assert aic.loc[aic["selected"], "aic"].iloc[0] == aic["aic"].min()
    table = pd.read_csv(res / "figures/table1_aic.tsv", sep="\t")
    pd.testing.assert_frame_equal(table, aic)
    assert "| bottleneck |" in (res / "figures/table1_aic.md").read_text()

    emb = np.load(res / "embedding/head_embedding.npy")
    assert emb.dtype == np.float32
    assert emb.shape == (n_heads, quick_config["capture"]["n_prompts"] * chosen)  # concat

    importance = pd.read_csv(res / "autoencoder/pair_importance.tsv", sep="\t")
    assert len(importance) == 16 * 17 // 2
    grid = pd.read_csv(res / "autoencoder/decoded_grid.tsv", sep="\t")
    assert grid["rank"].nunique() == ae["perturbation"]["n_top_pairs"]

    sweep = pd.read_csv(res / "clustering/gamma_sweep.tsv", sep="\t")
    assert len(sweep) == quick_config["clustering"]["n_gamma"]
    assert {"gamma", "n_clusters", "f_score", "precision", "recall", "silhouette"} <= set(
        sweep.columns
    )
    assert sweep["selected"].sum() == 1
    assert sweep.loc[sweep["selected"], "f_score"].iloc[0] == sweep["f_score"].max()

    clusters = pd.read_csv(res / "clustering/clusters.tsv", sep="\t")
    assert list(clusters.columns) == [*HEAD_COLUMNS, "cluster"]
    pd.testing.assert_frame_equal(clusters[HEAD_COLUMNS], heads[HEAD_COLUMNS])
    assert clusters["cluster"].min() == 1
    assert clusters["cluster"].nunique() == sweep.loc[sweep["selected"], "n_clusters"].iloc[0]

    for name in ("fig01_decoded_token_pairs", "fig02_embedding_distance", "fig03_knn_graph",
                 "fig04_gamma_sweep", "fig05_clusters_umap", "fig06_cluster_patterns"):  # fmt: skip
        png = res / f"figures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
