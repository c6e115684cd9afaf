"""heads.tsv: the head order shared by every matrix downstream."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import head_table
    from phrenology.pipeline import io

    p = snakemake.params
    io.write_tsv(
        snakemake.output[0], head_table(p.seeds, p.n_layers, p.n_heads, getattr(p, "models", None))
    )
