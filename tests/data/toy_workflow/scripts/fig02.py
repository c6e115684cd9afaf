from phrenology.pipeline.jobs import snakemake_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with snakemake_job(smk) as job:
    import numpy as np

    from phrenology.plots import new_figure, save_figure

    data = np.load(smk.input.data) * smk.params.scale
    fig = new_figure(3, 2)
    ax = fig.add_subplot()
    ax.hist(data, bins=10)
    ax.set(title=f"seed {smk.wildcards.seed}", xlabel="value", ylabel="count")
    save_figure(fig, smk.output[0])
