#!/usr/bin/env bash
# The registry round trip: every @q package goes through a real registry and comes back the way a
# stranger gets it.
#   1. A local Verdaccio (tools/registry, its own lockfile) listens on 127.0.0.1 only.
#   2. `changeset publish` publishes every package to it (no git tags).
#   3. `changeset version`, on a copy of the manifests, keeps internal ranges in step.
#   4. In fresh folders outside the repository: @q/nf4 alone installs small and quantizes on the
#      CPU; @q/qlora installs and runs `qlora --help` and a tiny `qlora train`; a strict TypeScript
#      consumer compiles (nodenext and bundler, skipLibCheck off); a tree-shaken esbuild browser
#      bundle runs backward() in headless Chromium.
# @q/* come from the local registry (a scoped registry setting passed through the environment);
# everything else from npm's own configuration. Nothing here names another host.
#   bash scripts/registry-roundtrip.sh        (after `npm run build`; prints PASS or FAIL)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/scripts/roundtrip"
port=${Q_REGISTRY_PORT:-4873}
reg="http://127.0.0.1:$port/"
work=$(mktemp -d "${TMPDIR:-/tmp}/q-roundtrip.XXXXXX")
step=setup
vpid=
t0=$SECONDS

finish() {
  local rc=$?
  # Only the script itself reports: a background child killed before it execs runs this trap too.
  [ "$BASHPID" = "$$" ] || exit "$rc"
  set +e
  [ -n "$vpid" ] && kill "$vpid" 2>/dev/null && wait "$vpid" 2>/dev/null
  if [ "$rc" -eq 0 ]; then
    rm -rf "$work"
    echo "registry round trip: PASS ($((SECONDS - t0)) s)"
  else
    echo "registry round trip: FAIL at '$step' (exit $rc); files and logs kept in $work" >&2
  fi
  exit "$rc"
}
trap finish EXIT
say() { echo "[round trip $((SECONDS - t0))s] $*"; }
fail() {
  echo "$*" >&2
  exit 1
}

for p in "$root"/packages/*/; do
  [ -f "$p/dist/index.js" ] || fail "no ${p#"$root"/}dist: run npm run build first"
done

step="start Verdaccio"
if [ ! -x "$root/tools/registry/node_modules/.bin/verdaccio" ]; then
  npm ci --prefix "$root/tools/registry" --no-audit --no-fund --loglevel=error
fi
mkdir -p "$work/registry"
# No uplinks: this registry serves @q only; npm takes the rest from its usual configuration.
cat >"$work/registry/config.yaml" <<EOF
storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
    max_users: 10
uplinks: {}
# @q/qlora ships the built-in model (about 23 MB of weights): above Verdaccio's default 10mb.
max_body_size: 200mb
packages:
  '@q/*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
log: { type: stdout, format: pretty, level: warn }
EOF
"$root/tools/registry/node_modules/.bin/verdaccio" --config "$work/registry/config.yaml" --listen "127.0.0.1:$port" >"$work/registry/verdaccio.log" 2>&1 &
vpid=$!
for _ in $(seq 1 60); do
  if node -e "fetch('${reg}-/ping').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"; then break; fi
  kill -0 "$vpid" 2>/dev/null || fail "Verdaccio exited: $(tail -5 "$work/registry/verdaccio.log")"
  sleep 0.5
done
# A throwaway user on the throwaway registry; its token only lives in this process's environment.
token=$(node -e "
fetch('${reg}-/user/org.couchdb.user:roundtrip', { method: 'PUT', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'roundtrip', password: 'roundtrip-' + process.pid }) })
  .then((r) => r.json()).then((j) => { if (!j.token) throw new Error(JSON.stringify(j)); console.log(j.token); })")
# npm reads npm_config_* from the environment: @q resolves to the local registry, the rest as usual.
qnpm() { env "npm_config_@q:registry=$reg" "npm_config_//127.0.0.1:$port/:_authToken=$token" "$@"; }
say "Verdaccio on $reg"

step="publish with changesets"
# The changeset binary itself: npx would drop the npm_config_* settings from the environment. The
# default registry is pointed at the local one too, so nothing can reach another registry even if
# the scoped setting were lost on the way.
(cd "$root" && qnpm env "npm_config_registry=$reg" "$root/node_modules/.bin/changeset" publish --no-git-tag) >"$work/publish.log" 2>&1 ||
  fail "$(tail -20 "$work/publish.log")"
for p in "$root"/packages/*/; do
  name=$(node -p "require('$p/package.json').name")
  version=$(node -p "require('$p/package.json').version")
  got=$(qnpm npm view "$name@$version" version 2>/dev/null || true)
  [ "$got" = "$version" ] || fail "$name@$version is not on the local registry (see $work/publish.log)"
done
say "published $(ls -d "$root"/packages/*/ | wc -l) packages"

step="changeset version keeps internal ranges in step"
mkdir -p "$work/version"
(cd "$root" && cp -r package.json .changeset "$work/version/" && for d in packages/*/ examples/*/ benchmarks/; do
  mkdir -p "$work/version/$d" && cp "$d/package.json" "$work/version/$d"
done)
(cd "$work/version" && "$root/node_modules/.bin/changeset" version) >"$work/version.log" 2>&1 || fail "$(tail -20 "$work/version.log")"
node -e "
const fs = require('fs'); const dir = '$work/version/packages/';
const pk = fs.readdirSync(dir).map((d) => JSON.parse(fs.readFileSync(dir + d + '/package.json', 'utf8')));
const v = Object.fromEntries(pk.map((p) => [p.name, p.version]));
for (const p of pk) for (const [d, r] of Object.entries({ ...p.dependencies, ...p.devDependencies }))
  if (d in v && r !== '^' + v[d]) { console.error(p.name + ' wants ' + d + '@' + r + ' after changeset version, which made ' + v[d]); process.exit(1); }
console.log('changeset version: ' + pk.map((p) => p.name + '@' + p.version).join(', ') + '; internal ranges in step');"

step="@q/nf4 alone, quantizing on the CPU"
mkdir -p "$work/nf4" && cd "$work/nf4"
echo '{ "name": "nf4-consumer", "private": true, "type": "module" }' >package.json
qnpm npm install @q/nf4 --no-audit --no-fund --loglevel=error
[ ! -e node_modules/webgpu ] || fail "@q/nf4 pulled in the webgpu package"
kb=$(du -sk node_modules | cut -f1)
[ "$kb" -lt 5120 ] || fail "npm install @q/nf4 takes ${kb} KB (over 5 MB): $(du -sk node_modules/* node_modules/@*/* 2>/dev/null | sort -n | tail -5)"
say "npm install @q/nf4: ${kb} KB"
cp "$here/nf4-cpu.mjs" . && node nf4-cpu.mjs

step="@q/qlora: qlora --help"
mkdir -p "$work/app" && cd "$work/app"
echo '{ "name": "qlora-consumer", "private": true, "type": "module" }' >package.json
qnpm npm install @q/qlora @q/core @q/nf4 --no-audit --no-fund --loglevel=error
say "npm install @q/qlora: $(du -sk node_modules | cut -f1) KB"
npx qlora --help >help.txt
grep -q "fine-tune with QLoRA" help.txt || fail "qlora --help: $(cat help.txt)"

step="@q/qlora: a tiny qlora train"
cp "$here/tiny.yaml" . && npx qlora train tiny.yaml >train.log 2>&1 || fail "$(tail -20 train.log)"
[ -s out/adapter_model.safetensors ] || fail "qlora train wrote no adapter: $(tail -20 train.log)"
if grep -q "artificially reduced" train.log; then fail "qlora train printed Dawn's limit warnings"; fi
say "qlora train: $(grep -m1 '^trained' train.log)"

step="strict TypeScript consumer"
qnpm npm install --save-dev typescript@~5.9.3 @types/node@^20 --no-audit --no-fund --loglevel=error
cp "$here/consumer.ts" "$here/tsconfig.nodenext.json" "$here/tsconfig.bundler.json" .
npx tsc -p tsconfig.nodenext.json
npx tsc -p tsconfig.bundler.json
say "consumer compiles (nodenext and bundler, skipLibCheck false)"

step="tree-shaken browser bundle, backward() in Chromium"
cp "$here/browser-entry.ts" . && node "$here/browser.mjs" "$root"
step=done
