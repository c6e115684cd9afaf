"""Train one group of seeds together (train.models_per_job > 1): the same per-seed files as
train_model.py writes; each seed resumes from its checkpoint if the job was killed."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import os

    import pandas as pd

    from phrenology.data import corpus
    from phrenology.models import batched_train, train
    from phrenology.models.model import build_model, model_kwargs, pick_device, save_model
    from phrenology.pipeline import io

    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    seeds = [int(s) for s in p.group_seeds]
    window = p.model["n_ctx"] + 1  # inputs are the first n_ctx tokens, targets the next n_ctx
    train_stream = corpus.load_stream(inp.train_tokens, inp.train_offsets)
    heldout_stream = corpus.load_stream(inp.heldout_tokens, inp.heldout_offsets)
    d_vocab = io.read_json(inp.manifest)["vocabulary"]["size"]
    device = pick_device()
    print(f"training seeds {seeds} together on {device} with {job.threads} threads", flush=True)
    members, models = [], []
    for seed, checkpoint in zip(seeds, p.checkpoints, strict=True):
        kwargs = model_kwargs(p.model, d_vocab, seed)
        members.append(batched_train.Member(
            seed=seed, model_kwargs=kwargs, checkpoint_path=checkpoint,
            train_windows=corpus.sample_windows(train_stream, p.train["n_windows"], window, seed),
            heldout_windows=corpus.sample_windows(
                heldout_stream, p.train["n_heldout_windows"], window, seed
            ),
        ))  # fmt: skip
        models.append(build_model(kwargs, device))
    settings = train.TrainSettings.from_config(p.train)
    logs = batched_train.train_group(
        models, members, settings, device, compile=p.train.get("compile", "eager")
    )
    for i, (member, model, log) in enumerate(zip(members, models, logs, strict=True)):
        io.write_tsv(out.steps[i], pd.DataFrame(log.steps))
        io.write_tsv(out.epochs[i], pd.DataFrame(log.epochs))
        save_model(out.model[i], model, member.model_kwargs, seed=member.seed, train=dict(p.train))
    for checkpoint in p.checkpoints:
        if os.path.exists(checkpoint):
            os.remove(checkpoint)  # finished: the resumable state is no longer needed
