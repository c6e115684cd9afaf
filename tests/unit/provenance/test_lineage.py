"""Lineage trees: from a product's record through its inputs' records to the sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from phrenology.pipeline.errors import DataError
from phrenology.provenance import records
from phrenology.provenance.lineage import flatten, format_lineage, lineage

from conftest import run_snakemake


def write_record(workdir: Path, path: str, job: dict, used: list[dict], sha: str) -> None:
    """A hand-made record of ``path`` (the job's other outputs share ``job``)."""
    (workdir / path).parent.mkdir(parents=True, exist_ok=True)
    (workdir / path).write_text(sha)
    record = {
        "schema": records.SCHEMA,
        "entity": {"path": path, "sha256": sha},
        "wasGeneratedBy": {"params": {}, "wildcards": {}, **job},
        "used": used,
        "wasAssociatedWith": {"git": {"commit": "c0ffee" * 7, "dirty": True}, "host": "h"},
    }
    records.record_path(workdir / path).write_text(json.dumps(record))


@pytest.fixture
def hand_made(tmp_path) -> Path:
    """corpus.zip (source) + tokenizer → prep → a.npy, b.npy → fig.png (uses both)."""
    prep = {"id": "prep", "rule": "prepare", "params": {"corpus": {"name": "brown"}}}
    source = [{"path": "/data/corpus.zip", "sha256": "z" * 64, "role": "corpus"},
              {"path": None, "role": "tokenizer", "name": "gpt2", "vocab_sha256": "t" * 64}]  # fmt: skip
    write_record(tmp_path, "results/a.npy", prep, source, "a" * 64)
    write_record(tmp_path, "results/b.npy", prep, source, "b" * 64)
    plot = {"id": "plot", "rule": "plot", "wildcards": {"seed": "7"},
            "params": {"k": 3, "umap": {"seed": 5}}, "command": {"configfiles": ["c.yaml"]}}  # fmt: skip
    used = [{"path": "results/a.npy", "sha256": "a" * 64, "role": "a"},
            {"path": "results/b.npy", "sha256": "OLD" + "b" * 61, "role": "b"}]  # fmt: skip
    write_record(tmp_path, "results/fig.png", plot, used, "f" * 64)
    return tmp_path


def test_lineage_reaches_the_sources_and_expands_each_job_once(hand_made):
    tree = lineage("results/fig.png", hand_made)
    act = tree["generatedBy"]
    assert act["rule"] == "plot" and act["wildcards"] == {"seed": "7"}
    a, b = act["used"]
    assert a["generatedBy"]["rule"] == "prepare"
    assert [u.get("role") for u in a["generatedBy"]["used"]] == ["corpus", "tokenizer"]
    assert b["generatedBy"] == {"ref": "prep", "rule": "prepare", "wildcards": {}}
    assert b["record_sha256"] == "b" * 64, "b's record describes a newer version than fig used"
    assert tree["matches_record"] is False  # the file holds 'fff…' text, not bytes hashing to it
    summary = tree["summary"]
    assert {s.get("role") for s in summary["sources"]} == {"corpus", "tokenizer"}
    assert summary["rules"] == ["plot", "prepare"] and summary["wildcards"] == {"seed": ["7"]}
    assert summary["git"] == ["c0ffee" * 7 + "-dirty"]
    assert summary["seed_params"] == ["plot: umap.seed=5"]
    assert summary["configfiles"] == ["(the Snakefile's default)", "c.yaml"]


def test_the_text_tree_shows_rules_config_sources_and_warnings(hand_made):
    text = format_lineage(lineage("results/fig.png", hand_made))
    assert text.splitlines()[0].startswith("results/fig.png")
    assert "the file has changed since its record was written" in text
    assert "└── rule plot [seed=7]" in text and "config" in text and "k=3" in text
    assert "results/b.npy (b)  sha256 OLDbbbbbbbbb" in text
    assert text.count("└── rule prepare") == 1 and "← rule prepare (above)" in text
    assert "corpus.name=brown" in text
    assert "/data/corpus.zip (corpus)  sha256 zzzzzzzzzzzz  [source: no record]" in text
    assert "tokenizer: name=gpt2 vocab_sha256=tttttttttttt" in text
    assert "its record now describes another version" in text
    assert "git c0ffeec0ff (dirty)" in text


def test_a_file_without_a_record_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no provenance record"):
        lineage("results/nothing.png", tmp_path)


def test_flatten_gives_dotted_keys():
    assert flatten({"model": {"n_layers": 1, "act": "gelu"}, "seeds": [1, 2]}) == [
        "model.act=gelu", "model.n_layers=1", "seeds=[1,2]",
    ]  # fmt: skip


@pytest.mark.integration
def test_toy_figure_lineage_goes_back_to_every_seed(toy_workflow):
    tree = lineage("results/figures/fig01_table.png", toy_workflow)
    assert tree["matches_record"] is True
    summarize = tree["generatedBy"]["used"][0]["generatedBy"]
    assert summarize["rule"] == "summarize" and summarize["params"] == {"seeds": [1, 2]}
    makers = [u["generatedBy"] for u in summarize["used"]]
    assert [m["wildcards"] for m in makers] == [{"seed": "1"}, {"seed": "2"}]
    assert all(m["params"] == {"n": 50} and m["script"] == "scripts/make_data.py" for m in makers)
    assert tree["summary"]["wildcards"] == {"seed": ["1", "2"]}


@pytest.mark.integration
def test_pipeline_lineage_reaches_the_corpus_file_tokenizer_and_seed(quick_dag, tmp_path, repo):
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    if not records.record_path(workdir / "results/corpus/manifest.json").exists():
        # a reused backbone run made before provenance existed: rebuild its records
        run_snakemake(workdir, "--cores", "2", "--forceall")
    seed = yaml.safe_load((repo / "config" / "quick.yaml").read_text())["seeds"][0]
    tree = lineage(f"results/attention/seed{seed}.npy", workdir)
    rules = tree["summary"]["rules"]
    assert rules == ["capture_attention", "prepare_corpus", "sample_prompts", "train_model"]
    sources = {s.get("role"): s for s in tree["summary"]["sources"]}
    manifest = json.loads((workdir / "results/corpus/manifest.json").read_text())
    assert sources["corpus"]["path"] == manifest["corpus"]["file"]
    assert sources["corpus"]["sha256"] == manifest["corpus"]["file_sha256"]
    assert sources["tokenizer"]["vocab_sha256"] == manifest["tokenizer"]["vocab_sha256"]
    assert tree["summary"]["wildcards"] == {"seed": [str(seed)]}
    prompt_seed = yaml.safe_load((repo / "config" / "quick.yaml").read_text())["capture"][
        "prompt_seed"
    ]
    assert f"sample_prompts: seed={prompt_seed}" in tree["summary"]["seed_params"]
    text = format_lineage(tree)
    assert f"rule train_model [seed={seed}]" in text and "corpus.name=brown" in text
