#!/usr/bin/env bash
# The demo: a simulated node in its own network namespace, pods attached by nodenet's CNI plugin through the
# unchanged CRI-O conflist (conf/cni/11-crio-ipv4-bridge.conflist), traffic between them, the result JSON; then
# nodenet-proxy inside the node serving the Services of conf/demo/ (ClusterIP, NodePort, LoadBalancer,
# externalIP) to a client pod and to an "outside" namespace wired to the node by a veth; nodenet-dns answering
# for them (when built); finally DEL of every pod and a clean exit. Nothing outside the namespaces it creates is
# changed; the IPAM store lives in a temporary directory (the only change to the conflist: "dataDir").
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
OUTSIDE=$TAG-out
# Pods, with the IPs conf/demo's EndpointSlices name (requested through CNI_ARGS IP=, as a runtime may); the
# client takes the next free address from host-local.
PODS=(web-1 web-2 api-1 shop-1 db-0 client)
declare -A WANT_IP=([web-1]=10.85.0.11 [web-2]=10.85.0.12 [api-1]=10.85.0.21 [shop-1]=10.85.0.31 [db-0]=10.85.0.41)
declare -A SERVE_PORT=([web-1]=8080 [web-2]=8080 [api-1]=8443 [shop-1]=8080)
NODE_IP=192.168.0.10 OUTSIDE_IP=192.168.0.1
DATA=$(mktemp -d /tmp/nodenet-demo.XXXXXX)
# The daemons read a copy of conf/demo, so the demo can edit it live without touching the repository.
MANIFESTS=$DATA/manifests
mkdir "$MANIFESTS" && cp "$ROOT"/conf/demo/*.yaml "$MANIFESTS"/
created=() pids=()

ns() { echo "$TAG-$1"; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  for n in "${created[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # exit (running the EXIT trap) rather than carry on after cleaning up

# The plugin config libcni would send: the conflist's plugin with name and cniVersion injected.
NAME=$(jq -r .name "$CONFLIST")
VER=$(jq -r .cniVersion "$CONFLIST")
PLUGIN_CONF=$(jq -c --arg d "$DATA" '.plugins[0] + {name: .name, cniVersion: .cniVersion} | .ipam.dataDir = $d' "$CONFLIST")
TYPE=$(jq -r '.plugins[0].type' "$CONFLIST")

cni() {  # cni COMMAND POD [prevResult-json]
  local cmd=$1 pod=$2 conf=$PLUGIN_CONF args=""
  [ $# -ge 3 ] && conf=$(jq -c --argjson p "$3" '. + {prevResult: $p}' <<<"$conf")
  [ -n "${WANT_IP[$pod]:-}" ] && args="IP=${WANT_IP[$pod]}"
  ip netns exec "$NODE" env CNI_COMMAND="$cmd" CNI_CONTAINERID="demo-$pod" CNI_NETNS="/run/netns/$(ns "$pod")" \
    CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH" CNI_ARGS="$args" "$CNI_PATH/$TYPE" <<<"$conf"
}

wait_until() {  # wait_until SECONDS command...: polls every 100 ms
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

echo "== node namespace $NODE, pods ${PODS[*]}"
# Each namespace is registered before it is created, so an interrupt between the two cannot leak it.
created+=("$NODE"); ip netns add "$NODE"
ip -n "$NODE" link set lo up
for p in "${PODS[@]}"; do created+=("$(ns "$p")"); ip netns add "$(ns "$p")"; done

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
for p in web-1 web-2 api-1; do check ip netns exec "$(ns "$p")" ping -c1 -W1 "$GW"; done
check ip netns exec "$(ns web-1)" ping -c1 -W1 "${IP[web-2]}"
check ip netns exec "$(ns web-2)" ping -c1 -W1 "${IP[api-1]}"
check ip netns exec "$(ns api-1)" ping -c1 -W1 "${IP[web-1]}"

echo "== the outside: $OUTSIDE ($OUTSIDE_IP) -- veth -- node ($NODE_IP)"
created+=("$OUTSIDE"); ip netns add "$OUTSIDE"
ip -n "$OUTSIDE" link set lo up
ip -n "$NODE" link add eth0 type veth peer name eth0 netns "$OUTSIDE"
ip -n "$NODE" addr add "$NODE_IP/24" dev eth0
ip -n "$NODE" link set eth0 up
ip -n "$OUTSIDE" addr add "$OUTSIDE_IP/24" dev eth0
ip -n "$OUTSIDE" link set eth0 up
# The outside reaches the Service addresses through the node, as a LoadBalancer or router would.
ip -n "$OUTSIDE" route add 192.168.0.200/32 via "$NODE_IP"   # shop's LoadBalancer IP
ip -n "$OUTSIDE" route add 192.168.0.100/32 via "$NODE_IP"   # web's externalIP
ip -n "$OUTSIDE" route add 10.96.0.0/16 via "$NODE_IP"       # ClusterIPs (off-cluster clients get masqueraded)
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1
ip -n "$OUTSIDE" -br addr show eth0

echo "== HTTP servers in the pods (each answers with its name and the client address it sees)"
for p in "${!SERVE_PORT[@]}"; do
  ip netns exec "$(ns "$p")" python3 -c '
import http.server, sys
name, port = sys.argv[1], int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{name} (sees client {self.client_address[0]})\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", port), H).serve_forever()' "$p" "${SERVE_PORT[$p]}" &
  pids+=($!)
done
for p in "${!SERVE_PORT[@]}"; do
  wait_until 10 ip netns exec "$NODE" curl -sf -m1 "http://${IP[$p]}:${SERVE_PORT[$p]}/" \
    || { echo "server in $p did not start" >&2; exit 1; }
done
echo "  web-1 web-2 :8080, api-1 :8443, shop-1 :8080"

echo "== nodenet-proxy in the node namespace (--manifests conf/demo)"
PROXY_LOG=$DATA/proxy.log
PROXY_ARGS=(--manifests "$MANIFESTS" --hostname-override demo-node --cluster-cidr 10.85.0.0/16 --v=2)
echo "  nodenet-proxy ${PROXY_ARGS[*]}   (a copy of conf/demo)"
ip netns exec "$NODE" "$BUILD/bin/nodenet-proxy" "${PROXY_ARGS[@]}" 2>"$PROXY_LOG" &
PROXY_PID=$!; pids+=("$PROXY_PID")
wait_until 10 ip netns exec "$NODE" curl -sf -m1 http://127.0.0.1:10256/healthz \
  || { echo "nodenet-proxy did not become healthy:" >&2; cat "$PROXY_LOG" >&2; exit 1; }
sed 's/^/  | /' "$PROXY_LOG"
echo "-- /healthz: $(ip netns exec "$NODE" curl -s http://127.0.0.1:10256/healthz)"
echo "-- the endpoint maps (Service address . port . index : endpoint; no chain per Service):"
ip netns exec "$NODE" nft list map ip nodenet endpoints | sed -n '/elements/,/}/p'
ip netns exec "$NODE" nft list map ip nodenet nodeport-endpoints | sed -n '/elements/,/}/p'
echo "-- Services that need chains of their own (sessionAffinity, externalTrafficPolicy Local):"
ip netns exec "$NODE" nft list map ip nodenet service-ips | sed -n '/elements/,/}/p'
ip netns exec "$NODE" nft list map ip nodenet service-nodeports | sed -n '/elements/,/}/p'

echo "== Services through nodenet-proxy"
CLIENT=$(ns client)
printf '  %-8s %-22s %-22s %s\n' FROM SERVICE ADDRESS "ANSWERED BY"
row() {  # row FROM-NS FROM-LABEL SERVICE ADDRESS EXPECTED-REGEX
  local out
  out=$(ip netns exec "$1" curl -s -m2 "http://$4/" 2>/dev/null || true)
  if [[ "$out" =~ $5 ]]; then ok=$((ok+1)); else fail=$((fail+1)); out="FAIL (expected $5) ${out:-no answer}"; fi
  printf '  %-8s %-22s %-22s %s\n' "$2" "$3" "$4" "$out"
}
for from in client outside; do
  if [ "$from" = client ]; then fns=$CLIENT; else fns=$OUTSIDE; fi
  row "$fns" "$from" "web (ClusterIP)" 10.96.0.10:80 '^web-[12] '
  row "$fns" "$from" "web (ClusterIP)" 10.96.0.10:80 '^web-[12] '
  row "$fns" "$from" "web (externalIP)" 192.168.0.100:80 '^web-[12] '
  row "$fns" "$from" "api (NodePort)" "$NODE_IP:30443" '^api-1 '
  row "$fns" "$from" "shop (NodePort, Local)" "$NODE_IP:30080" '^shop-1 '
  row "$fns" "$from" "shop (LoadBalancer)" 192.168.0.200:80 '^shop-1 '
done
echo "  (web is eTP Cluster: off-cluster clients are masqueraded to the node; shop is eTP Local: they are not)"
hc=$(ip netns exec "$OUTSIDE" curl -s -m2 "http://$NODE_IP:32080/" | jq -c . 2>/dev/null || true)
echo "-- shop's healthCheckNodePort from outside ($NODE_IP:32080): $hc"
if [[ "$hc" == *'"localEndpoints": 1'* || "$hc" == *'"localEndpoints":1'* ]]; then ok=$((ok+1)); else echo "  FAIL healthCheckNodePort"; fail=$((fail+1)); fi
echo "-- live change: remove web-2 (10.85.0.12) from the EndpointSlice web-1 (an atomic rename, as kubectl or a"
echo "   ConfigMap would); the proxy's inotify source sees it and the next sync leaves only web-1"
sed '/addresses: \["10.85.0.12"\]/,+2d' "$MANIFESTS/services.yaml" >"$MANIFESTS/.services.yaml.new"
mv "$MANIFESTS/.services.yaml.new" "$MANIFESTS/services.yaml"
only_web1() {
  local i a
  for i in 1 2 3 4 5 6; do
    a=$(ip netns exec "$CLIENT" curl -s -m1 http://10.96.0.10/) || return 1
    [[ "$a" == web-1* ]] || return 1
  done
}
if wait_until 10 only_web1; then
  echo "  6 of 6 requests to 10.96.0.10:80 answered by web-1"; ok=$((ok+1))
else
  echo "  FAIL web-2 still answers"; fail=$((fail+1))
fi
echo "-- some of /metrics:"
ip netns exec "$NODE" curl -s http://127.0.0.1:10249/metrics \
  | grep -E '^kubeproxy_sync_proxy_rules_(duration_seconds_count|last_timestamp_seconds|endpoint_changes_total)|^kubeproxy_sync_(full|partial)_proxy_rules_duration_seconds_(sum|count)' \
  | sed 's/^/  /'

if [ -x "$BUILD/bin/nodenet-dns" ]; then
  echo "== nodenet-dns in the node namespace on $GW:53 (the same manifests), dig from the client pod"
  ip netns exec "$NODE" "$BUILD/bin/nodenet-dns" --listen "$GW:53" --zone cluster.local --manifests "$MANIFESTS" \
    --upstream none 2>"$DATA/dns.log" &
  pids+=($!)
  wait_until 10 ip netns exec "$CLIENT" dig +time=1 +tries=1 @"$GW" dns-version.cluster.local TXT \
    || { echo "nodenet-dns did not answer:" >&2; cat "$DATA/dns.log" >&2; exit 1; }
  dq() {  # dq TYPE NAME EXPECTED-REGEX (matched against "STATUS answers...")
    local out status
    out=$(ip netns exec "$CLIENT" dig +time=1 +tries=1 +noall +answer +comments @"$GW" "$2" "$1" 2>&1 || true)
    status=$(grep -o 'status: [A-Z]*' <<<"$out" | cut -d' ' -f2 || true)
    local ans; ans=$(grep -vE '^;|^$' <<<"$out" | awk '{ $1=$1; print $4, $5, $6, $7, $8 }' | sed 's/ *$//' | paste -sd, - || true)
    local line="$status ${ans:-(no answer)}"
    if [[ "$line" =~ $3 ]]; then ok=$((ok+1)); else fail=$((fail+1)); line="FAIL (expected $3) $line"; fi
    printf '  %-5s %-44s %s\n' "$1" "$2" "$line"
  }
  dq A web.demo.svc.cluster.local '^NOERROR A 10\.96\.0\.10$'
  dq A db.demo.svc.cluster.local '^NOERROR A 10\.85\.0\.41$'
  dq A db-0.db.demo.svc.cluster.local '^NOERROR A 10\.85\.0\.41$'
  dq SRV _http._tcp.web.demo.svc.cluster.local '^NOERROR SRV 0 100 80 web\.demo\.svc\.cluster\.local\.$'
  dq CNAME search.demo.svc.cluster.local '^NOERROR CNAME search\.example\.com\.$'
  dq A nope.demo.svc.cluster.local '^NXDOMAIN'
else
  echo "== nodenet-dns is not built yet ($BUILD/bin/nodenet-dns): DNS part skipped"
fi

echo "== stop nodenet-proxy (SIGTERM): the rules stay; --cleanup removes them"
kill -TERM "$PROXY_PID"; wait "$PROXY_PID" || true
check ip netns exec "$CLIENT" curl -sf -m2 http://10.96.0.10:80/
ip netns exec "$NODE" nft list tables | sed 's/^/  before --cleanup: /'
ip netns exec "$NODE" "$BUILD/bin/nodenet-proxy" --cleanup 2>/dev/null
ip netns exec "$NODE" nft list tables | sed 's/^/  after --cleanup:  /'
if ip netns exec "$NODE" nft list tables | grep -q 'ip nodenet$'; then echo "  FAIL cleanup"; fail=$((fail+1)); else ok=$((ok+1)); fi

echo "== CHECK and DEL"
for p in "${PODS[@]}"; do cni CHECK "$p" "${RESULT[$p]}" && echo "CHECK $p ok"; done
for p in "${PODS[@]}"; do cni DEL "$p" && echo "DEL $p ok"; done
left=$(ls "$DATA/$NAME" 2>/dev/null | grep -vE '^(lock|last_reserved_ip\..*)$' || true)
echo "reservations left after DEL: ${left:-none}"
echo "== $ok checks passed, $fail failed"
[ "$fail" -eq 0 ] && [ -z "$left" ]
