"""Fig. 13 data: the Fig. 12 read-out for every head of one attention cluster, each head
knocked out in its own model → cluster_heads.parquet (+ .json: cluster and prompt)."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    import pandas as pd

    from phrenology.analysis import knockout
    from phrenology.data import vocab
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=["head_index", "seed", "layer", "head"])
    clusters = io.read_tsv(snakemake.input.clusters, columns=knockout.CLUSTER_COLUMNS)
    knockout.check_clusters(clusters, heads, snakemake.input.clusters)
    cluster, members = knockout.choose_cluster(clusters, p.cluster, p.seed, p.layer, p.head)
    print(f"cluster {cluster}: {len(members)} heads", flush=True)

    words = io.read_tsv(snakemake.input.vocab, columns=["id", "gpt2_id", "token"])
    tokens = words["token"].astype(str).tolist()
    model_path = dict(zip(p.seeds, snakemake.input.models, strict=True))
    device = pick_device()
    encoding = vocab.load_encoding(p.tokenizer)
    frames, ids = [], None
    for seed, rows in members.groupby("seed", sort=False):  # one model in memory at a time
        model = load_model(model_path[seed], device)
        ids = knockout.encode_prompt(
            p.prompt, encoding, words["gpt2_id"].to_numpy(), model.cfg.n_ctx
        )
        members_of_model = list(rows.itertuples(index=False))
        for row in members_of_model:
            knockout.check_head(model, row.layer, row.head, model_path[seed])
        # all of this model's cluster heads knocked out in one forward pass, one row each
        tables = knockout.logit_tables(
            model, ids, [(row.layer, row.head) for row in members_of_model], tokens
        )
        for row, frame in zip(members_of_model, tables, strict=True):
            for column in ("head", "layer", "seed", "head_index"):
                frame.insert(0, column, getattr(row, column))
            frames.append(frame)
    io.write_parquet(snakemake.output.table, pd.concat(frames, ignore_index=True))
    io.write_json(snakemake.output.meta, {
        "cluster": int(cluster), "choice": p.cluster,
        "prompt": p.prompt, "token_ids": ids.tolist(), "tokens": [tokens[i] for i in ids],
        "heads": members["head_index"].tolist(),
    })  # fmt: skip
