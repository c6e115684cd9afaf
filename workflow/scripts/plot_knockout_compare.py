"""Fig. 12c: two heads of two models knocked out side by side."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.knockout_positions import compare_figure

    inp = snakemake.input
    fig = compare_figure(
        io.read_parquet(inp.table),
        io.read_tsv(inp.effects),
        io.read_json(inp.meta),
        snakemake.params.n_labels,
    )
    save_figure(fig, snakemake.output[0])
