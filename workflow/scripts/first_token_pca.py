"""Attention to the first token per (prompt, position), over all heads, in 2-D PCA (Fig. 11 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.first_token import first_token_patterns, first_token_pca
    from phrenology.analysis.heads import open_head_patterns
    from phrenology.analysis.projection import variance_table
    from phrenology.pipeline import io

    p = snakemake.params
    arrays, _ = open_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    # the key-0 columns of the first n_prompts prompts, from the memory maps
    patterns = first_token_patterns(arrays, p.n_prompts)
    prompts = io.read_parquet(snakemake.input.prompts, columns=["prompt", "position", "token"])
    table, result = first_token_pca(patterns, prompts, p.n_prompts)
    io.write_tsv(snakemake.output.points, table)
    io.write_tsv(snakemake.output.variance, variance_table(result))
