"""Figs. 9b–9c: NMF and sparse-PCA components per prompt, each row naming its most extreme heads."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.decomposition import plot_decomposition

    p = snakemake.params
    share = io.read_tsv(snakemake.input.share, columns=["method", "component", "share"])
    extremes = io.read_tsv(snakemake.input.extremes)
    for method in ("nmf", "sparse_pca"):
        components = io.load_npy(getattr(snakemake.input, method), ndim=4)
        fig = plot_decomposition(
            method,
            components,
            share[share["method"] == method]["share"].to_numpy(),
            extremes[extremes["method"] == method],
            p.n_prompts_shown,
        )
        save_figure(fig, getattr(snakemake.output, method))
