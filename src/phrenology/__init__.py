"""attention-phrenology: find attention heads with the same job across separately trained transformers.

Subpackages by role: ``data`` (corpus, tokenizer, prompts), ``models`` (build, train, capture),
``analysis`` (the method's steps, small functions on arrays), ``plots`` (one module per figure
family), ``pipeline`` (config, checked I/O, errors, the Snakemake job wrapper, CLI) and
``provenance`` (records, lineage, audit, hashes, report, DVC). The Snakemake rules in ``rules/``
and the adapters in ``workflow/scripts/`` only move files in and out of these functions.
"""

__version__ = "0.1.0"
