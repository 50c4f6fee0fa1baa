#!/usr/bin/env bash
# Installs what tools/golden/run-all.sh produced into this checkout:
#   bash tools/golden/install-fixtures.sh <dir holding fixtures.tar>
# fixtures.tar holds repository-relative paths, each a golden fixture a test reads when present:
#   packages/model/fixtures/model-golden.json        packages/model/test/golden.test.ts
#   packages/model/fixtures/tokenizer-golden.json    packages/model/src/tokenizer/tokenizer.test.ts
#   packages/model/fixtures/generate-golden.json     packages/model/test/generate-golden.test.ts
#   packages/lora/fixtures/peft-golden.json          packages/lora/test/golden.test.ts
#   packages/lora/fixtures/adapter-peft/, adapter-q/ (the adapters that test loads)
#   packages/chat-template/fixtures/golden.json      packages/chat-template/src/golden.test.ts
#   packages/nf4/fixtures/nf4-golden.json            packages/nf4/src/golden.test.ts
#   packages/optim/fixtures/schedulers-golden.json, adamw-golden.json (the @q/optim tests)
#   packages/core/fixtures/ops-golden.json           packages/core/test/ops-golden.test.ts
# (tools/golden/run-oracles.sh makes the fixtures that need bitsandbytes or trl: nf4-golden.json from
# bitsandbytes, packages/sft/fixtures/trl-golden.json; copy those from its output folder.)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: bash tools/golden/install-fixtures.sh <dir with fixtures.tar>" >&2; exit 2; }
tarball="$1/fixtures.tar"
[ -f "$tarball" ] || { echo "install-fixtures: no $tarball" >&2; exit 1; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Only fixture paths are accepted, so a stray entry cannot land elsewhere in the checkout.
bad=$(tar -tf "$tarball" | grep -Ev '^packages/[a-z0-9-]+/fixtures(/|$)|^packages/?$|^packages/[a-z0-9-]+/?$' || true)
[ -z "$bad" ] || { echo "install-fixtures: unexpected entries:"; echo "$bad"; exit 1; } >&2
tar -xf "$tarball" -C "$ROOT" --no-same-owner
tar -tf "$tarball" | grep -v '/$' | sed 's/^/installed /'
