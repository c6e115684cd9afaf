"""Fig. 4: clustering scores and cluster count against the Leiden resolution γ."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.clustering import SWEEP_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.clustering import plot_gamma_sweep

    sweep = io.read_tsv(snakemake.input[0], columns=[*SWEEP_COLUMNS, "selected"])
    save_figure(plot_gamma_sweep(sweep), snakemake.output[0])
