"""Attention patterns of every head of one model on the shared prompts, streamed to disk."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology.models.capture import capture_patterns
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io

    model = load_model(snakemake.input.model, pick_device())
    prompts = io.load_npy(snakemake.input.prompts, ndim=2)
    cfg = model.cfg
    shape = (len(prompts), cfg.n_layers * cfg.n_heads, prompts.shape[1], prompts.shape[1])
    with io.npy_memmap(snakemake.output[0], shape) as patterns:
        capture_patterns(model, prompts, snakemake.params.batch_size, out=patterns)
