#!/usr/bin/env bash
# The GPU checks of docs/batched.md (issue 11) in one command, within 5 minutes on one H200:
#
#   benchmarks/run_gpu.sh
#
# 1. a GPU equivalence smoke test: a batched group of 3 vs 3 per-seed models, first-step
#    gradients and 30 steps of losses, on CUDA in fp32 and bf16          (≈ 20 s)
# 2. bench_batched.py on CUDA: per-seed vs batched G = 1, 3, 9 (eager, cuda_graphs) for the quick
#    and paper architectures, bare bf16 matmuls, knockout batched vs one at a time   (≈ 60 s)
# 3. the whole paper DAG with train.models_per_job 9, timed end to end     (target ≤ 90 s)
# 4. torch_compile for the paper architecture at G = 9 only (compiling is slow)     (≈ 60 s)
#
# Each part has its own time limit, so a hang in one still leaves the others' results.
# Writes benchmarks/out/batched_cuda.json, batched_cuda_compile.json, gpu_equivalence.json,
# gpu_dag.json and the logs under benchmarks/out/gpu_logs/; copies them to $OUT when it is set.
# Needs the Brown corpus and the GPT-2 tokenizer offline: NLTK_DATA and TIKTOKEN_CACHE_DIR, or
# ../shared/data or ./shared/data holding nltk_data/ and tiktoken_cache/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=$ROOT/.venv/bin/python; else PY=python; fi
fi
export PYTHONPATH=$ROOT/src${PYTHONPATH:+:$PYTHONPATH}
for d in ../shared/data shared/data; do
    if [ -d "$d/nltk_data" ]; then
        export NLTK_DATA=${NLTK_DATA:-$(cd "$d" && pwd)/nltk_data}
        export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-$(cd "$d" && pwd)/tiktoken_cache}
        break
    fi
done
export HF_HUB_OFFLINE=1
RES=$ROOT/benchmarks/out
LOGS=$RES/gpu_logs
mkdir -p "$LOGS"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 1

echo "== 1. equivalence on CUDA"
timeout 60 "$PY" benchmarks/gpu_equivalence.py 2>&1 | tee "$LOGS/equivalence.log"

echo "== 2. bench_batched (eager, cuda_graphs)"
(cd benchmarks && timeout 100 "$PY" bench_batched.py --device cuda --compile eager cuda_graphs \
    --steps 20) 2>&1 | tee "$LOGS/bench.log"

echo "== 3. paper DAG, models_per_job 9"
CFG=$(mktemp --suffix=.yaml)
sed 's/^  models_per_job: 1 /  models_per_job: 9 /' config/config.yaml > "$CFG"
grep -q "^  models_per_job: 9" "$CFG" || { echo "could not set models_per_job"; exit 1; }
WORK=$(mktemp -d)
T0=$(date +%s.%N)
timeout 170 "$PY" -m snakemake --snakefile "$ROOT/Snakefile" --directory "$WORK" \
    --configfile "$CFG" --cores all > "$LOGS/dag.log" 2>&1
DAG_RC=$?
T1=$(date +%s.%N)
cp "$WORK"/logs/train/group0.log "$LOGS/train_group0.log" 2>/dev/null
"$PY" - "$WORK" "$T0" "$T1" "$DAG_RC" <<'EOF'
import json, pathlib, sys
work, t0, t1, rc = pathlib.Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
train = [float(l.split("\t")[-1]) for l in (work / "results/models/seed990/epochs.tsv").read_text().splitlines()[1:]] if (work / "results/models/seed990/epochs.tsv").exists() else []
out = {"benchmark": "gpu_dag", "config": "config/config.yaml + train.models_per_job 9", "returncode": rc,
       "dag_seconds": t1 - t0, "target_seconds": 90,
       "train_group_seconds_at_each_epoch": train,
       "finished": (work / "results/metrics.json").exists()}
print(json.dumps(out, indent=2))
(pathlib.Path("benchmarks/out") / "gpu_dag.json").write_text(json.dumps(out, indent=2) + "\n")
EOF
tail -5 "$LOGS/dag.log"

echo "== 4. torch_compile, paper architecture, G = 9"
(cd benchmarks && timeout 90 "$PY" bench_batched.py --device cuda --compile torch_compile \
    --arch paper --groups 9 --steps 20 --no-knockout --out-name batched_cuda_compile) \
    2>&1 | tee "$LOGS/compile.log"

if [ -n "${OUT:-}" ]; then cp -r "$RES"/*.json "$LOGS" "$OUT"/ 2>/dev/null; fi
echo "done: results in $RES"
