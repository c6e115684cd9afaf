"""Fig. 12b data: the Fig. 12 head knocked out on the Fig. 12 prompt, logits at EVERY position
→ positions.parquet (token × position), positions.tsv (one row per position), positions.json."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology.analysis import knockout
    from phrenology.data import vocab
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io

    p, out = snakemake.params, snakemake.output
    words = io.read_tsv(snakemake.input.vocab, columns=["id", "gpt2_id", "token"])
    model = load_model(snakemake.input.model, pick_device())
    knockout.check_head(model, p.layer, p.head, snakemake.input.model)
    ids = knockout.encode_prompt(
        p.prompt, vocab.load_encoding(p.tokenizer), words["gpt2_id"].to_numpy(), model.cfg.n_ctx
    )
    tokens = words["token"].astype(str).tolist()
    table = knockout.position_logit_table(model, ids, p.layer, p.head, tokens)
    prompt_tokens = [tokens[i] for i in ids]
    effects = knockout.position_effects(table, prompt_tokens)
    io.write_parquet(out.table, table)
    io.write_tsv(out.effects, effects)
    io.write_json(out.meta, {
        "seed": p.seed, "layer": p.layer, "head": p.head, "prompt": p.prompt,
        "token_ids": ids.tolist(), "tokens": prompt_tokens,
    })  # fmt: skip
    print(effects.to_string(index=False))
