#!/usr/bin/env bash
# Issue 14: the stream sink A -> stream source B, two fabric-node processes on loopback, over the corpus mix
# (bench/make-corpus-mix.py: every Ethernet record of tests/corpus, repeated), with compression none, lz4 and
# zstd; and, in the same run, A's plaintext VXLAN forwarder over the same file (to a bound UDP socket that is
# never read: the kernel drops what it cannot queue, after the send succeeded). A replays the file at topspeed
# (decap non-encapsulated = pass); B writes what it receives to rotating PCAP files on /dev/shm. For each run:
# frames/s (frames / wall time from pipeline start until B has them all), CPU seconds per million frames of each
# process (utime + stime from /proc over that time), and bytes on the wire / bytes of inner frames.
#   bash bench/stream.sh [FRAMES]     (default 2,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
FRAMES=${1:-2000000}
WORK=$(mktemp -d /tmp/fabric-stream-bench-XXXX)
SINK_PID=
cleanup() { stop_node; [ -n "${B_PID:-}" ] && kill "$B_PID" 2>/dev/null; [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null; rm -rf "$WORK" /dev/shm/fabric-stream-bench-*; }
trap cleanup EXIT
source bench/node.sh

dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
NODE_DLL=$WORK/node/fabric-node.dll
python3 bench/make-corpus-mix.py "$(corpus)" "$WORK/mix.pcap" "$FRAMES"

bench_certs "$WORK"   # one CA, nodes a and b; tls a|b gives the HOCON

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # clock ticks
hz=$(getconf CLK_TCK)
field() { jq -r "$1"; }

# run NAME SINK_HOCON WITH_B
run() {
  local name=$1 sink=$2 with_b=$3 port=$4
  local shm=/dev/shm/fabric-stream-bench-$name
  if [ "$with_b" = 1 ]; then
    mkdir -p "$shm"
    start_node "$WORK/b-$name" "name = central
      source { stream { listen = \"127.0.0.1:$port\", max-record-bytes = 32MiB } }
      decap { non-encapsulated = pass }
      sinks = [ { type = pcap, directory = \"$shm\", rotate-size = 64MiB, keep-size = 128MiB } ]" "$(tls b)"
    B_PID=$NODE_PID; B_HTTP=$NODE_HTTP; B_DIR=$NODE_DIR; NODE_PID=
  fi
  start_node "$WORK/a-$name" "name = edge
    autostart = off
    source { file = \"$WORK/mix.pcap\" }
    decap { non-encapsulated = pass }
    sinks = [ $sink ]" "$(tls a)"
  if [ "$with_b" = 1 ]; then
    for _ in $(seq 1 100); do   # B's listener is up
      python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()" 2>/dev/null && break; sleep 0.1
    done
  fi
  local a0 b0=0 t0 t1 a1 b1=0
  a0=$(cpu "$NODE_PID"); [ "$with_b" = 1 ] && b0=$(cpu "$B_PID")
  t0=$(date +%s.%N)
  curl -sf -X POST "http://127.0.0.1:$NODE_HTTP/pipelines/edge/start" >/dev/null
  local a_json sent=0 got=0
  for _ in $(seq 1 6000); do
    a_json=$(stats edge)
    local state; state=$(field .state <<<"$a_json")
    sent=$(field '.stages[2].out.packets' <<<"$a_json")
    if [ "$with_b" = 1 ]; then
      got=$(curl -sf "http://127.0.0.1:$B_HTTP/pipelines/central/stats" | jq '.pipelines[0].stages[0].in.packets')
      [ "$state" = finished ] && [ "$got" -ge "$sent" ] && break
    else
      [ "$state" = finished ] && break
    fi
    sleep 0.05
  done
  t1=$(date +%s.%N)
  a1=$(cpu "$NODE_PID"); [ "$with_b" = 1 ] && b1=$(cpu "$B_PID")
  local in_bytes wire ratio dropped
  in_bytes=$(field '.stages[2].in.bytes' <<<"$a_json")
  dropped=$(field '[.stages[2].dropped[].packets] | add' <<<"$a_json")
  wire=$(field '.stages[2].events["wire-bytes"] // 0' <<<"$a_json")
  awk -v n="$name" -v f="$sent" -v d="$dropped" -v t0="$t0" -v t1="$t1" -v a="$((a1 - a0))" -v b="$((b1 - b0))" -v hz="$hz" -v w="$wire" -v ib="$in_bytes" -v got="$got" -v wb="$with_b" 'BEGIN {
    s = t1 - t0; printf "%-6s frames %d (dropped %d, B got %s)  %.0f frames/s  A %.2f CPU s/Mframe", n, f, d, (wb ? got : "-"), f / s, a / hz / (f / 1e6);
    if (wb) printf "  B %.2f CPU s/Mframe  wire/inner %.3f", b / hz / (f / 1e6), w / ib; printf "  (wall %.2f s)\n", s }'
  stop_node
  if [ "$with_b" = 1 ]; then kill "$B_PID"; wait "$B_PID" 2>/dev/null || true; B_PID=; rm -rf "$shm"; fi
}

# The VXLAN forwarder's destination: a bound UDP socket nobody reads.
vx_port=$(free_port)
python3 -c "import socket,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', $vx_port)); time.sleep(3600)" &
SINK_PID=$!
echo "stream bench: $FRAMES frames of the corpus mix, $(nproc) CPUs (shared machine: other work was running)"
run vxlan "{ type = forward, encapsulation = vxlan, destination = \"127.0.0.1:$vx_port\", vni = 1, mtu = 9000, when-full = wait }" 0 0
for c in none lz4 zstd; do
  p=$(free_port)
  run "$c" "{ type = stream, destination = \"127.0.0.1:$p\", compression = $c, when-full = wait }" 1 "$p"
done
