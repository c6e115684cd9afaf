"""Fig. 3: the kNN graph on the UMAP layout, heads coloured by model."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.plots import save_figure
    from phrenology.plots.clustering import plot_knn_graph

    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    layout = io.read_tsv(snakemake.input.layout, columns=["head_index", "umap1", "umap2"])
    edges = io.read_tsv(snakemake.input.edges, columns=["source", "target", "weight"])
    xy = layout[["umap1", "umap2"]].to_numpy()
    save_figure(plot_knn_graph(xy, edges, heads, snakemake.params.k), snakemake.output[0])
