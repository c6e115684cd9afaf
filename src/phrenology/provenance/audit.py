"""Is every recorded product still what its record says, made from what is there now?

For each provenance record (:mod:`phrenology.provenance.records`) the audit re-hashes the
product and every file it used, asks Snakemake which params the rule would get
from the config now, and follows inputs to their own records, so that a change
anywhere upstream reaches every figure built on it. Status of a product, from
best to worst:

``current``        it, its inputs and its config subset are as recorded, all the way up
``stale``          an input changed since, the rule's config subset differs now, or
                   something upstream is stale
``missing-input``  an input (or an input of an input …) is gone
``modified``       the file itself no longer matches its record
``missing``        the file is gone; only its record is left
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phrenology.pipeline.errors import PhrenologyError
from phrenology.provenance import snakemake_dag
from phrenology.provenance.records import (
    SNAKEFILE_DEFAULTS,
    iter_records,
    output_of,
    params_hash,
    sha256_path,
)

STATUSES = ("current", "stale", "missing-input", "modified", "missing")  # best → worst


class AuditError(PhrenologyError):
    """The audit could not run (no records, or the workflow could not be evaluated)."""


@dataclass
class Finding:
    """The audit's verdict on one recorded product."""

    path: str
    rule: str
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (status, why)
    bad_inputs: set[str] = field(default_factory=set)  # inputs already flagged directly

    @property
    def status(self) -> str:
        return max((s for s, _ in self.reasons), key=STATUSES.index, default="current")

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rule": self.rule,
            "status": self.status,
            "reasons": [{"status": s, "why": why} for s, why in self.reasons],
        }


@dataclass(frozen=True)
class ConfigSource:
    """Which Snakefile and config decide the params a rule gets now."""

    snakefile: str | None
    configfiles: tuple[str, ...]
    overrides: tuple[str, ...] = ()

    def describe(self) -> str:
        files = ", ".join(map(_display, self.configfiles)) or "the Snakefile's default configfile"
        extra = f" + --config {' '.join(self.overrides)}" if self.overrides else ""
        return f"{files}{extra}"


def _display(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


# ---------------------------------------------------------------- current params via Snakemake


def workflow_params(
    workdir: Path, source: ConfigSource, targets: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Params each target's job would get now: output path → params (as records store them).

    Builds Snakemake's DAG for ``targets`` in-process with the given config
    (:mod:`phrenology.provenance.snakemake_dag`: no job runs, nothing is written but
    Snakemake's ``.snakemake/`` bookkeeping); a target no rule makes is left out.
    """
    from snakemake.cli import parse_config

    snakefile = source.snakefile or next(
        (str(workdir / c) for c in SNAKEFILE_DEFAULTS if (workdir / c).is_file()), None
    )
    if snakefile is None or not Path(snakefile).is_file():
        raise AuditError(
            f"no Snakefile to evaluate the current config with ({snakefile or 'none found'}); "
            "pass --snakefile, or --no-config to check files only"
        )
    for c in source.configfiles:
        if not Path(c).is_file():
            raise AuditError(f"config file {c} does not exist; pass --configfile")
    try:
        overrides = parse_config(list(source.overrides)) if source.overrides else {}
        _, jobs = snakemake_dag.load(
            snakefile, workdir, source.configfiles, overrides, targets=set(targets)
        )
    except (snakemake_dag.SnakemakeDagError, ValueError) as e:
        raise AuditError(
            f"Snakemake could not evaluate {snakefile} with {source.describe()}: "
            f"{e}; pass --no-config to check files only"
        ) from e
    return {os.path.normpath(path): job.params for job in jobs for _, path in job.outputs}


def params_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ, with both values: ``["k: 3 → 4"]``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            key = f"{prefix}{k}"
            if k not in old:
                out.append(f"{key}: (absent) → {new[k]!r}")
            elif k not in new:
                out.append(f"{key}: {old[k]!r} → (absent)")
            else:
                out.extend(params_diff(old[k], new[k], key + "."))
        return out
    return [] if old == new else [f"{prefix.rstrip('.') or '(params)'}: {old!r} → {new!r}"]


# ---------------------------------------------------------------- the audit


def audit(
    workdir: str | os.PathLike = ".",
    roots: Sequence[str | os.PathLike] = ("results",),
    *,
    check_config: bool = True,
    configfiles: Sequence[str | os.PathLike] | None = None,
    snakefile: str | os.PathLike | None = None,
) -> list[Finding]:
    """A :class:`Finding` for every record under ``roots`` (relative to ``workdir``).

    ``configfiles``/``snakefile`` replace the ones each record's run used (as
    recorded from Snakemake's command line) when checking the config subsets.
    """
    workdir = Path(workdir)
    records: dict[str, dict[str, Any]] = {}
    for root in roots:
        base = Path(root) if Path(root).is_absolute() else workdir / root
        for rec_file, record in iter_records(base):
            records[_key(output_of(rec_file), workdir)] = record
    if not records:
        raise AuditError(
            f"no provenance records under {', '.join(map(str, roots))} in {workdir.resolve()}"
        )

    hashes: dict[str, str | None] = {}

    def current_sha(path: str) -> str | None:
        if path not in hashes:
            p = Path(path) if Path(path).is_absolute() else workdir / path
            hashes[path] = sha256_path(p) if p.exists() else None
        return hashes[path]

    findings = {path: Finding(path, rec["wasGeneratedBy"]["rule"]) for path, rec in records.items()}
    for path, rec in records.items():
        f = findings[path]
        now = current_sha(path)
        if now is None:
            f.reasons.append(("missing", "the file is gone; only its record is left"))
        elif now != rec["entity"]["sha256"]:
            f.reasons.append(("modified", "the file has changed since its record was written"))
        for used in rec.get("used", []):
            if used.get("path") is None:
                continue  # not a file (e.g. a tokenizer's content hash): recorded, not re-checkable
            upath = _key(Path(used["path"]), workdir)
            sha = current_sha(upath)
            if sha is None:
                f.reasons.append(("missing-input", f"input {upath} is missing"))
                f.bad_inputs.add(upath)
            elif sha != used.get("sha256"):
                f.reasons.append(("stale", f"input {upath} changed since it was used"))
                f.bad_inputs.add(upath)

    if check_config:
        _check_config(records, findings, workdir, configfiles, snakefile)

    _propagate(records, findings, workdir)
    return [findings[p] for p in sorted(findings)]


def _key(path: Path, workdir: Path) -> str:
    """Records name files relative to the Snakemake working directory."""
    if path.is_absolute():
        try:
            return os.path.normpath(path.relative_to(workdir.resolve()))
        except ValueError:
            try:
                return os.path.normpath(path.relative_to(workdir))
            except ValueError:
                return os.path.normpath(path)
    return os.path.normpath(path)


def _check_config(
    records: dict[str, dict[str, Any]],
    findings: dict[str, Finding],
    workdir: Path,
    configfiles: Sequence[str | os.PathLike] | None,
    snakefile: str | os.PathLike | None,
) -> None:
    def recorded(p: str | None) -> str | None:  # records name them relative to the workdir
        return None if p is None else str((workdir / p).resolve())

    given = tuple(str(Path(c).resolve()) for c in configfiles) if configfiles else None
    groups: dict[ConfigSource, list[str]] = {}
    for path, rec in records.items():
        cmd = rec["wasGeneratedBy"].get("command") or {}
        source = ConfigSource(
            snakefile=str(Path(snakefile).resolve())
            if snakefile
            else recorded(cmd.get("snakefile")),
            configfiles=given or tuple(recorded(c) for c in cmd.get("configfiles", [])),
            overrides=() if given else tuple(cmd.get("config_overrides", [])),
        )
        groups.setdefault(source, []).append(path)
    for source, paths in groups.items():
        now = workflow_params(workdir, source, paths)
        for path in paths:
            act = records[path]["wasGeneratedBy"]
            if path not in now:
                findings[path].reasons.append(
                    ("stale", f"the workflow with {source.describe()} no longer makes this file")
                )
            elif params_hash(now[path]) != act.get("config_sha256"):
                changes = "; ".join(params_diff(act.get("params", {}), now[path])) or "(params)"
                findings[path].reasons.append(
                    ("stale", f"config differs now ({source.describe()}): {changes}")
                )


def _propagate(
    records: dict[str, dict[str, Any]], findings: dict[str, Finding], workdir: Path
) -> None:
    """A product is no better than anything upstream of it (depth-first, memoised)."""
    done: set[str] = set()
    active: set[str] = set()

    def visit(path: str) -> str:
        if path in done or path in active:  # `active`: a cycle, which Snakemake forbids anyway
            return findings[path].status
        active.add(path)
        f = findings[path]
        for used in records[path].get("used", []):
            if used.get("path") is None:
                continue
            upath = _key(Path(used["path"]), workdir)
            if upath not in records or upath in f.bad_inputs:
                continue
            up = visit(upath)
            if up in ("missing", "missing-input"):
                f.reasons.append(("missing-input", f"upstream {upath} is {up}"))
            elif up != "current":
                f.reasons.append(("stale", f"upstream {upath} is {up}"))
        active.discard(path)
        done.add(path)
        return f.status

    for path in sorted(records):
        visit(path)


# ---------------------------------------------------------------- reporting


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {s: sum(f.status == s for f in findings) for s in STATUSES}


def format_table(findings: Sequence[Finding]) -> str:
    """One line per product; every reason listed under a product that is not current."""
    if not findings:
        return "(nothing to report)"
    w_status = max(len(s) for s in STATUSES)
    w_path = max(len(f.path) for f in findings)
    lines = [f"{'STATUS':<{w_status}}  {'FILE':<{w_path}}  RULE"]
    for f in findings:
        lines.append(f"{f.status:<{w_status}}  {f.path:<{w_path}}  {f.rule}")
        lines.extend(f"{'':<{w_status}}    - {why}" for _, why in f.reasons)
    c = counts(findings)
    lines.append("")
    lines.append(f"{len(findings)} records: " + ", ".join(f"{n} {s}" for s, n in c.items() if n))
    return "\n".join(lines)
