"""The untrained baseline of a pretrained family: each member's architecture freshly initialised
(Hugging Face's own init, seeded from statistics.seed and the model's position), captured on the
family's prompts as capture_pretrained does, then one autoencoder at the selected bottleneck
with the trained run's settings → the untrained head embedding. No weights are saved (they are
a seed away); untrained/models.json records the seeds."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # compute job: the cache only (fetch_model downloads)

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import sys

    import numpy as np

    from phrenology.models import pretrained
    from phrenology.models.capture import capture_patterns
    from phrenology.models.model import pick_device
    from phrenology.pipeline import io
    from phrenology.statistics.untrained import check_head_count, write_untrained_embedding

    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    device = pick_device()
    prompts = io.load_npy(inp.prompts, ndim=2)
    per_model = p.n_layers * p.n_heads
    check_head_count(len(out.attention) * per_model, inp.heads)
    shape = (len(prompts), per_model, prompts.shape[1], prompts.shape[1])
    records = []
    for i, (params, path) in enumerate(zip(p.entries, out.attention, strict=True)):
        entry = pretrained.Entry(**params)
        seed = pretrained.untrained_seed(p.seed, i)
        model = pretrained.load_untrained(pretrained.local_folder(entry), seed, device)
        pretrained.check_shape(model, entry.name, p.n_layers, p.n_heads, prompts.shape[1])
        with io.npy_memmap(path, shape, dtype=np.dtype(p.dtype)) as patterns:
            capture_patterns(model, prompts, p.batch_size, out=patterns)
        records.append({"name": entry.name, "architecture_of": entry.source, "torch_seed": seed})
        print(f"{entry.name}: untrained (torch seed {seed}) captured", file=sys.stderr)

    write_untrained_embedding(
        out.attention, inp.aic, per_model, p.settings, p.mode, device,
        out.codes, out.embedding, out.metrics, log=sys.stderr,
    )  # fmt: skip
    io.write_json(out.models, {
        "init": "transformers AutoModelForCausalLM.from_config under torch.manual_seed",
        "models": records,
    })  # fmt: skip
