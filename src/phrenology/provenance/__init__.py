"""Provenance and reproducibility: per-output records, lineage, audit, hashes, report, DVC,
and the Snakemake DAG they read (snakemake_dag)."""
