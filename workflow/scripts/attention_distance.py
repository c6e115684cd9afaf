"""Euclidean distances between every pair of heads' flattened patterns (Fig. 7 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.distance import attention_distances
    from phrenology.analysis.heads import load_head_patterns
    from phrenology.pipeline import io
    from phrenology.pipeline.config import is_pretrained

    p = snakemake.params
    args = snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    if is_pretrained(snakemake.config):  # a family at scale: memory maps, bounded memory
        from phrenology.analysis import gram

        maps, heads = gram.load_attention(*args)
        io.save_npy(snakemake.output[0], gram.distances(maps))
    else:
        patterns, heads = load_head_patterns(*args)
        io.save_npy(snakemake.output[0], attention_distances(patterns))
