#!/usr/bin/env bash
# Installs Open MPI for data-parallel training (`mpirun -np N qlora train`, `qlora train --nproc N`)
# and its tests: Debian's openmpi-bin (mpirun) and libopenmpi-dev (libmpi, which @q/sft calls through
# koffi). Elsewhere it says what to install.
# Usage: sudo bash scripts/setup-mpi.sh   (idempotent; needs root for apt)
set -euo pipefail
say() { printf '[setup-mpi] %s\n' "$*"; }
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if command -v mpirun >/dev/null && ldconfig -p 2>/dev/null | grep 'libmpi\.so\.40' >/dev/null; then
  say "already set up: $(mpirun --version 2>/dev/null | head -n1)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  say "not a Debian/Ubuntu machine: install Open MPI (mpirun and libmpi.so.40; e.g. brew install open-mpi, dnf install openmpi), or set Q_LIBMPI to libmpi's path"
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else say "not root and no sudo: as root, apt-get install openmpi-bin libopenmpi-dev"; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
have_pkg openmpi-bin && have_pkg libopenmpi-dev || {
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi-dev >/dev/null
}
say "ready: $(mpirun --version 2>/dev/null | head -n1)"
