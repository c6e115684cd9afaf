"""Fault injection: missing, truncated, foreign or wrong-shaped inputs give one clear error that
names the file and the fix — in the loaders, and end to end inside a Snakemake run."""

import ast
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from phrenology.analysis.autoencoder import build_autoencoder, load_autoencoder, save_autoencoder
from phrenology.analysis.heads import load_patterns
from phrenology.models.model import build_model, load_model, model_kwargs, save_model
from phrenology.pipeline import io
from phrenology.pipeline.errors import DataError

from conftest import REPO, run_snakemake

TINY = {"n_layers": 1, "n_heads": 2, "n_ctx": 4, "d_model": 8, "d_head": 4, "d_mlp": 16,
        "act_fn": "gelu", "normalization_type": "LN"}  # fmt: skip


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def patterns(n_prompts=3, heads=2, n_ctx=4, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).random((n_prompts, heads, n_ctx, n_ctx)).astype(np.float32)
    return x / x.sum(-1, keepdims=True)


# --- attention files --------------------------------------------------------------------------


@pytest.fixture
def attention(tmp_path) -> list[Path]:
    paths = [tmp_path / f"seed{s}.npy" for s in (1, 2)]
    for i, p in enumerate(paths):
        io.save_npy(p, patterns(seed=i))
    return paths


def test_good_attention_files_load(attention):
    assert load_patterns([str(p) for p in attention], heads_per_model=2).shape == (3, 4, 4, 4)


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda p: truncate(p), "is truncated or not a .npy file"),
        (lambda p: p.write_bytes(b"not numpy at all"), "is truncated or not a .npy file"),
        (lambda p: io.save_npy(p, patterns(heads=3)), "holds 3 heads, expected 2"),
        (lambda p: io.save_npy(p, patterns(n_prompts=5)), "has shape (5, 2, 4, 4), unlike"),
        (lambda p: io.save_npy(p, patterns()[0]), "has 3 dimensions, expected 4"),
        (lambda p: io.save_npy(p, np.where(np.eye(4) > 0, np.nan, patterns()).astype(np.float32)),
         "holds NaN or infinite values (first in prompt 0)"),
        (lambda p: p.unlink(), "is missing; rerun the pipeline"),
    ],
)  # fmt: skip
def test_damaged_attention_file_is_named(attention, damage, fragment):
    damage(attention[1])
    with pytest.raises(DataError) as err:
        load_patterns([str(p) for p in attention], heads_per_model=2)
    message = str(err.value)
    assert str(attention[1]) in message and fragment in message
    assert "rerun" in message  # says how to fix it


# --- model files ------------------------------------------------------------------------------


@pytest.fixture
def model_file(tmp_path) -> Path:
    kwargs = model_kwargs(TINY, 10, 0)
    path = tmp_path / "model.pt"
    save_model(path, build_model(kwargs), kwargs)
    return path


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        (lambda p: truncate(p), "is not a readable model file"),
        (lambda p: truncate(p, 0.02), "is not a readable model file"),
        (lambda p: p.write_bytes(b"\x80\x04garbage"), "is not a readable model file"),
        (lambda p: torch.save({"weights": torch.zeros(2)}, p), "was not written by this pipeline"),
        (lambda p: p.unlink(), "is missing"),
    ],
)  # fmt: skip
def test_damaged_model_file_is_named(model_file, damage, fragment):
    damage(model_file)
    with pytest.raises(DataError) as err:
        load_model(model_file)
    assert str(model_file) in str(err.value) and fragment in str(err.value)


def test_model_file_whose_weights_do_not_fit_its_config_is_named(model_file):
    ckpt = torch.load(model_file, weights_only=True)
    ckpt["state_dict"]["embed.W_E"] = torch.zeros(10, 16)  # d_model 8 in its config
    torch.save(ckpt, model_file)
    with pytest.raises(DataError, match=r"model\.pt: weights do not fit its config"):
        load_model(model_file)


@pytest.mark.parametrize(
    "damage",
    [lambda p: truncate(p), lambda p: p.write_bytes(b"\x80\x04garbage"),
     lambda p: torch.save([1, 2], p)],
)  # fmt: skip
def test_damaged_autoencoder_file_is_named(tmp_path, damage):
    path = tmp_path / "k2.pt"
    save_autoencoder(path, build_autoencoder(10, 2, 8, 0), {})
    damage(path)
    with pytest.raises(DataError, match=rf"{path}.*(cannot be read|is not a)"):
        load_autoencoder(path)


# --- tables -----------------------------------------------------------------------------------


def test_damaged_parquet_is_named(tmp_path):
    import pandas as pd

    path = tmp_path / "prompts.parquet"
    io.write_parquet(path, pd.DataFrame({"prompt": range(100), "token": ["a"] * 100}))
    assert len(io.read_parquet(path, columns=["prompt", "token"])) == 100
    with pytest.raises(DataError, match=r"lacks columns \['position'\]"):
        io.read_parquet(path, columns=["prompt", "position"])
    truncate(path)
    with pytest.raises(DataError, match=rf"{path} is truncated or not a Parquet file"):
        io.read_parquet(path)
    with pytest.raises(DataError, match="missing"):
        io.read_parquet(tmp_path / "absent.parquet")


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02\xff\xfe\n\x00"])
def test_unreadable_tsv_is_named(tmp_path, content):
    path = tmp_path / "heads.tsv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"{path} (is not a readable table|lacks columns)"):
        io.read_tsv(path, columns=["head_index"])


def test_truncated_json_is_named(tmp_path):
    path = tmp_path / "meta.json"
    io.write_json(path, {"seeds": [1, 2, 3], "prompt": "They sit alone"})
    truncate(path)
    with pytest.raises(DataError, match=rf"{path} is not valid JSON"):
        io.read_json(path)


# --- every job reads and writes through the checked helpers -----------------------------------

SCRIPTS = sorted((REPO / "workflow" / "scripts").glob("*.py"))
SOURCES = sorted((REPO / "src" / "phrenology").rglob("*.py"))
RAW_READERS = {("np", "load"), ("numpy", "load"), ("torch", "load"), ("pd", "read_csv"),
               ("pd", "read_parquet"), ("pd", "read_table"), ("json", "load"),
               ("pickle", "load")}  # fmt: skip
WRITERS = {"save", "savez", "savez_compressed", "to_csv", "to_parquet", "savefig", "write_text",
           "write_bytes", "open_memmap", "dump", "tofile"}  # fmt: skip


def _calls(tree):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _dotted(func) -> tuple[str, str] | None:
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id, func.attr
    return None


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_read_inputs_only_through_checked_loaders(script):
    tree = ast.parse(script.read_text())
    raw = [
        f"{script.name}:{c.lineno}"
        for c in _calls(tree)
        if _dotted(c.func) in RAW_READERS or (isinstance(c.func, ast.Name) and c.func.id == "open")
    ]
    assert not raw, f"use phrenology.pipeline.io / load_model / load_patterns instead: {raw}"


def _atomic_names(tree) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of every ``with atomic_path(...) as tmp`` and of every
    ``open(tmp, ...) as f`` on such a temporary in the same ``with``."""
    blocks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            names: set[str] = set()
            for item in node.items:
                call, var = item.context_expr, item.optional_vars
                func = getattr(call, "func", None)
                func = getattr(func, "attr", None) or getattr(func, "id", None)
                if not isinstance(var, ast.Name):
                    continue
                first = call.args[0] if getattr(call, "args", None) else None
                if func == "atomic_path" or (
                    func == "open" and isinstance(first, ast.Name) and first.id in names
                ):
                    names.add(var.id)
                    blocks.append((node.lineno, node.end_lineno, var.id))
    return blocks


def _writes_to(call) -> str | None:
    """The name a writer call writes to: ``np.save(NAME, ...)``, ``NAME.write_text(...)``."""
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        if func.attr in ("write_text", "write_bytes"):
            return func.value.id
    position = (
        1 if _dotted(func) in {("torch", "save"), ("json", "dump"), ("pickle", "dump")} else 0
    )
    target = call.args[position] if len(call.args) > position else None
    return target.id if isinstance(target, ast.Name) else None


@pytest.mark.parametrize("source", SCRIPTS + SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_file_write_goes_through_a_temporary_name(source):
    tree = ast.parse(source.read_text())
    blocks = _atomic_names(tree)
    bad = []
    for call in _calls(tree):
        func = call.func
        attr = func.attr if isinstance(func, ast.Attribute) else None
        is_open_for_write = (
            isinstance(func, ast.Name)
            and func.id == "open"
            and any(isinstance(a, ast.Constant) and set(str(a.value)) & set("wax") for a in call.args[1:2])
        )  # fmt: skip
        if attr not in WRITERS and not is_open_for_write:
            continue
        if attr == "dump" and _dotted(func) not in {("json", "dump"), ("pickle", "dump")}:
            continue
        if (
            attr == "to_csv"
            and not call.args
            and not any(k.arg == "path_or_buf" for k in call.keywords)
        ):
            continue  # returns the text, writes nothing
        target = _writes_to(call)
        inside = any(lo <= call.lineno <= hi and target == name for lo, hi, name in blocks)
        if not inside and not (source.name == "jobs.py" and is_open_for_write):  # the job's log
            bad.append(f"{source.name}:{call.lineno}")
    assert not bad, f"write through phrenology.pipeline.io.atomic_path (or its writers): {bad}"


# --- end to end: one clear line from the failing job, no traceback ---------------------------


@pytest.fixture
def finished_run(quick_dag, tmp_path) -> Path:
    """A private copy of the finished quick run's results."""
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    return workdir


def run_target(workdir: Path, target: str):
    # mtime only: the copy has no Snakemake metadata, and only the damaged file's consumer
    # should run
    return run_snakemake(
        workdir, "--cores", "1", "--rerun-triggers", "mtime", "--", target, check=False
    )


def assert_one_clear_error(proc, workdir: Path, rule: str, log: str, *fragments: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    lines = {line for line in out.splitlines() if line.startswith("error in rule ")}
    assert len(lines) == 1, out[-3000:]
    (line,) = lines
    assert line.startswith(f"error in rule {rule}: ")
    for fragment in fragments:
        assert fragment in line, line
    assert "Traceback" not in out
    log_text = (workdir / log).read_text()
    assert line in log_text and "Traceback" not in log_text


@pytest.mark.integration
def test_truncated_attention_file_in_a_run(finished_run):
    truncate(finished_run / "results/attention/seed991.npy")
    proc = run_target(finished_run, "results/distance/attention_distance.npy")
    assert_one_clear_error(
        proc, finished_run, "attention_distance", "logs/compare/attention_distance.log",
        "results/attention/seed991.npy is truncated", "delete it and rerun",
    )  # fmt: skip
    assert not (finished_run / "results/distance/attention_distance.npy").exists()


@pytest.mark.integration
def test_wrong_shape_attention_file_in_a_run(finished_run, quick_config):
    m = quick_config["model"]
    np.save(finished_run / "results/attention/seed990.npy",
            patterns(n_prompts=4, heads=m["n_heads"], n_ctx=m["n_ctx"]))  # fmt: skip
    proc = run_target(finished_run, "results/distance/attention_distance.npy")
    assert_one_clear_error(
        proc, finished_run, "attention_distance", "logs/compare/attention_distance.log",
        f"results/attention/seed990.npy holds {m['n_heads']} heads, "
        f"expected {m['n_layers'] * m['n_heads']}",
    )  # fmt: skip


@pytest.mark.integration
def test_truncated_model_file_in_a_run(finished_run):
    truncate(finished_run / "results/models/seed992/model.pt")
    (finished_run / "results/attention/seed992.npy").unlink()
    proc = run_target(finished_run, "results/attention/seed992.npy")
    assert_one_clear_error(
        proc, finished_run, "capture_attention", "logs/capture/seed992.log",
        "results/models/seed992/model.pt is not a readable model file", "rerun",
    )  # fmt: skip
    assert not list((finished_run / "results/attention").glob("*seed992*"))


@pytest.mark.integration
def test_truncated_corpus_zip_in_a_run(tmp_path, monkeypatch):
    import os

    good = Path(os.environ["NLTK_DATA"]) / "corpora" / "brown.zip"
    bad = tmp_path / "nltk_data" / "corpora" / "brown.zip"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(good.read_bytes()[:1_000_000])
    monkeypatch.setenv("NLTK_DATA", str(tmp_path / "nltk_data"))
    workdir = tmp_path / "run"
    workdir.mkdir()
    proc = run_target(workdir, "results/corpus/manifest.json")
    assert_one_clear_error(
        proc, workdir, "prepare_corpus", "logs/prepare_corpus.log",
        f"{bad} is damaged", "replace it with a fresh copy",
    )  # fmt: skip
    assert not (workdir / "results" / "corpus").exists() or not any(
        (workdir / "results" / "corpus").iterdir()
    )


@pytest.mark.integration
def test_tokenizer_cache_failing_its_hash_stops_the_run_before_any_job(tmp_path, monkeypatch):
    import os

    cache = tmp_path / "tiktoken_cache"
    shutil.copytree(os.environ["TIKTOKEN_CACHE_DIR"], cache)
    bad = cache / "6d1cbeee0f20b3d9449abfede4726ed8212e3aee"  # vocab.bpe
    bad.chmod(0o644)
    truncate(bad, 0.9)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    workdir = tmp_path / "run"
    workdir.mkdir()
    proc = run_target(workdir, "results/corpus/manifest.json")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"tokenizer cache file {bad} (vocab.bpe) fails its sha256 check" in out
    assert not (workdir / "logs").exists()  # no job started
    assert bad.exists()
