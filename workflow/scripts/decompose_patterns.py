"""NMF and sparse-PCA components of the heads' patterns, and the heads most extreme along each
component of PCA (Fig. 9's head_scores.tsv), NMF and sparse PCA."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import numpy as np
    import pandas as pd

    from phrenology.analysis import decomposition
    from phrenology.analysis.heads import load_head_patterns
    from phrenology.pipeline import io

    p, out = snakemake.params, snakemake.output
    patterns, heads = load_head_patterns(
        snakemake.input.attention, snakemake.input.heads, p.seeds, p.n_layers, p.n_heads
    )
    fitted = decomposition.decompose(patterns, p.decomposition)
    del patterns
    io.save_npy(out.nmf, fitted["nmf"].components.astype(np.float32))
    io.save_npy(out.sparse_pca, fitted["sparse_pca"].components.astype(np.float32))
    io.write_tsv(out.share, pd.DataFrame([
        {"method": m, "component": c + 1, "share": float(d.share[c]),
         "nonzero_fraction": float((d.components[c] != 0).mean())}
        for m, d in fitted.items() for c in range(len(d.share))
    ]))  # fmt: skip

    pca = io.read_tsv(snakemake.input.pca_scores, columns=["head_index", "seed", "layer", "head"])
    pcs = sorted((c for c in pca.columns if c.startswith("pc")), key=lambda c: int(c[2:]))
    scores = {"pca": pca[pcs].to_numpy(), **{m: d.scores for m, d in fitted.items()}}
    table = decomposition.score_table(heads, scores)
    io.write_tsv(out.scores, table)
    extremes = decomposition.extreme_heads(
        table, p.decomposition["n_extreme_heads"], two_sided=("pca", "sparse_pca")
    )
    io.write_tsv(out.extremes, extremes)
    print(extremes.to_string(index=False))
