#!/usr/bin/env bash
# The one device call behind benchmarks/results/final-2026-11-29b-h200: @q seed step (fp16, f32), decoding,
# then the eager, torch.compile and bitsandbytes anchors on the same card. Layout it expects (see
# ../shared/gpu/README.md): .gpu/base (pack.sh output), .gpu/run/{sft-step,decode}.mjs (bash tools/gpu/bundle.sh
# sft-step decode, moved there), .gpu/run/anchors/{hf_peft_baseline,hf_peft_compiled}.py from ../shared/reference and
# benchmarks/scripts/qlora_bnb_anchor.py, .gpu/tests/bnb (tools/bnb/build.sh). Copy this file to .gpu/run/final.sh;
# device call: bash .gpu/run/final.sh, carry [.gpu/base, .gpu/run/final.sh, .gpu/run/sft-step.mjs, .gpu/run/decode.mjs,
# .gpu/run/anchors, .gpu/tests/bnb] (about 63 MiB with the tree), timeout 600.
set -u
R=$(cd "$(dirname "$0")" && pwd)
source "$R/../base/enter.sh"
ln -sfn /tmp/gpu/node_modules "$R/node_modules"
cd "$R"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee $OUT/gpu.txt
export PYTHONUNBUFFERED=1
st() { nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw,clocks_throttle_reasons.active --format=csv,noheader | tr '\n' ' '; nvidia-smi --query-compute-apps=pid --format=csv,noheader | wc -l; }
f() { grep -v '^Warning' | grep -v "deprecated builtin\|subgroupMatrixStore\|^ *^^^\|^$" | cut -c1-240; }
g() { grep -o '"config":"[^"]*"\|"tokensPerSecond":[0-9.]*\|"peakGpuGiB":[0-9.]*\|"bindGroups":{[^}]*}' | tr '\n' ' ' | sed 's/"config"/\n"config"/g'; echo; }
t=$SECONDS; st; echo "== q sft-step fp16 (the seed's precision)"; timeout 60 node sft-step.mjs --precision fp16 --checkpointing on,off --steps 10 --json $OUT/q-sft-step-fp16.json 2>&1 | g; echo "$((SECONDS-t)) s"
t=$SECONDS; st; echo "== q sft-step f32"; timeout 45 node sft-step.mjs --precision f32 --checkpointing on,off --steps 5 --json $OUT/q-sft-step-f32.json 2>&1 | g; echo "$((SECONDS-t)) s"
t=$SECONDS; st; echo "== q decode"; timeout 110 node decode.mjs --json $OUT/q-decode.json 2>&1 | f | grep -v "^{" | tail -14; echo "$((SECONDS-t)) s"
t=$SECONDS; st; echo "== eager anchor"; timeout 90 python3 anchors/hf_peft_baseline.py $OUT/hf-eager.json 2>&1 | grep -v Warning | tail -4; echo "eager $((SECONDS-t)) s"
t=$SECONDS; st; echo "== compiled anchor"; timeout 200 python3 anchors/hf_peft_compiled.py $OUT/hf-compiled.json 2>&1 | grep -E "compiled|failed|tok" | tail -4; echo "compiled $((SECONDS-t)) s"
t=$SECONDS; st; echo "== real QLoRA anchor (bitsandbytes 4-bit)"; PYTHONPATH="$R/../tests/bnb" timeout 70 python3 anchors/qlora_bnb_anchor.py $OUT/hf-qlora-bnb.json --steps 10 --configs gc1,gc0 2>&1 | grep -v Warning | tail -4; echo "bnb $((SECONDS-t)) s"
st
