#!/usr/bin/env bash
# Assembles, here, the kit for trl's assistant-only golden (and, with WITH_BASE=1 on the device,
# trl-golden.json again) into a folder that the device call carries:
#
#   bash tools/golden/trl-assistant-kit.sh [<kit-dir> [<trl git dir>]]
#
# Defaults: .gpu/run/trl (git-ignored) and the mirror of github:huggingface/trl that the `fetch` tool
# brings (/work/.mirror/huggingface+trl/repo). The kit holds run.sh (trl-assistant-run.sh),
# trl_golden.py, trl's source (trl/ and LICENSE) and its commit, the wheels trl needs that the device
# lacks (datasets 5.0.1, dill, multiprocess), golden-in/ (make-inputs.ts: the qwen2 model, its Qwen3
# tokenizer, adapter-q) and tiny-chat.jsonl: about 16 MB. On the device: bash <kit-dir>/run.sh.
# Needs Node with a WebGPU adapter (lavapipe will do) for make-inputs.ts, and pip for the wheels.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KIT=${1:-$ROOT/.gpu/run/trl}
TRL=${2:-/work/.mirror/huggingface+trl/repo}
mkdir -p "$KIT" && K=$(cd "$KIT" && pwd)
rm -rf "$K/trl-src" "$K/golden-in"
mkdir -p "$K/trl-src" "$K/whl"
cp "$ROOT/tools/golden/trl-assistant-run.sh" "$K/run.sh"
cp "$ROOT/tools/golden/trl_golden.py" "$K/"
cp "$ROOT/packages/sft/fixtures/tiny-chat.jsonl" "$K/"
git --git-dir="$TRL" archive HEAD trl LICENSE | tar -x -C "$K/trl-src"
git --git-dir="$TRL" rev-parse HEAD >"$K/trl-commit"
ls "$K"/whl/datasets-5.0.1-*.whl >/dev/null 2>&1 ||
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$K/whl" datasets==5.0.1 "dill<0.4.2,>=0.3.0" "multiprocess<0.70.20"
mkdir -p "$ROOT/.gpu"
node "$ROOT/scripts/bundle-node.mjs" "$ROOT/tools/golden/make-inputs.ts" "$ROOT/.gpu/make-inputs.mjs"
node "$ROOT/.gpu/make-inputs.mjs" "$K/golden-in"
rm -rf "$K/golden-in/llama"
du -sh "$K"
