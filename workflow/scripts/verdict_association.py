"""Attention versus function: Mantel test and ARI of attention vs knockout-effect clusters."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import pandas as pd

    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.association import (
        cluster_agreement,
        distances_from_gram,
        effect_clusters,
        mantel,
    )

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    n = len(heads)
    attention = io.load_npy(snakemake.input.distances, shape=(n, n))
    effect = distances_from_gram(io.load_npy(snakemake.input.gram, shape=(n, n)))
    clusters = io.read_tsv(snakemake.input.clusters, columns=["head_index", "cluster"])
    labels = clusters["cluster"].to_numpy()
    m = mantel(attention, effect, p.n_permutations, p.seed)
    knock = effect_clusters(effect, len(set(labels)))
    a = cluster_agreement(labels, knock, p.n_permutations, p.seed)
    summary = {
        "mantel_r": m["r"],
        "mantel_p": m["p"],
        "mantel_null_q95": float(pd.Series(m["null"]).quantile(0.95)),
        "ari": a["ari"],
        "ari_p": a["p"],
        "ari_null_q95": float(pd.Series(a["null"]).quantile(0.95)),
        "n_clusters": len(set(labels)),
        "n_permutations": p.n_permutations,
    }
    io.write_json(snakemake.output.summary, summary)
    out = heads.copy()
    out["attention_cluster"], out["knockout_cluster"] = labels, knock
    io.write_tsv(snakemake.output.clusters, out)
    print(summary)
