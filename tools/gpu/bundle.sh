#!/usr/bin/env bash
# Bundles a benchmark entry into one ESM file under .gpu/ for the device machine (see
# /work/shared/gpu/README.md): `webgpu` stays external (enter.sh provides it there), @q/core is
# taken from its sources through benchmarks/tsconfig.json's paths.
#   bash tools/gpu/bundle.sh [entry=benchmarks/src/core-ops.ts] [name=<entry's base name>]
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
entry=${1:-benchmarks/src/core-ops.ts}
name=${2:-$(basename "$entry" .ts)}
[ -f "$entry" ] || { echo "bundle.sh: no entry $entry" >&2; exit 1; }
[ -f .gpu/enter.sh ] || echo "bundle.sh: .gpu/ is not packed yet: run bash ../shared/gpu/pack.sh .gpu" >&2
mkdir -p .gpu
# CommonJS dependencies (cli-progress) require Node built-ins; an ESM bundle needs a require.
npx esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --external:webgpu \
  "--banner:js=import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" \
  --log-level=warning --outfile=".gpu/$name.mjs"
echo "bundled .gpu/$name.mjs ($(du -h ".gpu/$name.mjs" | cut -f1)); device command: source .gpu/enter.sh && node .gpu/$name.mjs --json \$OUT/$name.json  (carry: [\".gpu\"])"
