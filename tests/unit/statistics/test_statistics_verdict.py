"""The verdict's assembly: summary.json, clusters.tsv, the paragraph, dvc metrics."""

from __future__ import annotations

import pandas as pd

from phrenology.provenance.metrics import verdict_metrics
from phrenology.statistics.verdict import build_summary, cluster_table, verdict_text


def inputs():
    clusters = pd.DataFrame({"head_index": range(6), "seed": [990, 990, 991, 991, 992, 992],
                             "layer": 0, "head": [0, 1, 0, 1, 0, 1],
                             "cluster": [1, 2, 1, 2, 1, 2]})  # fmt: skip
    null = {k: {"observed": f, "p": p, "null_mean": 0.6, "null_median": 0.6, "null_q95": 0.7,
                "n_permutations": 99} for k, f, p in (("trained", 0.9, 0.01), ("untrained", 0.5, 0.6))}  # fmt: skip
    kind = {"relative_cost": 0.4, "p": 0.01, "null_mean": 0.9, "n_families": 2,
            "families_p": [0.01, 0.5], "counterpart_threshold": 1.0, "mean_counterparts": 1.5}  # fmt: skip
    matching = {s: {"trained": kind, "untrained": {**kind, "relative_cost": 0.9}}
                for s in ("embedding", "raw_patterns")}  # fmt: skip
    families = pd.DataFrame({"space": ["embedding"] * 2 + ["raw_patterns"] * 2,
                             "family": [1, 2, 1, 2], "n_models": 3, "consistency": 1.0,
                             "p": [0.01, 0.5, 0.01, 0.5], "members": ["0 2 4", "1 3 5"] * 2})  # fmt: skip
    stability = {"n_clusters": 2, "n_stable": 1, "n_unstable": 0, "ari_bootstrap_mean": 0.8,
                 "ari_bootstrap": [0.8]}  # fmt: skip
    association = {"mantel_r": 0.3, "mantel_p": 0.02, "ari": 0.5, "ari_p": 0.04}
    archetypes = pd.DataFrame({"cluster": [1, 2], "archetype": ["previous", "mixed"],
                               "archetype_score": [0.9, 0.4], "pct_uniform": [50.0, 0.0]})  # fmt: skip
    return clusters, null, matching, families, stability, association, archetypes


def test_summary_table_text_and_metrics():
    clusters, null, matching, families, stability, association, archetypes = inputs()
    s = build_summary(0.05, 0.75, null, matching, families, stability, association,
                      archetypes, clusters)  # fmt: skip
    assert s["clustering_null"]["p"] == 0.01 and s["untrained"]["observed"] == 0.5
    assert s["matching"]["embedding"]["n_families_significant"] == 1
    assert s["head_families"][0]["heads"] == ["990 L0H0", "991 L0H0", "992 L0H0"]
    assert s["archetypes"]["uniform"] == {
        "cluster": 2,
        "percentile": 0.0,
        "n_clusters_at_centre": 1,
    }
    assert "ari_bootstrap" not in s["stability"]  # per-replicate lists stay in stability.json
    text = verdict_text(s)
    assert "p = 0.01" in text and "more often than chance" in text
    assert "training raises the best F by 0.400" in text and "do act alike" in text
    table = cluster_table(clusters, archetypes,
                          pd.DataFrame({"cluster": [1, 2], "jaccard_bootstrap": [0.9, 0.3]}),
                          families[families["space"] == "embedding"], {1: 0.01, 2: 0.7})  # fmt: skip
    assert table["family"].tolist() == [1, 2] and table["family_jaccard"].tolist() == [1.0, 1.0]
    assert table["stability"].tolist() == ["stable", "unstable"]
    assert table["models_covered"].tolist() == [3, 3] and table["f_p"].tolist() == [0.01, 0.7]
    m = verdict_metrics(s)
    assert m["best_f_p"] == 0.01 and m["n_stable_clusters"] == 1 and m["mantel_r"] == 0.3
