"""The verdict: summary.json, one row per cluster (clusters.tsv) and the plain paragraph."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.statistics.null import cluster_f_p
    from phrenology.statistics.verdict import build_summary, cluster_table, verdict_text

    inp, p = snakemake.input, snakemake.params
    clusters = io.read_tsv(inp.clusters, columns=["head_index", "seed", "layer", "head", "cluster"])
    archetypes = io.read_tsv(inp.archetypes, columns=["cluster", "archetype", "archetype_score"])
    stability = io.read_tsv(inp.cluster_stability, columns=["cluster", "jaccard_bootstrap"])
    families = io.read_tsv(
        inp.families, columns=["space", "family", "n_models", "consistency", "p", "members"]
    )
    summary = build_summary(
        alpha=p.alpha,
        min_fraction=p.matching["min_fraction"],
        null=io.read_json(inp.null),
        matching=io.read_json(inp.matching),
        families=families,
        stability=io.read_json(inp.stability),
        association=io.read_json(inp.association),
        archetypes=archetypes,
        clusters=clusters,
    )
    f_p = cluster_f_p(
        clusters["cluster"].to_numpy(), clusters["seed"].to_numpy(), p.n_permutations, p.seed
    )
    table = cluster_table(
        clusters, archetypes, stability, families[families["space"] == "embedding"], f_p
    )
    summary["verdict"] = verdict_text(summary, family="family" in p.keys())
    io.write_json(snakemake.output.summary, summary)
    io.write_tsv(snakemake.output.clusters, table)
    with io.atomic_path(snakemake.output.text) as tmp:
        tmp.write_text(summary["verdict"] + "\n")
    print(summary["verdict"])
