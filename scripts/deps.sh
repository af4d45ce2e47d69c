#!/usr/bin/env bash
# Installs the Debian 12 packages nodenet needs to build, test, demo and benchmark. Idempotent: apt runs only
# when a package is missing.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config git
  libnl-3-dev libnl-route-3-dev libmnl-dev libnftnl-dev nlohmann-json3-dev
  libboost1.81-dev libc-ares-dev libssl-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 nftables iptables iputils-ping strace curl dnsutils procps util-linux jq python3 conntrack
  dnsperf nsd knot
  containernetworking-plugins
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # nsd and knot are peers the DNS tests and benchmark start themselves, inside their own namespaces: their
  # packages must not start system services on this machine (port 53 in the root namespace). policy-rc.d is
  # Debian's switch for that during an install; put one in place only if the machine has none, and remove it.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
    trap '[ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
