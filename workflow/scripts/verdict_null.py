"""Best F over the γ sweep against its label-permutation null, for trained and untrained models."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import pandas as pd

    from phrenology.analysis.heads import HEAD_COLUMNS
    from phrenology.pipeline import io
    from phrenology.statistics.null import best_f_null

    p = snakemake.params
    heads = io.read_tsv(snakemake.input.heads, columns=HEAD_COLUMNS)
    models = heads["seed"].to_numpy()
    out, nulls = {}, {}
    for name, path in (
        ("trained", snakemake.input.memberships),
        ("untrained", snakemake.input.untrained),
    ):
        memberships = io.load_npy(path, ndim=2)
        result = best_f_null(memberships, models, p.n_permutations, p.seed)
        nulls[name] = result.pop("null")
        out[name] = {**result, "n_permutations": p.n_permutations, "n_gamma": len(memberships)}
        print(
            f"{name}: best F {result['observed']:.4f}, null mean {result['null_mean']:.4f}, p {result['p']:.4g}"
        )
    io.write_json(snakemake.output.summary, out)
    io.write_tsv(
        snakemake.output.null, pd.DataFrame({"permutation": range(p.n_permutations), **nulls})
    )
