#!/usr/bin/env bash
# Fabric's main job on one machine: mirrored traffic in, decapsulated frames out, live.
#   bash demo.sh          (= up) installs what it needs, builds, and starts:
#     - namespace fxdemo-src, joined to this namespace by the veth pair fxdemo0 (here) / fxdemo1 (there);
#     - in it a kernel vxlan device fxdemo-vx (VNI 42, remote = fxdemo0's address, dstport 4789) and a
#       python3 sender of 5 UDP datagrams/s through it to an inner address with a static neighbour
#       (nobody answers): steady, known VXLAN traffic on fxdemo0, as AWS Traffic Mirroring delivers it;
#     - one fabric-node (role capture, embedded SQLite) with the pipeline `demo`: source fxdemo0,
#       sinks TAP fxdemo-tap (mtu 9000) and rotating PCAP files under .demo/pcap;
#   then shows the pipeline's live stats through the console and tcpdump on the TAP.
#   bash demo.sh down     stops exactly what `up` started (pids from .demo/state, the names above).
# Run as root on Debian 12 with the .NET 10 SDK. Addresses: 172.31.254.0/30 on the veths, 10.254.42.0/24
# inside the tunnel; they exist only on these links, so the traffic never leaves this machine.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)

NS=fxdemo-src
VETH=fxdemo0          # root side: the pipeline's interface
PEER=fxdemo1          # namespace side
VXLAN=fxdemo-vx
TAP=fxdemo-tap
ROOT_ADDR=172.31.254.1
NS_ADDR=172.31.254.2
INNER_ADDR=10.254.42.1
INNER_PEER=10.254.42.2
INNER_PEER_MAC=02:fd:de:00:00:02
TRAFFIC_SECONDS=600   # the traffic generator stops by itself after 10 minutes
STATE_DIR="$repo/.demo"
STATE="$STATE_DIR/state"
NODE_DLL="$repo/src/Nodes/Fabric.Node/bin/Release/net10.0/fabric-node.dll"
CONSOLE_DLL="$repo/src/Nodes/Fabric.Console/bin/Release/net10.0/fabric.dll"

fail() { echo "demo.sh: $*" >&2; exit 1; }
step() { echo "==> $*"; }

[[ $EUID -eq 0 ]] || fail "run as root (it creates a network namespace, a veth pair and a TAP device)"

# A pid is ours only while its command line still has the expected word (guards against pid reuse).
is_ours() {
  local pid=$1 word=$2 cmd
  [[ -n "$pid" ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmd" == *"$word"* ]]
}

state_get() { [[ -f "$STATE" ]] && sed -n "s/^$1=//p" "$STATE" | head -n1 || true; }

stop_pid() {
  local name=$1 pid=$2 word=$3
  is_ours "$pid" "$word" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do is_ours "$pid" "$word" || break; sleep 0.2; done
  if is_ours "$pid" "$word"; then
    echo "$name (pid $pid) did not stop within 15 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "stopped $name (pid $pid)"
}

link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
ns_exists() { [[ -e "/run/netns/$NS" ]]; }
run() { "$@" || fail "failed: $*"; }

down() {
  stop_pid "traffic generator" "$(state_get traffic_pid)" traffic.py
  stop_pid fabric-node "$(state_get node_pid)" fabric-node
  if link_exists "$TAP"; then ip link del dev "$TAP" && echo "deleted TAP $TAP"; fi
  if link_exists "$VETH"; then ip link del dev "$VETH" && echo "deleted veth $VETH"; fi
  if ns_exists; then ip netns del "$NS" && echo "deleted namespace $NS (with $PEER and $VXLAN)"; fi
  rm -rf "$STATE_DIR"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The pipeline's JSON from the node's management API, or nothing while it is not reachable.
pipeline_json() { curl -fsS --max-time 3 "$1/pipelines/demo/stats" 2>/dev/null || true; }

console() { dotnet "$CONSOLE_DLL" --node "$MANAGEMENT" "$@"; }

create_network() {
  run ip netns add "$NS"
  run ip netns exec "$NS" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  run ip netns exec "$NS" ip link set lo up
  run ip link add "$VETH" type veth peer name "$PEER"
  run sysctl -q -w "net.ipv6.conf.$VETH.disable_ipv6=1"   # the kernel adds no traffic of its own
  run ip link set "$PEER" netns "$NS"
  run ip addr add "$ROOT_ADDR/30" dev "$VETH"
  run ip link set "$VETH" mtu 9000 up
  run ip netns exec "$NS" ip addr add "$NS_ADDR/30" dev "$PEER"
  run ip netns exec "$NS" ip link set "$PEER" mtu 9000 up
  run ip netns exec "$NS" ip link add "$VXLAN" type vxlan id 42 remote "$ROOT_ADDR" local "$NS_ADDR" dstport 4789 dev "$PEER"
  run ip netns exec "$NS" ip addr add "$INNER_ADDR/24" dev "$VXLAN"
  run ip netns exec "$NS" ip link set "$VXLAN" up
  run ip netns exec "$NS" ip neigh replace "$INNER_PEER" lladdr "$INNER_PEER_MAC" dev "$VXLAN" nud permanent
}

up() {
  step "prerequisites"
  bash scripts/prereqs.sh
  command -v curl >/dev/null || fail "curl is missing (apt-get install curl)"

  if [[ -f "$STATE" ]] || link_exists "$TAP" || link_exists "$VETH" || ns_exists; then
    step "cleaning up a previous demo"
    down
  fi

  step "building fabric-node and fabric (Release)"
  for project in src/Nodes/Fabric.Node/Fabric.Node.csproj src/Nodes/Fabric.Console/Fabric.Console.csproj; do
    if ! out=$(dotnet build "$project" -c Release -nologo -v quiet -clp:ErrorsOnly 2>&1); then
      echo "$out" >&2
      fail "build of $project failed"
    fi
  done

  mkdir -p "$STATE_DIR/data" "$STATE_DIR/pcap"
  : >"$STATE"

  step "namespace $NS: veth $PEER <-> $VETH, kernel vxlan $VXLAN (VNI 42 -> $ROOT_ADDR:4789)"
  create_network

  local http remoting
  http=$(free_port)
  remoting=$(free_port)
  MANAGEMENT="http://127.0.0.1:$http"
  cat >"$STATE_DIR/node.conf" <<EOF
# Written by demo.sh; removed by 'bash demo.sh down'.
akka.cluster.roles = [capture]
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $remoting }
akka.discovery.config.services.fabric-demo.endpoints = [ "127.0.0.1:$http" ]
fabric {
  data-dir = "$STATE_DIR/data"
  management.http { host = 127.0.0.1, port = $http }
  cluster.discovery { method = config, service-name = fabric-demo, required-contact-points = 1 }
  persistence.provider = sqlite
  pipelines = [
    {
      name = demo
      source { interface = $VETH }
      sinks = [
        { type = tap, device = $TAP, mtu = 9000 }
        { type = pcap, directory = "$STATE_DIR/pcap", rotate-size = 1MiB, keep-size = 16MiB, flush-interval = 200ms }
      ]
    }
  ]
}
EOF

  step "starting fabric-node (role capture, pipeline demo: $VETH -> decap -> $TAP + $STATE_DIR/pcap)"
  local node_pid
  # setsid + nohup: the node outlives this script and gets no terminal signals; $! is its pid.
  setsid nohup dotnet "$NODE_DLL" --config "$STATE_DIR/node.conf" >"$STATE_DIR/node.log" 2>&1 </dev/null &
  node_pid=$!
  { echo "node_pid=$node_pid"; echo "management=$MANAGEMENT"; echo "log=$STATE_DIR/node.log"; } >>"$STATE"

  local started=$SECONDS json=""
  until json=$(pipeline_json "$MANAGEMENT") && [[ "$(jq -r '.pipelines[0].state // empty' <<<"$json" 2>/dev/null)" == running ]] && link_exists "$TAP"; do
    is_ours "$node_pid" fabric-node || fail "fabric-node exited before its pipeline ran"
    ((SECONDS - started < 60)) || fail "pipeline demo was not running within 60 s"
    sleep 0.5
  done
  echo "pipeline demo running after $((SECONDS - started)) s, node at $MANAGEMENT"

  step "traffic: 5 UDP datagrams/s from $INNER_ADDR to $INNER_PEER inside $NS, through $VXLAN (for $TRAFFIC_SECONDS s)"
  cat >"$STATE_DIR/traffic.py" <<EOF
# Written by demo.sh: steady, known inner traffic (UDP to $INNER_PEER:5000..5009, 64/200/1000 bytes).
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sizes = [64, 200, 1000]
for i in range($TRAFFIC_SECONDS * 5):
    s.sendto(bytes([i % 256]) * sizes[i % 3], ("$INNER_PEER", 5000 + i % 10))
    time.sleep(0.2)
EOF
  local traffic_pid
  setsid nohup ip netns exec "$NS" python3 "$STATE_DIR/traffic.py" >"$STATE_DIR/traffic.log" 2>&1 </dev/null &
  traffic_pid=$!
  echo "traffic_pid=$traffic_pid" >>"$STATE"

  started=$SECONDS
  until [[ "$(curl -fsS --max-time 3 "$MANAGEMENT/pipelines" 2>/dev/null | jq -r '.pipelines[0].delivered // 0' 2>/dev/null)" -gt 0 ]]; do
    ((SECONDS - started < 20)) || fail "no packet delivered within 20 s"
    sleep 0.5
  done

  step "live stats: fabric pipelines stats demo (3 samples, rates over 2 s)"
  for _ in 1 2 3; do console pipelines stats demo --interval 2 || fail "fabric pipelines stats failed"; done
  console pipelines list || fail "fabric pipelines list failed"

  step "the decapsulated inner frames on the TAP: tcpdump -c 5 -e -n -i $TAP"
  timeout 20 tcpdump -c 5 -e -n -i "$TAP" || fail "tcpdump did not see 5 frames on $TAP within 20 s"

  cat <<EOF

The demo keeps running (traffic for $TRAFFIC_SECONDS s). Try:
  tcpdump -n -e -i $TAP                                          # what Arkime, Suricata, Zeek would read
  tcpdump -n -c 5 -i $VETH                                       # the same packets, still in VXLAN
  dotnet $CONSOLE_DLL --node $MANAGEMENT pipelines stats demo --watch
  dotnet $CONSOLE_DLL --node $MANAGEMENT pipelines stop demo     # then: pipelines start demo
  curl -s $MANAGEMENT/metrics | grep fabric_pipeline
  tcpdump -n -r "\$(ls $STATE_DIR/pcap/demo-*.pcap | tail -n1)" | head   # the rotating PCAP sink
  dotnet pwsh ./cluster.ps1 up -Nodes 3                          # a 3-node cluster (Cluster Bootstrap)
  bash demo.sh down                                              # stop and remove all of this
EOF
}

case "${1:-up}" in
  up)
    # On failure, leave nothing half-started behind unless asked to (DEMO_KEEP_ON_FAILURE=1).
    trap 'rc=$?; if ((rc != 0)) && [[ "${DEMO_KEEP_ON_FAILURE:-0}" != 1 ]]; then
      ((rc != 130 && rc != 143)) && [[ -f "$STATE_DIR/node.log" ]] && { echo "--- end of $STATE_DIR/node.log:" >&2; tail -n 15 "$STATE_DIR/node.log" >&2; }
      echo "demo.sh: up failed; removing what it started" >&2; down >/dev/null 2>&1 || true; fi' EXIT
    trap 'exit 130' INT     # Ctrl-C or a kill also run the clean-up above
    trap 'exit 143' TERM
    up
    ;;
  down)
    down
    ;;
  *)
    echo "usage: bash demo.sh [up|down]" >&2
    exit 2
    ;;
esac
