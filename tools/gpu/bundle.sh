#!/usr/bin/env bash
# Bundles a benchmark (benchmarks/src/<name>.ts) into one ESM file under .gpu/ for the device
# machine (see ../shared/gpu/README.md): `webgpu` stays external (enter.sh provides it there) and
# every @q package comes from its sources, one copy each.
#   bash tools/gpu/bundle.sh <name>...     e.g. bash tools/gpu/bundle.sh core-ops sft-step decode nf4
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
[ -f .gpu/enter.sh ] || echo "bundle.sh: .gpu/ is not packed yet: run bash ../shared/gpu/pack.sh .gpu" >&2
mkdir -p .gpu
for name in "${@:-core-ops}"; do
  name=$(basename "$name" .ts)
  node benchmarks/scripts/run.mjs --bundle-only "$root/.gpu/$name.mjs" "$name"
  echo "bundled .gpu/$name.mjs ($(du -h ".gpu/$name.mjs" | cut -f1)); device: source .gpu/enter.sh && node .gpu/$name.mjs --json \$OUT/$name.json"
done
