"""PCA, UMAP and t-SNE of the heads plus the three artificial heads (Fig. 8 data)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import head_labels, head_vectors, load_head_patterns
    from phrenology.analysis.projection import project, projection_table, with_artificial_heads
    from phrenology.pipeline import io

    p = snakemake.params
    patterns, heads = load_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    n_prompts, _, n_ctx, _ = patterns.shape
    points = with_artificial_heads(head_vectors(patterns), n_prompts, n_ctx)
    del patterns
    coordinates = project(points, p.projection)
    labels = head_labels(heads)
    io.write_tsv(snakemake.output[0], projection_table(labels, coordinates))
