"""Fig. 14 data: each head's change in next-token probabilities when knocked out, on held-out
prompts, streamed into a Gram matrix → PCA scores per head (knockout_pca.tsv)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # a pretrained family's members: the cache only

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    job.set_torch_threads()
    from phrenology.analysis import knockout
    from phrenology.data import corpus
    from phrenology.models.model import load_model, pick_device
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=["head_index", "seed", "layer", "head"])
    clusters = io.read_tsv(snakemake.input.clusters, columns=knockout.CLUSTER_COLUMNS)
    knockout.check_clusters(clusters, heads, snakemake.input.clusters)

    device = pick_device()
    # All models at once: every Gram entry pairs heads of two models on the same prompts.
    if "entries" in p.keys():  # a pretrained family, from the Hugging Face cache only
        from phrenology.models import pretrained

        entries = [pretrained.Entry(**e) for e in p.entries]
        models = [
            pretrained.load_offline(e, p.n_layers, p.n_heads, p.n_ctx, device) for e in entries
        ]
        names = [e.name for e in entries]
    else:
        models = [load_model(path, device) for path in snakemake.input.models]
        names = None
    per_model = [m.cfg.n_layers * m.cfg.n_heads for m in models]
    if sum(per_model) != len(heads):
        raise DataError(
            f"the models hold {sum(per_model)} heads but heads.tsv lists {len(heads)}; "
            "rerun the pipeline so they match"
        )
    stream = corpus.load_stream(snakemake.input.tokens, snakemake.input.offsets)
    n_ctx = p.n_ctx if names else models[0].cfg.n_ctx  # a family's context is longer
    prompts = corpus.sample_windows(stream, p.n_prompts, n_ctx, p.prompt_seed)
    gram = knockout.knockout_gram(models, prompts, p.batch_size)
    scores, explained = knockout.gram_pca(gram, n_components=2)

    table = heads.copy()
    table["pc1"], table["pc2"] = scores[:, 0], scores[:, 1]
    table["cluster"] = clusters["cluster"].to_numpy()
    io.write_tsv(snakemake.output.table, table)
    io.save_npy(snakemake.output.gram, gram)
    io.save_npy(snakemake.output.prompts, prompts)
    io.write_json(snakemake.output.meta, {
        "explained_variance_ratio": explained.tolist(), "n_prompts": len(prompts),
        "prompt_length": int(n_ctx), "prompt_seed": p.prompt_seed,
        "d_vocab": int(models[0].cfg.d_vocab), "seeds": list(p.seeds),
        **({"models": names} if names else {}),
        "readout": "P_knockout - P_original, softmax over the vocabulary at the last position",
    })  # fmt: skip
