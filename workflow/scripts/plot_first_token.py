"""Fig. 11: tokens placed by how each head attends from them to the first token."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.first_token import FIRST_TOKEN_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.first_token import plot_first_token

    table = io.read_tsv(snakemake.input.points, columns=FIRST_TOKEN_COLUMNS)
    variance = io.read_tsv(snakemake.input.variance, columns=["explained_variance_ratio"])
    ratio = variance["explained_variance_ratio"].to_numpy()
    fig = plot_first_token(table, ratio, snakemake.params.n_heads_total)
    save_figure(fig, snakemake.output[0])
