#!/usr/bin/env bash
# Assembles, here, what tools/golden/run-oracles.sh needs on the device machine:
#
#   bash tools/golden/make-oracle-kit.sh <kit-dir> <bitsandbytes git dir> <trl git dir>
#
# The git dirs are mirrors of the public repositories (github:bitsandbytes-foundation/bitsandbytes,
# github:huggingface/trl). Put <kit-dir> under .gpu/ (git-ignored) and carry it. With CUBLAS_ROOT set
# (see tools/bnb/build.sh), bitsandbytes is built here, so the device call need not compile it.
# Needs Node with a WebGPU adapter (lavapipe will do) for the two .ts steps, and pip for the wheels.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: bash tools/golden/make-oracle-kit.sh <kit-dir> <bitsandbytes git dir> <trl git dir>" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$1" && K=$(cd "$1" && pwd)
mkdir -p "$K/scripts" "$K/bnb" "$K/trl-src" "$K/whl"
cp "$ROOT"/tools/golden/{ops_golden,trl_golden,nf4_golden,bnb_checkpoint}.py "$ROOT/tools/golden/run-oracles.sh" \
  "$ROOT/tools/bnb/build.sh" "$ROOT/benchmarks/scripts/qlora_bnb_anchor.py" "$K/scripts/"
cp "$ROOT/packages/sft/fixtures/tiny-chat.jsonl" "$K/"
git --git-dir="$2" archive HEAD CMakeLists.txt csrc bitsandbytes LICENSE | tar -x -C "$K/bnb"
git --git-dir="$3" archive HEAD trl LICENSE | tar -x -C "$K/trl-src"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d "$K/whl" datasets dill multiprocess
[ -z "${CUBLAS_ROOT:-}" ] || bash "$ROOT/tools/bnb/build.sh" "$K/bnb"
rm -rf "$K/bnb/build"
mkdir -p "$ROOT/.tmp"
for s in make-inputs make-bnb-checkpoint; do
  node "$ROOT/scripts/bundle-node.mjs" "$ROOT/tools/golden/$s.ts" "$ROOT/.tmp/$s.mjs"
done
node "$ROOT/.tmp/make-inputs.mjs" "$K/golden-in" && rm -rf "$K/golden-in/llama"
node "$ROOT/.tmp/make-bnb-checkpoint.mjs" "$K/bnb-ckpt"
du -sh "$K"
