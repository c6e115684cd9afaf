"""Provenance and reproducibility: per-output records, lineage, audit, hashes, report, DVC."""
