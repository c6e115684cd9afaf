"""Euclidean distances between every pair of heads' flattened patterns (Fig. 7 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.distance import attention_distances
    from phrenology.analysis.heads import load_head_patterns
    from phrenology.pipeline import io

    p = snakemake.params
    patterns, heads = load_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    io.save_npy(snakemake.output[0], attention_distances(patterns))
