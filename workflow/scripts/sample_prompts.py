"""Held-out windows of n_ctx tokens, the same for every model: .npy ids + Parquet with token text."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.data import corpus
    from phrenology.pipeline import io

    p = snakemake.params
    stream = corpus.load_stream(snakemake.input.tokens, snakemake.input.offsets)
    windows = corpus.sample_windows(stream, p.n_prompts, p.n_ctx, p.seed)
    vocab = io.read_tsv(snakemake.input.vocab, columns=["id", "gpt2_id", "token"])
    io.save_npy(snakemake.output.npy, windows)
    io.write_parquet(snakemake.output.parquet, corpus.prompt_table(windows, vocab))
