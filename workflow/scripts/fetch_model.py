"""One pretrained model into the Hugging Face cache (login node, internet), and a record of it."""

import os

# This rule is the one place that may download: the Makefile's HF_HUB_OFFLINE=1 is lifted
# before huggingface_hub reads it (at import).
os.environ["HF_HUB_OFFLINE"] = "0"

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.models.pretrained import Entry, fetch
    from phrenology.pipeline import io

    entry = Entry(**snakemake.params.entry)
    record = fetch(entry)
    job.uses("model", **{k: v for k, v in record.items() if k != "files"})
    io.write_json(snakemake.output[0], record)
