"""Pipeline plumbing: config validation, checked I/O, errors, the Snakemake job wrapper, the CLI."""
