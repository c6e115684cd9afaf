"""Train one seed's model; resumes from its checkpoint if the job was killed."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import os

    import pandas as pd

    from phrenology.data import corpus
    from phrenology.models import train
    from phrenology.models.model import build_model, model_kwargs, pick_device, save_model
    from phrenology.pipeline import io

    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    seed = int(snakemake.wildcards.seed)
    data_seed = train.data_seed_for(p.train, seed)  # = seed unless train.data_seed is set
    window = p.model["n_ctx"] + 1  # inputs are the first n_ctx tokens, targets the next n_ctx
    train_windows = corpus.sample_windows(
        corpus.load_stream(inp.train_tokens, inp.train_offsets),
        p.train["n_windows"],
        window,
        data_seed,
    )
    heldout_windows = corpus.sample_windows(
        corpus.load_stream(inp.heldout_tokens, inp.heldout_offsets),
        p.train["n_heldout_windows"],
        window,
        data_seed,
    )
    kwargs = model_kwargs(p.model, io.read_json(inp.manifest)["vocabulary"]["size"], seed)
    device = pick_device()
    print(
        f"training seed {seed} (data seed {data_seed}) on {device} with {job.threads} threads",
        flush=True,
    )
    model = build_model(kwargs, device)
    settings = train.TrainSettings.from_config(p.train)
    log = train.train(
        model,
        train_windows,
        heldout_windows,
        settings,
        seed,
        kwargs,
        device,
        p.checkpoint,
        data_seed=data_seed,
    )
    io.write_tsv(out.steps, pd.DataFrame(log.steps))
    io.write_tsv(out.epochs, pd.DataFrame(log.epochs))
    save_model(out.model, model, kwargs, seed=seed, train=dict(p.train))
    if os.path.exists(p.checkpoint):
        os.remove(p.checkpoint)  # finished: the resumable state is no longer needed
