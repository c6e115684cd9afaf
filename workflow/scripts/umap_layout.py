"""Seeded 2-D UMAP layout of the head embeddings (Figs. 3 and 5)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import numpy as np
    import pandas as pd

    from phrenology.analysis.clustering import umap_layout
    from phrenology.pipeline import io

    p = snakemake.params
    embedding = io.load_npy(snakemake.input[0], ndim=2)
    xy = umap_layout(embedding, p.umap["n_neighbors"], p.umap["min_dist"], p.seed)
    io.write_tsv(
        snakemake.output[0],
        pd.DataFrame({"head_index": np.arange(len(xy)), "umap1": xy[:, 0], "umap2": xy[:, 1]}),
    )
