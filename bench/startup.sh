#!/usr/bin/env bash
# Start-up time of one fabric-node: from exec to GET /ready answering 200 (a one-node cluster, SQLite journal
# warmed), RUNS times; prints each time in seconds and the median. The environment is passed to the node:
# DOTNET_TieredCompilation=1 measures with tiered compilation, which fabric-node turns off in its runtimeconfig.
# R2R=1 measures the node published ReadyToRun (bench/node.sh build_node; tiered compilation still off);
# R2R=both alternates today's build and the ReadyToRun one, run by run, and prints the median and range of each.
#   bash bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
WORK=$(mktemp -d /tmp/fd-startup-XXXX)
NODE_PID=
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

source bench/node.sh
builds=()
if [ "${R2R:-0}" = both ]; then
  R2R=0 build_node "$WORK/node"; builds+=("jit:$NODE_DLL")
  R2R=1 build_node "$WORK/node"; builds+=("r2r:$NODE_DLL")
else
  build_node "$WORK/node"; builds+=("$([ "${R2R:-0}" = 1 ] && echo r2r || echo jit):$NODE_DLL")
fi
declare -A times
echo "load before: $(uptime)"
for i in $(seq 1 "$RUNS"); do
 order=("${builds[@]}")
 ((i % 2)) || order=($(printf '%s\n' "${builds[@]}" | tac))   # which build goes first alternates
 for b in "${order[@]}"; do
  kind=${b%%:*} dll=${b#*:}
  http=$(free_port); remoting=$(free_port)
  run=$WORK/run$i-$kind
  mkdir -p "$run"
  cat > "$run/node.conf" <<CONF
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $remoting }
fabric { data-dir = "$run", management.http { host = 127.0.0.1, port = $http } }
CONF
  start=$(date +%s.%N)
  dotnet "$dll" --config "$run/node.conf" > "$run/node.log" 2>&1 &
  NODE_PID=$!
  until curl -sf "http://127.0.0.1:$http/ready" >/dev/null 2>&1; do
    kill -0 "$NODE_PID" 2>/dev/null || { echo "fabric-node exited; see its log:" >&2; tail -5 "$run/node.log" >&2; exit 1; }
    sleep 0.05
  done
  t=$(echo "$(date +%s.%N) - $start" | bc)
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=
  times[$kind]="${times[$kind]:-} $t"; echo "run $i $kind: $t s"
 done
done
echo "load after: $(uptime)"
for b in "${builds[@]}"; do
  kind=${b%%:*}
  # shellcheck disable=SC2086
  printf '%s\n' ${times[$kind]} | sort -n | awk -v k="$kind" -v n="$RUNS" \
    '{a[NR]=$1} END {printf "%s: median start to /ready %s s (range %s-%s) over %d runs\n", k, a[int((NR+1)/2)], a[1], a[NR], n}'
done
