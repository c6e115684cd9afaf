"""Pipeline plumbing: config validation, checked I/O, errors, the Snakemake job wrapper and its
environment, the CLI."""
