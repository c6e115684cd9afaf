"""Fig. 5: UMAP layout coloured by the selected clustering and by model."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.clustering import plot_clusters_umap

    clusters = io.read_tsv(snakemake.input.clusters, columns=[*HEAD_COLUMNS, "cluster"])
    layout = io.read_tsv(snakemake.input.layout, columns=["head_index", "umap1", "umap2"])
    sweep = io.read_tsv(snakemake.input.sweep, columns=["gamma", "selected"])
    gamma = float(sweep.loc[sweep["selected"].astype(str).str.lower() == "true", "gamma"].iloc[0])
    xy = layout[["umap1", "umap2"]].to_numpy()
    fig = plot_clusters_umap(xy, clusters, clusters["cluster"].to_numpy(), gamma)
    save_figure(fig, snakemake.output[0])
