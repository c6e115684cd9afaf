"""Fig. 8: the three 2-D maps of heads and artificial heads, side by side."""

from phrenology.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology import io
    from phrenology.head_inputs import load_heads
    from phrenology.plots import save_figure
    from phrenology.plots.projections import plot_projections
    from phrenology.projection import PROJECTION_COLUMNS

    p = snakemake.params
    heads = load_heads(snakemake.input.heads, p.seeds, p.n_layers, p.n_heads)
    table = io.read_tsv(snakemake.input.projections, columns=PROJECTION_COLUMNS)
    save_figure(plot_projections(table, heads, p.projection), snakemake.output[0])
