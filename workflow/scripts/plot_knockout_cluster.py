"""Fig. 13: the Fig. 12 scatter for every head of one attention cluster."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.knockout import cluster_figure

    table = io.read_parquet(snakemake.input.table)
    fig = cluster_figure(table, io.read_json(snakemake.input.meta), snakemake.params.n_labels)
    save_figure(fig, snakemake.output[0])
