"""The lineage of an output: its record, the records of what it used, and so on to the sources.

:func:`lineage` follows ``used`` entries from record to record (each product's
record sits beside it, see :mod:`phrenology.provenance.records`) until it reaches files
without a record (the corpus file) and used things that are not files (the
tokenizer). A job reached twice (e.g. prepare_corpus, whose five outputs train
every model) is expanded once and referred to afterwards. Only recorded facts are
shown; :mod:`phrenology.provenance.audit` checks them against the files on disk.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

from phrenology.pipeline.errors import DataError
from phrenology.provenance.records import SUFFIX, read_record, record_path, sha256_path

WIDTH = 100


def lineage(path: str | os.PathLike, workdir: str | os.PathLike = ".") -> dict[str, Any]:
    """Nested lineage of ``path`` (relative paths are resolved against ``workdir``).

    Returns ``{"path", "sha256", "matches_record", "generatedBy": <activity>, "summary"}``;
    an activity holds ``rule, wildcards, params, config_sha256, times, git, host, slurm,
    script`` and ``used``: a list of file nodes (with their own ``generatedBy``) and
    non-file entities.
    """
    workdir = Path(workdir)
    target = Path(path)
    if str(target).endswith(SUFFIX):
        target = Path(str(target)[: -len(SUFFIX)])
    located = target if target.is_absolute() else workdir / target
    record = read_record(located)
    if record is None:
        raise DataError(
            f"{target} has no provenance record ({record_path(target)} is missing or unreadable); "
            "only files made by a pipeline job have one"
        )
    seen: set[str] = set()
    root = _file_node(record["entity"], record, workdir, seen)
    if located.exists():
        root["matches_record"] = sha256_path(located) == record["entity"]["sha256"]
    else:
        root["matches_record"] = None
    root["summary"] = _summary(root)
    return root


def _file_node(
    entity: dict[str, Any], record: dict[str, Any] | None, workdir: Path, seen: set[str]
) -> dict[str, Any]:
    node: dict[str, Any] = {k: entity.get(k) for k in ("path", "sha256", "role") if k in entity}
    if record is None:
        node["record"] = False
        return node
    node["record"] = True
    recorded = record["entity"].get("sha256")
    if entity.get("sha256") != recorded:
        node["record_sha256"] = recorded  # the producer's record describes another version
    act = record["wasGeneratedBy"]
    if act["id"] in seen:
        node["generatedBy"] = {"ref": act["id"], "rule": act["rule"], "wildcards": act["wildcards"]}
        return node
    seen.add(act["id"])
    agent = record.get("wasAssociatedWith", {})
    activity = {
        "id": act["id"],
        "rule": act["rule"],
        "wildcards": act.get("wildcards", {}),
        "params": act.get("params", {}),
        "config_sha256": act.get("config_sha256"),
        "startedAtTime": act.get("startedAtTime"),
        "endedAtTime": act.get("endedAtTime"),
        "duration_s": act.get("duration_s"),
        "script": (act.get("command") or {}).get("script"),
        "configfiles": (act.get("command") or {}).get("configfiles"),
        "git": agent.get("git"),
        "host": agent.get("host"),
        "slurm": agent.get("slurm"),
        "used": [],
    }
    for used in record.get("used", []):
        if used.get("path") is None:
            activity["used"].append(dict(used))
            continue
        p = Path(used["path"])
        upstream = read_record(p if p.is_absolute() else workdir / p)
        activity["used"].append(_file_node(used, upstream, workdir, seen))
    node["generatedBy"] = activity
    return node


def _walk(node: dict[str, Any]):
    yield node
    act = node.get("generatedBy") or {}
    for child in act.get("used", []):
        yield from _walk(child)


def _summary(root: dict[str, Any]) -> dict[str, Any]:
    """The sources at the bottom of the tree and what varied along the way."""
    sources, rules, commits, wildcards, seeds, configs = [], set(), set(), {}, set(), set()
    for node in _walk(root):
        act = node.get("generatedBy")
        if act and "ref" not in act:
            rules.add(act["rule"])
            configs.update(act.get("configfiles") or ["(the Snakefile's default)"])
            seeds.update(
                f"{act['rule']}: {item}"
                for item in flatten(act.get("params") or {})
                if "seed" in item.split("=", 1)[0].rsplit(".", 1)[-1]
            )
            git = act.get("git") or {}
            commits.add(
                (git.get("commit") or "unknown") + ("-dirty" if git.get("dirty") else "")
                if git
                else "unknown"
            )
            for k, v in act["wildcards"].items():
                wildcards.setdefault(k, set()).add(str(v))
        if "generatedBy" not in node and "record" in node and not node["record"]:
            sources.append({k: node.get(k) for k in ("path", "sha256", "role")})
        elif node.get("path") is None:
            sources.append(dict(node))
    return {
        "sources": sources,
        "rules": sorted(rules),
        "git": sorted(commits),
        "wildcards": {k: sorted(v, key=_natural) for k, v in wildcards.items()},
        "seed_params": sorted(seeds),
        "configfiles": sorted(configs),
    }


def _natural(s: str) -> tuple[int, Any]:
    return (0, int(s)) if s.isdigit() else (1, s)


# ---------------------------------------------------------------- text tree


def flatten(params: Any, prefix: str = "") -> list[str]:
    """``{"model": {"n_layers": 1}}`` → ``["model.n_layers=1"]``; lists stay compact JSON."""
    if isinstance(params, dict) and params:
        out = []
        for k in sorted(params):
            out.extend(flatten(params[k], f"{prefix}{k}."))
        return out
    value = json.dumps(params, separators=(",", ":")) if not isinstance(params, str) else params
    return [f"{prefix[:-1]}={value}"]


def _short(sha: str | None) -> str:
    return sha[:12] if sha else "?"


def _wildcards(wc: dict[str, Any]) -> str:
    return "[" + ", ".join(f"{k}={v}" for k, v in wc.items()) + "]" if wc else ""


def _file_text(node: dict[str, Any]) -> str:
    role = f" ({node['role']})" if node.get("role") else ""
    text = f"{node['path']}{role}  sha256 {_short(node.get('sha256'))}"
    if "record_sha256" in node:
        text += f"  ! its record now describes another version ({_short(node['record_sha256'])})"
    if not node.get("record"):
        text += "  [source: no record]"
    return text


def _fact_text(node: dict[str, Any]) -> str:
    facts = " ".join(
        f"{k}={_short(v) if k.endswith('sha256') else v}"
        for k, v in node.items()
        if k not in ("path", "role")
    )
    return f"{node.get('role', 'used')}: {facts}"


def _activity_lines(act: dict[str, Any]) -> tuple[str, list[str]]:
    git = act.get("git")
    commit = f"git {git['commit'][:10]}{' (dirty)' if git.get('dirty') else ''}" if git else "git ?"
    head = f"rule {act['rule']} {_wildcards(act['wildcards'])}".rstrip()
    when = f"{act.get('startedAtTime')} ({act.get('duration_s')} s)"
    where = f"host {act.get('host')}"
    if act.get("slurm"):
        where += f", slurm job {act['slurm'].get('job_id')}"
    details = [f"{when}, {commit}, {where}"]
    if act.get("script"):
        details.append(f"script {act['script']}")
    params = " ".join(flatten(act.get("params") or {}))
    details.append(f"config {_short(act.get('config_sha256'))}: {params or '(no params)'}")
    return head, details


def format_lineage(root: dict[str, Any], width: int = WIDTH) -> str:
    """The lineage as a text tree, with the sources summarised at the end."""
    lines = [_file_text(root)]
    if root.get("matches_record") is False:
        lines[0] += "  ! the file has changed since its record was written"
    elif root.get("matches_record") is None:
        lines[0] += "  ! the file is missing"

    def emit_file(node: dict[str, Any], prefix: str) -> None:
        act = node.get("generatedBy")
        if not act:
            return
        if "ref" in act:  # shown in full where first met; a single line refers back to it
            return
        head, details = _activity_lines(act)
        lines.append(f"{prefix}└── {head}")
        inner = prefix + "    "
        bar = "│   " if act["used"] else "    "
        for text in details:
            wrapped = textwrap.wrap(
                text, width=max(40, width - len(inner) - 4), subsequent_indent="  "
            )
            lines.extend(f"{inner}{bar}{w}" for w in wrapped)
        for i, child in enumerate(act["used"]):
            last = i == len(act["used"]) - 1
            branch, cont = ("└── ", "    ") if last else ("├── ", "│   ")
            text = _fact_text(child) if child.get("path") is None else _file_text(child)
            ref = child.get("generatedBy") or {}
            if "ref" in ref:
                text += f"  ← rule {ref['rule']} {_wildcards(ref['wildcards'])}".rstrip()
                text += " (above)"
            lines.append(f"{inner}{branch}{text}")
            emit_file(child, inner + cont)

    emit_file(root, "")
    s = root.get("summary", {})
    lines.append("")
    for src in s.get("sources", []):
        label = "source" if src.get("path") else "used"
        text = _file_text({**src, "record": True}) if src.get("path") else _fact_text(src)
        lines.append(f"{label}: {text}")
    for k, values in s.get("wildcards", {}).items():
        lines.append(f"{k} (wildcard): {', '.join(values)}")
    if s.get("seed_params"):
        lines.append(f"seeds in config: {'; '.join(s['seed_params'])}")
    lines.append(f"config files: {', '.join(s.get('configfiles', []))}")
    lines.append(f"rules: {', '.join(s.get('rules', []))}")
    lines.append(f"git: {', '.join(s.get('git', []))}")
    return "\n".join(lines)
