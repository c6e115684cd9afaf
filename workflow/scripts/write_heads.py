"""heads.tsv: the head order shared by every matrix downstream."""

from phrenology.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology import io
    from phrenology.heads import head_table

    p = snakemake.params
    io.write_tsv(snakemake.output[0], head_table(p.seeds, p.n_layers, p.n_heads))
