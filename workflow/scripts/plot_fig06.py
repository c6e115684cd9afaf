"""Fig. 6: every head's mean attention pattern, grouped by cluster."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS, load_patterns
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError
    from phrenology.plots import save_figure
    from phrenology.plots.clustering import plot_cluster_patterns

    clusters = io.read_tsv(snakemake.input.clusters, columns=[*HEAD_COLUMNS, "cluster"])
    patterns = load_patterns(
        snakemake.input.patterns, heads_per_model=snakemake.params.heads_per_model
    )
    if patterns.shape[1] != len(clusters):
        raise DataError(
            f"{snakemake.input.clusters} has {len(clusters)} heads, the patterns {patterns.shape[1]}"
        )
    mean_patterns = patterns.mean(axis=0, dtype="float64")  # [n_heads, n_ctx, n_ctx]
    fig = plot_cluster_patterns(mean_patterns, clusters, clusters["cluster"].to_numpy())
    save_figure(fig, snakemake.output[0])
