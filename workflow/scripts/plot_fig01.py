"""Fig. 1: token-pair importance map and decoded values of the top pairs."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.autoencoder import plot_decoded_token_pairs

    importance = io.read_tsv(
        snakemake.input.importance, columns=["rank", "query", "key", "mse", "mse_increase"]
    )
    grid = io.read_tsv(
        snakemake.input.grid, columns=["rank", "query", "key", "code1", "code2", "value"]
    )
    chosen = selected_bottleneck(
        io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"])
    )
    fig = plot_decoded_token_pairs(importance, grid, snakemake.params.n_ctx, chosen)
    save_figure(fig, snakemake.output[0])
