"""Fig. 8: the three 2-D maps of heads and artificial heads, side by side."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import load_heads
    from phrenology.analysis.projection import PROJECTION_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.projections import plot_projections

    p = snakemake.params
    heads = load_heads(snakemake.input.heads, p.seeds, p.n_layers, p.n_heads)
    table = io.read_tsv(snakemake.input.projections, columns=PROJECTION_COLUMNS)
    save_figure(plot_projections(table, heads, p.projection), snakemake.output[0])
