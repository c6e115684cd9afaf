"""Provenance records written by snakemake_job: content, atomicity, failure handling, PNG metadata."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, Wildcards

from phrenology.pipeline.config import config_hash
from phrenology.pipeline.errors import DataError
from phrenology.pipeline.io import save_npy, sha256_file
from phrenology.pipeline.jobs import snakemake_job
from phrenology.provenance import records


def namedlist(cls, named: dict, positional=()):
    """A Snakemake Namedlist as the script directive hands it over (names over index ranges)."""
    items, spans = [], {}
    for name, value in named.items():
        values = value if isinstance(value, list) and cls is not Params else [value]
        spans[name] = (len(items), len(items) + len(values) if len(values) > 1 else None)
        items.extend(values)
    items.extend(positional)
    nl = cls(items)
    for name, (start, end) in spans.items():
        nl._set_name(name, start, end=end)
    return nl


def fake_smk(tmp_path, *, inputs=None, outputs=None, params=None, wildcards=None, rule="toy"):
    return types.SimpleNamespace(
        input=namedlist(InputFiles, inputs or {}),
        output=namedlist(OutputFiles, outputs or {}),
        params=namedlist(Params, params or {}),
        wildcards=namedlist(Wildcards, wildcards or {}),
        log=namedlist(Log, {}, [str(tmp_path / "logs" / f"{rule}.log")]),
        threads=1,
        resources={"mem_mb": 100},
        rule=rule,
        scriptdir=str(tmp_path),
    )


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A Snakemake-like working directory with one input file; records use relative paths."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    save_npy("results/in.npy", np.arange(10, dtype=np.float32))
    return tmp_path


def run_job(smk, body=None):
    with snakemake_job(smk) as job:
        for path in smk.output:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(f"made from {list(smk.input)}\n")
        if body:
            body(job)


def test_record_path_round_trip():
    assert records.record_path("results/x.png") == Path("results/x.png.prov.json")
    assert records.output_of("results/x.png.prov.json") == Path("results/x.png")
    with pytest.raises(ValueError):
        records.output_of("results/x.png")


def test_named_values_keep_names_positions_and_lists():
    params = namedlist(Params, {"k": 3, "model": {"n_layers": 1}}, positional=[7])
    assert records.named_values(params) == {"k": 3, "model": {"n_layers": 1}, "_2": 7}
    assert records.named_values({"betas": (0.9, 0.98)}) == {"betas": [0.9, 0.98]}


def test_named_files_give_each_file_its_role():
    files = namedlist(InputFiles, {"model": "m.pt", "attention": ["a0.npy", "a1.npy"]})
    assert records.named_files(files) == [
        ("m.pt", "model"), ("a0.npy", "attention"), ("a1.npy", "attention"),
    ]  # fmt: skip
    assert records.named_files(["x", "y"]) == [("x", None), ("y", None)]


def test_file_entity_reuses_a_recorded_hash_only_while_size_and_mtime_match(tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"abc")
    st = f.stat()
    fake = {"schema": records.SCHEMA,
            "entity": {"sha256": "recorded", "size": st.st_size, "mtime_ns": st.st_mtime_ns}}  # fmt: skip
    records.record_path(f).write_text(json.dumps(fake))
    assert records.file_entity(str(f))["sha256"] == "recorded"
    assert records.file_entity(str(f), reuse=False)["sha256"] == sha256_file(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert records.file_entity(str(f))["sha256"] == sha256_file(f)


def test_directory_hash_follows_its_files(tmp_path):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "a.txt").write_text("a")
    before = records.sha256_path(d)
    (d / "sub" / "a.txt").write_text("b")
    assert records.sha256_path(d) != before


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_state_commit_dirty_and_no_repository(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"]):
        if cmd[0] == "add":
            (repo / "f.txt").write_text("one")
        subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    clean = records.git_state(repo)
    assert clean["commit"] == head and clean["dirty"] is False
    (repo / "untracked.txt").write_text("not part of the commit, not 'dirty'")
    assert records.git_state(repo)["dirty"] is False
    (repo / "f.txt").write_text("two")
    dirty = records.git_state(repo)
    assert dirty["dirty"] is True and dirty["changed_files"] == ["f.txt"]
    (repo / "f.txt").write_text("three")
    assert records.git_state(repo)["diff_sha256"] != dirty["diff_sha256"]
    outside = tmp_path / "plain"
    outside.mkdir()
    assert records.git_state(outside) is None
    assert records.git_state(tmp_path / "absent") is None


def test_parse_snakemake_argv_finds_snakefile_configfiles_and_overrides(tmp_path):
    (tmp_path / "Snakefile").write_text("")
    argv = ["/venv/bin/python", "-m", "snakemake", "-c2", "--configfile", "config/quick.yaml",
            "extra.yaml", "--config", "k=1", "--rerun-incomplete", "target.png"]  # fmt: skip
    found = records.parse_snakemake_argv(argv, str(tmp_path))
    assert found["configfiles"] == [
        str(tmp_path / "config/quick.yaml"),
        str(tmp_path / "extra.yaml"),
    ]
    assert found["config_overrides"] == ["k=1"]
    assert found["snakefile"] == str(tmp_path / "Snakefile")  # Snakemake's default location
    argv = ["/venv/bin/snakemake", "-s", "/abs/Snakefile", "--cores", "1"]
    found = records.parse_snakemake_argv(argv, str(tmp_path))
    assert found == {"snakefile": "/abs/Snakefile", "configfiles": [], "config_overrides": []}


def test_slurm_info_only_when_in_a_slurm_job():
    assert records.slurm_info({}) is None
    info = records.slurm_info({"SLURM_JOB_ID": "42", "SLURM_ARRAY_TASK_ID": "3"})
    assert info == {"job_id": "42", "array_task_id": "3"}


def test_a_successful_job_writes_a_record_beside_every_output(workdir):
    smk = fake_smk(
        workdir,
        inputs={"data": "results/in.npy"},
        outputs={"table": "results/out.tsv", "figure": "results/figures/f.png"},
        params={"k": 3, "model": {"n_layers": 2}},
        wildcards={"seed": "990"},
        rule="cluster",
    )
    run_job(smk)
    out_hashes = {p: sha256_file(p) for p in ("results/out.tsv", "results/figures/f.png")}
    for out in out_hashes:
        rec = json.loads(records.record_path(out).read_text())
        assert rec["schema"] == records.SCHEMA
        assert rec["entity"]["path"] == out and rec["entity"]["sha256"] == out_hashes[out]
        act = rec["wasGeneratedBy"]
        assert act["rule"] == "cluster" and act["wildcards"] == {"seed": "990"}
        assert act["params"] == {"k": 3, "model": {"n_layers": 2}}
        assert act["config_sha256"] == config_hash({"k": 3, "model": {"n_layers": 2}})
        assert {g["path"]: g["sha256"] for g in act["generated"]} == out_hashes
        assert act["startedAtTime"] <= act["endedAtTime"] and act["endedAtTime"].endswith("Z")
        assert act["workdir"] == str(workdir) and act["log"] == [str(workdir / "logs/cluster.log")]
        assert rec["used"] == [{
            "path": "results/in.npy", "role": "data", "sha256": sha256_file("results/in.npy"),
            "size": os.path.getsize("results/in.npy"),
            "mtime_ns": os.stat("results/in.npy").st_mtime_ns,
        }]  # fmt: skip
        agent = rec["wasAssociatedWith"]
        assert agent["software"]["numpy"] == np.__version__ and agent["software"]["python"]
        assert agent["host"] and "slurm" in agent and "git" in agent
    assert not list(workdir.rglob(".*.partial-*")), "no temporary file left behind"


def test_job_declared_sources_are_recorded(workdir):
    (workdir / "corpus.zip").write_bytes(b"corpus bytes")
    smk = fake_smk(workdir, outputs={"x": "results/x.txt"})

    def body(job):
        job.uses_file("corpus.zip", role="corpus")
        job.uses("tokenizer", name="gpt2", vocab_sha256="abc")

    run_job(smk, body)
    used = json.loads(records.record_path("results/x.txt").read_text())["used"]
    assert used[0]["path"] == "corpus.zip" and used[0]["role"] == "corpus"
    assert used[0]["sha256"] == sha256_file(workdir / "corpus.zip")
    assert used[1] == {"path": None, "role": "tokenizer", "name": "gpt2", "vocab_sha256": "abc"}


@pytest.mark.parametrize("error", [DataError("bad input"), RuntimeError("bug")])
def test_a_failed_job_leaves_no_record_not_even_an_old_one(workdir, error):
    smk = fake_smk(workdir, inputs={"d": "results/in.npy"}, outputs={"o": "results/out.tsv"})
    run_job(smk)
    assert records.record_path("results/out.tsv").exists()

    def fail(job):
        raise error

    expected = SystemExit if isinstance(error, DataError) else RuntimeError
    with pytest.raises(expected):
        run_job(smk, fail)
    assert not records.record_path("results/out.tsv").exists()
    log = (workdir / "logs" / "toy.log").read_text()
    assert str(error) in log, "the job's own error is what the log reports"


def test_a_job_missing_an_output_writes_no_record(workdir):
    smk = fake_smk(workdir, outputs={"a": "results/a.txt", "b": "results/b.txt"})
    with snakemake_job(smk):
        Path("results/a.txt").write_text("only a")
    assert not records.record_path("results/a.txt").exists()
    assert "warning" not in (workdir / "logs" / "toy.log").read_text(), "skipped, not failed"


def test_a_provenance_failure_warns_but_never_fails_the_job(workdir, monkeypatch, capfd):
    def broken(self):
        raise OSError("disk full")

    monkeypatch.setattr(records.Activity, "finish", broken)
    smk = fake_smk(workdir, outputs={"a": "results/a.txt"})
    run_job(smk)  # does not raise
    assert Path("results/a.txt").exists()
    assert "provenance record not written" in (workdir / "logs" / "toy.log").read_text()
    assert "disk full" in capfd.readouterr().err

    monkeypatch.setattr(records, "start", lambda *a, **k: 1 / 0)
    run_job(smk)
    assert "no provenance will be recorded" in (workdir / "logs" / "toy.log").read_text()


def test_save_figure_embeds_the_jobs_provenance_in_the_png(workdir):
    from PIL import Image

    from phrenology.plots import new_figure, save_figure

    smk = fake_smk(
        workdir, inputs={"data": "results/in.npy"}, outputs={"fig": "results/figures/f.png"},
        params={"title": "t"}, wildcards={"seed": "7"}, rule="plot_f",
    )  # fmt: skip

    def draw(job):
        fig = new_figure(2, 2)
        fig.add_subplot().plot([0, 1], [0, 1])
        save_figure(fig, smk.output[0], metadata={"Title": "toy"})

    with snakemake_job(smk) as job:
        draw(job)
    text = Image.open("results/figures/f.png").text
    rec = json.loads(records.record_path("results/figures/f.png").read_text())
    p = records.PNG_PREFIX
    assert text["Title"] == "toy"
    assert text[p + "rule"] == "plot_f" and text[p + "wildcards"] == "seed=7"
    assert text[p + "config_sha256"] == rec["wasGeneratedBy"]["config_sha256"]
    assert text[p + "activity_id"] == rec["wasGeneratedBy"]["id"]
    assert json.loads(text[p + "used"]) == [
        {"path": "results/in.npy", "sha256": sha256_file("results/in.npy")}
    ]
    git = rec["wasAssociatedWith"]["git"]
    assert text[p + "git_commit"] == (git["commit"] if git else "unknown")


def test_save_figure_outside_a_job_adds_no_provenance(tmp_path):
    from PIL import Image

    from phrenology.plots import new_figure, save_figure

    fig = new_figure(2, 2)
    save_figure(fig, tmp_path / "f.png")
    assert not any(k.startswith(records.PNG_PREFIX) for k in Image.open(tmp_path / "f.png").text)
    assert records.current_activity() is None


@pytest.mark.parametrize("suffix", [".pdf", ".svg"])
def test_save_figure_in_a_job_writes_other_formats_cleanly(workdir, suffix):
    """PNG text chunks are PNG only: other formats reject or warn about unknown keys."""
    import warnings

    from phrenology.plots import new_figure, save_figure

    smk = fake_smk(workdir, outputs={"fig": f"results/f{suffix}"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with snakemake_job(smk):
            save_figure(new_figure(2, 2), smk.output[0])
    assert Path(f"results/f{suffix}").stat().st_size > 0
    assert records.record_path(f"results/f{suffix}").exists()
