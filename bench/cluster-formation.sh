#!/usr/bin/env bash
# Time from starting three fabric-node processes (same instant, loopback, Cluster Bootstrap with
# config discovery, no seed nodes) until each node's GET /cluster/members shows 3 Up.
# Usage: bench/cluster-formation.sh [RUNS]   (default 5). Prints every run and the median.
# Needs: dotnet, curl, jq, python3. Stops exactly the processes it started (by pid).
set -euo pipefail
runs=${1:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
dotnet build "$root/src/Nodes/Fabric.Node" -c Release -v q -nologo >/dev/null
bin="$root/src/Nodes/Fabric.Node/bin/Release/net10.0/fabric-node"
work=$(mktemp -d /tmp/fo-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
times=()
for run in $(seq 1 "$runs"); do
  mports=(); rports=()
  for n in 1 2 3; do mports+=("$(free_port)"); rports+=("$(free_port)"); done
  endpoints=$(printf '"127.0.0.1:%s",' "${mports[@]}"); endpoints="[${endpoints%,}]"
  pids=()
  for n in 0 1 2; do
    d="$work/run$run-n$n"; mkdir -p "$d"
    cat > "$d/node.conf" <<CONF
fabric.data-dir = "$d/data"
fabric.management.http.port = ${mports[$n]}
akka.remote.dot-netty.tcp.port = ${rports[$n]}
fabric.cluster.discovery { method = config, required-contact-points = 3 }
akka.discovery.config.services.fabric.endpoints = $endpoints
CONF
  done
  start=$(now)
  for n in 0 1 2; do "$bin" --config "$work/run$run-n$n/node.conf" >"$work/run$run-n$n/out.log" 2>&1 & pids+=($!); done
  while :; do
    ok=0
    for n in 0 1 2; do
      up=$(curl -s --max-time 1 "http://127.0.0.1:${mports[$n]}/cluster/members" | jq '[.members[]|select(.status=="Up")]|length' 2>/dev/null || echo 0)
      [ "$up" = 3 ] && ok=$((ok+1))
    done
    [ $ok = 3 ] && break
    if [ "$(echo "$(now) - $start > 120" | bc)" = 1 ]; then echo "run $run: no 3-node cluster within 120 s" >&2; exit 1; fi
    sleep 0.1
  done
  t=$(echo "$(now) - $start" | bc); times+=("$t"); printf 'run %d: %.2f s\n' "$run" "$t"
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  pids=()
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "median of %d runs: %.2f s (min %.2f, max %.2f)\n", NR, m, a[1], a[NR]}'
