"""Peak memory (RSS) of the paper-config jobs that hold the most: training, capture,
the Fig. 14 knockout (all nine models at once) and the head projections (Fig. 8).

Each runs in a fresh child process (so the parent's imports do not count) on the
paper's shapes — full GPT-2 vocabulary, batch 64, 1024 prompts, 9 models × 8 heads —
with random weights and patterns (memory depends on shapes, not values). Training
runs a few steps: its peak is reached in the first, when AdamW allocates its state;
knockout runs one prompt batch (its memory does not grow with more batches).

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys

from common import REPO, write_result

TRAIN = """
import numpy as np, torch, yaml
from phrenology.models.model import build_model, model_kwargs
from phrenology.models.train import TrainSettings, train
cfg = yaml.safe_load(open("config/config.yaml"))
rng = np.random.default_rng(0)
n_ctx = cfg["model"]["n_ctx"]
windows = rng.integers(0, 50257, size=(cfg["train"]["n_windows"], n_ctx + 1))
heldout = rng.integers(0, 50257, size=(cfg["train"]["n_heldout_windows"], n_ctx + 1))
kwargs = model_kwargs(cfg["model"], 50257, 0)
model = build_model(kwargs)
train(model, windows, heldout, TrainSettings.from_config(cfg["train"]), 0, kwargs, progress=False, stop_after_steps=STEPS)
"""

CAPTURE = """
import numpy as np, yaml
from phrenology.pipeline import io
from phrenology.models.capture import capture_patterns
from phrenology.models.model import build_model, model_kwargs
cfg = yaml.safe_load(open("config/config.yaml"))
m, c = cfg["model"], cfg["capture"]
model = build_model(model_kwargs(m, 50257, 0)).eval()
prompts = np.random.default_rng(0).integers(0, 50257, size=(c["n_prompts"], m["n_ctx"]))
shape = (c["n_prompts"], m["n_layers"] * m["n_heads"], m["n_ctx"], m["n_ctx"])
with io.npy_memmap("OUT", shape) as out:
    capture_patterns(model, prompts, c["batch_size"], out=out)
"""

KNOCKOUT = """
import numpy as np, torch, yaml
from phrenology.analysis.knockout import knockout_gram
from phrenology.models.model import build_model, model_kwargs
cfg = yaml.safe_load(open("config/config.yaml"))
k = cfg["knockout"]
models = [build_model(model_kwargs(cfg["model"], 50257, s)).eval() for s in cfg["seeds"]]
prompts = np.random.default_rng(0).integers(0, 50257, size=(k["batch_size"], cfg["model"]["n_ctx"]))
knockout_gram(models, prompts, k["batch_size"])
"""

PROJECTION = """
import numpy as np, yaml
from phrenology.analysis.heads import head_vectors
from phrenology.analysis.projection import project, with_artificial_heads
cfg = yaml.safe_load(open("config/config.yaml"))
m, n = cfg["model"], cfg["capture"]["n_prompts"]
heads = len(cfg["seeds"]) * m["n_layers"] * m["n_heads"]
x = np.random.default_rng(0).random((n, heads, m["n_ctx"], m["n_ctx"]), dtype=np.float32)
x *= np.tri(m["n_ctx"], dtype=np.float32)
x /= x.sum(-1, keepdims=True)
points = with_artificial_heads(head_vectors(x), n, m["n_ctx"])
del x
project(points, cfg["analysis"]["projection"])
"""

BASELINE = "import torch, transformer_lens, numpy, yaml"


def peak_mb(code: str) -> float:
    """Peak RSS of a child process running ``code``, in MiB."""
    probe = (
        code
        + "\nimport resource, json\nprint(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is KiB on Linux


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "import_baseline_mb": peak_mb(BASELINE),
            "train_paper_config_mb": peak_mb(TRAIN.replace("STEPS", "3")),
            "capture_paper_config_mb": peak_mb(CAPTURE.replace("OUT", f"{tmp}/a.npy")),
            "knockout_pca_paper_config_mb": peak_mb(KNOCKOUT),
            "project_heads_paper_config_mb": peak_mb(PROJECTION),
        }
    for k, v in result.items():
        print(f"{k:>26}: {v:.0f} MiB")
    write_result("memory", result)


if __name__ == "__main__":
    main()
