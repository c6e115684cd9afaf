"""Head embedding from the selected autoencoder's codes, in heads.tsv order."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.aic import selected_bottleneck
    from phrenology.analysis.clustering import head_embedding
    from phrenology.pipeline import io

    p = snakemake.params
    chosen = selected_bottleneck(
        io.read_tsv(snakemake.input.aic, columns=["bottleneck", "selected"])
    )
    codes_path = dict(zip(p.bottlenecks, snakemake.input.codes, strict=True))[chosen]
    n_heads = len(io.read_tsv(snakemake.input.heads, columns=["head_index"]))
    codes = io.load_npy(codes_path, shape=(None, n_heads, chosen))
    embedding = head_embedding(codes, p.mode)
    print(f"bottleneck {chosen}, {p.mode}: embedding {embedding.shape}")
    io.save_npy(snakemake.output[0], embedding)
