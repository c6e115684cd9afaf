"""One chunk of prompt-bootstrap replicates: Leiden partitions at the selected γ."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.analysis.clustering import SWEEP_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.stability import bootstrap_prompts

    p = snakemake.params
    chunk = int(snakemake.wildcards.chunk)
    chosen = selected_bottleneck(
        io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"])
    )
    codes_path = dict(zip(p.bottlenecks, snakemake.input.codes, strict=True))[chosen]
    n_heads = len(io.read_tsv(snakemake.input.heads, columns=["head_index"]))
    codes = io.load_npy(codes_path, shape=(None, n_heads, chosen))
    sweep = io.read_tsv(snakemake.input.sweep, columns=[*SWEEP_COLUMNS, "selected"])
    gamma = float(sweep.loc[sweep["selected"].astype(str).str.lower() == "true", "gamma"].iloc[0])
    replicates = range(
        chunk * p.n_bootstrap // p.n_chunks, (chunk + 1) * p.n_bootstrap // p.n_chunks
    )
    memberships = bootstrap_prompts(
        codes, p.mode, p.k, p.edge_weights, gamma, p.leiden_seed, p.seed, replicates, p.n_iterations
    )
    io.save_npy(snakemake.output[0], memberships)
    print(f"chunk {chunk}: replicates {replicates.start}..{replicates.stop - 1} at γ {gamma:.4f}")
