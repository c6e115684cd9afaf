"""The one place that reads Snakemake internals (snakemake_dag._parsed_workflow) still works.

These fail first, and loudly, when a Snakemake upgrade moves what it reads: re-check
phrenology.provenance.snakemake_dag against the new release (is there a public way now?),
then update CHECKED_SNAKEMAKE.
"""

from __future__ import annotations

import shutil

import pytest
import snakemake

from phrenology.provenance import snakemake_dag

from conftest import TOY_WORKFLOW


def test_snakemake_is_the_release_the_private_access_was_checked_against():
    major, minor = (int(p) for p in snakemake.__version__.split(".")[:2])
    assert (major, minor) == snakemake_dag.CHECKED_SNAKEMAKE, (
        f"Snakemake {snakemake.__version__} is installed, but snakemake_dag._parsed_workflow "
        f"was checked against {snakemake_dag.CHECKED_SNAKEMAKE}: re-check it (WorkflowApi."
        "_workflow, Workflow.rules/.dag.jobs, Job.params), then update CHECKED_SNAKEMAKE"
    )


@pytest.fixture
def toy(tmp_path):
    shutil.copytree(TOY_WORKFLOW, tmp_path / "toy")
    return tmp_path / "toy"


def test_rules_and_jobs_of_the_toy_workflow(toy):
    rules, jobs = snakemake_dag.load(toy / "Snakefile", toy, [toy / "config.yaml"])
    assert [r.name for r in rules] == ["all", "make_data", "summarize", "fig01", "fig02"]
    by_name = {r.name: r for r in rules}
    assert by_name["all"].local and not by_name["make_data"].local
    assert by_name["make_data"].script == str(toy / "scripts" / "make_data.py")
    assert by_name["fig02"].output_patterns == ("results/figures/fig02_seed{seed}.png",)
    assert by_name["fig01"].params == {"title": "toy table"}

    made = {(j.rule, j.wildcards) for j in jobs}
    assert made == {
        ("all", ()),
        ("make_data", (("seed", "1"),)),
        ("make_data", (("seed", "2"),)),
        ("summarize", ()),
        ("fig01", ()),
        ("fig02", (("seed", "2"),)),
    }
    summarize = next(j for j in jobs if j.rule == "summarize")
    assert summarize.params == {"seeds": [1, 2]}
    assert summarize.outputs == (("tsv", "results/table.tsv"), ("md", "results/table.md"))
    assert summarize.inputs == ("results/data/seed1.npy", "results/data/seed2.npy")
    fig02 = next(j for j in jobs if j.rule == "fig02")
    assert fig02.params == {"scale": 2.0}
    assert fig02.outputs == ((None, "results/figures/fig02_seed2.png"),)


def test_targets_and_config_overrides(toy):
    _, jobs = snakemake_dag.load(
        toy / "Snakefile",
        toy,
        [toy / "config.yaml"],
        {"plot": {"scale": 4.0}},
        targets={"results/figures/fig02_seed1.png", "results/not_made_by_any_rule.txt"},
    )
    assert sorted(j.rule for j in jobs) == ["fig02", "make_data"]
    assert next(j for j in jobs if j.rule == "fig02").params == {"scale": 4.0}
    # nothing any rule makes: no DAG, no error
    assert snakemake_dag.load(toy / "Snakefile", toy, targets={"nope.txt"})[1] == []


def test_a_broken_workflow_is_one_clear_error(toy):
    (toy / "Snakefile").write_text("rule a:\n    output: 'x'\n    params: n=config['absent']\n")
    with pytest.raises(snakemake_dag.SnakemakeDagError, match="absent"):
        snakemake_dag.load(toy / "Snakefile", toy)
