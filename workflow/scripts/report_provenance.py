"""One provenance summary (reStructuredText) per report item, included by its caption."""

from phrenology.pipeline.jobs import snakemake_job

with snakemake_job(snakemake) as job:
    from phrenology.pipeline import io
    from phrenology.pipeline.errors import DataError
    from phrenology.provenance.records import record_path
    from phrenology.provenance.report import provenance_rst

    if len(snakemake.input) != len(snakemake.output):
        raise DataError(
            f"{len(snakemake.input)} report items but {len(snakemake.output)} summaries"
        )
    for product, summary in zip(snakemake.input, snakemake.output, strict=True):
        job.uses_file(record_path(product), "record")  # the summary is read from the record
        with io.atomic_path(summary) as tmp:
            tmp.write_text(provenance_rst(product))
        print(f"{product} → {summary}")
