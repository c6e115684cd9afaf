"""Held-out Brown windows of n_ctx tokens in a pretrained family's own tokens (offline)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # compute job: the cache only (fetch_model downloads)

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import pandas as pd

    from phrenology.data import corpus
    from phrenology.models import pretrained
    from phrenology.pipeline import io

    p = snakemake.params
    entry = pretrained.Entry(**p.entry)
    tokenizer = pretrained.load_tokenizer(pretrained.local_folder(entry))
    sentences = corpus.load_sentences(p.corpus["name"])
    _, heldout = corpus.split_sentences(sentences, p.corpus["train_fraction"])
    stream = corpus.encode_sentences(
        [corpus.detokenize(s) for s in heldout], pretrained.encode_batch(tokenizer)
    )
    windows = corpus.sample_windows(stream, p.n_prompts, p.n_ctx, p.seed)
    ids = windows.reshape(-1)
    n_prompts, n_ctx = windows.shape
    io.save_npy(snakemake.output.npy, windows)
    io.save_npy(snakemake.output.heldout_tokens, stream.tokens)
    io.save_npy(snakemake.output.heldout_offsets, stream.offsets)
    io.write_parquet(snakemake.output.parquet, pd.DataFrame({
        "prompt": [i for i in range(n_prompts) for _ in range(n_ctx)],
        "position": list(range(n_ctx)) * n_prompts,
        "token_id": ids,
        "token": tokenizer.convert_ids_to_tokens(ids.tolist()),
    }))  # fmt: skip
    fingerprint = pretrained.tokenizer_fingerprint(tokenizer)
    job.uses("tokenizer", model=entry.name, vocab_sha256=fingerprint)
    io.write_json(snakemake.output.tokenizer, {
        "model": entry.name, "class": type(tokenizer).__name__,
        "vocab_size": len(tokenizer), "vocab_sha256": fingerprint,
    })  # fmt: skip
