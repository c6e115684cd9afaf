"""Leiden over a seeded γ sweep; gamma_sweep.tsv, every partition, and the best → clusters.tsv."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.clustering import (
        best_clustering,
        build_graph,
        draw_gammas,
        gamma_sweep,
    )
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    dist = io.load_npy(snakemake.input.distances, shape=(len(heads), len(heads)))
    edges = io.read_tsv(snakemake.input.edges, columns=["source", "target", "weight"])
    if len(edges) and edges[["source", "target"]].to_numpy().max() >= len(heads):
        raise DataError(f"{snakemake.input.edges} names heads beyond the {len(heads)} of heads.tsv")

    graph = build_graph(
        len(heads), edges[["source", "target"]].to_numpy(), edges["weight"].to_numpy()
    )
    gammas = draw_gammas(p.gamma_range, p.n_gamma, p.seed)
    sweep, memberships = gamma_sweep(
        graph, dist, heads["seed"].to_numpy(), gammas, p.seed, p.n_iterations
    )
    best = best_clustering(sweep)
    sweep["selected"] = sweep.index == best
    clusters = heads[HEAD_COLUMNS].copy()
    clusters["cluster"] = memberships[best]

    io.write_tsv(snakemake.output.sweep, sweep)
    io.save_npy(snakemake.output.memberships, memberships)
    io.write_tsv(snakemake.output.clusters, clusters)
    print(f"best γ {sweep['gamma'][best]:.4f}:\n{sweep.loc[best].to_string()}")
