#!/usr/bin/env bash
# DNS server benchmark: nodenet-dns against NSD in the same run, both serving the same cluster plan
# (bench/common/cluster_plan: 1,000 ClusterIP + 1,000 headless x 5 endpoints, ~27k records).
#
#   bench/dns_server/run.sh [--duration S] [--rate QPS] [--server-cpu N] [--client-cpu N] [--rounds N]
#                           [--outstanding N] [--server-quota PCT] [--by-type] [--churn N] [--no-rt]
#                           [--json FILE] [--keep]
#
# Everything runs inside ONE network namespace this script creates (nnb-dns-<pid>-<rand>) on 127.0.0.1; the
# namespace and every process started here are removed on exit (trap), also on failure or Ctrl-C.
#   - nodenet-dns  127.0.0.1:5301  --threads 1, pinned to --server-cpu (default 0)
#   - nsd          127.0.0.1:5300  server-count 1, rrl-ratelimit 0, pinned to the same CPU
#   - dnsperf      pinned to --client-cpu (default 1), UDP, query mix from the plan: 35% headless A,
#                  35% ClusterIP A, 20% SRV, 10% NXDOMAIN
# Server CPU: utime+stime of the server process per run; "answers per server CPU-second" = qps / CPU share is
# the server's cost per answer, robust when dnsperf (one core) rather than the server is the bottleneck.
# Throughput: dnsperf with 4 clients and --outstanding queries in flight (-q, default 100 as dnsperf's) for
# --duration seconds per server, alternating NSD / nodenet-dns for --rounds rounds; the best round of each counts
# (the machine is shared). A larger -q bursts past a kernel-default socket receive buffer (see README).
# --server-quota PCT (default 50; 0 = skip): throughput once more with each server limited to PCT% of one CPU
#   (its own cgroup, cpu.max / cfs_quota_us over a 10 ms period), so that the server and not dnsperf is the
#   bottleneck: then qps is the server's capacity. Unlimited, dnsperf on one core saturates before either server
#   does (both ~90% CPU) and the qps ratio mostly measures dnsperf. The cgroups are removed on exit.
# --churn N: after the measurements, N manifest replacements (a namespace file swapped for the same plan with
#   another seed: 40 Services' endpoints move) every 50 ms under dnsperf -Q --rate; reports losses and memory.
# --by-type: also the qps of each query class alone (headless A, ClusterIP A, SRV, NXDOMAIN), one round each.
# Latency: dnsperf -Q --rate (20000) with -v for --duration seconds, --rounds rounds alternating; p50/p99/p99.9
# from every response of the round with the lowest p99. The measured server (all its threads) runs SCHED_FIFO 10
# and dnsperf SCHED_RR 10 during latency rounds only (not CPU-bound at 20k qps; the kernel's RT throttling keeps
# 5% for others), so a shared machine's compilers do not preempt them; --no-rt measures without. dnsperf gets
# RR, not FIFO: its threads share one CPU at one priority, and under FIFO one that spins waiting for another
# was seen to starve it for minutes. RR rotates them every 100 ms and otherwise behaves the same.
# Memory: VmHWM and VmRSS of the serving process after the runs (NSD: its one serving child; main and xfrd
# processes are listed separately).
# Environment: BUILD_DIR (default build), NODENET_BUILD_DIR wins when set (bench/run.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
build=${NODENET_BUILD_DIR:-${BUILD_DIR:-build}}
case "$build" in /*) ;; *) build="$root/$build" ;; esac

duration=10
rate=20000
server_cpu=0
client_cpu=1
rounds=2
outstanding=100
quota=50
by_type=0
churn=0
rt=1
json=""
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --server-cpu) server_cpu=$2; shift 2 ;;
    --client-cpu) client_cpu=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --outstanding) outstanding=$2; shift 2 ;;
    --server-quota) quota=$2; shift 2 ;;
    --by-type) by_type=1; shift ;;
    --churn) churn=$2; shift 2 ;;
    --no-rt) rt=0; shift ;;
    --json) json=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#'; exit 0 ;;
    *) echo "dns_server/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" -eq 0 ] || { echo "dns_server/run.sh: needs root (network namespace)" >&2; exit 2; }
for tool in nsd dnsperf dig taskset ip; do
  command -v "$tool" >/dev/null || { echo "dns_server/run.sh: $tool not installed (scripts/deps.sh)" >&2; exit 2; }
done
ours="$build/bin/nodenet-dns"
plan_tool="$build/bin/nodenet-cluster-plan"
for b in "$ours" "$plan_tool"; do
  [ -x "$b" ] || { echo "dns_server/run.sh: $b not built" >&2; exit 2; }
done

ns="nnb-dns-$$-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"
work=$(mktemp -d "${TMPDIR:-/tmp}/nnb-dns-$$-XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ -f "$work/cgroups" ]; then  # the CPU-quota cgroups (--server-quota), empty once their process is gone
    while read -r p; do
      for _ in 1 2 3 4 5 6 7 8 9 10; do rmdir "$p" 2>/dev/null && break; sleep 0.1; done
    done <"$work/cgroups"
  fi
  ip netns del "$ns" 2>/dev/null || true
  if [ "$keep" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$ns"
ip -n "$ns" link set lo up
inns() { ip netns exec "$ns" "$@"; }

# The plan: manifests for nodenet-dns, zone files for NSD, the query file for dnsperf.
"$plan_tool" --size bench --seed 1 --manifests "$work/manifests" --zones "$work/zones" \
  --queries "$work/queries.txt" --count 100000 >"$work/zones.list" 2>"$work/plan.log"
cat "$work/plan.log"

{
  cat <<EOF
server:
  ip-address: 127.0.0.1@5300
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$work/zones"
  database: ""
  zonelistfile: "$work/nsd.zonelist"
  xfrdfile: "$work/nsd.xfrd"
  xfrdir: "$work"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  verbosity: 0
  hide-version: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  refuse-any: no
remote-control:
  control-enable: no
EOF
  while read -r origin file; do
    printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$origin" "$file"
  done <"$work/zones.list"
} >"$work/nsd.conf"
nsd-checkconf "$work/nsd.conf"

# Started directly (not through the inns function: `func &` forks a subshell and $! would be the subshell's PID);
# ip netns exec and taskset exec the program, so $! is the server itself.
ip netns exec "$ns" taskset -c "$server_cpu" nsd -d -c "$work/nsd.conf" >"$work/nsd.out" 2>&1 &
nsd_launcher=$!
pids+=($nsd_launcher)
ip netns exec "$ns" taskset -c "$server_cpu" "$ours" --listen 127.0.0.1:5301 --zone cluster.local --ttl 5 --threads 1 \
  --manifests "$work/manifests" >"$work/ours.out" 2>&1 &
ours_launcher=$!
pids+=($ours_launcher)

# Both must answer a headless name with its 5 addresses before the clock starts (bounded wait: 20 s).
probe=$(awk '$2=="A" && $1 ~ /^db-/ {print $1; exit}' "$work/queries.txt")
ready() { [ "$(inns dig +norec +short +time=1 +tries=1 -p "$1" @127.0.0.1 "$probe" A 2>/dev/null | wc -l)" -eq 5 ]; }
for port in 5300 5301; do
  for _ in $(seq 200); do ready $port && break; sleep 0.1; done
  ready $port || { echo "dns_server/run.sh: server on port $port not answering; logs:" >&2;
                   cat "$work/nsd.out" "$work/nsd.log" "$work/ours.out" 2>/dev/null | tail -20 >&2; exit 1; }
done

# The serving processes: nodenet-dns itself (ip netns exec and taskset exec, they do not fork). NSD's launched
# process becomes "nsd: xfrd", its child "nsd: main" forks the serving child "nsd: server 1".
ours_pid=$ours_launcher
[ "$(readlink /proc/"$ours_pid"/exe)" = "$(readlink -f "$ours")" ] ||
  { echo "dns_server/run.sh: PID $ours_pid is not nodenet-dns" >&2; exit 1; }
descendants() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; descendants "$c"; done; }
nsd_server=""; nsd_main=""
for c in $(descendants "$nsd_launcher"); do
  case "$(cat /proc/"$c"/comm 2>/dev/null)" in
    "nsd: server"*) nsd_server=$c ;;
    "nsd: main") nsd_main=$c; pids=("$c" "${pids[@]}") ;;  # stopped first: it stops its children
  esac
done
[ -n "$nsd_server" ] || { echo "dns_server/run.sh: NSD serving process not found" >&2; exit 1; }

# The UDP receive buffers (skmem rb): NSD enlarges its own (receive-buffer-size); bursts of 2,000 outstanding
# queries overflow a kernel-default 208 KiB buffer, which dnsperf counts as lost queries.
inns ss -uamn 2>/dev/null | awk '/127.0.0.1:530[01]/ {port=$4} /skmem/ && port {match($0, /rb[0-9]+/); print "  UDP " port " receive buffer " substr($0, RSTART + 2, RLENGTH - 2) " bytes"; port=""}'

# Same answers before measuring: the benchmark is void if one server answers something else.
for q in $(awk '{print $1":"$2}' "$work/queries.txt" | head -200 | sort -u | head -40); do
  n=${q%%:*}; t=${q##*:}
  a=$(inns dig +norec +noall +answer +time=1 -p 5300 @127.0.0.1 "$n" "$t" | awk '{print $1,$4,$5,$6,$7,$8,$9}' | sort)
  b=$(inns dig +norec +noall +answer +time=1 -p 5301 @127.0.0.1 "$n" "$t" | awk '{print $1,$4,$5,$6,$7,$8,$9}' | sort)
  if [ "$a" != "$b" ]; then
    echo "dns_server/run.sh: answers differ for $n $t:" >&2
    echo "NSD:"$'\n'"$a"$'\n'"nodenet-dns:"$'\n'"$b" >&2
    exit 1
  fi
done

# Every dnsperf run is bounded: its own -l plus 30 s, then it is killed (a run that hung once left the script
# waiting; the round then reports 0 qps instead).
dnsperf_limit=$(( duration + 30 ))

udp_drops() {  # the namespace's UDP RcvbufErrors+SndbufErrors (kernel drops: overload, not lost answers)
  inns awk '/^Udp:/ {if (!h) {for (i=1;i<=NF;i++) n[$i]=i; h=1} else print $n["RcvbufErrors"], $n["SndbufErrors"]}' /proc/net/snmp
}

cpu_ticks() {  # pid -> utime+stime of all its threads, in clock ticks (comm may hold spaces: "(nsd: server 1)")
  sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | awk '{print $12 + $13}'
}

perf() {  # port, extra args...; prints "qps lost cpu%"
  local port=$1; shift
  local pid=$ours_pid
  [ "$port" = 5300 ] && pid=$nsd_server
  local c0 t0 c1 t1
  c0=$(cpu_ticks "$pid"); t0=$(date +%s%N)
  read -r rb0 sb0 < <(udp_drops)
  inns timeout "$dnsperf_limit" taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" -l "$duration" \
    -c 4 -q "$outstanding" -t 2 "$@" >"$work/perf.out" 2>&1 || true
  read -r rb1 sb1 < <(udp_drops)
  c1=$(cpu_ticks "$pid"); t1=$(date +%s%N)
  # Server CPU use during the run: near 100% means the server is the bottleneck, well below means dnsperf is.
  local cpu
  cpu=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v ns="$((t1 - t0))" 'BEGIN {printf "%.0f", 100 * c / hz / (ns / 1e9)}')
  echo "  port $port: server CPU ${cpu}% of one core; kernel UDP drops: receive buffer $((rb1 - rb0)), send buffer $((sb1 - sb0))" >&2
  awk -v cpu="$cpu" '/Queries per second:/ {q=$4} /Queries lost:/ {l=$3} END {print q+0, l+0, cpu+0}' "$work/perf.out"
}

median() {  # numbers on stdin -> their median, 3 decimals
  sort -g | awk '{v[NR]=$1} END {printf "%.3f", (NR == 0 ? 0 : NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'
}
best_nsd=0; best_ours=0; lost_nsd=0; lost_ours=0; eff_nsd=0; eff_ours=0
u_pairs=()  # ours / NSD of back-to-back unlimited rounds
for r in $(seq "$rounds"); do
  read -r q l c < <(perf 5300); echo "round $r NSD:         $q qps (lost $l, server CPU $c%)"
  qn=$q
  eff_nsd=$(awk -v a="$eff_nsd" -v q="$q" -v c="$c" 'BEGIN {e = (c > 0 ? q * 100 / c : 0); print (e > a ? e : a)}')
  best_nsd=$(awk -v a="$best_nsd" -v b="$q" 'BEGIN {print (b > a ? b : a)}'); lost_nsd=$((lost_nsd + l))
  read -r q l c < <(perf 5301); echo "round $r nodenet-dns: $q qps (lost $l, server CPU $c%)"
  eff_ours=$(awk -v a="$eff_ours" -v q="$q" -v c="$c" 'BEGIN {e = (c > 0 ? q * 100 / c : 0); print (e > a ? e : a)}')
  best_ours=$(awk -v a="$best_ours" -v b="$q" 'BEGIN {print (b > a ? b : a)}'); lost_ours=$((lost_ours + l))
  u_pairs+=("$(awk -v a="$q" -v b="$qn" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')")
done
u_pairs_sorted=$(printf '%s\n' "${u_pairs[@]}" | sort -g | tr '\n' ' ')
u_median=$(printf '%s\n' "${u_pairs[@]}" | median)

# Server-bound throughput: each server in a cgroup of its own with the same CPU quota.
cpu_cgroup() {  # name pct -> prints the cgroup directory, or nothing when cgroups cannot be used here
  local name=$1 pct=$2 d
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # v2
    grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
      echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || return 0
    d=/sys/fs/cgroup/$name
    mkdir "$d" 2>/dev/null || return 0
    echo "$d" >>"$work/cgroups"
    echo "$((pct * 100)) 10000" >"$d/cpu.max" 2>/dev/null || return 0
  elif [ -d /sys/fs/cgroup/cpu ]; then  # v1
    d=/sys/fs/cgroup/cpu/$name
    mkdir "$d" 2>/dev/null || return 0
    echo "$d" >>"$work/cgroups"
    { echo 10000 >"$d/cpu.cfs_period_us" && echo $((pct * 100)) >"$d/cpu.cfs_quota_us"; } 2>/dev/null || return 0
  else
    return 0
  fi
  echo "$d"
}
current_cpu_cgroup() {  # pid -> the directory of its cpu cgroup now (where it goes back after the quota rounds)
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    echo "/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' /proc/"$1"/cgroup)"
  else
    echo "/sys/fs/cgroup/cpu$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3}' /proc/"$1"/cgroup)"
  fi
}
q_nsd=0; q_ours=0; q_ratio=""; q_median=""; q_pairs=""
if [ "$quota" -gt 0 ]; then
  home_nsd=$(current_cpu_cgroup "$nsd_server"); home_ours=$(current_cpu_cgroup "$ours_pid")
  cg_nsd=$(cpu_cgroup "$ns-nsd" "$quota"); cg_ours=$(cpu_cgroup "$ns-ours" "$quota")
  if [ -n "$cg_nsd" ] && [ -n "$cg_ours" ] && echo "$nsd_server" >"$cg_nsd/cgroup.procs" &&
     echo "$ours_pid" >"$cg_ours/cgroup.procs"; then
    pair_ratios=()  # ours / NSD of back-to-back rounds: robust to the drift of a shared VM between rounds
    for r in $(seq "$rounds"); do
      read -r qn l c < <(perf 5300); echo "round $r NSD at ${quota}% CPU:         $qn qps (lost $l, server CPU $c%)"
      q_nsd=$(awk -v a="$q_nsd" -v b="$qn" 'BEGIN {print (b > a ? b : a)}')
      read -r q l c < <(perf 5301); echo "round $r nodenet-dns at ${quota}% CPU: $q qps (lost $l, server CPU $c%)"
      q_ours=$(awk -v a="$q_ours" -v b="$q" 'BEGIN {print (b > a ? b : a)}')
      pair_ratios+=("$(awk -v a="$q" -v b="$qn" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')")
    done
    q_ratio=$(awk -v a="$q_ours" -v b="$q_nsd" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')
    q_pairs=$(printf '%s\n' "${pair_ratios[@]}" | sort -g | tr '\n' ' ')
    q_median=$(printf '%s\n' "${pair_ratios[@]}" | median)
    # Back where they were for the rest (latency, churn): no quota, and SCHED_FIFO allowed again (a new v1
    # cgroup has no real-time budget). Should the move fail, the quota is lifted anyway.
    for d in "$cg_nsd" "$cg_ours"; do
      if [ -f "$d/cpu.max" ]; then echo "max 10000" >"$d/cpu.max"; else echo -1 >"$d/cpu.cfs_quota_us"; fi
    done
    echo "$nsd_server" >"$home_nsd/cgroup.procs" || echo "dns_server/run.sh: NSD stays in $cg_nsd (no quota)" >&2
    echo "$ours_pid" >"$home_ours/cgroup.procs" || echo "dns_server/run.sh: nodenet-dns stays in $cg_ours (no quota)" >&2
  else
    echo "CPU quota: no writable cpu cgroup here; server-bound throughput skipped" >&2
  fi
fi

latency() {  # port pid -> "p50 p99 p999 n" in ms, from dnsperf -v lines "> NOERROR name type 0.000123"
  local port=$1 pid=$2 rtcmd=()
  if [ "$rt" = 1 ]; then
    chrt -a -f -p 10 "$pid" >/dev/null
    rtcmd=(chrt -r 10)
  fi
  inns timeout "$dnsperf_limit" "${rtcmd[@]}" taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$port" -d "$work/queries.txt" \
    -l "$duration" -Q "$rate" -c 1 -q 100 -t 2 -v >"$work/lat.out" 2>&1 || true
  [ "$rt" = 1 ] && chrt -a -o -p 0 "$pid" >/dev/null
  awk '/^> / {print $NF}' "$work/lat.out" | sort -g | awk '{v[NR]=$1}
    END {if (NR==0) {print "nan nan nan 0"; exit}
         i50=int(NR*0.50); i99=int(NR*0.99); i999=int(NR*0.999); if (i50<1) i50=1; if (i99<1) i99=1; if (i999<1) i999=1;
         printf "%.3f %.3f %.3f %d\n", v[i50]*1000, v[i99]*1000, v[i999]*1000, NR}'
}
if [ "$by_type" = 1 ]; then
  grep -E '^db-[0-9]+\.' "$work/queries.txt" >"$work/q-headless-a.txt" || true
  grep -E '^api-[0-9]+\.' "$work/queries.txt" >"$work/q-clusterip-a.txt" || true
  grep -E ' SRV$' "$work/queries.txt" >"$work/q-srv.txt" || true
  grep -E '^missing-' "$work/queries.txt" >"$work/q-nxdomain.txt" || true
  for t in headless-a clusterip-a srv nxdomain; do
    read -r qn ln cn < <(perf 5300 -d "$work/q-$t.txt" 2>/dev/null)
    read -r qo lo co < <(perf 5301 -d "$work/q-$t.txt" 2>/dev/null)
    echo "by type $t: NSD $qn qps (lost $ln, CPU $cn%), nodenet-dns $qo qps (lost $lo, CPU $co%)," \
      "answers per CPU-second ratio $(awk -v a="$qo" -v ca="$co" -v b="$qn" -v cb="$cn" \
        'BEGIN {printf "%.2f", (b > 0 && ca > 0 && cb > 0 ? (a / ca) / (b / cb) : 0)}')"
  done
fi

# Latency rounds alternate too; the round with the lowest p99 of each server counts (scheduling noise of a shared
# machine only ever adds latency).
n99=inf; o99=inf
for r in $(seq "$rounds"); do
  read -r a50 a99 a999 an < <(latency 5300 "$nsd_server")
  echo "round $r NSD:         p50 $a50 p99 $a99 p99.9 $a999 ms ($an responses)"
  if awk -v a="$a99" -v b="$n99" 'BEGIN {exit !(b == "inf" || a + 0 < b + 0)}'; then n50=$a50; n99=$a99; n999=$a999; nn=$an; fi
  read -r a50 a99 a999 an < <(latency 5301 "$ours_pid")
  echo "round $r nodenet-dns: p50 $a50 p99 $a99 p99.9 $a999 ms ($an responses)"
  if awk -v a="$a99" -v b="$o99" 'BEGIN {exit !(b == "inf" || a + 0 < b + 0)}'; then o50=$a50; o99=$a99; o999=$a999; on=$an; fi
done

mem() { awk '/^VmHWM|^VmRSS/ {printf "%s %.1f ", $1, $2/1024}' /proc/"$1"/status 2>/dev/null; }
ours_mem=$(mem "$ours_pid")
nsd_mem=$(mem "$nsd_server")
nsd_main_mem=$(mem "$nsd_main")
ours_hwm=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' /proc/"$ours_pid"/status)
nsd_hwm=$(awk '/^VmHWM/ {printf "%.1f", $2/1024}' /proc/"$nsd_server"/status)
ratio=$(awk -v a="$best_ours" -v b="$best_nsd" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}')

churn_line=""
if [ "$churn" -gt 0 ]; then
  "$plan_tool" --size bench --seed 2 --manifests "$work/alt" >/dev/null 2>&1
  cp -r "$work/manifests" "$work/plan-seed1"
  alt_seed=1
  inns timeout $(( churn / 20 + 2 + 30 )) taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p 5301 -d "$work/queries.txt" -Q "$rate" -c 1 -q 100 -t 2 \
    -l $(( churn / 20 + 2 )) >"$work/churn.out" 2>&1 &
  churn_perf=$!
  pids+=($churn_perf)
  sleep 0.5
  for i in $(seq "$churn"); do
    f=$(printf 'ns-%02d.json' $(( i % 50 )))
    # Alternate the file between the two seeds' versions so every swap changes it; rename = one atomic update.
    if [ $(( (i / 50) % 2 )) -eq 0 ]; then src="$work/alt/$f"; else src="$work/plan-seed1/$f"; fi
    cp "$src" "$work/manifests/.$f.tmp" && mv "$work/manifests/.$f.tmp" "$work/manifests/$f"
    sleep 0.05
  done
  wait "$churn_perf" || true
  churn_mem=$(mem "$ours_pid")
  churn_lost=$(awk '/Queries lost:/ {print $3}' "$work/churn.out")
  churn_codes=$(awk -F: '/Response codes:/ {print $2}' "$work/churn.out" | sed 's/^ *//')
  churn_line="after $churn manifest swaps under $rate qps: nodenet-dns [$churn_mem] lost ${churn_lost:-?}; $churn_codes"
fi

echo
echo "| | nodenet-dns | NSD $(nsd -v 2>&1 | awk 'NR==1 {print $3}') |"
echo "|---|---|---|"
echo "| qps (best of $rounds x ${duration}s, 1 core) | $best_ours | $best_nsd |"
echo "| ratio ours/NSD (best rounds) | $ratio | 1 |"
echo "| ratio, median of back-to-back rounds ($u_pairs_sorted) | $u_median | 1 |"
if [ -n "$q_ratio" ]; then
  echo "| qps with the server limited to ${quota}% of a CPU (best of $rounds, server-bound) | $q_ours | $q_nsd |"
  echo "| server-bound ratio ours/NSD (best rounds) | $q_ratio | 1 |"
  echo "| server-bound ratio, median of back-to-back rounds ($q_pairs) | $q_median | 1 |"
fi
echo "| queries lost (timeouts, all rounds) | $lost_ours | $lost_nsd |"
printf '| answers per server CPU-second (best round) | %.0f | %.0f |\n' "$eff_ours" "$eff_nsd"
echo "| efficiency ratio ours/NSD | $(awk -v a="$eff_ours" -v b="$eff_nsd" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}') | 1 |"
echo "| latency at $rate qps: p50 / p99 / p99.9 (ms, best round$([ "$rt" = 1 ] && echo ", real-time")) | $o50 / $o99 / $o999 | $n50 / $n99 / $n999 |"
echo "| responses measured for latency | $on | $nn |"
echo "| VmHWM (MiB) | $ours_hwm | $nsd_hwm (serving child) |"
echo "memory detail: nodenet-dns [$ours_mem] NSD serving child [$nsd_mem] NSD main [$nsd_main_mem]"
[ -z "$churn_line" ] || echo "churn: $churn_line"
echo "targets: ratio >= 1.05 -> $(awk -v r="$ratio" 'BEGIN {print (r >= 1.05 ? "met" : "MISSED")}') (unlimited, best rounds)," \
  "$(awk -v r="$u_median" 'BEGIN {print (r >= 1.05 ? "met" : "MISSED")}') (unlimited, median)$(
  [ -n "$q_ratio" ] && awk -v r="$q_median" 'BEGIN {print ", " (r >= 1.05 ? "met" : "MISSED") " (server-bound, median)"}');" \
  "p99 <= 0.10 ms -> $(awk -v p="$o99" 'BEGIN {print (p != "nan" && p <= 0.10 ? "met" : "MISSED")}');" \
  "RSS <= 15 MiB -> $(awk -v m="$ours_hwm" 'BEGIN {print (m <= 15 ? "met" : "MISSED")}')"

if [ -n "$json" ]; then
  cat >"$json" <<EOF
{"nodenet_dns": {"qps": $best_ours, "qps_server_bound": $q_ours, "answers_per_cpu_s": $eff_ours, "p50_ms": ${o50/nan/null}, "p99_ms": ${o99/nan/null},
                 "p999_ms": ${o999/nan/null}, "vmhwm_mib": $ours_hwm, "lost": $lost_ours},
 "nsd": {"qps": $best_nsd, "qps_server_bound": $q_nsd, "answers_per_cpu_s": $eff_nsd, "p50_ms": ${n50/nan/null}, "p99_ms": ${n99/nan/null}, "p999_ms": ${n999/nan/null},
         "vmhwm_mib": $nsd_hwm, "lost": $lost_nsd},
 "ratio": $ratio, "ratio_median": $u_median, "ratio_server_bound": ${q_ratio:-null}, "ratio_server_bound_median": ${q_median:-null}, "server_quota_pct": $quota, "rate": $rate, "duration_s": $duration, "rounds": $rounds, "sched_fifo": $rt,
 "churn": "$churn_line"}
EOF
fi
