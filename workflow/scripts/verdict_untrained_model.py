"""An untrained model: the exact initialisation train_model starts from, saved without a step."""

from phrenology.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology import io
    from phrenology.model import build_model, model_kwargs, save_model

    seed = int(snakemake.wildcards.seed)
    # the same kwargs (and so the same TransformerLens-seeded init) as train_model.py
    kwargs = model_kwargs(
        snakemake.params.model, io.read_json(snakemake.input.manifest)["vocabulary"]["size"], seed
    )
    save_model(snakemake.output[0], build_model(kwargs, "cpu"), kwargs, seed=seed, train=None)
    print(f"seed {seed}: untrained model saved")
