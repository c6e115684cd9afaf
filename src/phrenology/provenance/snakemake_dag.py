"""A Snakemake workflow's rules and the jobs of its DAG, read in-process (no job runs).

The DVC generator (:mod:`phrenology.provenance.dvc`) and the audit
(:mod:`phrenology.provenance.audit`) need, per job, its rule, wildcards, input and named
output files and the *values of its params*; per rule, its script, docstring and file
patterns. Everything goes through Snakemake's public API (``snakemake.api``): the
workflow is parsed by ``SnakemakeApi.workflow`` and its DAG built by the public
``DAGApi.printd3dag`` (whose JSON, captured, cross-checks the jobs read here).

What no public interface gives is the job objects themselves: ``--summary`` /
``--detailed-summary`` list files, rules and inputs, ``--d3dag`` rule names, the logger
plugins' JOB_INFO events wildcards and files, ``--list-params-changes`` only *which*
files' params differ from Snakemake's own metadata; none of them a job's params or its
output names. So one private attribute is read, in :func:`_parsed_workflow` and nowhere
else; ``tests/unit/provenance/test_snakemake_dag.py`` fails loudly when a Snakemake
upgrade moves it (or when Snakemake is not the version this was checked against).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phrenology.pipeline.errors import PhrenologyError
from phrenology.provenance.records import named_values

# The Snakemake release whose internals _parsed_workflow was checked against.
CHECKED_SNAKEMAKE = (9, 27)


class SnakemakeDagError(PhrenologyError):
    """Snakemake could not parse the workflow or build its DAG."""


@dataclass(frozen=True)
class RuleInfo:
    """What the tools need to know about one rule."""

    name: str
    snakefile: str  # the .smk file that defines it
    script: str | None  # absolute path
    conda: str | None  # absolute path of its env file (None without one)
    doc: str | None  # docstring, whitespace collapsed
    local: bool  # a rule without a job of its own, such as `all` (see _rule_info)
    gpu: Any  # resources.gpu: None, an int/str, or "<function>"
    input_patterns: tuple[str, ...]  # the plain-string inputs (no functions)
    output_patterns: tuple[str, ...]
    params: Mapping[str, Any]  # name → the rule's own param item (a value or a function)


@dataclass(frozen=True)
class JobInfo:
    """One job of the DAG."""

    rule: str
    wildcards: tuple[tuple[str, str], ...]
    inputs: tuple[str, ...]  # de-duplicated, in order
    outputs: tuple[tuple[str | None, str], ...]  # (name, path), in the rule's order
    params: dict[str, Any]  # as provenance records store them


def _parsed_workflow(workflow_api: Any) -> Any:
    """The parsed ``snakemake.workflow.Workflow`` behind a ``WorkflowApi``.

    PRIVATE SNAKEMAKE API, on purpose and only here: Snakemake 9.27's API builds a DAG only
    to run, print or summarise it, and no public call or command-line output gives a
    job's params (see the module docstring). Reading the property parses the Snakefile
    once. If a Snakemake upgrade renames it, test_snakemake_dag.py fails first.
    """
    return workflow_api._workflow


def _rule_info(rule: Any) -> RuleInfo:
    base = Path(str(rule.basedir))  # a Snakemake SourceFile: str() is the folder of the .smk
    gpu = rule.resources.get("gpu")
    gpu = getattr(gpu, "value", gpu)
    params = {name: rule.params.get(name) for name in rule.params.keys()}
    return RuleInfo(
        name=rule.name,
        snakefile=str(rule.snakefile),
        script=os.path.normpath(base / rule.script) if rule.script else None,
        conda=os.path.normpath(base / rule.conda_env) if isinstance(rule.conda_env, str) else None,
        doc=" ".join(rule.docstring.split()) if rule.docstring else None,
        # Only job-less rules count: Snakemake has no public list of `localrules:` names
        # (Workflow.is_local says True for every rule when no executor is chosen). This
        # workflow declares none; tests/workflow/test_slurm.py would see one as a
        # local job Slurm never ran.
        local=bool(rule.norun),
        gpu=gpu if gpu is None or isinstance(gpu, int | str) else "<function>",
        input_patterns=tuple(str(f) for f in rule.input if isinstance(f, str)),
        output_patterns=tuple(str(f) for f in rule.output),
        params=params,
    )


def named_paths(files: Any) -> list[tuple[str | None, str]]:
    """(name, path) per file of a Snakemake input/output list, through its public ``items()``."""
    names: dict[int, str] = {}
    for name, value in files.items():
        members = [value] if isinstance(value, str) else list(value)
        for member in members:
            for i, f in enumerate(files):
                if f is member or (i not in names and str(f) == str(member)):
                    names[i] = name
                    break
    return [(names.get(i), str(f)) for i, f in enumerate(files)]


def _job_info(job: Any) -> JobInfo:
    return JobInfo(
        rule=job.rule.name,
        wildcards=tuple((k, str(v)) for k, v in job.wildcards.items()),
        inputs=tuple(dict.fromkeys(str(f) for f in job.input)),
        outputs=tuple(named_paths(job.output)),
        params=named_values(job.params),
    )


def load(
    snakefile: str | os.PathLike,
    workdir: str | os.PathLike,
    configfiles: Sequence[str | os.PathLike] = (),
    config: Mapping[str, Any] | None = None,
    targets: Iterable[str] | None = None,
    *,
    dag: bool = True,
) -> tuple[list[RuleInfo], list[JobInfo]]:
    """Rules (in the order they are defined) and, with ``dag``, the jobs that make
    ``targets`` (default: the default target) in ``workdir``; targets no rule makes are
    left out.

    Only Snakemake's bookkeeping under ``workdir/.snakemake`` is touched; the current
    directory is restored afterwards.
    """
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        Quietness,
        ResourceSettings,
    )

    cwd = os.getcwd()
    try:
        with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
            wf_api = api.workflow(
                resource_settings=ResourceSettings(),
                config_settings=ConfigSettings(
                    configfiles=[Path(c).resolve() for c in configfiles], config=dict(config or {})
                ),
                snakefile=Path(snakefile).resolve(),
                workdir=Path(workdir).resolve(),
            )
            workflow = _parsed_workflow(wf_api)
            rules = [_rule_info(r) for r in workflow.rules]
            if not dag:
                return rules, []
            settings = DAGSettings()
            if targets is not None:
                # a file no rule makes (any more) would abort the whole DAG: leave it out
                made = {t for t in targets if any(r.is_producer(t) for r in workflow.rules)}
                if not made:
                    return rules, []
                settings = DAGSettings(targets=made)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                wf_api.dag(settings).printd3dag()  # public: builds the DAG, prints its jobs
            jobs = [_job_info(j) for j in workflow.dag.jobs]
    except PhrenologyError:
        raise
    except Exception as e:  # Snakemake's own errors: a bad config, a broken rule
        raise SnakemakeDagError(f"{type(e).__name__}: {e}") from e
    finally:
        os.chdir(cwd)
    _check_against_d3dag(jobs, out.getvalue())
    return rules, jobs


def _check_against_d3dag(jobs: list[JobInfo], printed: str) -> None:
    """The jobs read from the DAG are the ones Snakemake's public --d3dag output lists."""
    try:
        nodes = json.loads(printed.strip().splitlines()[-1])["nodes"]
    except (IndexError, KeyError, ValueError) as e:
        raise SnakemakeDagError(f"Snakemake's --d3dag output is not what was expected: {e}") from e
    public = sorted(n["value"]["rule"] for n in nodes)
    if public != sorted(j.rule for j in jobs):
        raise SnakemakeDagError(
            "the jobs read from Snakemake's DAG differ from its --d3dag output "
            f"({len(jobs)} vs {len(public)}): re-check {__name__}._parsed_workflow"
        )
