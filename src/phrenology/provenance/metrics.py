"""The run's headline numbers as one small JSON, for ``dvc metrics show`` / ``dvc metrics diff``.

Two results decide what the later figures show: the autoencoder bottleneck that
Table 1's AIC selects, and the Leiden clustering (γ) with the best F-score. Both are
already in TSV tables; DVC's metrics need JSON/YAML, so :func:`run_metrics` copies
them into one nested dict (DVC flattens it to ``autoencoder.aic.k2`` …).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phrenology.pipeline.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

AIC_COLUMNS = ("bottleneck", "mse", "aic", "selected")
CLUSTER_SCORES = ("f_score", "precision", "recall", "silhouette")


def _selected_row(table: pd.DataFrame, name: str) -> pd.Series:
    selected = table[table["selected"].astype(bool)]
    if len(selected) != 1:
        raise DataError(f"{name} marks {len(selected)} rows as selected; expected exactly one")
    return selected.iloc[0]


def run_metrics(aic: pd.DataFrame, sweep: pd.DataFrame) -> dict[str, Any]:
    """Table 1 and the chosen clustering as plain JSON-able numbers.

    aic: aic.tsv rows (bottleneck, mse, aic, selected), one per bottleneck
    sweep: gamma_sweep.tsv rows (gamma, n_clusters, f_score, precision, recall,
        silhouette, selected), one per resolution
    """
    ae = _selected_row(aic, "aic.tsv")
    best = _selected_row(sweep, "gamma_sweep.tsv")
    rows = aic.sort_values("bottleneck")
    return {
        "autoencoder": {
            "selected_bottleneck": int(ae["bottleneck"]),
            "aic": {
                f"k{int(b)}": float(v) for b, v in zip(rows["bottleneck"], rows["aic"], strict=True)
            },
            "mse": {
                f"k{int(b)}": float(v) for b, v in zip(rows["bottleneck"], rows["mse"], strict=True)
            },
        },
        "clustering": {
            "gamma": float(best["gamma"]),
            "n_clusters": int(best["n_clusters"]),
            **{k: float(best[k]) for k in CLUSTER_SCORES},
        },
    }


def verdict_metrics(summary: dict[str, Any]) -> dict[str, Any]:
    """The verdict's headline numbers (results/verdict/summary.json) for ``dvc metrics``."""
    null, untrained = summary["clustering_null"], summary["untrained"]
    match, st, assoc = summary["matching"], summary["stability"], summary["association"]
    return {
        "best_f": null["observed"],
        "best_f_null_mean": null["null_mean"],
        "best_f_p": null["p"],
        "untrained_best_f": untrained["observed"],
        "untrained_best_f_p": untrained["p"],
        "matching_relative_cost": match["embedding"]["relative_cost"],
        "matching_p": match["embedding"]["p"],
        "matching_raw_relative_cost": match["raw_patterns"]["relative_cost"],
        "matching_raw_p": match["raw_patterns"]["p"],
        "n_families_significant": match["embedding"]["n_families_significant"],
        "n_stable_clusters": st["n_stable"],
        "n_clusters": st["n_clusters"],
        "bootstrap_ari_mean": st["ari_bootstrap_mean"],
        "mantel_r": assoc["mantel_r"],
        "mantel_p": assoc["mantel_p"],
        "knockout_ari": assoc["ari"],
        "knockout_ari_p": assoc["ari_p"],
    }
