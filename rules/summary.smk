# Products for DVC and the HTML report: the run's headline metrics (dvc metrics) and a
# provenance summary for every figure and table of `snakemake --report` (its caption
# includes the summary). Include this file last: it lists the report() outputs of every
# rule defined before it.
from snakemake.io import is_flagged

from phrenology.provenance.report import summary_name

REPORT_PROVENANCE = "results/report/provenance"


report: "../report/workflow.rst"


def report_products():
    """Every output marked report() in the rules defined so far: the figures and Table 1."""
    products = sorted({str(f) for r in workflow.rules for f in r.output if is_flagged(f, "report")})
    templated = [f for f in products if "{" in f]
    if templated:
        raise ValueError(f"report() outputs with wildcards are not summarised yet: {templated}")
    return products


REPORT_PRODUCTS = report_products()


def checked_report_products(wildcards):
    """REPORT_PRODUCTS, after checking that no rule defined later added a report() output."""
    later = sorted(set(report_products()) - set(REPORT_PRODUCTS))
    if later:
        raise ValueError(
            f"report() outputs {later} have no provenance summary: include rules/summary.smk "
            "after every other rules file in the Snakefile"
        )
    return REPORT_PRODUCTS


rule metrics_summary:
    """results/metrics.json: Table 1 (AIC per bottleneck, the one selected), the chosen
    clustering's γ and scores, and the verdict's headline numbers, for `dvc metrics`."""
    input:
        aic="results/autoencoder/aic.tsv",
        sweep="results/clustering/gamma_sweep.tsv",
        verdict="results/verdict/summary.json",
    output:
        "results/metrics.json",
    log:
        "logs/metrics_summary.log",
    resources:
        mem_mb=1000,
        runtime=5,
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
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/report_provenance.py"


FINAL_OUTPUTS.extend(["results/metrics.json", *rules.report_provenance.output])
