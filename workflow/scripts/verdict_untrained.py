"""The untrained baseline: every seed's model at initialisation (the same kwargs, hence the
same TransformerLens-seeded init, as train_model.py), saved without a training step and
captured on the analysis prompts; then one autoencoder at the bottleneck the trained run
selected, with the same settings, on those patterns → the untrained head embedding."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import sys

    from phrenology.models.capture import capture_patterns
    from phrenology.models.model import build_model, model_kwargs, pick_device, save_model
    from phrenology.pipeline import io
    from phrenology.statistics.untrained import check_head_count, write_untrained_embedding

    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    device = pick_device()
    d_vocab = io.read_json(inp.manifest)["vocabulary"]["size"]
    prompts = io.load_npy(inp.prompts, ndim=2)
    per_model = p.model["n_layers"] * p.model["n_heads"]
    check_head_count(len(out.attention) * per_model, inp.heads)
    for seed, model_path, attention_path in zip(p.seeds, out.models, out.attention, strict=True):
        kwargs = model_kwargs(p.model, d_vocab, seed)
        model = build_model(kwargs, device).eval()
        save_model(model_path, model, kwargs, seed=seed, train=None)
        cfg = model.cfg
        shape = (len(prompts), cfg.n_layers * cfg.n_heads, prompts.shape[1], prompts.shape[1])
        with io.npy_memmap(attention_path, shape) as patterns:
            capture_patterns(model, prompts, p.batch_size, out=patterns)
        print(f"seed {seed}: untrained model saved and captured", file=sys.stderr)

    write_untrained_embedding(
        out.attention, inp.aic, per_model, p.settings, p.mode, device,
        out.codes, out.embedding, out.metrics, log=sys.stderr,
    )  # fmt: skip
