"""The verdict (issue 12, item 7): every statistic in one summary, one row per cluster, and a
plain-language paragraph that says what the numbers do and do not support."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from phrenology.analysis.heads import head_label
from phrenology.statistics.stability import STABLE, UNSTABLE, stability_label

if TYPE_CHECKING:
    import pandas as pd


def cluster_table(
    clusters: pd.DataFrame,
    archetypes: pd.DataFrame,
    stability: pd.DataFrame,
    families: pd.DataFrame,
    f_p: dict[int, float],
) -> pd.DataFrame:
    """One row per attention cluster: heads, models covered, archetype, bootstrap Jaccard,
    the permutation p of its F, and the head family (embedding matching) it overlaps most.

    clusters: clusters.tsv; archetypes: cluster_archetypes.tsv (cluster, archetype,
    archetype_score, …); stability: cluster_stability.tsv (cluster, jaccard_bootstrap, …);
    families: families.tsv rows of one space (family, p, members); f_p: cluster → p
    """
    import pandas as pd

    n_models = clusters["seed"].nunique()
    fams = [(int(r.family), float(r.p), set(map(int, str(r.members).split())))
            for r in families.itertuples(index=False)]  # fmt: skip
    rows = []
    for c, members in clusters.groupby("cluster", sort=True):
        heads = set(members["head_index"].astype(int))
        best = max(fams, key=lambda f: len(f[2] & heads) / len(f[2] | heads), default=None)
        overlap = len(best[2] & heads) / len(best[2] | heads) if best else 0.0
        rows.append(
            {
                "cluster": int(c),
                "size": len(members),
                "models_covered": int(members["seed"].nunique()),
                "n_models": n_models,
                "f_p": f_p[int(c)],
                "family": best[0] if best and overlap > 0 else None,
                "family_jaccard": overlap,
                "family_p": best[1] if best and overlap > 0 else None,
                "heads": ", ".join(
                    head_label(r.seed, r.layer, r.head) for r in members.itertuples(index=False)
                ),
            }
        )
    table = pd.DataFrame(rows)
    table = table.merge(archetypes, on="cluster", how="left").merge(
        stability, on="cluster", how="left"
    )
    table["stability"] = [stability_label(j) for j in table["jaccard_bootstrap"]]
    first = ["cluster", "size", "models_covered", "n_models", "archetype", "archetype_score",
             "jaccard_bootstrap", "stability", "f_p", "family", "family_jaccard", "family_p"]  # fmt: skip
    return table[[*first, *[c for c in table.columns if c not in first]]]


def build_summary(
    alpha: float,
    min_fraction: float,
    null: dict[str, Any],
    matching: dict[str, Any],
    families: pd.DataFrame,
    stability: dict[str, Any],
    association: dict[str, Any],
    archetypes: pd.DataFrame,
    clusters: pd.DataFrame,
) -> dict[str, Any]:
    """Every headline number of the verdict in one JSON-able dict (summary.json)."""
    from phrenology.analysis.artificial import ARTIFICIAL_HEADS

    def family_list(space: str) -> list[dict[str, Any]]:
        heads = clusters.set_index("head_index")
        out = []
        for r in families[families["space"] == space].itertuples(index=False):
            members = [int(m) for m in str(r.members).split()]
            out.append({
                "family": int(r.family), "n_models": int(r.n_models),
                "consistency": float(r.consistency), "p": float(r.p),
                "heads": [head_label(int(heads.loc[m, "seed"]), int(heads.loc[m, "layer"]),
                                     int(heads.loc[m, "head"])) for m in members],
            })  # fmt: skip
        return out

    match = {"min_fraction": min_fraction}
    for space, kinds in matching.items():
        t, u = kinds["trained"], kinds["untrained"]
        fams = family_list(space)
        match[space] = {
            "relative_cost": t["relative_cost"],
            "p": t["p"],
            "null_mean": t["null_mean"],
            "untrained_relative_cost": u["relative_cost"],
            "untrained_p": u["p"],
            "n_families": len(fams),
            "n_families_significant": sum(f["p"] <= alpha for f in fams),
            "untrained_n_families": u["n_families"],
            "untrained_n_families_significant": sum(q <= alpha for q in u["families_p"]),
            "mean_counterparts": t["mean_counterparts"],
            "counterpart_threshold": t["counterpart_threshold"],
            "families": fams,
        }
    arch: dict[str, Any] = {
        "clusters": {
            int(r.cluster): {"archetype": r.archetype, "score": float(r.archetype_score)}
            for r in archetypes.itertuples(index=False)
        },
    }
    for art in ARTIFICIAL_HEADS:
        col = f"pct_{art}"
        if col in archetypes:
            row = archetypes.loc[archetypes[col].idxmin()]
            arch[art] = {
                "cluster": int(row["cluster"]),
                "percentile": float(row[col]),
                # nearer its centroid than every member: at the centre
                "n_clusters_at_centre": int((archetypes[col] == 0).sum()),
            }
    trained, untrained = null["trained"], null["untrained"]
    return {
        "alpha": alpha,
        "clustering_null": trained,
        "untrained": untrained,
        "matching": match,
        "stability": {
            k: v for k, v in stability.items() if k not in ("ari_bootstrap", "ari_seeds")
        },
        "association": association,
        "archetypes": arch,
        "head_families": [f for f in match["embedding"]["families"] if f["p"] <= alpha],
    }


def _fmt_p(p: float) -> str:
    return f"p = {p:.3g}"


def verdict_text(summary: dict[str, Any], family: bool = False) -> str:
    """One paragraph: the verdict and its uncertainty, in plain words.

    family: the models are a pretrained family, whose untrained baseline is a fresh
            initialisation of the architecture (not each model's own initial weights)
    """
    alpha = summary["alpha"]
    f = summary["clustering_null"]
    u = summary.get("untrained", {})
    m = summary["matching"]["embedding"]
    raw = summary["matching"]["raw_patterns"]
    st = summary["stability"]
    assoc = summary["association"]
    arch = summary["archetypes"]
    parts = []
    sig = f["p"] <= alpha
    parts.append(
        f"The best clustering scores F = {f['observed']:.3f}; shuffling which model each head "
        f"belongs to (same partitions, every γ, best kept) gives F = {f['null_mean']:.3f} on "
        f"average (95 % of shuffles below {f['null_q95']:.3f}), {_fmt_p(f['p'])}: "
        + (
            "the clusters hold one head per model more often than chance."
            if sig
            else f"not better than chance at α = {alpha:g}"
            + (
                " (lower than most shuffles: heads of the same model tend to cluster together)."
                if f["observed"] < f["null_median"]
                else "."
            )
        )
    )
    if u:
        parts.append(
            (
                "Freshly initialised models of the family's architecture"
                if family
                else "Untrained models of the same architecture and seeds"
            )
            + f" reach F = "
            f"{u['observed']:.3f} through the same path ({_fmt_p(u['p'])} against their own "
            "shuffles): "
            + (
                "untrained models score at least as high, so this score shows no effect of "
                "training beyond what architecture and token positions give."
                if u["observed"] >= f["observed"]
                else f"training raises the best F by {f['observed'] - u['observed']:.3f}."
            )
        )
    parts.append(
        f"One-to-one matching of heads between models costs {m['relative_cost']:.2f} of a random "
        f"pairing on the head embedding ({_fmt_p(m['p'])}) and {raw['relative_cost']:.2f} on the "
        f"raw patterns ({_fmt_p(raw['p'])}); "
        f"{m['n_families_significant']} head famil"
        + ("y" if m["n_families_significant"] == 1 else "ies")
        + f" matched across at least {summary['matching']['min_fraction']:.0%} of the models "
        f"{'is' if m['n_families_significant'] == 1 else 'are'} significant at α = {alpha:g} "
        f"(of {m['n_families']} found)."
    )
    parts.append(
        f"Of {st['n_clusters']} clusters, {st['n_stable']} are stable under resampling the prompts "
        f"(mean best-match Jaccard ≥ {STABLE}) and {st['n_unstable']} dissolve (< {UNSTABLE}); "
        f"a bootstrap replicate agrees with the reference clustering at ARI "
        f"{st['ari_bootstrap_mean']:.2f} on average."
    )
    parts.append(
        f"Heads that attend alike {'do' if assoc['mantel_p'] <= alpha else 'do not measurably'} "
        f"act alike when knocked out: Mantel r = {assoc['mantel_r']:.2f} "
        f"({_fmt_p(assoc['mantel_p'])}), ARI between attention and knockout clusters "
        f"{assoc['ari']:.2f} ({_fmt_p(assoc['ari_p'])})."
    )
    uni = arch["uniform"]
    parts.append(
        f"The uniform artificial head is nearest to the centre of cluster {uni['cluster']} "
        f"({uni['percentile']:.0f}th percentile of that cluster's members' distances to its "
        "centroid; 0 = closer than every member)"
        + (
            f", and closer than every member to the centre of {uni['n_clusters_at_centre']} of "
            f"the {st['n_clusters']} clusters: a diffuse cluster has the uniform head near its "
            "centre, so this alone does not name it a uniform-attention cluster."
            if uni.get("n_clusters_at_centre", 0) > 1
            else "."
        )
    )
    parts.append(
        "These are statements about this run only: the p-values are conditional on the trained "
        "models, the autoencoder and the kNN graph, and are not corrected across the tests."
    )
    return " ".join(parts)


def count_stable(jaccards: dict[int, float]) -> dict[str, int]:
    values = np.array(list(jaccards.values()), dtype=float)
    return {
        "n_clusters": len(values),
        "n_stable": int((values >= STABLE).sum()),
        "n_unstable": int((values < UNSTABLE).sum()),
    }
