"""Euclidean distances between every pair of heads' flattened patterns (Fig. 7 data)."""

from phrenology.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology import io
    from phrenology.distance import attention_distances
    from phrenology.head_inputs import load_head_patterns

    p = snakemake.params
    patterns, heads = load_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    io.save_npy(snakemake.output[0], attention_distances(patterns))
