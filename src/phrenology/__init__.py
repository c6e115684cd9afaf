"""attention-phrenology: find attention heads with the same job across separately trained transformers.

The science lives here as small functions on arrays, one module per method step;
the Snakemake rules in ``rules/`` and the adapters in ``workflow/scripts/`` only
move files in and out of these functions.
"""

__version__ = "0.1.0"
