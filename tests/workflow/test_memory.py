"""Scale: attention capture streams to a disk-backed array and knockout accumulates a Gram
matrix batch by batch, so their memory does not grow with the number of prompts.

Each measurement runs in a fresh process and samples its anonymous resident memory (RssAnon:
the heap, not the file pages of a memory map, which the kernel can write back and drop) every
millisecond; the peak is compared for 16× more prompts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO

PROBE = """
import json, sys, threading, time
import numpy as np, torch
from phrenology.pipeline import io
from phrenology.models.capture import capture_patterns
from phrenology.analysis.knockout import knockout_gram
from phrenology.models.model import build_model, model_kwargs

torch.set_num_threads(1)
what, n_prompts, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def rss_anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

peak, done = [0.0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss_anon_mb())
        time.sleep(0.001)

cfg = {"n_layers": 2, "n_heads": 4, "n_ctx": 16, "d_model": 32, "d_head": 8, "d_mlp": 64,
       "act_fn": "gelu", "normalization_type": "LN"}
vocab = 4000 if what == "knockout" else 500
models = [build_model(model_kwargs(cfg, vocab, s)).eval() for s in (0, 1)]
prompts = np.random.default_rng(0).integers(0, vocab, size=(n_prompts, 16))
baseline = rss_anon_mb()
sampler = threading.Thread(target=sample)
sampler.start()
shape = (n_prompts, 8, 16, 16)
if what == "capture":
    with io.npy_memmap(out, shape) as a:
        capture_patterns(models[0], prompts, 256, out=a)
elif what == "capture_in_ram":  # control: the whole tensor in memory
    a = capture_patterns(models[0], prompts, 256)
    io.save_npy(out, a)
else:
    gram = knockout_gram(models, prompts, 16)
done.set()
sampler.join()
print(json.dumps({"peak_mb": peak[0] - baseline}))
"""


def peak_mb(tmp_path, what: str, n_prompts: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, what, str(n_prompts), str(tmp_path / f"{what}{n_prompts}.npy")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]


SMALL, LARGE = 1024, 16384  # the large tensor: 16384 × 8 × 16 × 16 float32 = 128 MiB


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
@pytest.mark.slow
def test_capture_memory_does_not_grow_with_the_number_of_prompts(tmp_path):
    tensor_mb = LARGE * 8 * 16 * 16 * 4 / 2**20
    small, large = peak_mb(tmp_path, "capture", SMALL), peak_mb(tmp_path, "capture", LARGE)
    in_ram = peak_mb(tmp_path, "capture_in_ram", LARGE)
    assert in_ram - small > 0.8 * tensor_mb  # the probe sees a tensor held in memory
    assert large - small < 0.1 * tensor_mb, (small, large)  # streaming: it does not


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
@pytest.mark.slow
def test_knockout_memory_does_not_grow_with_the_number_of_prompts(tmp_path):
    # all probability changes at once would be 16 heads × prompts × 4000 float64: 500 MiB at 1024
    small, large = peak_mb(tmp_path, "knockout", 64), peak_mb(tmp_path, "knockout", 1024)
    assert large - small < 20, (small, large)
