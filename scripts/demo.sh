#!/usr/bin/env bash
# The demo: a simulated node in its own network namespace, three pods attached by nodenet's CNI plugin through
# the unchanged CRI-O conflist (conf/cni/11-crio-ipv4-bridge.conflist), traffic between them, the result JSON,
# then DEL of every pod and a clean exit. Nothing outside the namespaces it creates is changed; the IPAM store
# lives in a temporary directory (the only change to the conflist: "dataDir").
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (network namespaces)" >&2; exit 1; }
scripts/deps.sh
[ -n "${NODENET_BUILD_DIR:-}" ] || scripts/build.sh >/dev/null
BUILD=${NODENET_BUILD_DIR:-$PWD/build}

ROOT=$PWD
CONFLIST=$ROOT/conf/cni/11-crio-ipv4-bridge.conflist
export CNI_PATH=$BUILD/cni
TAG=nn-demo-$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NODE=$TAG-node
PODS=("$TAG-pod1" "$TAG-pod2" "$TAG-pod3")
DATA=$(mktemp -d /tmp/nodenet-demo.XXXXXX)
created=()

cleanup() {
  set +e
  for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

# The plugin config libcni would send: the conflist's plugin with name and cniVersion injected.
NAME=$(jq -r .name "$CONFLIST")
VER=$(jq -r .cniVersion "$CONFLIST")
PLUGIN_CONF=$(jq -c --arg d "$DATA" '.plugins[0] + {name: .name, cniVersion: .cniVersion} | .ipam.dataDir = $d' "$CONFLIST")
TYPE=$(jq -r '.plugins[0].type' "$CONFLIST")

cni() {  # cni COMMAND POD [extra-conf-json]
  local cmd=$1 pod=$2 conf=$PLUGIN_CONF
  [ $# -ge 3 ] && conf=$(jq -c --argjson p "$3" '. + {prevResult: $p}' <<<"$conf")
  ip netns exec "$NODE" env CNI_COMMAND="$cmd" CNI_CONTAINERID="demo-$pod" CNI_NETNS="/run/netns/$pod" \
    CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH" "$CNI_PATH/$TYPE" <<<"$conf"
}

echo "== node namespace $NODE, pods ${PODS[*]}"
ip netns add "$NODE"; created+=("$NODE")
ip -n "$NODE" link set lo up
for p in "${PODS[@]}"; do ip netns add "$p"; created+=("$p"); done

declare -A IP RESULT
for p in "${PODS[@]}"; do
  RESULT[$p]=$(cni ADD "$p")
  IP[$p]=$(jq -r '.ips[0].address' <<<"${RESULT[$p]}" | cut -d/ -f1)
  echo "ADD $p -> ${IP[$p]}"
done
echo "== result of ADD for ${PODS[0]} (cniVersion $VER, network $NAME):"
jq . <<<"${RESULT[${PODS[0]}]}"
GW=$(jq -r '.ips[0].gateway' <<<"${RESULT[${PODS[0]}]}")

echo "== node: bridge and masquerade table"
ip -n "$NODE" -br addr show cni0
ip netns exec "$NODE" nft list table inet nodenet-cni

echo "== traffic"
ok=0 fail=0
check() { if "$@" >/dev/null 2>&1; then echo "  ok    $*" | sed "s#ip netns exec ##"; ok=$((ok+1)); else echo "  FAIL  $*"; fail=$((fail+1)); fi; }
for p in "${PODS[@]}"; do check ip netns exec "$p" ping -c1 -W1 "$GW"; done
check ip netns exec "${PODS[0]}" ping -c1 -W1 "${IP[${PODS[1]}]}"
check ip netns exec "${PODS[1]}" ping -c1 -W1 "${IP[${PODS[2]}]}"
check ip netns exec "${PODS[2]}" ping -c1 -W1 "${IP[${PODS[0]}]}"

echo "== CHECK and DEL"
for p in "${PODS[@]}"; do cni CHECK "$p" "${RESULT[$p]}" && echo "CHECK $p ok"; done
for p in "${PODS[@]}"; do cni DEL "$p" && echo "DEL $p ok"; done
left=$(ls "$DATA/$NAME" 2>/dev/null | grep -vE '^(lock|last_reserved_ip\..*)$' || true)
echo "reservations left after DEL: ${left:-none}"
echo "== $ok checks passed, $fail failed"
[ "$fail" -eq 0 ] && [ -z "$left" ]
