"""Fig. 12 data: every token's last-position logit for the configured prompt, original vs with
one head knocked out → single_head.tsv (+ .json: the prompt as the model saw it)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology.analysis import knockout
    from phrenology.data import vocab
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io

    p = snakemake.params
    words = io.read_tsv(snakemake.input.vocab, columns=["id", "gpt2_id", "token"])
    model = load_model(snakemake.input.model, pick_device())
    knockout.check_head(model, p.layer, p.head, snakemake.input.model)
    ids = knockout.encode_prompt(
        p.prompt, vocab.load_encoding(p.tokenizer), words["gpt2_id"].to_numpy(), model.cfg.n_ctx
    )
    tokens = words["token"].astype(str).tolist()
    io.write_tsv(snakemake.output.table, knockout.logit_table(model, ids, p.layer, p.head, tokens))
    io.write_json(snakemake.output.meta, {
        "seed": p.seed, "layer": p.layer, "head": p.head, "prompt": p.prompt,
        "token_ids": ids.tolist(), "tokens": [tokens[i] for i in ids],
    })  # fmt: skip
