"""Verdict figure: heads × models map of the one-to-one matching, grouped by head family."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.verdict import plot_matching

    partners = io.read_tsv(
        snakemake.input.partners,
        columns=["space", "head_index", "model", "partner", "distance", "counterpart"],
    )
    families = io.read_tsv(snakemake.input.families, columns=["space", "family", "p", "members"])
    clusters = io.read_tsv(snakemake.input.clusters, columns=[*HEAD_COLUMNS, "cluster"])
    fig = plot_matching(partners, clusters, families, io.read_json(snakemake.input.summary))
    save_figure(fig, snakemake.output[0])
