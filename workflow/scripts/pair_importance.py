"""Fig. 1 data: token-pair importance by noise perturbation; decoded values over a code grid."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.analysis.autoencoder import encode, load_autoencoder
    from phrenology.analysis.heads import PatternRows, open_patterns
    from phrenology.analysis.importance import decoded_grid, importance_table, perturbation_mse
    from phrenology.models.model import pick_device
    from phrenology.pipeline import io

    p = snakemake.params
    pert = p.perturbation
    chosen = selected_bottleneck(
        io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"])
    )
    model_path = dict(zip(p.bottlenecks, snakemake.input.models, strict=True))[chosen]
    model = load_autoencoder(model_path, pick_device())
    arrays = open_patterns(snakemake.input.patterns, heads_per_model=p.heads_per_model)
    n_ctx = arrays[0].shape[-1]
    # in memory when they fit (each noise column is a pass over all rows), else streamed
    rows = PatternRows(arrays)

    mse, baseline = perturbation_mse(model, rows, seed=pert["seed"])
    ranked = importance_table(mse, baseline, n_ctx)
    grid = decoded_grid(
        model, encode(model, rows), ranked, n_ctx, pert["n_top_pairs"], pert["grid_size"]
    )
    io.write_tsv(snakemake.output.importance, ranked)
    io.write_tsv(snakemake.output.grid, grid)
    print(
        f"bottleneck {chosen}: clean MSE {baseline:.6g}; top pairs:\n{ranked.head(pert['n_top_pairs'])}"
    )
