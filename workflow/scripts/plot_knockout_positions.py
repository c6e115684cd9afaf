"""Fig. 12b: the Fig. 12 knockout at every position of the prompt."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.knockout_positions import positions_figure

    inp = snakemake.input
    fig = positions_figure(
        io.read_parquet(inp.table),
        io.read_tsv(inp.effects),
        io.read_json(inp.meta),
        snakemake.params.n_labels,
    )
    save_figure(fig, snakemake.output[0])
