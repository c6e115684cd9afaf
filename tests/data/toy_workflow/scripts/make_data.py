from phrenology.pipeline.jobs import snakemake_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with snakemake_job(smk) as job:
    import numpy as np

    from phrenology.pipeline import io

    rng = np.random.default_rng(int(smk.wildcards.seed))
    io.save_npy(smk.output[0], rng.normal(size=smk.params.n))
