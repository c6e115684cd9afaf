"""The clustering and the raw-pattern distances aggregated by layer and by model (tables)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis import overview
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.analysis.knockout import check_clusters
    from phrenology.pipeline import io

    inp, out = snakemake.input, snakemake.output
    heads = io.read_tsv(inp.heads, columns=HEAD_COLUMNS)
    clusters = io.read_tsv(inp.clusters, columns=[*HEAD_COLUMNS, "cluster"])
    check_clusters(clusters, heads, inp.clusters)
    distances = io.load_npy(inp.distances, ndim=2)
    io.write_tsv(out.layers, overview.layer_cluster_counts(clusters))
    io.write_tsv(out.models, overview.model_cluster_counts(clusters, overview.model_names(heads)))
    io.write_tsv(out.distances, overview.layer_distances(distances, heads))
