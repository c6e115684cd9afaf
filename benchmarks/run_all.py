"""Run every benchmark in turn; each prints its figures and writes benchmarks/out/<name>.json.

python benchmarks/run_all.py        (or: make bench)
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

for script in ("bench_dag.py", "bench_train.py", "bench_capture.py", "bench_memory.py"):
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, check=True)
