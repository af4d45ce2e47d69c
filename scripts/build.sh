#!/usr/bin/env bash
# Configures and builds into build/ (Release with debug info). Two cores: parallelism follows nproc.
set -euo pipefail
cd "$(dirname "$0")/.."
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
[ -f build/CMakeCache.txt ] || cmake -S . -B build "${gen[@]}" >/dev/null
cmake --build build -j "$(nproc)"
