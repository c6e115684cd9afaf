"""One autoencoder (one bottleneck) over every (prompt, head) pattern: model, metrics, codes."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import sys

    import pandas as pd

    from phrenology.analysis.autoencoder import (
        AESettings,
        encode,
        save_autoencoder,
        train_autoencoder,
    )
    from phrenology.analysis.heads import PatternRows, open_patterns
    from phrenology.models.model import pick_device
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=["head_index"])
    # rows streamed from the attention files' memory maps, batch by batch (bounded memory)
    rows = PatternRows(open_patterns(snakemake.input.patterns, heads_per_model=p.heads_per_model))
    n_prompts, n_heads = rows.n_prompts, rows.n_heads
    if n_heads != len(heads):
        raise DataError(
            f"{snakemake.input.heads} lists {len(heads)} heads, the patterns hold {n_heads}"
        )
    device = pick_device()
    print(f"{rows.shape[0]} rows × {rows.shape[1]} token pairs on {device}", file=sys.stderr)

    model, history, metrics = train_autoencoder(
        rows, p.bottleneck, AESettings.from_config(p.settings), device, log=sys.stderr
    )
    codes = encode(model, rows).reshape(n_prompts, n_heads, p.bottleneck)
    save_autoencoder(snakemake.output.model, model, metrics)
    io.save_npy(snakemake.output.codes, codes)
    io.write_tsv(snakemake.output.history, pd.DataFrame(history))
    io.write_json(snakemake.output.metrics, metrics)
