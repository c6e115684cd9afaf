"""Verdict figure: the bootstrap consensus matrix in cluster order."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.verdict import plot_consensus

    clusters = io.read_tsv(snakemake.input.clusters, columns=[*HEAD_COLUMNS, "cluster"])
    n = len(clusters)
    consensus = io.load_npy(snakemake.input.consensus, shape=(n, n))
    table = io.read_tsv(snakemake.input.table, columns=["cluster", "jaccard_bootstrap"])
    fig = plot_consensus(consensus, clusters, clusters["cluster"].to_numpy(), table)
    save_figure(fig, snakemake.output[0])
