"""results/metrics.json: Table 1 and the chosen clustering, for `dvc metrics`."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    import json

    from phrenology.analysis.aic import AIC_COLUMNS
    from phrenology.analysis.clustering import SWEEP_COLUMNS
    from phrenology.pipeline import io
    from phrenology.provenance.metrics import run_metrics, verdict_metrics

    aic = io.read_tsv(snakemake.input.aic, columns=AIC_COLUMNS)
    sweep = io.read_tsv(snakemake.input.sweep, columns=[*SWEEP_COLUMNS, "selected"])
    metrics = run_metrics(aic, sweep)
    metrics["verdict"] = verdict_metrics(io.read_json(snakemake.input.verdict))
    io.write_json(snakemake.output[0], metrics)
    print(json.dumps(metrics, indent=2))
