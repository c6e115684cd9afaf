"""The environment every job inherits, set once when Snakemake parses the workflow
(rules/common.smk). Standard library only: every Snakemake process and cluster job pays it."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

from phrenology.pipeline.caches import numba_cache_dir


def prepare_job_environment(src: str, environ: MutableMapping[str, str] = os.environ) -> None:
    """Put ``src`` first on PYTHONPATH (jobs import the package from this checkout, also on
    compute nodes and in conda envs), make NLTK_DATA / TIKTOKEN_CACHE_DIR absolute, and set
    NUMBA_CACHE_DIR (UMAP's numba functions compiled once per user, not once per job: 20+ s
    each; see :mod:`phrenology.pipeline.caches`).

    The corpus and the tokenizer are found by their standard loaders through these two
    variables. Slurm jobs inherit this process's environment (the plugin submits with
    ``sbatch --export=ALL``) but must not depend on the directory they start in, so
    relative entries are resolved now, against Snakemake's working directory.
    """
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, environ.get("PYTHONPATH")) if p)
    if environ.get("NLTK_DATA"):
        environ["NLTK_DATA"] = os.pathsep.join(
            os.path.abspath(p) for p in environ["NLTK_DATA"].split(os.pathsep) if p
        )
    if environ.get("TIKTOKEN_CACHE_DIR"):
        environ["TIKTOKEN_CACHE_DIR"] = os.path.abspath(environ["TIKTOKEN_CACHE_DIR"])
    environ["NUMBA_CACHE_DIR"] = os.path.abspath(numba_cache_dir(environ))
