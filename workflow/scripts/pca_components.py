"""PCA over heads of their flattened patterns: components per prompt (Figs. 9–10 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import numpy as np

    from phrenology.analysis.heads import head_vectors, load_head_patterns
    from phrenology.analysis.projection import pattern_components, variance_table
    from phrenology.pipeline import io
    from phrenology.pipeline.config import is_pretrained

    p = snakemake.params
    args = snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    if is_pretrained(snakemake.config):  # a family at scale: Gram route, bounded memory
        from phrenology.analysis import gram

        maps, heads = gram.load_attention(*args)
        result = gram.pattern_components(maps, p.n_components)
    else:
        patterns, heads = load_head_patterns(*args)
        n_prompts, _, n_ctx, _ = patterns.shape
        result = pattern_components(head_vectors(patterns), n_prompts, n_ctx, p.n_components)
    io.save_npy(snakemake.output.components, result.components.astype(np.float32))
    io.write_tsv(snakemake.output.variance, variance_table(result))
    scores = heads.copy()
    for c in range(p.n_components):
        scores[f"pc{c + 1}"] = result.scores[:, c]
    io.write_tsv(snakemake.output.scores, scores)
