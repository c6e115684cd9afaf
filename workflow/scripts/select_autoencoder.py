"""aic.tsv and Table 1 from every bottleneck's metrics."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.analysis.aic import aic_table, table_markdown
    from phrenology.pipeline import io

    metrics = [io.read_json(path) for path in snakemake.input.metrics]
    for m in metrics:  # the values the MSE averages over: rows × token pairs
        rows = m["n_validation"] if m["mse_on"] == "validation" else m["n_train"]
        m["n_values"] = rows * m["widths"][0]
    selection = snakemake.params.selection
    table = aic_table(metrics, selection)
    io.write_tsv(snakemake.output.aic, table)
    io.write_tsv(snakemake.output.table, table)

    m = metrics[0]
    if m["mse_on"] == "validation":
        held = f"held-out {m['n_validation']} of {m['n_validation'] + m['n_train']} (prompt, head) rows"
    else:
        held = f"the {m['n_train']} training rows (autoencoder.validation_fraction is 0)"
    note = (
        f"MSE: mean squared reconstruction error per token pair on {held}, over the "
        f"{m['widths'][0]} token pairs on or below the diagonal. The paper's MSE was measured on "
        "the training rows over all 256 cells, 120 of them always 0, so its values are lower."
    )
    with io.atomic_path(snakemake.output.markdown) as tmp:
        tmp.write_text(table_markdown(table, note, selection))
    print(table.to_string(index=False))
