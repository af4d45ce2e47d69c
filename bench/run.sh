#!/usr/bin/env bash
# Builds nodenet (scripts/build.sh -> build/) and runs the benchmarks. Needs root: the CNI benchmark creates its
# own network namespaces (nnb-*) and never touches the machine's namespace.
#
#   bench/run.sh                 build, then run every benchmark
#   bench/run.sh cni -- --pods 20    only the CNI benchmark, extra flags after --
# Environment: BUILD_DIR (default build), NO_BUILD=1 to skip the build, RESULTS (default $BUILD_DIR/bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

which=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) which+=("$1"); shift ;;
  esac
done
[ ${#which[@]} -gt 0 ] || which=(cni)
extra=("$@")

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/run.sh: needs root (network namespaces)" >&2
  exit 2
fi

build_dir=${BUILD_DIR:-build}
if [ "${NO_BUILD:-0}" != 1 ]; then
  if [ "$build_dir" = build ]; then
    scripts/build.sh
  else
    cmake --build "$build_dir" -j "$(nproc)"
  fi
fi
results=${RESULTS:-$build_dir/bench-results}
mkdir -p "$results"
case "$build_dir" in
  /*) export NODENET_BUILD_DIR="$build_dir" ;;
  *) export NODENET_BUILD_DIR="$root/$build_dir" ;;
esac
export NODENET_SOURCE_DIR="$root"

rc=0
for b in "${which[@]}"; do
  case "$b" in
    cni)
      "$NODENET_BUILD_DIR/bin/nodenet-cni-bench" \
        --ours "$NODENET_BUILD_DIR/cni" --reference /usr/lib/cni \
        --conflist "$root/conf/cni/11-crio-ipv4-bridge.conflist" \
        --json "$results/cni.json" "${extra[@]}" || rc=$?
      ;;
    *)
      echo "bench/run.sh: unknown benchmark '$b' (known: cni)" >&2
      rc=2
      ;;
  esac
done
exit $rc
