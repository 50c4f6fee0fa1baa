#!/usr/bin/env bash
# Gives Node a WebGPU adapter on a machine without a GPU: Dawn (the `webgpu` package) runs on Mesa's
# lavapipe, a Vulkan driver on the CPU, but rejects lavapipe older than Mesa 24. Debian 12 ships
# Mesa 22.3 in main and 25 in bookworm-backports, so on Debian we enable backports (copying the
# existing Debian source entry, so no mirror is named here) and install from there.
# Also installs Debian's chromium for the browser tests (its WebGPU runs on SwiftShader).
# Usage: sudo bash scripts/setup-webgpu.sh   (idempotent; needs root for apt)
set -euo pipefail

need_mesa_major=24
say() { printf '[setup-webgpu] %s\n' "$*"; }

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://' || true; }
mesa_ok() {
  local v; v=$(mesa_version)
  [ -n "$v" ] && [ "${v%%.*}" -ge "$need_mesa_major" ] 2>/dev/null
}
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if [ ! -r /etc/os-release ] || ! command -v apt-get >/dev/null; then
  say "not a Debian/Ubuntu machine: install a Vulkan driver with Mesa >= $need_mesa_major (lavapipe) or a GPU driver, and the Vulkan loader (libvulkan.so.1), then run: node scripts/check-webgpu.mjs"
  exit 0
fi
. /etc/os-release
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    say "not root and no sudo: as root, install mesa-vulkan-drivers (Mesa >= $need_mesa_major), libvulkan1 and chromium"; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive

if mesa_ok && have_pkg libvulkan1 && { [ -n "${Q_SKIP_CHROMIUM:-}" ] || have_pkg chromium || command -v chromium >/dev/null; }; then
  say "already set up: mesa-vulkan-drivers $(mesa_version), libvulkan1, chromium"
  exit 0
fi

suite_opts=()
if [ "${ID:-}" = debian ] && [ -n "${VERSION_CODENAME:-}" ]; then
  bp="${VERSION_CODENAME}-backports"
  if ! grep -rqs -- "$bp" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      # deb822: copy the stanza whose Suites start with the release codename.
      awk -v c="$VERSION_CODENAME" -v bp="$bp" 'BEGIN{RS="";ORS="\n\n"}
        $0 ~ ("Suites: " c "( |\n|$)") { gsub(/Suites: [^\n]*/, "Suites: " bp); print; exit }' \
        /etc/apt/sources.list.d/debian.sources | $SUDO tee /etc/apt/sources.list.d/q-backports.sources >/dev/null
    elif [ -f /etc/apt/sources.list ]; then
      grep -E "^deb [^ ]+ $VERSION_CODENAME main" /etc/apt/sources.list | head -n1 \
        | sed -E "s/ $VERSION_CODENAME main/ $bp main/" | $SUDO tee /etc/apt/sources.list.d/q-backports.list >/dev/null
    fi
    say "enabled $bp"
  fi
  suite_opts=(-t "$bp")
fi

$SUDO apt-get update -qq
if ! mesa_ok; then
  $SUDO apt-get install -y -qq "${suite_opts[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null || \
    $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
have_pkg libvulkan1 || $SUDO apt-get install -y -qq libvulkan1 >/dev/null
if [ -z "${Q_SKIP_CHROMIUM:-}" ] && ! command -v chromium >/dev/null; then
  $SUDO apt-get install -y -qq chromium >/dev/null || say "could not install chromium: the browser test will fail; install Debian's chromium package"
fi

if mesa_ok; then
  say "ready: mesa-vulkan-drivers $(mesa_version) (lavapipe), libvulkan1"
else
  say "mesa-vulkan-drivers $(mesa_version) is older than $need_mesa_major and no newer one is in this machine's apt sources."
  say "Dawn will not use it. Install Mesa >= $need_mesa_major (Ubuntu 24.04+ and Debian 13 ship it; Debian 12 has it in bookworm-backports) or use a machine with a GPU driver."
  exit 1
fi
