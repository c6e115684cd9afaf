"""Fig. 2: distances between head embeddings, clustered order."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.clustering import plot_embedding_distances

    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    dist = io.load_npy(snakemake.input.distances, shape=(len(heads), len(heads)))
    clusters = io.read_tsv(snakemake.input.clusters, columns=["head_index", "cluster"])
    fig = plot_embedding_distances(dist, heads, clusters["cluster"].to_numpy())
    save_figure(fig, snakemake.output[0])
