# Products for DVC and the HTML report: the run's headline metrics (dvc metrics) and a
# provenance summary for every figure and table of `snakemake --report` (its caption
# includes the summary). Include this file last: report_products() (common.smk) lists the
# report() outputs of the rules defined before it, and the output list of report_provenance
# is fixed when the rule is defined.
REPORT_PROVENANCE = "results/report/provenance"


report: "../report/workflow.rst"


REPORT_PRODUCTS = report_products()


rule metrics_summary:
    """results/metrics.json: Table 1 (AIC per bottleneck, the one selected), the chosen
    clustering's γ and scores, and the verdict's headline numbers, for `dvc metrics`."""
    input:
        verdict="results/verdict/summary.json",
        aic="results/autoencoder/aic.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
    output:
        "results/metrics.json",
    log:
        "logs/metrics_summary.log",
    benchmark:
        "logs/benchmarks/metrics_summary.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/metrics_summary.py"


rule report_provenance:
    """Provenance summary of every report item, from its record and lineage (report/*.rst
    include them)."""
    input:
        checked_report_products,
    output:
        [f"{REPORT_PROVENANCE}/{summary_name(p)}" for p in REPORT_PRODUCTS],
    log:
        "logs/report_provenance.log",
    benchmark:
        "logs/benchmarks/report_provenance.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/report_provenance.py"
