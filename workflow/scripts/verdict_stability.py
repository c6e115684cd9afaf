"""Stability of the chosen clustering: bootstrap chunks and Leiden-seed replicates summarised."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import numpy as np
    import pandas as pd

    from phrenology.analysis.clustering import SWEEP_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.stability import seed_replicates, stability_summary
    from phrenology.statistics.verdict import count_stable

    p = snakemake.params
    clusters = io.read_tsv(snakemake.input.clusters, columns=["head_index", "cluster"])
    reference = clusters["cluster"].to_numpy()
    boot = np.concatenate([io.load_npy(c, ndim=2) for c in snakemake.input.chunks])
    sweep = io.read_tsv(snakemake.input.sweep, columns=[*SWEEP_COLUMNS, "selected"])
    gamma = float(sweep.loc[sweep["selected"].astype(str).str.lower() == "true", "gamma"].iloc[0])
    embedding = io.load_npy(snakemake.input.embedding, ndim=2)
    seeds = range(p.leiden_seed + 1, p.leiden_seed + 1 + p.n_leiden_seeds)
    seeded = seed_replicates(embedding, p.k, p.edge_weights, gamma, seeds, p.n_iterations)
    b, s = stability_summary(reference, boot), stability_summary(reference, seeded)
    table = pd.DataFrame(
        {
            "cluster": list(b["jaccard"]),
            "jaccard_bootstrap": list(b["jaccard"].values()),
            "jaccard_seeds": [s["jaccard"][c] for c in b["jaccard"]],
        }
    )
    summary = {
        "gamma": gamma,
        "n_bootstrap": len(boot),
        "n_leiden_seeds": len(seeded),
        "ari_bootstrap_mean": float(b["ari"].mean()),
        "ari_bootstrap_q05": float(np.quantile(b["ari"], 0.05)),
        "ari_bootstrap": [float(a) for a in b["ari"]],
        "ari_seeds_mean": float(s["ari"].mean()),
        "ari_seeds": [float(a) for a in s["ari"]],
        **count_stable(b["jaccard"]),
    }
    io.save_npy(snakemake.output.consensus, b["consensus"])
    io.write_tsv(snakemake.output.table, table)
    io.write_json(snakemake.output.summary, summary)
    print(table.to_string(index=False))
