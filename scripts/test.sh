#!/usr/bin/env bash
# The whole test suite: unit tests and (as root) the integration tests in their own network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "test.sh: run as root (apt installs, network namespaces)" >&2; exit 1; fi
scripts/deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 600
