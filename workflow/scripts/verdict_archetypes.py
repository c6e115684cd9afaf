"""Template scores of every head; artificial heads' percentile distance to cluster centroids."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import pandas as pd

    from phrenology.analysis.artificial import ARTIFICIAL_HEADS
    from phrenology.analysis.heads import load_head_patterns
    from phrenology.pipeline import io
    from phrenology.statistics.archetypes import (
        ARCHETYPES,
        centroid_percentiles,
        name_clusters,
        template_scores,
    )

    p = snakemake.params
    patterns, heads = load_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    clusters = io.read_tsv(snakemake.input.clusters, columns=["head_index", "cluster"])
    labels = clusters["cluster"].to_numpy()
    scores = template_scores(patterns)
    per_head = heads.copy()
    for t, name in enumerate(ARCHETYPES):
        per_head[name] = scores[:, t]
    per_head["cluster"] = labels
    names = name_clusters(scores, labels, p.threshold)
    pct, dist = centroid_percentiles(patterns, labels)
    rows = []
    for ci, c in enumerate(sorted(names)):
        row = {"cluster": c, "archetype": names[c][0], "archetype_score": names[c][1]}
        for a, art in enumerate(ARTIFICIAL_HEADS):
            row[f"pct_{art}"] = pct[a, ci]
            row[f"dist_{art}"] = dist[a, ci]
        rows.append(row)
    io.write_tsv(snakemake.output.heads, per_head)
    io.write_tsv(snakemake.output.clusters, pd.DataFrame(rows))
    print(pd.DataFrame(rows).to_string(index=False))
