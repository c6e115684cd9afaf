"""Attention patterns of every head of one pretrained model on the shared prompts (offline)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # compute job: the cache only (fetch_model downloads)

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import numpy as np

    from phrenology.models import pretrained
    from phrenology.models.capture import capture_patterns
    from phrenology.models.model import pick_device
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError

    p = snakemake.params
    entry = pretrained.Entry(**p.entry)
    folder = pretrained.local_folder(entry)
    expected = io.read_json(snakemake.input.tokenizer)
    tokenizer = pretrained.load_tokenizer(folder)
    if pretrained.tokenizer_fingerprint(tokenizer) != expected["vocab_sha256"]:
        raise DataError(
            f"model {entry.name} has another tokenizer than {expected['model']}, whose tokens the "
            "prompts are in: a family must share one tokenizer"
        )
    prompts = io.load_npy(snakemake.input.prompts, ndim=2)
    model = pretrained.load_hooked(folder, pick_device())
    pretrained.check_shape(model, entry.name, p.n_layers, p.n_heads, prompts.shape[1])
    job.uses("model", name=entry.name, source=entry.source, folder=os.path.abspath(folder))
    cfg = model.cfg
    shape = (len(prompts), cfg.n_layers * cfg.n_heads, prompts.shape[1], prompts.shape[1])
    with io.npy_memmap(snakemake.output[0], shape, dtype=np.dtype(p.dtype)) as patterns:
        capture_patterns(model, prompts, p.batch_size, out=patterns)
