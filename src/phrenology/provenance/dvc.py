"""dvc.yaml, generated from the Snakemake DAG: one DVC stage per Snakemake job.

Snakemake stays the one place the pipeline is defined. :func:`generate` builds the
DAG of the selected config file and writes one stage per job, so ``dvc repro``
reruns exactly the jobs whose inputs, config keys or code changed, ``dvc push`` /
``dvc pull`` share every product, and ``dvc dag`` shows the same graph:

* **stage** ``rule``, or ``rule@value`` for a rule with a wildcard (a DVC ``foreach``:
  ``train_model@990``). Its ``cmd`` runs that one job,
  ``snakemake --configfile C --cores all --force --allowed-rules RULE -- OUTPUT``:
  ``--force`` because DVC has already decided the stage is out of date (a change
  Snakemake does not see, such as a package module, must still rerun it), and
  ``--allowed-rules`` so that no upstream job runs inside this stage (a file restored by
  ``dvc checkout`` may look newer than what was made from it). Snakemake honours that only
  for inputs given as paths: an input written ``rules.<name>.output.x`` names its producer
  directly and brings it along, so rules/*.smk wrap those in ``str()`` (tested).
* **deps**: the job's input files, its script and the package modules the script
  imports (transitively), without the bookkeeping modules that only log and record.
* **params**: the keys of the config file that the rule's ``params:`` read, as each
  ``cfg("key")`` of rules/*.smk records them (:func:`_config_keys`): editing ``clustering.k`` reruns ``knn_graph`` and what follows
  from its outputs, never training; adding a seed adds stages for that seed only.
* **outs**: every output and its provenance record ``<output>.prov.json``, with
  ``persist: true``: DVC must not delete what Snakemake owns before a stage runs (a
  training job resumes from its checkpoint; a forced job's outputs are removed by
  Snakemake itself). Persistent outputs are never restored from DVC's run cache, so
  every rerun is a real Snakemake job that leaves Snakemake's own records consistent.
* top-level **metrics** (``results/metrics.json``) and **plots** (training curves,
  autoencoder validation loss, the γ sweep).

The file is generated for one config file (``vars: config``); a different config, a
new rule, new params or a changed seed list means regenerating it
(``phrenology dvc sync --configfile …``). ``tests/workflow/test_dvc.py`` fails while the
committed dvc.yaml and the Snakefile disagree.
"""

from __future__ import annotations

import ast
import difflib
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from phrenology.pipeline.errors import PhrenologyError
from phrenology.pipeline.io import atomic_path
from phrenology.provenance import snakemake_dag
from phrenology.provenance.records import SUFFIX

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = "config/quick.yaml"
DVC_YAML = "dvc.yaml"


class DvcSyncError(PhrenologyError):
    """dvc.yaml cannot be generated, or does not match the workflow."""


# Package modules that decide how a job logs, fails and records itself, not what it computes:
# a change to them is no reason to retrain every model. (Provenance records are still
# outputs: a rerun for any other reason rewrites them.)
BOOKKEEPING_MODULES = frozenset(
    {
        "phrenology",
        "phrenology.pipeline",
        "phrenology.pipeline.jobs",
        "phrenology.pipeline.errors",
        "phrenology.provenance",
        "phrenology.provenance.records",
    }
)

# Top-level plots: (id, rule, output name, x, y fields, template, title). Files come from
# the jobs, so every seed / bottleneck of the config is drawn. A γ sweep is a set of
# independent runs, drawn as points.
PLOTS: tuple[tuple[str, str, str, str, tuple[str, ...], str, str], ...] = (
    (
        "training_loss",
        "train_model",
        "steps",
        "step",
        ("loss",),
        "linear",
        "Training loss per step",
    ),
    (
        "heldout_loss",
        "train_model",
        "epochs",
        "epoch",
        ("heldout_loss",),
        "linear",
        "Held-out loss per epoch",
    ),
    (
        "autoencoder_validation",
        "train_autoencoder",
        "history",
        "epoch",
        ("validation_mse",),
        "linear",
        "Autoencoder validation MSE per epoch",
    ),
    (
        "gamma_sweep_scores",
        "leiden_sweep",
        "sweep",
        "gamma",
        ("f_score", "precision", "recall", "silhouette"),
        "scatter",
        "Leiden γ sweep: clustering scores",
    ),
    (
        "gamma_sweep_clusters",
        "leiden_sweep",
        "sweep",
        "gamma",
        ("n_clusters",),
        "scatter",
        "Leiden γ sweep: number of clusters",
    ),
)
# Plots of training, left out where nothing is trained (a pretrained family)
TRAINING_PLOTS = frozenset({"training_loss", "heldout_loss"})
METRICS_RULE = "metrics_summary"


# ---------------------------------------------------------------- the Snakemake DAG


@dataclass(frozen=True)
class JobSpec:
    """What dvc.yaml needs to know about one Snakemake job."""

    rule: str
    wildcards: tuple[tuple[str, str], ...]
    inputs: tuple[str, ...]
    outputs: tuple[tuple[str | None, str], ...]  # (name, path), in the rule's order
    params: dict[str, Any]
    script: str | None  # relative to the repository
    doc: str | None
    input_patterns: tuple[str, ...]
    output_patterns: tuple[str, ...]
    config_keys: dict[str, tuple[str, ...] | None]  # param → keys it reads (None: not config)


def workflow_jobs(configfile: str | os.PathLike, repo: str | os.PathLike = REPO) -> list[JobSpec]:
    """Every job of the workflow's default target under ``configfile``, in rule order.

    The DAG is built in a scratch working directory, so existing results play no part.
    """
    repo = Path(repo).resolve()
    config_path = (repo / configfile).resolve()
    if not config_path.is_file():
        raise DvcSyncError(f"config file {configfile} does not exist")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            rules, jobs = snakemake_dag.load(repo / "Snakefile", scratch, [config_path])
    except snakemake_dag.SnakemakeDagError as e:
        raise DvcSyncError(f"Snakemake could not build the DAG with {configfile}: {e}") from e
    by_name = {r.name: r for r in rules}
    order = {r.name: i for i, r in enumerate(rules)}
    specs = [_job_spec(job, by_name[job.rule], repo) for job in jobs if job.outputs]
    return sorted(specs, key=lambda j: (order[j.rule], [_natural(v) for _, v in j.wildcards]))


def _job_spec(job: snakemake_dag.JobInfo, rule: snakemake_dag.RuleInfo, repo: Path) -> JobSpec:
    return JobSpec(
        rule=job.rule,
        wildcards=job.wildcards,
        inputs=job.inputs,
        outputs=job.outputs,
        params=job.params,
        script=os.path.relpath(rule.script, repo) if rule.script else None,
        doc=rule.doc,
        input_patterns=rule.input_patterns,
        output_patterns=rule.output_patterns,
        config_keys={name: _config_keys(rule, name) for name in job.params},
    )


def _config_keys(rule: snakemake_dag.RuleInfo, name: str) -> tuple[str, ...] | None:
    """The config keys a rule's param reads, from the ``cfg(...)`` that made it (rules/*.smk).

    A function of the wildcards is not from the config (a path, a wildcard's value); a
    plain value is refused: it may well come from the config, and dvc.yaml would not know.
    """
    item = rule.params.get(name)
    keys = getattr(item, "config_keys", None)
    if keys is not None:
        return tuple(keys)
    if callable(item):
        return None
    raise DvcSyncError(
        f"rule {rule.name}: param '{name}' = {item!r} is a plain value; write it as "
        f'{name}=cfg("<config key>") in {os.path.basename(rule.snakefile)} so dvc.yaml knows '
        "which config key it comes from (or as a function of the wildcards if it is not "
        "from the config)"
    )


def _natural(s: str) -> tuple[int, Any]:
    return (0, int(s)) if s.isdigit() else (1, s)


# ---------------------------------------------------------------- params and code deps


def _lookup(config: dict[str, Any], key: str, rule: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise DvcSyncError(f"rule {rule}: config key '{key}' is not in the config file")
        node = node[part]
    return node


def param_keys(job: JobSpec, config: dict[str, Any]) -> list[str]:
    """The config keys (dotted) a job's params come from, each checked to be in the file."""
    keys = [k for ks in job.config_keys.values() if ks for k in ks]
    for key in keys:
        _lookup(config, key, job.rule)
    return sorted(set(keys))


@functools.cache
def _imports(path: Path, module: str) -> tuple[str, ...]:
    """Absolute names of every module ``path`` imports (anywhere in it: imports in
    functions and ``with`` blocks count), as ``from a import b`` → ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.append(base)
            names.extend(f"{base}.{a.name}" for a in node.names)
    return tuple(names)


def _module_file(name: str, src: Path) -> Path | None:
    parts = name.split(".")
    for candidate in (src.joinpath(*parts).with_suffix(".py"), src.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def code_deps(script: str, repo: str | os.PathLike = REPO) -> list[str]:
    """The script and every package module it imports, transitively, without the
    bookkeeping modules (:data:`BOOKKEEPING_MODULES`); paths relative to ``repo``."""
    repo = Path(repo)
    src = repo / "src"
    found: dict[str, Path] = {}
    todo: list[tuple[Path, str]] = [(repo / script, "__script__")]
    while todo:
        path, module = todo.pop()
        for name in _imports(path, module):
            if not name.startswith("phrenology"):
                continue
            # importing a.b.c runs the __init__ of a and a.b too
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                mod = ".".join(parts[:i])
                if mod in found or mod in BOOKKEEPING_MODULES:
                    continue
                file = _module_file(mod, src)
                if file is not None:
                    found[mod] = file
                    todo.append((file, mod))
    return [script, *sorted(os.path.relpath(p, repo) for p in found.values())]


# ---------------------------------------------------------------- dvc.yaml


def _concrete_stage(job: JobSpec, config: dict[str, Any], repo: Path) -> dict[str, Any]:
    """The stage of one job, with every path spelled out."""
    first = job.outputs[0][1]
    stage: dict[str, Any] = {}
    if job.doc:
        stage["desc"] = job.doc
    stage["cmd"] = (
        "snakemake --configfile ${config} --cores all --force "
        f"--allowed-rules {job.rule} -- {first}"
    )
    deps = list(job.inputs)
    if job.script:
        deps += [d for d in code_deps(job.script, repo) if d not in deps]
    if deps:
        stage["deps"] = deps
    keys = param_keys(job, config)
    if keys:
        stage["params"] = [{"${config}": keys}]
    outs = []
    for _, path in job.outputs:
        outs += [path, path + SUFFIX]
    stage["outs"] = [{p: {"persist": True}} for p in outs]
    return stage


def _template(pattern: str, single: bool) -> str:
    """``results/seed{seed}.npy`` → ``results/seed${item}.npy`` (``${item.seed}`` if several)."""
    return re.sub(r"\{(\w+)(?:,[^}]*)?\}", r"${item}" if single else r"${item.\1}", pattern)


def _fill(value: Any, item: dict[str, str], single: bool) -> Any:
    """A templated stage with one job's wildcard values substituted (to check the template)."""
    if isinstance(value, str):
        if single:
            return value.replace("${item}", next(iter(item.values())))
        return re.sub(r"\$\{item\.(\w+)\}", lambda m: item[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(v, item, single) for v in value]
    if isinstance(value, dict):
        return {_fill(k, item, single): _fill(v, item, single) for k, v in value.items()}
    return value


def _foreach_stage(jobs: list[JobSpec], stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One ``foreach`` stage standing for the jobs of a rule with wildcards, or None when
    some path cannot be written as a pattern of the wildcards."""
    from snakemake.io import apply_wildcards

    first = jobs[0]
    names = [k for k, _ in first.wildcards]
    single = len(names) == 1
    paths: dict[str, str] = {}  # concrete path of the first job → its template
    for i, _ in enumerate(first.outputs):
        paths[first.outputs[i][1]] = _template(first.output_patterns[i], single)
    for i, path in enumerate(first.inputs):
        if all(i < len(j.inputs) and j.inputs[i] == path for j in jobs):
            continue  # the same file for every job
        for pattern in first.input_patterns:
            if all(
                i < len(j.inputs) and apply_wildcards(pattern, dict(j.wildcards)) == j.inputs[i]
                for j in jobs
            ):
                paths[path] = _template(pattern, single)
                break
        else:
            return None

    def templ(value: Any) -> Any:
        if isinstance(value, str):
            for path in sorted(paths, key=len, reverse=True):
                value = value.replace(path + SUFFIX, paths[path] + SUFFIX)
                if value == path or value.endswith(" " + path):
                    value = value[: len(value) - len(path)] + paths[path]
            return value
        if isinstance(value, list):
            return [templ(v) for v in value]
        if isinstance(value, dict):
            return {templ(k): templ(v) for k, v in value.items()}
        return value

    body = templ(stages[0])
    for job, stage in zip(jobs, stages, strict=True):
        if _fill(body, dict(job.wildcards), single) != stage:
            return None
    if single:
        items: Any = [_scalar(v) for j in jobs for _, v in j.wildcards]
    else:
        items = {
            "-".join(v for _, v in j.wildcards): {k: _scalar(v) for k, v in j.wildcards}
            for j in jobs
        }
    return {"foreach": items, "do": body}


def _scalar(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def build(configfile: str, repo: str | os.PathLike = REPO) -> dict[str, Any]:
    """The content of dvc.yaml for ``configfile`` (a path relative to ``repo``)."""
    repo = Path(repo).resolve()
    with open(repo / configfile) as f:
        config = yaml.safe_load(f)
    jobs = workflow_jobs(configfile, repo)
    by_rule: dict[str, list[JobSpec]] = {}
    for job in jobs:
        by_rule.setdefault(job.rule, []).append(job)
    stages: dict[str, Any] = {}
    for rule, rule_jobs in by_rule.items():
        concrete = [_concrete_stage(j, config, repo) for j in rule_jobs]
        if not rule_jobs[0].wildcards:
            if len(rule_jobs) > 1:
                raise DvcSyncError(f"rule {rule} has {len(rule_jobs)} jobs but no wildcards")
            stages[rule] = concrete[0]
            continue
        grouped = _foreach_stage(rule_jobs, concrete)
        if grouped is not None:
            stages[rule] = grouped
        else:  # spelled out, one stage per job
            for job, stage in zip(rule_jobs, concrete, strict=True):
                stages[f"{rule}-{'-'.join(v for _, v in job.wildcards)}"] = stage
    return {
        "vars": [{"config": configfile}],
        "stages": stages,
        "metrics": _metrics(by_rule),
        "plots": _plots(by_rule),
    }


# Rules defined in a loop, one per job (``train_group_<i>``, train.models_per_job > 1): they
# stand in for the per-seed rule in PLOTS when that rule is absent.
RULE_FAMILIES = {"train_group": "train_model"}


def rule_family(rule: str) -> str:
    """``train_group_3`` → ``train_group``; any other rule name is its own family."""
    base, _, index = rule.rpartition("_")
    return base if index.isdigit() and base in RULE_FAMILIES else rule


def _outputs(job: JobSpec, name: str) -> list[str]:
    """Every file of the job's output ``name`` (a batched training job has one per seed)."""
    paths = [path for out_name, path in job.outputs if out_name == name]
    if not paths:
        raise DvcSyncError(f"rule {job.rule} has no output named '{name}' (PLOTS in {__name__})")
    return paths


def _plots(by_rule: dict[str, list[JobSpec]]) -> list[dict[str, Any]]:
    plots = []
    for plot_id, rule, output, x, ys, template, title in PLOTS:
        jobs = by_rule.get(rule) or [
            job
            for name, rule_jobs in by_rule.items()
            if RULE_FAMILIES.get(rule_family(name)) == rule
            for job in rule_jobs
        ]
        if not jobs and plot_id in TRAINING_PLOTS and "fetch_model" in by_rule:
            continue  # a pretrained family: nothing trained
        if not jobs:
            raise DvcSyncError(f"no rule {rule} in the workflow (PLOTS in {__name__})")
        files = [path for job in jobs for path in _outputs(job, output)]
        y = {path: list(ys) if len(ys) > 1 else ys[0] for path in files}
        plots.append({plot_id: {"title": title, "template": template, "x": x, "y": y}})
    return plots


def _metrics(by_rule: dict[str, list[JobSpec]]) -> list[str]:
    if METRICS_RULE not in by_rule:
        raise DvcSyncError(f"no rule {METRICS_RULE} in the workflow ({__name__}.METRICS_RULE)")
    return [path for job in by_rule[METRICS_RULE] for _, path in job.outputs]


class _Dumper(yaml.SafeDumper):
    """Block style, but ``{persist: true}`` on the line of its output and a foreach list
    of wildcard values on one line."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = set(data) == {"persist"}
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = bool(data) and all(isinstance(v, int | float) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def render(doc: dict[str, Any]) -> str:
    """dvc.yaml text: a header saying how it was made, then the YAML."""
    configfile = doc["vars"][0]["config"]
    header = (
        "# GENERATED from the Snakemake workflow: one DVC stage per Snakemake job, for\n"
        f"# {configfile}. Do not edit; after changing rules, params or the seed list run\n"
        f"#   phrenology dvc sync --configfile {configfile}\n"
        "# (tests/workflow/test_dvc.py fails while this file and the Snakefile disagree).\n"
    )
    body = yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        width=200,
        allow_unicode=True,
    )
    return header + body


def generate(configfile: str, repo: str | os.PathLike = REPO) -> str:
    return render(build(configfile, repo))


def configured(path: str | os.PathLike = REPO / DVC_YAML) -> str | None:
    """The config file an existing dvc.yaml was generated for (None if there is none)."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    for entry in doc.get("vars") or []:
        if isinstance(entry, dict) and "config" in entry:
            return str(entry["config"])
    return None


def diff(configfile: str, repo: str | os.PathLike = REPO) -> str:
    """A unified diff from the existing dvc.yaml to the generated one ("" if in sync)."""
    path = Path(repo) / DVC_YAML
    old = path.read_text() if path.is_file() else ""
    new = generate(configfile, repo)
    return "".join(
        difflib.unified_diff(
            old.splitlines(True), new.splitlines(True), "dvc.yaml (current)", "dvc.yaml (generated)"
        )
    )


def sync(configfile: str, repo: str | os.PathLike = REPO) -> bool:
    """Write dvc.yaml for ``configfile``; True if it changed."""
    path = Path(repo) / DVC_YAML
    new = generate(configfile, repo)
    if path.is_file() and path.read_text() == new:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(new)
    return True


# ---------------------------------------------------------------- running dvc and snakemake


def _run(args: Sequence[str], repo: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), cwd=repo, text=True, capture_output=True)
    if check and proc.returncode != 0:
        raise DvcSyncError(
            f"{' '.join(args[:4])} … failed (exit {proc.returncode}):\n"
            f"{(proc.stdout + proc.stderr).strip()[-3000:]}"
        )
    return proc


def dvc(
    *args: str, repo: str | os.PathLike = REPO, check: bool = True
) -> subprocess.CompletedProcess:
    """Run DVC (the one installed beside this Python) in ``repo``."""
    return _run([sys.executable, "-m", "dvc", *args], Path(repo), check)


def dvc_status(repo: str | os.PathLike = REPO) -> dict[str, Any]:
    """``dvc status --json``: {stage: [changes]}; empty when everything is up to date."""
    out = dvc("status", "--json", repo=repo).stdout.strip()
    return json.loads(out.splitlines()[-1]) if out else {}


def _changed_deps(changes: list[Any]) -> set[str]:
    deps: set[str] = set()
    for change in changes:
        if isinstance(change, dict):
            deps.update(change.get("changed deps", {}))
    return deps


def record(configfile: str, repo: str | os.PathLike = REPO) -> tuple[list[str], list[str], str]:
    """After a Snakemake run, store what it made as DVC's record (``dvc commit``), so that
    ``dvc repro`` and ``dvc status`` agree with Snakemake that nothing needs rerunning.

    Returns (recorded stages, stages left for ``dvc repro``, a note). Nothing is recorded
    when dvc.yaml was generated for another config or is out of date. A stage whose
    package-module deps changed since its last record is left out: Snakemake does not
    rerun a job for such a change, so its outputs were not remade with that code.
    """
    import importlib.util

    repo = Path(repo).resolve()
    if not (repo / ".dvc").is_dir():
        return [], [], "not a DVC repository (no .dvc/): nothing recorded"
    if importlib.util.find_spec("dvc") is None:
        return [], [], "DVC is not installed beside this Python: nothing recorded"
    current = configured(repo / DVC_YAML)
    if current is None:
        return [], [], "no dvc.yaml: nothing recorded"
    if os.path.normpath(current) != os.path.normpath(configfile):
        return (
            [],
            [],
            (
                f"dvc.yaml describes {current}, not {configfile}: nothing recorded "
                f"(phrenology dvc sync --configfile {configfile} switches it)"
            ),
        )
    doc = build(configfile, repo)
    if (repo / DVC_YAML).read_text() != render(doc):
        return (
            [],
            [],
            (
                "dvc.yaml is out of date with the workflow: nothing recorded "
                f"(run phrenology dvc sync --configfile {configfile})"
            ),
        )
    stages = expand_stages(doc)
    status = dvc_status(repo)
    locked = _locked_stages(repo)
    left = sorted(
        name
        for name, changes in status.items()
        if name in locked and any(d.startswith("src/") for d in _changed_deps(changes))
    )
    todo = [s for s in stages if s in status and s not in left]
    targets = [s for s in todo if all((repo / p).exists() for p in stage_outs(stages[s]))]
    missing = [s for s in todo if s not in targets]
    # `dvc commit` moves each new output into the cache and writes a copy back: a file with a
    # new modification time. Snakemake reruns whatever reads a newer input above its 1 MB
    # checksum limit (corpus tokens, models, attention), so the times are put back afterwards
    # (for every stage's outputs: a commit without targets relinks unchanged stages' too).
    outs = [repo / p for stage in stages.values() for p in stage_outs(stage)]
    before = {p: p.stat() for p in outs if p.exists()}
    if targets and len(targets) == len(status):
        dvc("commit", "--force", "--quiet", repo=repo)  # all of them (naming 40 targets is slow)
    elif targets:
        dvc("commit", "--force", "--quiet", *targets, repo=repo)
    for path, st in before.items():
        if path.is_file() and path.stat().st_mtime_ns != st.st_mtime_ns:
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    note = f"recorded {len(targets)} changed stage(s) of {len(stages)} in dvc.lock"
    if left:
        note += (
            f"; package code changed since the last record, run `dvc repro` for: {' '.join(left)}"
        )
    if missing:
        note += f"; outputs missing, not recorded: {' '.join(missing)}"
    return targets, left + missing, note


def expand_stages(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Stage name → stage, with ``foreach`` expanded as DVC does (``rule@value``) and
    ``${config}`` filled in."""
    configfile = doc["vars"][0]["config"]
    stages: dict[str, dict[str, Any]] = {}
    for name, stage in doc["stages"].items():
        if "foreach" not in stage:
            stages[name] = stage
            continue
        items = stage["foreach"]
        pairs = (
            [(str(v), {"item": str(v)}) for v in items]
            if isinstance(items, list)
            else [(k, {k2: str(v2) for k2, v2 in v.items()}) for k, v in items.items()]
        )
        for key, item in pairs:
            single = "item" in item
            stages[f"{name}@{key}"] = _fill(stage["do"], item, single)
    return {n: _fill_config(s, configfile) for n, s in stages.items()}


def _fill_config(value: Any, configfile: str) -> Any:
    if isinstance(value, str):
        return value.replace("${config}", configfile)
    if isinstance(value, list):
        return [_fill_config(v, configfile) for v in value]
    if isinstance(value, dict):
        return {_fill_config(k, configfile): _fill_config(v, configfile) for k, v in value.items()}
    return value


def stage_outs(stage: dict[str, Any]) -> list[str]:
    return [p for out in stage.get("outs", []) for p in (out if isinstance(out, dict) else [out])]


def _locked_stages(repo: Path) -> set[str]:
    lock = repo / "dvc.lock"
    if not lock.is_file():
        return set()
    with open(lock) as f:
        return set((yaml.safe_load(f) or {}).get("stages", {}))


def restore(
    configfile: str, repo: str | os.PathLike = REPO, pull: bool = True, remote: str | None = None
) -> str:
    """Fetch the recorded products (``dvc pull``, or ``dvc checkout`` from the local cache)
    and make Snakemake see them as up to date.

    Files written by DVC get new modification times in no particular order, which
    Snakemake reads as "an input is newer than its output". Once ``dvc status`` confirms
    that every product matches dvc.lock (so they fit the current config and code),
    ``snakemake --touch --forceall`` stamps them in DAG order and writes Snakemake's
    own metadata, which a fresh clone lacks.
    """
    repo = Path(repo).resolve()
    current = configured(repo / DVC_YAML)
    if current is None or os.path.normpath(current) != os.path.normpath(configfile):
        raise DvcSyncError(
            f"dvc.yaml describes {current or 'no config (it is missing)'}, not {configfile}: "
            "the restored products would be marked up to date for the wrong config"
        )
    if pull:
        dvc("pull", *(["--remote", remote] if remote else []), repo=repo)
    else:
        dvc("checkout", repo=repo)
    mark_current(configfile, repo)
    return "products restored and marked up to date for Snakemake"


def mark_current(configfile: str, repo: str | os.PathLike = REPO) -> None:
    """Once ``dvc status`` confirms every product matches dvc.lock, stamp them for Snakemake.

    ``snakemake --touch --forceall`` sets modification times in DAG order and writes
    Snakemake's own metadata, so Snakemake and DVC agree that nothing needs rerunning.
    """
    repo = Path(repo)
    status = dvc_status(repo)
    if status:
        why = "; ".join(f"{stage}: {json.dumps(status[stage])}" for stage in sorted(status))
        raise DvcSyncError(
            "the products do not match dvc.lock for the current config and code, so they are "
            f"not marked up to date for Snakemake; stages: {' '.join(sorted(status))} "
            f"(`dvc repro` rebuilds them). dvc status: {why}"
        )
    _run(
        [sys.executable, "-m", "snakemake", "--configfile", configfile, "--cores", "1",
         "--touch", "--forceall", "--quiet"],
        repo,
    )  # fmt: skip


def repro(configfile: str, repo: str | os.PathLike = REPO) -> None:
    """``dvc repro`` for ``configfile``, then :func:`mark_current`.

    DVC skips a stage whose inputs came out byte-identical from a rerun upstream stage
    (e.g. a knockout table unchanged by a new clustering); Snakemake, which compares
    modification times, would then want to redo that stage. Stamping the products after
    the repro makes the two agree. dvc.yaml is regenerated first, so seeds, bottlenecks
    and rules added since are stages. DVC's output streams through.
    """
    repo = Path(repo)
    sync(configfile, repo)
    # stages call `snakemake`: the one beside this Python comes first on PATH
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    proc = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=repo, env=env)
    if proc.returncode != 0:
        raise DvcSyncError(f"dvc repro failed (exit {proc.returncode}); see its output above")
    mark_current(configfile, repo)
