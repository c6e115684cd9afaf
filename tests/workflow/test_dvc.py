"""dvc.yaml against the Snakefile, and DVC on a finished quick run: repro, seeds, remotes, restore.

The integration tests work on copies of the ``quick_project`` fixture (a git repository
holding this checkout and a finished quick run); set PHRENOLOGY_QUICK_RESULTS=/work/quick-full
to start from an existing run instead of running the quick DAG once.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from phrenology.pipeline.config import config_param
from phrenology.provenance import dvc, snakemake_dag
from phrenology.provenance.dvc import DvcSyncError, JobSpec

from conftest import GIT_ID, REPO, run_in, run_snakemake, snakemake_cmd

CONFIG = "config/quick.yaml"
PROV = ".prov.json"


# ---------------------------------------------------------------- dvc.yaml = the Snakefile


def test_committed_dvc_yaml_is_what_the_snakefile_generates():
    changes = dvc.diff(CONFIG, REPO)
    assert not changes, (
        "dvc.yaml has drifted from the Snakefile; run `phrenology dvc sync --configfile "
        f"{CONFIG}` and commit it:\n{changes[:4000]}"
    )


def snakemake_outputs(tmp_path) -> dict[str, tuple[str, set[str]]]:
    """Snakemake's own account (--detailed-summary): output → (rule, inputs)."""
    import subprocess

    proc = subprocess.run(snakemake_cmd(tmp_path, "--detailed-summary"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout[proc.stdout.index("output_file\t") :]
    rows = csv.DictReader(io.StringIO(table), delimiter="\t")
    return {
        r["output_file"]: (
            r["rule"],
            {f for f in r["input-file(s)"].split(",") if f not in ("", "-")},
        )
        for r in rows
    }


def dvc_stages() -> dict[str, dict]:
    """The stages as DVC itself resolves dvc.yaml (foreach expanded, ${config} filled)."""
    from dvc.repo import Repo

    stages = {}
    with Repo(str(REPO)) as repo:
        for stage in repo.index.stages:
            stages[stage.name] = {
                "cmd": stage.cmd,
                "deps": {str(d.def_path) for d in stage.deps if not d.def_path.endswith(".yaml")},
                "params": {
                    str(d.def_path): set(d.params or [])
                    for d in stage.deps
                    if d.def_path.endswith(".yaml")
                },
                "outs": {str(o.def_path): o.persist for o in stage.outs},
            }
    return stages


def test_every_job_is_one_stage_and_every_stage_is_a_job(tmp_path):
    made_by = snakemake_outputs(tmp_path)
    stages = dvc_stages()
    covered: dict[str, str] = {}
    for name, stage in stages.items():
        rule = re.search(r"--allowed-rules (\S+)", stage["cmd"]).group(1)
        target = stage["cmd"].rsplit("-- ", 1)[1]
        outs = {o for o in stage["outs"] if not o.endswith(PROV)}
        assert target in outs, f"{name}: its command builds {target}, not one of its outputs"
        assert all(stage["outs"].values()), f"{name}: outputs must be persist: true"
        for out in outs:
            assert out in made_by, f"{name}: {out} is made by no Snakemake rule"
            assert made_by[out][0] == rule, f"{name}: {out} is made by rule {made_by[out][0]}"
            assert out + PROV in stage["outs"], f"{name}: {out}'s provenance record is untracked"
            assert out not in covered, f"{out} is an output of {covered[out]} and {name}"
            covered[out] = name
        inputs = set().union(*(made_by[o][1] for o in outs))
        assert inputs <= stage["deps"], f"{name}: inputs not in deps: {inputs - stage['deps']}"
        assert stage["params"].keys() <= {CONFIG}, f"{name}: params from {stage['params']}"
    assert set(made_by) == set(covered), f"outputs without a stage: {set(made_by) - set(covered)}"


def test_every_figure_and_table_1_has_a_stage():
    outs = set().union(*(s["outs"] for s in dvc_stages().values()))
    figures = {o for o in outs if o.startswith("results/figures/") and not o.endswith(PROV)}
    numbers = sorted(int(m.group(1)) for f in figures if (m := re.search(r"/fig(\d\d)_", f)))
    assert numbers == list(range(1, 15))
    assert {"results/figures/table1_aic.tsv", "results/figures/table1_aic.md"} <= figures
    assert "results/metrics.json" in outs


def test_stage_params_are_keys_of_the_config():
    with open(REPO / CONFIG) as f:
        config = yaml.safe_load(f)
    for name, stage in dvc_stages().items():
        for key in stage["params"].get(CONFIG, ()):
            node = config
            for part in key.split("."):
                assert part in node, f"{name}: param {key} is not a key of {CONFIG}"
                node = node[part]


def test_clustering_stages_depend_on_their_keys_and_training_on_none_of_them():
    stages = dvc_stages()
    params = {n: s["params"].get(CONFIG, set()) for n, s in stages.items()}
    assert params["knn_graph"] == {"clustering.k", "clustering.edge_weights"}
    assert params["train_model@990"] == {"model", "train"}
    clustering = {n for n, p in params.items() if any(k.startswith("clustering.") for k in p)}
    # the verdict re-clusters with the same keys: the untrained baseline, bootstraps, seeds
    verdict = {"untrained_knn_graph", "untrained_leiden_sweep", "verdict_stability"}
    verdict |= {"verdict_sensitivity"}  # k ± offsets, both weightings, every bottleneck
    verdict |= {n for n in params if n.startswith("verdict_bootstrap@")}
    assert clustering == {"knn_graph", "umap_layout", "leiden_sweep", "plot_fig03", *verdict}


def test_the_paper_config_generates_too():
    doc = dvc.build("config/config.yaml", REPO)
    assert doc["stages"]["train_model"]["foreach"] == list(range(990, 999))
    assert doc["vars"] == [{"config": "config/config.yaml"}]


@pytest.mark.parametrize(
    "config", ["config/polypythia-14m.yaml", "config/stanford-gpt2-small.yaml"]
)
def test_a_pretrained_family_config_generates_without_downloads(config):
    doc = dvc.build(config, REPO)
    stages = doc["stages"]
    with open(REPO / config) as f:
        names = [e["id"].rsplit("/", 1)[-1] for e in yaml.safe_load(f)["models"]["entries"]]
    assert stages["fetch_model"]["foreach"] == names
    assert stages["capture_pretrained"]["foreach"] == names
    assert "train_model" not in stages and "prepare_corpus" not in stages
    assert {"knockout_pca", "untrained_baseline", "verdict_summary"} <= set(stages)
    plots = {name for plot in doc["plots"] for name in plot}
    assert "training_loss" not in plots and "gamma_sweep_scores" in plots
    # every param is a key of the family's own config file (DVC reads it from there)
    assert set(stages["knockout_pca"]["params"][0]["${config}"]) >= {
        "knockout.n_prompts", "knockout.prompt_seed", "knockout.batch_size", "models.entries"
    }  # fmt: skip


def rule(name: str, **params) -> snakemake_dag.RuleInfo:
    """A rule as snakemake_dag reads it: ``params`` are its own items (cfg(...) or functions)."""
    return snakemake_dag.RuleInfo(
        name, "rules/x.smk", None, None, None, False, None, (), ("results/x",), params
    )


def job(r: snakemake_dag.RuleInfo) -> JobSpec:
    values = {n: getattr(p, "value", None) for n, p in r.params.items()}
    return dvc._job_spec(
        snakemake_dag.JobInfo(r.name, (), (), ((None, "results/x"),), values), r, REPO
    )


def test_a_param_without_a_config_key_is_an_error():
    config = {"clustering": {"k": 3}}
    k = config_param(config, ("clustering.k",))
    assert dvc.param_keys(job(rule("knn_graph", k=k)), config) == ["clustering.k"]
    with pytest.raises(DvcSyncError, match=r"param 'extra' = 1 is a plain value.*cfg\("):
        job(rule("knn_graph", k=k, extra=1))
    # a function of the wildcards (a path) is not from the config
    path = rule("knn_graph", k=k, path=lambda wc: "results/x")
    assert dvc.param_keys(job(path), config) == ["clustering.k"]
    # a key the config file lacks (the rule read it from Snakemake's merged config)
    with pytest.raises(DvcSyncError, match=r"config key 'clustering\.k' is not in the config"):
        dvc.param_keys(job(rule("knn_graph", k=k)), {"clustering": {}})


def test_a_dict_param_from_a_config_section_becomes_its_keys():
    config = {"autoencoder": {"epochs": 2, "lr": 0.1, "bottlenecks": [2]}}
    settings = config_param(config, ("autoencoder",), only=("epochs",))
    assert settings.value == {"epochs": 2}
    r = rule("train_autoencoder", settings=settings, bottleneck=lambda wc: int(wc.bottleneck))
    keys = dvc.param_keys(job(r), config)
    assert keys == ["autoencoder.epochs"]


def test_code_deps_follow_imports_but_not_bookkeeping():
    deps = dvc.code_deps("workflow/scripts/leiden_sweep.py", REPO)
    assert deps[0] == "workflow/scripts/leiden_sweep.py"
    # leiden and cluster_scores live in analysis/clustering.py since the re-layout
    science = {"analysis/clustering.py", "pipeline/io.py", "analysis/heads.py"}
    assert {f"src/phrenology/{m}" for m in science} <= set(deps)
    assert not {"src/phrenology/pipeline/jobs.py", "src/phrenology/provenance/records.py"} & set(
        deps
    )
    plots = dvc.code_deps("workflow/scripts/plot_fig04.py", REPO)
    assert {"src/phrenology/plots/__init__.py", "src/phrenology/plots/clustering.py"} <= set(plots)


# ---------------------------------------------------------------- DVC on a finished quick run


def ran_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def downstream(start: str, stages: dict[str, dict]) -> set[str]:
    """Stages reachable from ``start`` through outputs used as deps."""
    producer = {o: n for n, s in stages.items() for o in s["outs"]}
    children: dict[str, set[str]] = {}
    for name, s in stages.items():
        for dep in s["deps"]:
            if dep in producer:
                children.setdefault(producer[dep], set()).add(name)
    seen, todo = set(), [start]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@pytest.fixture(scope="module")
def recorded(quick_project, tmp_path_factory) -> Path:
    """The state after `make run`: a finished quick run, recorded by `phrenology dvc record`."""
    project = tmp_path_factory.mktemp("dvc") / "project"
    shutil.copytree(quick_project, project, symlinks=True)
    proc = run_in(project, "python", "-m", "phrenology", "dvc", "record", "--configfile", CONFIG)
    assert "recorded" in proc.stdout, proc.stdout
    return project


@pytest.fixture
def project(recorded, tmp_path) -> Path:
    """A private copy of the recorded project (with its DVC cache)."""
    copy = tmp_path / "project"
    shutil.copytree(recorded, copy, symlinks=True)
    return copy


@pytest.mark.integration
def test_after_make_run_dvc_repro_runs_nothing(project):
    # `dvc commit` rewrote every product: Snakemake must still have nothing to do (a second
    # `make run` runs no job), which needs the products' old modification times back
    dry = run_in(project, "python", "-m", "snakemake", "--configfile", CONFIG, "-n").stdout
    assert "Nothing to be done" in dry, dry[-3000:]
    assert json.loads(run_in(project, "dvc", "status", "--json").stdout) == {}
    out = run_in(project, "dvc", "repro").stdout
    assert ran_stages(out) == [], out
    assert "Data and pipelines are up to date" in out


@pytest.mark.integration
def test_record_keeps_the_products_modification_times(quick_project, tmp_path):
    """`dvc commit` rewrites each product as a copy from its cache. Were the new times kept,
    Snakemake would see inputs above its 1 MB checksum limit (corpus tokens, models) as newer
    than what was made from them, in whatever order DVC wrote them: a second `make run` would
    retrain the models."""
    project = tmp_path / "project"
    shutil.copytree(quick_project, project, symlinks=True)
    files = [p for p in (project / "results").rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    run_in(project, "python", "-m", "phrenology", "dvc", "record", "--configfile", CONFIG)
    assert [str(p) for p in files if p.stat().st_mtime_ns != before[p]] == []


@pytest.mark.integration
@pytest.mark.slow
def test_editing_k_reruns_clustering_and_what_follows_only(project):
    config = project / CONFIG
    text = config.read_text()
    assert re.search(r"^  k: 3$", text, re.M)
    config.write_text(re.sub(r"^  k: 3$", "  k: 4", text, flags=re.M))
    status = json.loads(run_in(project, "dvc", "status", "--json").stdout)
    # the stages whose params hold k: Figs. 2-3 and the verdict's re-clusterings
    verdict_k = {"untrained_knn_graph", "verdict_stability", "verdict_sensitivity"}
    verdict_k |= {s for s in status if s.startswith("verdict_bootstrap@")}
    assert set(status) == {"knn_graph", "plot_fig03", *verdict_k}

    out = run_in(project, "python", "-m", "phrenology", "dvc", "repro").stdout  # = make repro
    ran = ran_stages(out)
    print("stages rerun after clustering.k 3 → 4:", ", ".join(ran))
    with open(project / "dvc.yaml") as f:
        stages = dvc.expand_stages(yaml.safe_load(f))
    as_sets = {n: {"deps": set(s.get("deps", [])), "outs": set(dvc.stage_outs(s))}
               for n, s in stages.items()}  # fmt: skip
    allowed = {"knn_graph", "plot_fig03", *downstream("knn_graph", as_sets)}
    for stage in verdict_k:
        allowed |= {stage, *downstream(stage, as_sets)}
    assert {"knn_graph", "leiden_sweep", "plot_fig03", "plot_fig04"} <= set(ran)
    assert set(ran) <= allowed, f"reran beyond clustering: {set(ran) - allowed}"
    assert not [s for s in ran if s.startswith(("train_", "capture_", "prepare_", "sample_"))]

    # DVC, Snakemake and the provenance audit now agree that everything is current
    assert json.loads(run_in(project, "dvc", "status", "--json").stdout) == {}
    dry = run_in(project, "python", "-m", "snakemake", "--configfile", CONFIG, "-n").stdout
    assert "Nothing to be done" in dry, dry
    audit = run_in(project, "python", "-m", "phrenology", "audit", "--configfile", CONFIG)
    assert "current" in audit.stdout and audit.returncode == 0


@pytest.mark.integration
def test_repro_leaves_snakemake_nothing_to_do_when_dvc_skips_an_unchanged_stage(project):
    """A product rewritten with the same bytes: DVC (content hashes) skips what follows it,
    Snakemake (modification times) would redo it; `phrenology dvc repro` stamps them alike.

    Snakemake 9 compares checksums of inputs up to 1 MB (--max-checksum-file-size) and then
    ignores a newer time, so the product rewritten here is one above that size."""
    attention = project / "results/attention/seed990.npy"
    assert attention.stat().st_size > 1_000_000
    attention.write_bytes(attention.read_bytes())  # same content, newer time
    dry = run_in(project, "python", "-m", "snakemake", "--configfile", CONFIG, "-n").stdout
    assert "Nothing to be done" not in dry  # the disagreement this command resolves
    out = run_in(project, "python", "-m", "phrenology", "dvc", "repro").stdout
    assert ran_stages(out) == [], out
    dry = run_in(project, "python", "-m", "snakemake", "--configfile", CONFIG, "-n").stdout
    assert "Nothing to be done" in dry, dry


@pytest.mark.integration
@pytest.mark.slow
def test_adding_a_seed_trains_only_the_new_seed(project):
    config = project / CONFIG
    seeds = yaml.safe_load(config.read_text())["seeds"]
    new = max(seeds) + 1
    config.write_text(config.read_text().replace(f"seeds: {seeds}", f"seeds: {[*seeds, new]}"))
    run_in(project, "python", "-m", "phrenology", "dvc", "sync")  # the DAG has new jobs
    status = json.loads(run_in(project, "dvc", "status", "--json").stdout)
    per_seed = {s for s in status if s.startswith(("train_model@", "capture_attention@"))}
    assert per_seed == {f"train_model@{new}", f"capture_attention@{new}"}
    assert {"heads_table", "attention_distance"} <= set(status)  # fan-ins see a new model

    models = project / "results" / "models"
    before = {s: sha256_tree(models / f"seed{s}") for s in seeds}
    out = run_in(project, "dvc", "repro", f"capture_attention@{new}").stdout
    assert ran_stages(out) == [f"train_model@{new}", f"capture_attention@{new}"], out
    assert {s: sha256_tree(models / f"seed{s}") for s in seeds} == before
    assert (project / "results" / "attention" / f"seed{new}.npy").is_file()


@pytest.fixture(scope="module")
def pushed(recorded, tmp_path_factory) -> tuple[Path, Path]:
    """The recorded project with dvc.lock committed and its products pushed to a local remote."""
    base = tmp_path_factory.mktemp("remote")
    project, remote = base / "project", base / "storage"
    shutil.copytree(recorded, project, symlinks=True)
    run_in(project, "dvc", "remote", "modify", "--local", "local", "url", str(remote))
    run_in(project, "git", "add", "dvc.lock")
    run_in(project, "git", *GIT_ID, "commit", "-qm", "results of the quick run")
    run_in(project, "dvc", "push")
    return project, remote


@pytest.mark.integration
def test_push_delete_pull_gives_identical_results(pushed, tmp_path):
    origin, _ = pushed
    project = tmp_path / "project"
    shutil.copytree(origin, project, symlinks=True)
    before = sha256_tree(project / "results")
    shutil.rmtree(project / "results")
    shutil.rmtree(project / ".dvc" / "cache")  # so that pull must fetch from the remote
    run_in(project, "dvc", "pull")
    after = sha256_tree(project / "results")
    tracked = {k for k in before if not k.startswith("checkpoints")}
    assert tracked and {k: before[k] for k in tracked} == after
    assert any(k.endswith("model.pt") for k in after) and any(k.endswith(PROV) for k in after)


def clone_of_pushed(pushed: tuple[Path, Path], tmp_path: Path) -> Path:
    """A fresh git clone of the pushed project whose DVC remote points at the pushed remote."""
    origin, remote = pushed
    clone = tmp_path / "clone"
    run_in(tmp_path, "git", "clone", "-q", str(origin), str(clone))
    run_in(clone, "dvc", "remote", "modify", "--local", "local", "url", str(remote))
    return clone


@pytest.mark.integration
@pytest.mark.slow
def test_fresh_clone_pull_and_restore_reruns_nothing(pushed, tmp_path):
    origin = pushed[0]
    clone = clone_of_pushed(pushed, tmp_path)
    out = run_in(clone, "python", "-m", "phrenology", "dvc", "restore", "--configfile", CONFIG)
    assert "restored" in out.stdout
    assert sha256_tree(clone / "results") == {
        k: v for k, v in sha256_tree(origin / "results").items() if not k.startswith("checkpoints")
    }
    dry = run_in(clone, "python", "-m", "snakemake", "--configfile", CONFIG, "-n").stdout
    assert "Nothing to be done" in dry, dry
    assert json.loads(run_in(clone, "dvc", "status", "--json").stdout) == {}
    audit = run_in(clone, "python", "-m", "phrenology", "audit", "--configfile", CONFIG)
    assert audit.returncode == 0, audit.stdout[-3000:]


@pytest.mark.integration
def test_restore_refuses_products_that_do_not_match_the_config(pushed, tmp_path):
    clone = clone_of_pushed(pushed, tmp_path)
    config = clone / CONFIG
    config.write_text(re.sub(r"^  k: 3$", "  k: 4", config.read_text(), flags=re.M))
    proc = run_in(clone, "python", "-m", "phrenology", "dvc", "restore", check=False)
    assert proc.returncode == 2
    assert "do not match dvc.lock" in proc.stderr and "knn_graph" in proc.stderr
    assert not (clone / ".snakemake" / "metadata").exists()  # nothing marked up to date


@pytest.mark.integration
def test_record_skips_another_config_and_leaves_code_changes_to_repro(project):
    proc = run_in(project, "python", "-m", "phrenology", "dvc", "record",
                  "--configfile", "config/config.yaml")  # fmt: skip
    assert "describes config/quick.yaml, not config/config.yaml: nothing recorded" in proc.stdout
    knn = project / "src" / "phrenology" / "analysis" / "clustering.py"  # knn_graph's code
    knn.write_text(knn.read_text() + "\n# a change Snakemake does not see\n")
    proc = run_in(project, "python", "-m", "phrenology", "dvc", "record")
    # analysis/clustering.py (kNN, Leiden, embedding) is a code dependency of several stages
    assert "run `dvc repro` for:" in proc.stdout and "knn_graph" in proc.stdout
    assert "knn_graph" in json.loads(run_in(project, "dvc", "status", "--json").stdout)


# ------------------------------------------------- one stage runs one job, whatever the mtimes

RULE_REFERENCE = re.compile(r"rules\.\w+\.output")


def test_no_rule_input_names_its_producer_through_rules():
    """``input: x=rules.a.output.y`` makes Snakemake add rule a's job even under
    ``--allowed-rules`` (the DAG follows the rule the file came from, not the allowed rules'
    outputs), so a DVC stage could rerun its upstream; ``str(rules.a.output.y)`` is a path."""
    found = []
    for smk in sorted((REPO / "rules").glob("*.smk")):
        section = None
        for number, line in enumerate(smk.read_text().splitlines(), 1):
            directive = re.match(r"^\s+(\w+):\s*(#.*)?$", line)
            if directive:
                section = directive.group(1)
            elif re.match(r"^\S", line):
                section = None
            if section == "input" and RULE_REFERENCE.search(line.replace("str(rules.", "")):
                found.append(f"{smk.name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def planned_rules(stdout: str) -> set[str]:
    return set(re.findall(r"^(?:local)?rule (\w+):$", stdout, re.M))


@pytest.mark.integration
@pytest.mark.parametrize(
    "stage", ["verdict_summary", "plot_verdict_matching", "plot_knockout_pca", "plot_head_overview"]
)
def test_a_stage_runs_only_its_own_job_when_its_upstream_looks_outdated(quick_dag, tmp_path, stage):
    """The state DVC leaves after skipping an unchanged stage U: U's inputs newer than its
    outputs. The stage after it must still run only its own job (no metadata here, as in a
    copied run, so Snakemake goes by modification times alone)."""
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    stages = dvc_stages()
    args = stages[stage]["cmd"].split()[1:]  # the stage's own command, after `snakemake`
    at = args.index("--configfile")
    del args[at : at + 2]  # run_snakemake names the config file (and the Snakefile, the workdir)
    rule, target = args[args.index("--allowed-rules") + 1], args[-1]
    later = (workdir / target).stat().st_mtime + 3600
    for upstream in stages.values():
        if set(upstream["outs"]) & stages[stage]["deps"]:
            for dep in upstream["deps"]:
                if dep.startswith("results/"):
                    os.utime(workdir / dep, (later, later))
    proc = run_snakemake(workdir, "-n", *args)
    assert planned_rules(proc.stdout) == {rule}, proc.stdout[-3000:]
