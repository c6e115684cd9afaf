"""The best F and its permutation p at every bottleneck × k × edge weighting (sensitivity.tsv)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.analysis.clustering import draw_gammas
    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.sensitivity import sensitivity_table

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    chosen = selected_bottleneck(
        io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"])
    )
    codes = {
        b: io.load_npy(path, shape=(None, len(heads), b))
        for b, path in zip(p.bottlenecks, snakemake.input.codes, strict=True)
    }
    table = sensitivity_table(
        codes,
        heads["seed"].to_numpy(),
        mode=p.mode,
        k=p.k,
        k_offsets=p.k_offsets,
        gammas=draw_gammas(p.gamma_range, p.n_gamma, p.leiden_seed),
        leiden_seed=p.leiden_seed,
        n_iterations=p.n_iterations,
        n_permutations=p.n_permutations,
        seed=p.seed,
        reference=(chosen, p.k, p.edge_weights),
    )
    io.write_tsv(snakemake.output[0], table)
    print(table.to_string(index=False))
