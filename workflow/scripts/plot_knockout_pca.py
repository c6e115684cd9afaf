"""Fig. 14: heads on the first two PCs of their knockout effects, coloured by attention cluster."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.knockout import pca_figure

    table = io.read_tsv(
        snakemake.input.table,
        columns=["head_index", "seed", "layer", "head", "pc1", "pc2", "cluster"],
    )
    meta = io.read_json(snakemake.input.meta)
    fig = pca_figure(
        table,
        meta["explained_variance_ratio"],
        meta["seeds"],
        meta["n_prompts"],
        names=meta.get("models"),
    )
    save_figure(fig, snakemake.output[0])
