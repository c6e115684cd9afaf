"""The untrained baseline's autoencoder: the selected bottleneck and the same settings as
train_autoencoder, trained on the untrained models' patterns; its codes → head embedding."""

from phrenology.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import sys

    from phrenology import io
    from phrenology.aic import selected_bottleneck
    from phrenology.autoencoder import AESettings, encode, train_autoencoder
    from phrenology.embedding import head_embedding
    from phrenology.model import pick_device
    from phrenology.pairs import pattern_rows
    from phrenology.patterns import load_patterns

    p = snakemake.params
    k = selected_bottleneck(io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"]))
    n_heads = len(io.read_tsv(snakemake.input.heads, columns=["head_index"]))
    patterns = load_patterns(snakemake.input.patterns, heads_per_model=p.heads_per_model)
    n_prompts = patterns.shape[0]
    rows = pattern_rows(patterns)
    device = pick_device()
    model, _, metrics = train_autoencoder(
        rows, k, AESettings.from_config(p.settings), device, log=sys.stderr
    )
    codes = encode(model, rows).reshape(n_prompts, n_heads, k)
    io.save_npy(snakemake.output.codes, codes)
    io.save_npy(snakemake.output.embedding, head_embedding(codes, p.mode))
    io.write_json(snakemake.output.metrics, metrics)
    print(f"untrained: bottleneck {k}, validation MSE {metrics['mse']:.3g}")
