"""PCA, UMAP and t-SNE of the heads plus the three artificial heads (Fig. 8 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import head_labels, head_vectors, load_head_patterns
    from phrenology.analysis.projection import project, projection_table, with_artificial_heads
    from phrenology.pipeline import io
    from phrenology.pipeline.config import is_pretrained

    p = snakemake.params
    args = snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    if is_pretrained(snakemake.config):  # a family at scale: Gram route, bounded memory
        from phrenology.analysis import gram

        maps, heads = gram.load_attention(*args)
        coordinates = gram.projections(maps, p.projection)
    else:
        patterns, heads = load_head_patterns(*args)
        n_prompts, _, n_ctx, _ = patterns.shape
        points = with_artificial_heads(head_vectors(patterns), n_prompts, n_ctx)
        del patterns
        coordinates = project(points, p.projection)
    labels = head_labels(heads)
    io.write_tsv(snakemake.output[0], projection_table(labels, coordinates))
