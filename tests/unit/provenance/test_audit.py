"""The audit: fault injection on a finished run (edited tensor, changed config, deleted files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from phrenology.provenance.audit import AuditError, audit, params_diff

from conftest import run_snakemake, run_toy_workflow

DATA1, DATA2 = "results/data/seed1.npy", "results/data/seed2.npy"
TSV, MD = "results/table.tsv", "results/table.md"
FIG01, FIG02 = "results/figures/fig01_table.png", "results/figures/fig02_seed2.png"
ALL = {DATA1, DATA2, TSV, MD, FIG01, FIG02}


def statuses(findings) -> dict[str, str]:
    return {f.path: f.status for f in findings}


def not_current(findings) -> set[str]:
    return {f.path for f in findings if f.status != "current"}


def edit_npy(path: Path) -> None:
    """Change one value in place (same shape, same size on disk)."""
    a = np.load(path)
    a.flat[0] += 1.0
    np.save(path, a)


def write_config(workdir: Path, name: str, **changes) -> Path:
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[key] = value
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_params_diff_names_each_changed_key():
    old = {"k": 3, "model": {"n_layers": 1, "n_heads": 8}, "seeds": [1, 2]}
    new = {"k": 3, "model": {"n_layers": 2, "n_heads": 8}, "seeds": [1, 2, 3], "extra": 0}
    assert params_diff(old, new) == [
        "extra: (absent) → 0", "model.n_layers: 1 → 2", "seeds: [1, 2] → [1, 2, 3]",
    ]  # fmt: skip
    assert params_diff(old, old) == []


def test_no_records_is_an_error(tmp_path):
    (tmp_path / "results").mkdir()
    with pytest.raises(AuditError, match="no provenance records"):
        audit(tmp_path)


@pytest.mark.integration
def test_a_fresh_run_is_all_current(toy_workflow):
    findings = audit(toy_workflow)
    assert statuses(findings) == dict.fromkeys(sorted(ALL), "current")


@pytest.mark.integration
def test_editing_an_upstream_tensor_flags_exactly_what_depends_on_it(toy_workflow):
    edit_npy(toy_workflow / DATA1)
    found = statuses(audit(toy_workflow))
    assert {p for p, s in found.items() if s != "current"} == {DATA1, TSV, MD, FIG01}
    assert found[DATA1] == "modified"
    assert found[TSV] == found[MD] == found[FIG01] == "stale"  # FIG01 only transitively
    fig01 = next(f for f in audit(toy_workflow) if f.path == FIG01)
    assert fig01.reasons == [("stale", f"upstream {TSV} is stale")]


@pytest.mark.integration
def test_changing_a_config_value_flags_exactly_the_rules_that_use_it(toy_workflow):
    scale = write_config(toy_workflow, "scale.yaml", **{"plot.scale": 3.0})
    findings = audit(toy_workflow, configfiles=[scale])
    assert not_current(findings) == {FIG02}
    assert "scale: 2.0 → 3.0" in next(f for f in findings if f.path == FIG02).reasons[0][1]

    n = write_config(toy_workflow, "n.yaml", **{"data.n": 60})
    assert not_current(audit(toy_workflow, configfiles=[n])) == ALL  # everything is downstream

    seeds = write_config(toy_workflow, "seeds.yaml", seeds=[1, 2, 3])
    assert not_current(audit(toy_workflow, configfiles=[seeds])) == {TSV, MD, FIG01}


@pytest.mark.integration
def test_by_default_each_record_is_checked_against_its_own_config_file_as_it_reads_now(
    toy_workflow,
):
    write_config(toy_workflow, "config.yaml", **{"plot.title": "another title"})
    assert not_current(audit(toy_workflow)) == {FIG01}
    assert not_current(audit(toy_workflow, check_config=False)) == set()


@pytest.mark.integration
def test_missing_files_are_reported_and_propagate(toy_workflow):
    (toy_workflow / DATA2).unlink()
    found = statuses(audit(toy_workflow, check_config=False))
    assert found[DATA2] == "missing"
    assert found[TSV] == found[MD] == found[FIG02] == "missing-input"
    assert found[FIG01] == "missing-input"  # through table.tsv
    assert found[DATA1] == "current"


@pytest.mark.integration
def test_rerunning_the_workflow_brings_every_record_back_to_current(toy_workflow):
    edit_npy(toy_workflow / DATA1)
    run_toy_workflow(toy_workflow, "--forcerun", "make_data")
    assert not_current(audit(toy_workflow)) == set()


def dry_run_outputs(workdir, configfile, *args: str) -> set[str]:
    """Outputs of every job a Snakemake dry run with ``args`` schedules."""
    proc = run_snakemake(workdir, "-n", *args, configfile=configfile)
    outputs = set()
    for line in proc.stdout.splitlines():
        if line.strip().startswith("output:"):
            outputs |= {p.strip() for p in line.split(":", 1)[1].split(",")}
    return outputs


@pytest.mark.integration
def test_the_pipeline_records_its_products_and_the_audit_catches_faults(quick_dag, tmp_path, repo):
    """The real rules: prompts feed every capture; capture.batch_size feeds only captures."""
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    # records of these two jobs (whatever the fixture's run had) come from this checkout's code;
    # only these two rerun (--allowed-rules), not the whole DAG below them
    run_snakemake(workdir, "--cores", "2", "--force", "--allowed-rules", "sample_prompts",
                  "heads_table", "--", "results/corpus/prompts.npy", "results/heads.tsv")  # fmt: skip
    quick = repo / "config" / "quick.yaml"
    seeds = yaml.safe_load(quick.read_text())["seeds"]
    attention = {f"results/attention/seed{s}.npy" for s in seeds}
    prompts = {"results/corpus/prompts.npy", "results/corpus/prompts.parquet"}
    findings = audit(workdir, configfiles=[quick])
    assert {f.path for f in findings} >= attention | prompts | {"results/heads.tsv"}
    assert not_current(findings) == set()

    original = (workdir / "results/corpus/prompts.npy").read_bytes()
    edit_npy(workdir / "results/corpus/prompts.npy")
    found = statuses(audit(workdir, configfiles=[quick]))
    # Independent route: the outputs of every job Snakemake itself would rerun for the edit.
    downstream = dry_run_outputs(
        workdir, quick, "--rerun-triggers", "mtime"
    )  # all downstream of the edit
    assert attention <= downstream
    assert "results/figures/fig12_knockout_single.png" not in downstream  # does not use the prompts
    assert {p for p, s in found.items() if s != "current"} == downstream | {
        "results/corpus/prompts.npy"
    }
    assert found["results/corpus/prompts.npy"] == "modified"
    assert {found[p] for p in downstream} == {"stale"}

    (workdir / "results/corpus/prompts.npy").write_bytes(original)
    cfg = yaml.safe_load(quick.read_text())
    cfg["capture"]["batch_size"] += 1
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    # a config change reruns the captures and everything built on them, nothing else
    stale = not_current(audit(workdir, configfiles=[changed]))
    assert attention <= stale
    assert stale == dry_run_outputs(workdir, quick, "--forcerun", "capture_attention")


@pytest.mark.integration
def test_a_file_the_workflow_no_longer_makes_is_stale_not_an_error(toy_workflow):
    snakefile = toy_workflow / "Snakefile"
    snakefile.write_text(
        snakefile.read_text().replace("fig02_seed{seed}", "fig02_histogram_seed{seed}")
    )
    findings = audit(toy_workflow)
    assert not_current(findings) == {FIG02}
    assert "no longer makes this file" in next(f for f in findings if f.path == FIG02).reasons[0][1]
