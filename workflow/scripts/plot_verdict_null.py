"""Verdict figure: the label-permutation null of the best F, trained and untrained models."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.verdict import plot_null

    null = io.read_tsv(snakemake.input.null, columns=["permutation", "trained", "untrained"])
    save_figure(plot_null(null, io.read_json(snakemake.input.summary)), snakemake.output[0])
