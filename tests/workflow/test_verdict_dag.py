"""The quick DAG writes the verdict (issue 12, item 7), through the session's one quick run."""

from __future__ import annotations

import json

import pandas as pd
import pytest


@pytest.mark.integration
def test_quick_dag_writes_the_verdict(quick_dag):
    verdict = quick_dag / "results" / "verdict"
    summary = json.loads((verdict / "summary.json").read_text())
    for key in ("clustering_null", "untrained", "matching", "stability", "association",
                "archetypes", "head_families", "verdict"):  # fmt: skip
        assert key in summary, key
    for kind in ("clustering_null", "untrained"):
        s = summary[kind]
        assert 0 < s["p"] <= 1 and 0 < s["observed"] <= 1 and s["n_permutations"] >= 1
    # the observed best F is the sweep's best F
    sweep = pd.read_csv(quick_dag / "results" / "clustering" / "gamma_sweep.tsv", sep="\t")
    # the TSV keeps 8 significant digits
    assert abs(summary["clustering_null"]["observed"] - sweep["f_score"].max()) < 1e-6
    for space in ("embedding", "raw_patterns"):
        m = summary["matching"][space]
        assert 0 < m["p"] <= 1 and m["relative_cost"] > 0 and m["untrained_relative_cost"] > 0
    assert -1 <= summary["association"]["mantel_r"] <= 1
    assert 0 < summary["association"]["ari_p"] <= 1
    assert summary["stability"]["n_stable"] <= summary["stability"]["n_clusters"]
    assert len(summary["verdict"]) > 200

    clusters = pd.read_csv(verdict / "clusters.tsv", sep="\t")
    chosen = pd.read_csv(quick_dag / "results" / "clustering" / "clusters.tsv", sep="\t")
    assert sorted(clusters["cluster"]) == sorted(chosen["cluster"].unique())
    for col in ("heads", "models_covered", "archetype", "archetype_score", "jaccard_bootstrap",
                "f_p", "family_p", "pct_uniform"):  # fmt: skip
        assert col in clusters.columns, col
    assert clusters["size"].sum() == len(chosen)

    for fig in ("verdict_null", "verdict_consensus", "verdict_matching"):
        assert (quick_dag / "results" / "figures" / f"{fig}.png").stat().st_size > 10_000
    assert (quick_dag / "results" / "untrained" / "models" / "seed990" / "model.pt").is_file()
    metrics = json.loads((quick_dag / "results" / "metrics.json").read_text())
    assert metrics["verdict"]["best_f_p"] == summary["clustering_null"]["p"]
