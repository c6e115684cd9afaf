from phrenology.pipeline.jobs import snakemake_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with snakemake_job(smk) as job:
    from phrenology.pipeline import io
    from phrenology.plots import new_figure, save_figure

    table = io.read_tsv(smk.input.table, columns=["seed", "mean"])
    fig = new_figure(3, 2)
    ax = fig.add_subplot()
    ax.bar(table["seed"].astype(str), table["mean"])
    ax.set(title=smk.params.title, xlabel="seed", ylabel="mean")
    save_figure(fig, smk.output[0])
