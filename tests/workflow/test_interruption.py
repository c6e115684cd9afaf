"""Fault injection: jobs killed with SIGKILL (kill -9, the OOM killer, a Slurm timeout or
preemption) resume instead of restarting, and never leave a file under its final name that
looks complete but is not."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import REPO, snakemake_cmd

# --- helpers ----------------------------------------------------------------------------------


def wait_for(condition, timeout: float, proc: subprocess.Popen | None = None, what: str = ""):
    """Poll ``condition`` every 5 ms; fail if ``proc`` ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(
                f"process ended (rc {proc.returncode}) before {what}:\n{out[-3000:]}"
            )
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_group(proc: subprocess.Popen) -> None:
    """kill -9 a process started with start_new_session=True, and everything it started."""
    with contextlib.suppress(ProcessLookupError):  # already ended
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def state_dicts_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --- training killed with SIGKILL resumes and ends with the same weights -------------------------

TRAIN_DRIVER = """
import sys
import numpy as np, torch
from phrenology.models.model import build_model, model_kwargs, save_model
from phrenology.models.train import TrainSettings, train

torch.set_num_threads(1)
checkpoint, out = sys.argv[1], sys.argv[2]
cfg = {"n_layers": 1, "n_heads": 2, "n_ctx": 8, "d_model": 32, "d_head": 8, "d_mlp": 64,
       "act_fn": "solu_ln", "normalization_type": "LN"}
rng = np.random.default_rng(0)
windows = (rng.integers(0, 20, size=(4000, 1)) + np.arange(9)) % 20  # learnable: +1 each token
heldout = (rng.integers(0, 20, size=(64, 1)) + np.arange(9)) % 20
settings = TrainSettings(batch_size=16, epochs=2, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.98),
                         log_every=10, checkpoint_every=25)  # 500 steps, a checkpoint every 25
kwargs = model_kwargs(cfg, 20, 7)
model = build_model(kwargs)
log = train(model, windows, heldout, settings, seed=7, model_kwargs=kwargs,
            checkpoint_path=checkpoint if checkpoint != "-" else None, progress=False)
save_model(out, model, kwargs, heldout=[r["heldout_loss"] for r in log.epochs],
           losses=[r["loss"] for r in log.steps])
"""


def run_driver(tmp_path: Path, *args: str, wait: bool = True):
    script = tmp_path / "train_driver.py"
    script.write_text(TRAIN_DRIVER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, str(script), *args]
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=True)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip


@pytest.mark.slow
def test_training_killed_with_sigkill_resumes_to_identical_weights(tmp_path):
    checkpoint, resumed_out = tmp_path / "ckpt" / "seed7.pt", tmp_path / "resumed.pt"
    proc = run_driver(tmp_path, str(checkpoint), str(resumed_out), wait=False)
    wait_for(checkpoint.exists, 120, proc, "the first checkpoint")
    kill_group(proc)
    assert proc.returncode == -signal.SIGKILL
    assert not resumed_out.exists()  # killed long before the end (500 steps)

    rerun = run_driver(tmp_path, str(checkpoint), str(resumed_out))
    assert f"resumed from {checkpoint} at epoch 1, step 25" in rerun.stderr

    reference_out = tmp_path / "reference.pt"
    run_driver(tmp_path, "-", str(reference_out))  # the same run, never interrupted
    resumed = torch.load(resumed_out, weights_only=True)
    reference = torch.load(reference_out, weights_only=True)
    assert state_dicts_equal(resumed["state_dict"], reference["state_dict"])
    assert resumed["heldout"] == reference["heldout"]  # same held-out loss after every epoch
    assert resumed["losses"] == reference["losses"]  # and the same logged training losses
    assert resumed_out.read_bytes() == reference_out.read_bytes()  # byte for byte


def test_unreadable_checkpoint_is_ignored_and_training_starts_afresh(tmp_path):
    import numpy as np

    from phrenology.models.model import build_model, model_kwargs
    from phrenology.models.train import TrainSettings, train

    cfg = {"n_layers": 1, "n_heads": 2, "n_ctx": 8, "d_model": 16, "d_head": 8, "d_mlp": 32,
           "act_fn": "gelu", "normalization_type": "LN"}  # fmt: skip
    windows = np.random.default_rng(0).integers(0, 20, size=(32, 9))
    settings = TrainSettings(batch_size=16, epochs=1, lr=1e-2, weight_decay=0.0,
                             betas=(0.9, 0.98), log_every=1, checkpoint_every=1)  # fmt: skip
    checkpoint = tmp_path / "seed0.pt"
    checkpoint.write_bytes(b"PK\x03\x04 half a zip file")  # e.g. a disk that filled up
    kwargs = model_kwargs(cfg, 20, 0)
    log = train(build_model(kwargs), windows, windows, settings, seed=0, model_kwargs=kwargs,
                checkpoint_path=checkpoint, progress=False)  # fmt: skip
    assert [r["step"] for r in log.steps] == [1, 2]  # from the start, not from the bad file
    assert torch.load(checkpoint, weights_only=False)["global_step"] == 2  # replaced by a good one


# --- no partial results: a writer killed before its rename leaves nothing under the final name ----

WRITERS_DRIVER = """
import os, sys, threading, time
import numpy as np, pandas as pd, torch
from phrenology.pipeline import io
from phrenology.analysis.autoencoder import build_autoencoder, save_autoencoder
from phrenology.models.model import build_model, model_kwargs, save_model
from phrenology.plots import new_figure, save_figure

out = sys.argv[1]
real_replace = os.replace

def ready(name):  # one write(2) per line: lines from different threads never interleave
    os.write(1, f"READY {name}\\n".encode())

def replace_never(src, dst):  # the data are complete in the temporary; the kill comes now
    ready(os.path.basename(dst))
    time.sleep(3600)

os.replace = replace_never
frame = pd.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000)})
cfg = {"n_layers": 1, "n_heads": 2, "n_ctx": 4, "d_model": 8, "d_head": 4, "d_mlp": 16,
       "act_fn": "gelu", "normalization_type": "LN"}
kwargs = model_kwargs(cfg, 10, 0)
model = build_model(kwargs)
fig = new_figure(3, 2)
fig.add_subplot().plot([0, 1], [1, 0])

def memmap():  # killed halfway through filling a disk-backed array
    with io.npy_memmap(f"{out}/attention.npy", (64, 8, 16, 16)) as a:
        a[:32] = 1.0
        a.flush()
        ready("attention.npy")  # half filled
        time.sleep(3600)

writers = [
    lambda: io.save_npy(f"{out}/array.npy", np.ones((100, 100))),
    memmap,
    lambda: io.write_tsv(f"{out}/table.tsv", frame),
    lambda: io.write_parquet(f"{out}/table.parquet", frame),
    lambda: io.write_json(f"{out}/meta.json", {"a": 1}),
    lambda: save_figure(fig, f"{out}/figure.png"),
    lambda: save_model(f"{out}/model.pt", model, kwargs),
    lambda: save_autoencoder(f"{out}/autoencoder.pt", build_autoencoder(10, 2, 8, 0), {}),
]
for w in writers:
    threading.Thread(target=w, daemon=True).start()
time.sleep(3600)
"""

FINAL_NAMES = ["array.npy", "attention.npy", "table.tsv", "table.parquet", "meta.json",
               "figure.png", "model.pt", "autoencoder.pt"]  # fmt: skip


def test_writers_killed_mid_write_leave_no_file_under_the_final_name(tmp_path):
    import numpy as np

    from phrenology.pipeline import io

    out = tmp_path / "results"
    out.mkdir()
    script = tmp_path / "writers.py"
    script.write_text(WRITERS_DRIVER)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "Agg"}
    proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip
    ready, lines = [], []
    try:
        deadline = time.monotonic() + 180
        while len(ready) < len(FINAL_NAMES) and time.monotonic() < deadline:
            if not select.select([proc.stdout], [], [], 1.0)[0]:
                continue
            line = proc.stdout.readline()
            assert line, f"writer process ended early (rc {proc.poll()}):\n{''.join(lines)}"
            lines.append(line)
            if line.startswith("READY "):
                ready.append(line.split()[1])
    finally:
        kill_group(proc)
    assert sorted(ready) == sorted(FINAL_NAMES), "".join(lines)

    left = sorted(p.name for p in out.iterdir())
    assert not set(left) & set(FINAL_NAMES)  # nothing that looks finished
    assert all(name.startswith(".") and ".partial-" in name for name in left)  # hidden temporaries
    assert len(left) == len(FINAL_NAMES)

    # the next write of the same output removes the dead writer's temporary
    io.save_npy(out / "attention.npy", np.zeros(3))
    assert not [p for p in out.iterdir() if p.name.startswith(".attention.partial-")]
    assert np.load(out / "attention.npy").tolist() == [0, 0, 0]


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    import numpy as np

    from phrenology.pipeline import io

    live = tmp_path / f".a.partial-{os.getppid()}.npy"  # our parent process is alive
    live.write_bytes(b"being written")
    dead = tmp_path / ".a.partial-999999999.npy"
    dead.write_bytes(b"left by a killed job")
    io.save_npy(tmp_path / "a.npy", np.zeros(2))
    assert live.exists() and not dead.exists()


# --- end to end through Snakemake --------------------------------------------------------------


def start_snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        snakemake_cmd(workdir, "--cores", "2", "--rerun-triggers", "mtime", *args),
        cwd=workdir, env=env or os.environ.copy(), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-5000:]
    return out


@pytest.fixture
def without_model(quick_dag, tmp_path) -> Path:
    """A copy of the finished quick run whose seed-990 model must be trained again."""
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    for name in ("model.pt", "steps.tsv", "epochs.tsv"):
        (workdir / "results/models/seed990" / name).unlink()
    return workdir


def reference_model(quick_dag) -> dict:
    return torch.load(quick_dag / "results/models/seed990/model.pt", weights_only=True)


TARGET = "results/models/seed990/model.pt"


@pytest.mark.integration
@pytest.mark.slow
def test_killed_training_job_is_retried_and_resumes_like_a_preempted_slurm_job(
    without_model, quick_dag
):
    """Only the job dies (as when Slurm kills it for its time limit or preempts it);
    Snakemake, with --retries as in the cluster profile, starts it again: it resumes."""
    workdir = without_model
    checkpoint = workdir / "results/checkpoints/seed990.pt"
    proc = start_snakemake(workdir, "--retries", "1", "--", TARGET)
    wait_for(checkpoint.exists, 300, proc, "the first training checkpoint")
    jobs = descendants(proc.pid)
    assert jobs, "the training job runs in a child process"
    for pid in jobs:
        os.kill(pid, signal.SIGKILL)
    out = finish(proc)
    assert "Trying to restart job" in out or "attempt" in out.lower()
    log = (workdir / "logs/train/seed990.log").read_text()
    assert "resumed from results/checkpoints/seed990.pt at epoch 1, step 50" in log
    assert state_dicts_equal(
        torch.load(workdir / TARGET, weights_only=True)["state_dict"],
        reference_model(quick_dag)["state_dict"],
    )
    assert not checkpoint.exists()  # removed once the model is saved


@pytest.mark.integration
@pytest.mark.slow
def test_whole_run_killed_with_sigkill_resumes_after_unlock(without_model, quick_dag):
    workdir = without_model
    checkpoint = workdir / "results/checkpoints/seed990.pt"
    proc = start_snakemake(workdir, "--", TARGET)
    wait_for(checkpoint.exists, 300, proc, "the first training checkpoint")
    kill_group(proc)  # Snakemake and its job: a node lost, or kill -9 on the whole run
    assert not (workdir / TARGET).exists() and checkpoint.exists()

    # Snakemake's lock survives a SIGKILL: --unlock, then the same command again.
    # No --rerun-incomplete is needed: outputs are written under temporary names, so the
    # killed job left nothing under a final name for Snakemake to distrust.
    locked = start_snakemake(workdir, "--", TARGET)
    out, _ = locked.communicate(timeout=300)
    assert locked.returncode != 0 and "LockException" in out
    finish(start_snakemake(workdir, "--unlock"))
    finish(start_snakemake(workdir, "--", TARGET))
    log = (workdir / "logs/train/seed990.log").read_text()
    assert "resumed from results/checkpoints/seed990.pt at epoch 1, step 50" in log
    assert state_dicts_equal(
        torch.load(workdir / TARGET, weights_only=True)["state_dict"],
        reference_model(quick_dag)["state_dict"],
    )


SITECUSTOMIZE = """
import os, time
_pause = os.environ.get("PAUSE_BEFORE_RENAMING")
if _pause:
    _replace = os.replace
    def _paused(src, dst, *a, **k):
        if str(dst).endswith(_pause):
            open(os.environ["PAUSED_FLAG"], "w").close()
            time.sleep(3600)
        return _replace(src, dst, *a, **k)
    os.replace = _paused
"""


@pytest.mark.integration
@pytest.mark.slow
def test_capture_job_killed_mid_write_leaves_no_attention_file(quick_dag, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(quick_dag / "results", workdir / "results")
    target = workdir / "results/attention/seed991.npy"
    target.unlink()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)  # pauses the job before its rename
    flag = tmp_path / "paused"
    env = {**os.environ, "PAUSE_BEFORE_RENAMING": "attention/seed991.npy", "PAUSED_FLAG": str(flag),
           "PYTHONPATH": os.pathsep.join([str(hooks), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    proc = start_snakemake(workdir, "--", "results/attention/seed991.npy", env=env)
    wait_for(flag.exists, 300, proc, "the capture job's rename")
    partial = [p.name for p in target.parent.iterdir() if p.name.startswith(".seed991.partial-")]
    assert partial  # the tensor is written in full, under its temporary name
    kill_group(proc)
    assert not target.exists()

    finish(start_snakemake(workdir, "--unlock"))
    finish(start_snakemake(workdir, "--", "results/attention/seed991.npy"))
    assert target.read_bytes() == (quick_dag / "results/attention/seed991.npy").read_bytes()
    assert not [p for p in target.parent.iterdir() if ".partial-" in p.name]


def test_the_slurm_profile_retries_jobs():
    """Resuming after a Slurm timeout or preemption relies on Snakemake retrying the job."""
    import yaml

    profiles = [p for p in [REPO / "slurm" / "profile.yaml", *REPO.glob("profiles/*/config.yaml")]
                if p.is_file() and "slurm" in p.read_text()]  # fmt: skip
    if not profiles:
        pytest.skip("no Slurm profile in this checkout yet")
    for profile in profiles:
        settings = yaml.safe_load(profile.read_text())
        retries = settings.get("retries", settings.get("restart-times", 0))
        assert int(retries) >= 1, f"{profile}: set retries so a killed job is resumed"
