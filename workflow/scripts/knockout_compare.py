"""Fig. 12c data: two heads of two models (knockout.compare), each knocked out in its own model
on the Fig. 12 prompt, every position → compare.parquet, compare.tsv (per-position summary and
the correlation of the two heads' logit changes), compare.json."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import pandas as pd

    from phrenology.analysis import knockout
    from phrenology.data import vocab
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io

    p, out = snakemake.params, snakemake.output
    words = io.read_tsv(snakemake.input.vocab, columns=["id", "gpt2_id", "token"])
    tokens = words["token"].astype(str).tolist()
    encoding = vocab.load_encoding(p.tokenizer)
    device = pick_device()
    tables, effects, ids = [], [], None
    for i, (choice, path) in enumerate(zip(p.compare, snakemake.input.models, strict=True)):
        model = load_model(path, device)
        knockout.check_head(model, choice["layer"], choice["head"], path)
        ids = knockout.encode_prompt(
            p.prompt, encoding, words["gpt2_id"].to_numpy(), model.cfg.n_ctx
        )
        table = knockout.position_logit_table(model, ids, choice["layer"], choice["head"], tokens)
        tables.append(table)
        summary = knockout.position_effects(table, [tokens[t] for t in ids])
        for column in ("head", "layer", "seed", "panel"):
            value = i if column == "panel" else choice["model_seed" if column == "seed" else column]
            table.insert(0, column, value)
            summary.insert(0, column, value)
        effects.append(summary)
        del model
    r = knockout.change_correlation(tables[0], tables[1])
    summary = pd.concat(effects, ignore_index=True).merge(r, on="position")
    io.write_parquet(out.table, pd.concat(tables, ignore_index=True))
    io.write_tsv(out.effects, summary)
    io.write_json(out.meta, {
        "heads": [dict(c) for c in p.compare], "prompt": p.prompt,
        "token_ids": ids.tolist(), "tokens": [tokens[t] for t in ids],
    })  # fmt: skip
    print(summary.to_string(index=False))
