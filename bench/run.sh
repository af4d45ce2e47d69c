#!/usr/bin/env bash
# Builds nodenet (scripts/build.sh -> build/) and runs the benchmarks. Needs root: the CNI benchmark creates its
# own network namespaces (nnb-*) and never touches the machine's namespace.
#
#   bench/run.sh                      build, then run every benchmark: cni + each Google Benchmark build/bin/*_bench
#   bench/run.sh cni -- --pods 20     only the CNI benchmark, extra flags after --
#   bench/run.sh dns_wire_bench       one Google Benchmark program
#   bench/run.sh dns -- --duration 5  nodenet-dns against NSD with dnsperf (bench/dns_server/run.sh)
# Environment: BUILD_DIR (default build), NO_BUILD=1 to skip the build, RESULTS (default $BUILD_DIR/bench-results).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

which=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) which+=("$1"); shift ;;
  esac
done
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

if [ ${#which[@]} -eq 0 ]; then
  which=(cni)
  [ -x "$NODENET_BUILD_DIR/bin/nodenet-dns" ] && which+=(dns)
  for g in "$NODENET_BUILD_DIR"/bin/*_bench; do
    [ -x "$g" ] && which+=("$(basename "$g")")
  done
fi

rc=0
for b in "${which[@]}"; do
  echo "### $b"
  case "$b" in
    cni)
      "$NODENET_BUILD_DIR/bin/nodenet-cni-bench" \
        --ours "$NODENET_BUILD_DIR/cni" --reference /usr/lib/cni \
        --conflist "$root/conf/cni/11-crio-ipv4-bridge.conflist" \
        --json "$results/cni.json" "${extra[@]}" || rc=$?
      ;;
    dns)
      "$root/bench/dns_server/run.sh" --json "$results/dns.json" "${extra[@]}" || rc=$?
      ;;
    *_bench)
      if [ -x "$NODENET_BUILD_DIR/bin/$b" ]; then
        "$NODENET_BUILD_DIR/bin/$b" --benchmark_out="$results/$b.json" --benchmark_out_format=json \
          "${extra[@]}" || rc=$?
      else
        echo "bench/run.sh: $NODENET_BUILD_DIR/bin/$b not built" >&2
        rc=2
      fi
      ;;
    *)
      echo "bench/run.sh: unknown benchmark '$b' (cni, dns or a build/bin/*_bench program)" >&2
      rc=2
      ;;
  esac
done
exit $rc
