#!/usr/bin/env bash
# Start-up time of one fabric-node: from exec to GET /ready answering 200 (a one-node cluster, SQLite journal
# warmed), RUNS times; prints each time in seconds and the median. The environment is passed to the node:
# DOTNET_TieredCompilation=1 measures with tiered compilation, which fabric-node turns off in its runtimeconfig.
#   bash bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
WORK=$(mktemp -d /tmp/fd-startup-XXXX)
NODE_PID=
cleanup() { [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
times=()
for i in $(seq 1 "$RUNS"); do
  http=$(free_port); remoting=$(free_port)
  mkdir -p "$WORK/run$i"
  cat > "$WORK/run$i/node.conf" <<CONF
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $remoting }
fabric { data-dir = "$WORK/run$i", management.http { host = 127.0.0.1, port = $http } }
CONF
  start=$(date +%s.%N)
  dotnet "$WORK/node/fabric-node.dll" --config "$WORK/run$i/node.conf" > "$WORK/run$i/node.log" 2>&1 &
  NODE_PID=$!
  until curl -sf "http://127.0.0.1:$http/ready" >/dev/null 2>&1; do
    kill -0 "$NODE_PID" 2>/dev/null || { echo "fabric-node exited; see its log:" >&2; tail -5 "$WORK/run$i/node.log" >&2; exit 1; }
    sleep 0.05
  done
  t=$(echo "$(date +%s.%N) - $start" | bc)
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=
  times+=("$t"); echo "run $i: $t s"
done
echo "median start to /ready: $(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s over $RUNS runs"
