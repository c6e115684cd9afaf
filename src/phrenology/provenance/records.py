"""Provenance records: what made each output, from what, with which code and config.

Every output of every rule gets a sidecar record ``<output>.prov.json`` (W3C PROV
names: the output is the ``entity``, the job the activity it ``wasGeneratedBy``,
its inputs what the job ``used``, git + software + host what it
``wasAssociatedWith``). Records of intermediate products (models, attention
tensors) let :mod:`phrenology.provenance.lineage` walk from a figure back to the corpus file,
and :mod:`phrenology.provenance.audit` re-hash everything to tell current from stale.

:func:`start` is called by :func:`phrenology.pipeline.jobs.snakemake_job` when a job begins
(cheap: no hashing), :meth:`Activity.finish` when it succeeds; a failed job
writes nothing. :func:`current_activity` lets :func:`phrenology.plots.save_figure`
embed the key facts in a PNG while the job runs.

A record (abridged)::

    {"schema": "phrenology-provenance/1",
     "entity": {"path": "results/heads.tsv", "sha256": "…", "size": 612, "mtime_ns": …},
     "wasGeneratedBy": {"id": "…", "rule": "heads_table", "wildcards": {},
                        "params": {"seeds": [990, 991]…}, "config_sha256": "…",
                        "startedAtTime": "2025-…Z", "endedAtTime": "…", "command": {…},
                        "generated": [<every output of the job>]},
     "used": [{"path": "…", "sha256": "…", "role": "model"}, …],
     "wasAssociatedWith": {"git": {"commit": "…", "dirty": false}, "software": {…},
                           "host": "…", "slurm": {"job_id": "…"} | null}}
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "phrenology-provenance/1"
SUFFIX = ".prov.json"
PNG_PREFIX = "phrenology:"

# Distributions whose versions change results; looked up with importlib.metadata (cheap).
PACKAGES = (
    "attention-phrenology", "torch", "transformer-lens", "numpy", "pandas", "scikit-learn",
    "umap-learn", "leidenalg", "igraph", "matplotlib", "tiktoken", "nltk", "snakemake",
)  # fmt: skip
SLURM_VARS = {
    "job_id": "SLURM_JOB_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "cluster": "SLURM_CLUSTER_NAME",
    "partition": "SLURM_JOB_PARTITION",
    "node": "SLURMD_NODENAME",
}
SNAKEFILE_DEFAULTS = ("Snakefile", "snakefile", "workflow/Snakefile", "workflow/snakefile")

_CURRENT: contextvars.ContextVar[Activity | None] = contextvars.ContextVar(
    "phrenology_activity", default=None
)


# ---------------------------------------------------------------- paths and hashes


def record_path(output: str | os.PathLike) -> Path:
    """The sidecar record of ``output``: ``results/x.png`` → ``results/x.png.prov.json``."""
    p = Path(output)
    return p.with_name(p.name + SUFFIX)


def is_record(path: str | os.PathLike) -> bool:
    return str(path).endswith(SUFFIX)


def output_of(record: str | os.PathLike) -> Path:
    """Inverse of :func:`record_path`."""
    s = str(record)
    if not s.endswith(SUFFIX):
        raise ValueError(f"{record} is not a provenance record (*{SUFFIX})")
    return Path(s[: -len(SUFFIX)])


def sha256_path(path: str | os.PathLike) -> str:
    """sha256 of a file; of a directory, the hash of its sorted (relative path, file hash) list."""
    import hashlib

    from phrenology.pipeline.io import sha256_file

    p = Path(path)
    if not p.is_dir():
        return sha256_file(p)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file() and not is_record(q)):
        h.update(f"{f.relative_to(p).as_posix()}\0{sha256_file(f)}\n".encode())
    return h.hexdigest()


def read_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The record beside output ``path`` (or the record file itself), None if absent/unreadable."""
    rec = Path(path) if is_record(path) else record_path(path)
    try:
        data = json.loads(rec.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def iter_records(root: str | os.PathLike) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(record file, record) for every readable record under ``root``, in path order."""
    root = Path(root)
    if root.is_file():
        candidates = [root] if is_record(root) else []
    else:
        candidates = sorted(root.rglob(f"*{SUFFIX}"))
    for rec in candidates:
        if rec.name.startswith("."):  # an atomic write in progress
            continue
        data = read_record(rec)
        if data is not None:
            yield rec, data


def file_entity(path: str, role: str | None = None, reuse: bool = True) -> dict[str, Any]:
    """Path, sha256, size and mtime of a file (or directory) as it is now.

    With ``reuse``, the hash is taken from the file's own provenance record when
    size and mtime still match what that record saw: every product is then hashed
    once, by the job that made it, not again by each job that reads it. The audit
    never reuses: it re-hashes.
    """
    p = Path(path)
    st = p.stat()
    size = st.st_size if p.is_file() else None
    entity = {"path": str(path), "sha256": None, "size": size, "mtime_ns": st.st_mtime_ns}
    if reuse and size is not None:
        known = (read_record(p) or {}).get("entity", {})
        if known.get("size") == size and known.get("mtime_ns") == st.st_mtime_ns:
            entity["sha256"] = known.get("sha256")
    if entity["sha256"] is None:
        entity["sha256"] = sha256_path(p)
    if role is not None:
        entity["role"] = role
    return entity


# ---------------------------------------------------------------- who / where / with what


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_utc(timestamp: float) -> str:
    return (
        dt.datetime.fromtimestamp(timestamp, dt.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )


def git_state(directory: str | os.PathLike | None) -> dict[str, Any] | None:
    """Commit and dirty flag of the git repository holding ``directory``; None if there is none.

    ``dirty`` follows ``git describe --dirty``: tracked files differ from the commit
    (untracked files do not count). ``diff_sha256`` tells two dirty states apart.
    """
    if directory is None or not Path(directory).is_dir():
        return None

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True, text=True, check=True, timeout=20,
        ).stdout  # fmt: skip

    try:  # one call when the tree is clean: commit, branch and changed files together
        status = git("status", "--porcelain=v2", "--branch", "--untracked-files=no")
        headers = dict(
            line[2:].split(" ", 1) for line in status.splitlines() if line.startswith("# ")
        )
        changed = [_status_path(line) for line in status.splitlines() if line[:1] in "12u"]
        diff = git("diff", "HEAD") if changed else ""
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    import hashlib

    commit = headers.get("branch.oid")
    state: dict[str, Any] = {
        "commit": None if commit in (None, "(initial)") else commit,
        "branch": headers.get("branch.head"),
        "dirty": bool(changed),
    }
    if changed:
        state["changed_files"] = changed[:50]
        state["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return state


def _status_path(line: str) -> str:
    """The path of a ``git status --porcelain=v2`` entry (the last field; may hold spaces)."""
    fields = {"1": 8, "2": 9, "u": 10}[line[0]]
    return line.split(" ", fields)[fields].split("\t")[0]


def software_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed versions (None when absent), plus python."""
    from importlib import metadata

    versions: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def slurm_info(environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    info = {key: environ[var] for key, var in SLURM_VARS.items() if environ.get(var)}
    return info or None


def agent_info(repo_dir: str | os.PathLike | None) -> dict[str, Any]:
    """What the job ran with: git state, package versions, host, user, Slurm job."""
    import getpass
    import platform

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = None
    return {
        "git": git_state(repo_dir),
        "software": software_versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "user": user,
        "slurm": slurm_info(),
    }


def _snakemake_process() -> tuple[list[str], str] | None:
    """argv and cwd of the nearest ancestor process that is Snakemake (Linux /proc only)."""
    from phrenology.pipeline import prewarm

    pid = prewarm.job_ancestor()  # a prewarmed job's parent is the server, not Snakemake
    for _ in range(8):
        if pid <= 1:
            return None
        proc = Path("/proc") / str(pid)
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            argv = [a.decode(errors="replace") for a in argv if a]
            cwd = os.readlink(proc / "cwd")
            pid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None
        for i, arg in enumerate(argv[:4]):
            if os.path.basename(arg) == "snakemake" or (
                arg == "snakemake" and i > 0 and argv[i - 1] == "-m"
            ):
                return argv, cwd
    return None


def parse_snakemake_argv(argv: list[str], cwd: str) -> dict[str, Any]:
    """The options of a Snakemake command line that decide the config and the Snakefile."""
    import argparse

    start = next(
        (i + 1 for i, a in enumerate(argv) if os.path.basename(a) == "snakemake"), len(argv)
    )
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-s", "--snakefile")
    parser.add_argument("--configfile", "--configfiles", nargs="+", action="extend", default=[])
    parser.add_argument("-C", "--config", nargs="+", action="extend", default=[])
    parser.add_argument("-d", "--directory")
    try:
        ns, _ = parser.parse_known_args(argv[start:])
    except SystemExit:  # argparse gives up on a malformed line: record what we can
        return {"snakefile": None, "configfiles": [], "config_overrides": []}

    def absolute(p: str) -> str:
        return os.path.normpath(os.path.join(cwd, p))

    snakefile = absolute(ns.snakefile) if ns.snakefile else None
    if snakefile is None:
        snakefile = next(
            (absolute(c) for c in SNAKEFILE_DEFAULTS if os.path.isfile(absolute(c))), None
        )
    return {
        "snakefile": snakefile,
        "configfiles": [absolute(c) for c in ns.configfile],
        "config_overrides": list(ns.config),
    }


def workdir_relative(path: str | None) -> str | None:
    """``path`` relative to the working directory when inside it: records stay valid when the
    whole project folder moves."""
    if path is None:
        return None
    rel = os.path.relpath(path, os.getcwd())
    return path if rel.startswith("..") else rel


def _script_path(smk: Any) -> str | None:
    """The rule's script: Snakemake runs a copy named ``.snakemake/scripts/tmpXXXX.<name>``."""
    scriptdir = getattr(smk, "scriptdir", None)
    name = re.sub(r"^tmp[^.]*\.", "", os.path.basename(sys.argv[0] or ""))
    if scriptdir and name:
        candidate = os.path.normpath(os.path.join(scriptdir, name))  # scriptdir: rules/../…
        if os.path.isfile(candidate):
            return candidate
    return None


# ---------------------------------------------------------------- snakemake objects → JSON


def plain(value: Any) -> Any:
    """JSON-able copy (tuples → lists, unknown objects → str), the form records and hashes use."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _entries(container: Any) -> list[tuple[str | None, Any]]:
    """(name or None, value) pairs of a Snakemake Namedlist, a mapping, or a plain list."""
    if container is None:
        return []
    if hasattr(container, "_allitems"):  # snakemake.io.Namedlist: names cover index ranges
        return list(container._allitems())
    if isinstance(container, Mapping):
        return list(container.items())
    if isinstance(container, str | os.PathLike):
        return [(None, container)]
    return [(None, v) for v in container]


def named_values(container: Any) -> dict[str, Any]:
    """A Snakemake Namedlist (params, wildcards, resources) or mapping as a plain dict.

    Unnamed positional values are kept under ``_0``, ``_1``, … so nothing is dropped.
    """
    values: dict[str, Any] = {}
    for i, (name, value) in enumerate(_entries(container)):
        values[name if name is not None else f"_{i}"] = value
    return plain(values)


def named_files(container: Any) -> list[tuple[str, str | None]]:
    """(path, role) for every file of a Snakemake input/output/log list; role = its name."""
    pairs: list[tuple[str, str | None]] = []
    for name, value in _entries(container):
        paths = [value] if isinstance(value, str | os.PathLike) else list(value)
        pairs.extend((str(p), name) for p in paths)
    return pairs


def params_hash(params: Any) -> str:
    from phrenology.pipeline.config import config_hash

    return config_hash(plain(params))


# ---------------------------------------------------------------- the activity of one job


@dataclass
class Activity:
    """Provenance of one running job; records are written by :meth:`finish`."""

    rule: str
    wildcards: dict[str, Any]
    params: dict[str, Any]
    inputs: list[tuple[str, str | None]]
    outputs: list[tuple[str, str | None]]
    started: float
    command: dict[str, Any]
    threads: int | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    repo_dir: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    extra_files: list[tuple[str, str]] = field(default_factory=list)
    extra_facts: list[dict[str, Any]] = field(default_factory=list)
    _used: list[dict[str, Any]] | None = field(default=None, repr=False)
    _agent: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def config_sha256(self) -> str:
        return params_hash(self.params)

    def uses_file(self, path: str | os.PathLike, role: str) -> None:
        """Declare a file the job reads that is not a Snakemake input (e.g. the corpus)."""
        self.extra_files.append((str(path), role))
        self._used = None

    def uses(self, role: str, **facts: Any) -> None:
        """Declare something used that is not a file (e.g. a tokenizer and its content hash)."""
        self.extra_facts.append({"path": None, "role": role, **plain(facts)})
        self._used = None

    def used(self) -> list[dict[str, Any]]:
        """Entities the job used (hashed once, on first call)."""
        if self._used is None:
            files = [*self.inputs, *self.extra_files]
            self._used = [file_entity(p, role) for p, role in files] + list(self.extra_facts)
        return self._used

    def agent(self) -> dict[str, Any]:
        if self._agent is None:
            self._agent = agent_info(self.repo_dir)
        return self._agent

    def activity_record(self, generated: list[dict[str, Any]], ended: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "wildcards": self.wildcards,
            "params": self.params,
            "config_sha256": self.config_sha256,
            "startedAtTime": iso_utc(self.started),
            "endedAtTime": iso_utc(ended),
            "duration_s": round(ended - self.started, 3),
            "command": self.command,
            "workdir": os.getcwd(),
            "threads": self.threads,
            "resources": self.resources,
            "log": self.logs,
            "generated": generated,
        }

    def records(self, ended: float | None = None) -> dict[str, dict[str, Any]]:
        """One record per output path (they share the activity; ``entity`` differs)."""
        ended = time.time() if ended is None else ended
        generated = [file_entity(p, role, reuse=False) for p, role in self.outputs]
        activity = self.activity_record(generated, ended)
        used, agent = self.used(), self.agent()
        return {
            entity["path"]: {
                "schema": SCHEMA,
                "entity": entity,
                "wasGeneratedBy": activity,
                "used": used,
                "wasAssociatedWith": agent,
            }
            for entity in generated
        }

    def finish(self) -> list[Path]:
        """Write every output's record atomically; nothing if an output is missing.

        A missing output means Snakemake is about to fail the job (and delete the
        other outputs), so no record may claim it succeeded.
        """
        from phrenology.pipeline.io import write_json

        if not all(os.path.exists(p) for p, _ in self.outputs):
            return []
        written = []
        for path, record in self.records().items():
            write_json(record_path(path), record)
            written.append(record_path(path))
        return written

    def png_metadata(self) -> dict[str, str]:
        """Key facts as PNG text chunks (compact; the full record sits beside the PNG)."""
        git = self.agent()["git"] or {}
        used = [{"path": u["path"], "sha256": u.get("sha256")} for u in self.used() if u["path"]]
        wildcards = ",".join(f"{k}={v}" for k, v in self.wildcards.items())
        facts = {
            "rule": self.rule,
            "wildcards": wildcards,
            "git_commit": git.get("commit", "unknown"),
            "git_dirty": str(git["dirty"]).lower() if "dirty" in git else "unknown",
            "config_sha256": self.config_sha256,
            "params": json.dumps(self.params, sort_keys=True, separators=(",", ":")),
            "used": json.dumps(used, separators=(",", ":")),
            "started": iso_utc(self.started),
            "activity_id": self.id,
        }
        meta = {PNG_PREFIX + k: v for k, v in facts.items()}
        short = git.get("commit", "unknown")[:12] + ("-dirty" if git.get("dirty") else "")
        meta["Source"] = f"attention-phrenology rule {self.rule} at git {short}"
        return meta


def start(smk: Any, started: float | None = None) -> Activity:
    """Provenance of the job described by Snakemake's ``snakemake`` object (no hashing yet).

    Deletes any old record beside the job's outputs: until the job succeeds
    there is no valid record for them.
    """
    outputs = named_files(getattr(smk, "output", None))
    for path, _ in outputs:
        record_path(path).unlink(missing_ok=True)
    script = _script_path(smk)
    command: dict[str, Any] = {"script": script, "script_sha256": None, "python": sys.executable}
    if script:
        from phrenology.pipeline.io import sha256_file

        command["script_sha256"] = sha256_file(script)
    proc = _snakemake_process()
    if proc is not None:
        argv, cwd = proc
        found = parse_snakemake_argv(argv, cwd)
        found["snakefile"] = workdir_relative(found["snakefile"])
        found["configfiles"] = [workdir_relative(c) for c in found["configfiles"]]
        command.update(snakemake_argv=argv, snakemake_cwd=cwd, **found)
    command["script"] = workdir_relative(script)
    scriptdir = getattr(smk, "scriptdir", None)
    resources = named_values(getattr(smk, "resources", None))
    activity = Activity(
        rule=str(getattr(smk, "rule", "unknown")),
        wildcards=named_values(getattr(smk, "wildcards", None)),
        params=named_values(getattr(smk, "params", None)),
        inputs=named_files(getattr(smk, "input", None)),
        outputs=outputs,
        started=time.time() if started is None else started,
        command=command,
        threads=getattr(smk, "threads", None),
        resources={k: v for k, v in resources.items() if not k.startswith("_") and k != "tmpdir"},
        logs=[p for p, _ in named_files(getattr(smk, "log", None))],
        repo_dir=str(scriptdir) if scriptdir else os.getcwd(),
    )
    activity.agent()  # git state now: the code that runs is the code at the start
    return activity


def current_activity() -> Activity | None:
    """The provenance of the job running in this process, if any."""
    return _CURRENT.get()


def set_current(activity: Activity | None) -> contextvars.Token:
    return _CURRENT.set(activity)


def reset_current(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


def png_metadata() -> dict[str, str]:
    """PNG text chunks for a figure saved by the running job; empty outside a job."""
    activity = current_activity()
    return activity.png_metadata() if activity is not None else {}
