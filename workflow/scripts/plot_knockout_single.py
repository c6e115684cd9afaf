"""Fig. 12: one head's knockout on one prompt, every vocabulary token's logit."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.knockout import single_head_figure

    table = io.read_tsv(
        snakemake.input.table, columns=["token_id", "token", "logit_original", "logit_knockout"]
    )
    fig = single_head_figure(table, io.read_json(snakemake.input.meta), snakemake.params.n_labels)
    save_figure(fig, snakemake.output[0])
