"""Provenance summaries for the HTML report (``snakemake --report``).

Every figure and table in the report carries a caption (``report/*.rst``); each
caption ends with ``.. include::`` of a short reStructuredText summary written by
:func:`provenance_rst` from the product's record (:mod:`phrenology.provenance.records`) and
its lineage (:mod:`phrenology.provenance.lineage`): the file's hash, the job, git commit,
script, config files and parameters, its inputs, the seeds and data sources
upstream, and the software versions. The record itself stays the authority;
``phrenology audit`` tells whether the product is still current.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from phrenology.pipeline.errors import DataError
from phrenology.provenance.lineage import flatten, lineage
from phrenology.provenance.records import SUFFIX, read_record

# Versions shown in the summary (the record keeps them all).
SOFTWARE_SHOWN = ("python", "torch", "transformer-lens", "numpy", "scikit-learn", "snakemake")


def summary_name(product: str | os.PathLike, results: str = "results") -> str:
    """Where a product's summary goes, relative to the summaries folder:
    ``results/figures/fig04.png`` → ``figures/fig04.png.rst``."""
    rel = os.path.relpath(product, results)
    if rel.startswith(".."):
        raise DataError(
            f"{product} is not under {results}/; the report only shows pipeline products"
        )
    return rel + ".rst"


def _literal(text: Any) -> str:
    """An RST inline literal (``…``); the text never holds a double backquote."""
    return "``" + str(text).replace("``", "` `") + "``"


def _short(sha: str | None, n: int = 12) -> str:
    return sha[:n] if sha else "?"


def _fields(record: dict[str, Any], summary: dict[str, Any], product: str) -> list[tuple[str, str]]:
    act = record["wasGeneratedBy"]
    agent = record.get("wasAssociatedWith") or {}
    command = act.get("command") or {}
    git = agent.get("git") or {}
    wildcards = ", ".join(f"{k}={v}" for k, v in (act.get("wildcards") or {}).items())
    where = f"host {_literal(agent.get('host'))}"
    if agent.get("slurm"):
        where += f", Slurm job {_literal(agent['slurm'].get('job_id'))}"
    commit = (
        f"git {_literal(_short(git.get('commit')))}"
        + (" with uncommitted changes" if git.get("dirty") else "")
        if git
        else "git unknown (not a git checkout)"
    )
    script = command.get("script")
    code = commit + (
        f"; script {_literal(script)} sha256 {_literal(_short(command.get('script_sha256')))}"
        if script
        else ""
    )
    configs = ", ".join(_literal(c) for c in command.get("configfiles") or []) or (
        "the Snakefile's default"
    )
    if command.get("config_overrides"):
        configs += " + ``--config`` " + " ".join(map(_literal, command["config_overrides"]))
    params = " ".join(_literal(p) for p in flatten(act["params"])) if act.get("params") else "none"
    inputs = ", ".join(
        f"{_literal(u['path'])} ({_literal(_short(u.get('sha256')))})"
        for u in record.get("used", [])
        if u.get("path") is not None
    )
    sources = []
    for s in summary.get("sources", []):
        if s.get("path"):
            sources.append(f"{_literal(s['path'])} sha256 {_literal(_short(s.get('sha256')))}")
        else:
            facts = " ".join(
                f"{k}={_short(v) if k.endswith('sha256') else v}"
                for k, v in s.items()
                if k != "role" and v is not None
            )
            sources.append(f"{s.get('role', 'used')}: {_literal(facts)}")
    software = agent.get("software") or {}
    versions = ", ".join(f"{k} {software[k]}" for k in SOFTWARE_SHOWN if software.get(k))
    fields = [
        ("file", f"{_literal(product)} sha256 {_literal(_short(record['entity'].get('sha256')))}"),
        (
            "made by",
            f"rule {_literal(act['rule'])}{f' [{wildcards}]' if wildcards else ''}, "
            f"{act.get('startedAtTime')} ({act.get('duration_s')} s), {where}",
        ),
        ("code", code),
        ("config", f"{configs}; this rule's parameters: {params}"),
        ("inputs", inputs or "none"),
        (
            "seeds upstream",
            "; ".join(_literal(s) for s in summary.get("seed_params", [])) or "none",
        ),
        ("data sources", "; ".join(sources) or "none recorded"),
        ("software", versions or "not recorded"),
    ]
    commits = summary.get("git") or []
    if len(commits) > 1:  # products made by different code along the way: worth seeing
        fields.insert(3, ("git upstream", ", ".join(_literal(_short(c, 20)) for c in commits)))
    return fields


def provenance_rst(product: str | os.PathLike, workdir: str | os.PathLike = ".") -> str:
    """A reStructuredText block summarising the provenance of ``product`` (relative to
    ``workdir``), for inclusion at the end of its report caption."""
    workdir = Path(workdir)
    product = os.fspath(product)
    record = read_record(workdir / product)
    if record is None:
        raise DataError(
            f"{product} has no provenance record ({product}{SUFFIX}); rerun the job that makes it"
        )
    tree = lineage(product, workdir)
    lines = [
        "",
        f"**Provenance** (from {_literal(product + SUFFIX)}; "
        f"{_literal('phrenology provenance ' + product)} prints the full lineage, "
        f"{_literal('phrenology audit')} tells whether it is still current)",
        "",
    ]
    for name, body in _fields(record, tree.get("summary") or {}, product):
        lines.append(f":{name}: {body}")
    lines.append("")
    return "\n".join(lines)
