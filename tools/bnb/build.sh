#!/usr/bin/env bash
# Builds bitsandbytes' CUDA library for Hopper (H100/H200, sm_90) from a source tree, so that
# tools/golden/nf4_golden.py, tools/golden/bnb_checkpoint.py and benchmarks/scripts/qlora_bnb_anchor.py
# can import the real thing.
#
#   bash tools/bnb/build.sh <bitsandbytes source dir> [compute capability, default 90]
#
# The source tree comes from the public repository (github:bitsandbytes-foundation/bitsandbytes);
# only CMakeLists.txt, csrc/ and bitsandbytes/ are needed, e.g.
#   git --git-dir=<mirror> archive HEAD CMakeLists.txt csrc bitsandbytes LICENSE | tar -x -C <dir>
# Needs nvcc (the library is named libbitsandbytes_cuda<nvcc version>.so and bitsandbytes loads the
# one matching torch.version.cuda: CUDA 13 for torch 2.11+cu130), CMake, ninja or make, and cuBLAS:
# from the CUDA toolkit, or else from the nvidia-cublas wheel that PyTorch depends on (found through
# python3). No GPU is needed to build. The package is used in place:
#   export PYTHONPATH=<dir>${PYTHONPATH:+:$PYTHONPATH}
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bash tools/bnb/build.sh <bitsandbytes source dir> [capability]" >&2; exit 2; }
SRC=$(cd "$1" && pwd)
CAP=${2:-90}
ARGS=(-DCOMPUTE_BACKEND=cuda -DCOMPUTE_CAPABILITY="$CAP" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null && ARGS+=(-G Ninja)
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
TK=$(cd "$(dirname "$(readlink -f "$NVCC")")/.." && pwd)
if [ -n "${CUBLAS_ROOT:-}" ]; then
  # A folder with include/cublas_v2.h and lib/libcublas.so.13, libcublasLt.so.13. To build on a
  # machine without cuBLAS, the headers of the nvidia-cublas wheel and two empty libraries with the
  # right sonames do: nothing is resolved at link time (--no-as-needed keeps them NEEDED), and at
  # run time the process already has PyTorch's cuBLAS loaded under those sonames.
  INC=$CUBLAS_ROOT/include
  LIBDIR=$CUBLAS_ROOT/lib
  ARGS+=(-DCUDA_cublas_LIBRARY="$LIBDIR/libcublas.so.13" -DCUDA_cublasLt_LIBRARY="$LIBDIR/libcublasLt.so.13"
    "-DCMAKE_CUDA_FLAGS=-I$INC" "-DCMAKE_CXX_FLAGS=-I$INC" "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,--no-as-needed")
elif [ ! -f "$TK/include/cublas_v2.h" ]; then
  # PyTorch's pip wheels bring cuBLAS as nvidia/cu13/{include,lib} (CUDA 13) or nvidia/cublas/ (CUDA 12).
  SITE=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null || true)
  HDR=$( [ -n "$SITE" ] && find "$SITE/nvidia" -name cublas_v2.h 2>/dev/null | head -1 || true)
  [ -n "$HDR" ] || { echo "build.sh: no cublas_v2.h in $TK/include nor in python3's nvidia wheels" >&2; exit 1; }
  INC=$(dirname "$HDR")
  LIBDIR=$(dirname "$(find "$SITE/nvidia" -name 'libcublas.so*' | head -1)")
  lib() { find "$LIBDIR" -maxdepth 1 -name "$1.so*" | sort | head -1; }
  echo "cuBLAS from the pip wheel: $INC, $LIBDIR"
  ARGS+=(-DCUDA_cublas_LIBRARY="$(lib libcublas)" -DCUDA_cublasLt_LIBRARY="$(lib libcublasLt)"
    "-DCMAKE_CUDA_FLAGS=-I$INC" "-DCMAKE_CXX_FLAGS=-I$INC" "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-rpath,$LIBDIR")
fi
cmake -S "$SRC" -B "$SRC/build" "${ARGS[@]}"
cmake --build "$SRC/build" -j "${JOBS:-$(nproc)}"
ls -la "$SRC"/bitsandbytes/libbitsandbytes_cuda*.so
echo "built: export PYTHONPATH=$SRC\${PYTHONPATH:+:\$PYTHONPATH}"
