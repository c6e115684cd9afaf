"""Euclidean distances between head embeddings and the symmetric kNN graph."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import pandas as pd

    from phrenology.analysis.clustering import edge_weights, euclidean_distances, knn_edges
    from phrenology.pipeline import io

    p = snakemake.params
    embedding = io.load_npy(snakemake.input[0], ndim=2)
    dist = euclidean_distances(embedding)
    edges = knn_edges(dist, p.k)
    weights = edge_weights(dist, edges, p.edge_weights)
    io.save_npy(snakemake.output.distances, dist)
    io.write_tsv(
        snakemake.output.edges,
        pd.DataFrame(
            {
                "source": edges[:, 0],
                "target": edges[:, 1],
                "distance": dist[edges[:, 0], edges[:, 1]],
                "weight": weights,
            }
        ),
    )
    print(f"{len(dist)} heads, k {p.k}: {len(edges)} undirected edges ({p.edge_weights})")
