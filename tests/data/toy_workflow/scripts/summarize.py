from phrenology.pipeline.jobs import snakemake_job

smk = snakemake  # noqa: F821 (injected by Snakemake)
with snakemake_job(smk) as job:
    import numpy as np
    import pandas as pd

    from phrenology.pipeline import io

    rows = [
        {"seed": s, "mean": float(np.load(p).mean())}
        for s, p in zip(smk.params.seeds, smk.input.data, strict=True)
    ]
    table = pd.DataFrame(rows)
    io.write_tsv(smk.output.tsv, table)
    with io.atomic_path(smk.output.md) as tmp:
        tmp.write_text(table.to_string(index=False) + "\n")
