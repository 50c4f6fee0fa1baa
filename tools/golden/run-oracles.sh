#!/usr/bin/env bash
# Runs the oracle scripts that need torch, a CUDA GPU, bitsandbytes or trl, on the device machine:
#
#   bash tools/golden/run-oracles.sh <kit> <out-dir>
#
# <kit> (made here by tools/golden/make-oracle-kit.sh) holds: scripts/ (these tools), bnb/ (the
# bitsandbytes source, built by tools/bnb/build.sh unless its library is already there), trl-src/trl,
# whl/ (datasets, dill, multiprocess: what trl needs that the device lacks), golden-in/ (from
# make-inputs.ts: qwen2 + adapter-q), bnb-ckpt/ (from make-bnb-checkpoint.ts), tiny-chat.jsonl.
# <out-dir> receives ops-golden.json, nf4-golden.json, trl-golden.json, bnb-checkpoint.json,
# qlora-anchor.json and oracles.log. Every step runs even when one fails; the exit status says
# whether all succeeded. ANCHOR_STEPS (default 3) sets the anchor's timed steps.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: bash run-oracles.sh <kit> <out-dir>" >&2; exit 2; }
K=$(cd "$1" && pwd)
mkdir -p "$2" && OUT=$(cd "$2" && pwd)
LOG=$OUT/oracles.log
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
: >"$LOG"
failed=()
step() { # step <name> <timeout-s> <command...>
  local name=$1 lim=$2
  shift 2
  echo "=== $name: $*" >>"$LOG"
  local t0=$SECONDS
  timeout "$lim" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "=== $name: exit $rc in $((SECONDS - t0)) s" >>"$LOG"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/oracle-site "$K"/whl/*.whl >>"$LOG" 2>&1
export PYTHONPATH=/tmp/oracle-site:$K/trl-src:$K/bnb${PYTHONPATH:+:$PYTHONPATH}
python3 -c 'import torch, transformers, peft; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__, "peft", peft.__version__)' >>"$LOG" 2>&1

# trl runs on the CPU: start it first, beside the GPU steps.
(step trl 200 python3 "$K/scripts/trl_golden.py" "$K/golden-in" "$K/tiny-chat.jsonl" "$OUT/trl-golden.json"; [ ${#failed[@]} -eq 0 ]) &
trl_pid=$!

ls "$K"/bnb/bitsandbytes/libbitsandbytes_cuda*.so >/dev/null 2>&1 || step bnb-build 400 bash "$K/scripts/build.sh" "$K/bnb"
step bnb-import 60 python3 -c 'import bitsandbytes as b, bitsandbytes.functional as F, torch; x = torch.randn(4096, device="cuda"); q, s = F.quantize_4bit(x, quant_type="nf4"); print("bitsandbytes", b.__version__, "roundtrip max err", float((F.dequantize_4bit(q, s) - x).abs().max()))'
step ops 120 python3 "$K/scripts/ops_golden.py" "$OUT/ops-golden.json"
W=$(mktemp -d)
step nf4 120 bash -c "cd '$W' && python3 '$K/scripts/nf4_golden.py' && cp packages/nf4/fixtures/nf4-golden.json '$OUT/nf4-golden.json'"
step bnb-checkpoint 120 python3 "$K/scripts/bnb_checkpoint.py" "$K/bnb-ckpt" "$OUT/bnb-checkpoint.json"
step anchor 150 python3 "$K/scripts/qlora_bnb_anchor.py" "$OUT/qlora-anchor.json" --steps "${ANCHOR_STEPS:-3}" --warmup 1 --configs gc1
wait "$trl_pid" || failed+=(trl)
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" | tee -a "$LOG"
  exit 1
fi
echo "all oracle steps succeeded" | tee -a "$LOG"
