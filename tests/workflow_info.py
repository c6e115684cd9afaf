"""What Snakemake sees when it parses the workflow: rules, their scripts, envs and resources.

Parses the Snakefile the way every Snakemake process does (also each cluster job), in a fresh
interpreter, so that what the parse imports and does to the environment can be observed too.
Used by tests/workflow/test_envs.py and tests/workflow/test_slurm.py.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Libraries a job's Snakemake process must not import while parsing the workflow: each job
# parses it once before running, and rules that need them import them inside their scripts.
HEAVY_MODULES = (
    "torch", "transformer_lens", "transformers", "matplotlib", "sklearn", "scipy", "umap",
    "numba", "leidenalg", "igraph", "nltk", "tiktoken", "pyarrow",
)  # fmt: skip

_LOADER = r"""
import json, os, sys, time
from pathlib import Path

before = set(sys.modules)
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings

snakemake_modules = set(sys.modules)
repo, configfile, workdir = map(Path, sys.argv[1:4])
# imported after the snapshot: whatever it imports counts as imported by the parse (stricter)
sys.path.insert(0, str(repo / "src"))
from phrenology.provenance import snakemake_dag

t0 = time.perf_counter()
rules, _ = snakemake_dag.load(repo / "Snakefile", workdir, [configfile], dag=False)
parse_seconds = time.perf_counter() - t0
parse_imports = sorted({m.split(".")[0] for m in set(sys.modules) - snakemake_modules})
print(json.dumps({
    "rules": [
        {"name": r.name, "snakefile": r.snakefile, "script": r.script, "conda": r.conda,
         "local": r.local, "gpu": r.gpu}
        for r in rules
    ],
    "parse_imports": parse_imports,
    "parse_seconds": parse_seconds,
    "env": {k: os.environ.get(k) for k in ("NLTK_DATA", "TIKTOKEN_CACHE_DIR", "PYTHONPATH")},
}))
"""


def parse_workflow(
    configfile: Path | None = None, workdir: Path | None = None, env: dict | None = None
) -> dict:
    """Parse the workflow in a fresh interpreter; return rules, parse-time imports and env."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                sys.executable, "-c", _LOADER, str(REPO),
                str(configfile or REPO / "config" / "quick.yaml"), str(workdir or tmp),
            ],
            capture_output=True, text=True, timeout=300, cwd=workdir or tmp,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"parsing the workflow failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@functools.cache
def quick_workflow() -> dict:
    """The quick configuration's workflow, parsed once per test session."""
    return parse_workflow()


def job_rules(info: dict) -> list[dict]:
    """Rules that become jobs of their own (everything but local rules such as ``all``)."""
    return [r for r in info["rules"] if not r["local"]]
