"""Small helpers shared by the benchmark scripts: timing, JSON output, machine facts."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
REPO = Path(__file__).resolve().parents[1]


def machine() -> dict:
    import torch

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
    }


def cpu_model() -> str | None:
    """The CPU's model name as lscpu shows it (Linux), e.g. "AMD EPYC 7B13"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def run_snakemake(
    workdir, configs, cores: str, targets=(), env: dict | None = None, prewarm: bool = False
) -> tuple[float, str]:
    """Run this repository's Snakefile in ``workdir`` with the config files ``configs`` (later
    ones override earlier ones), with ``prewarm`` its jobs in prewarmed processes (as ``make
    run``); return its wall time in seconds and its log. A failed run ends the benchmark with
    the tail of that log."""
    cmd = [*([sys.executable, "-m", "phrenology", "prewarm", "--"] if prewarm else []),
           sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--cores", cores, "--configfile", *map(str, configs),
           "--", *targets]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(proc.stdout[-3000:] + proc.stderr[-3000:])
    return time.perf_counter() - t0, proc.stdout + proc.stderr


def timeit(
    fn: Callable[[], object],
    repeats: int = 5,
    warmup: int = 1,
    sync: Callable[[], None] | None = None,
) -> float:
    """Median wall time of ``fn`` in seconds."""
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_result(name: str, result: dict) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(
        json.dumps({"benchmark": name, "machine": machine(), **result}, indent=2) + "\n"
    )
    print(f"wrote {path}")
    return path


def paper_model_config(d_vocab: int = 50257) -> dict:
    import yaml

    with open(REPO / "config" / "config.yaml") as f:
        cfg = yaml.safe_load(f)
    return cfg
