#!/usr/bin/env bash
# Steady-state memory of a fabric-node under load: a live pipeline (capture + decap + TAP sink) on a veth,
# tcpreplay offering a large ERSPAN II capture in a loop at a fixed rate for DURATION seconds; VmRSS of the
# node sampled every 10 s. Prints the samples, the first and last, the maximum, and the node's CPU seconds per
# million packets delivered between the first sample and the last.
#   sudo bash bench/rss.sh [DURATION_S] [PPS]      (PPS = topspeed: as fast as tcpreplay goes, in a loop)
# R2R=1 runs the node published ReadyToRun (bench/node.sh build_node) instead of today's build.
# BUSY=N runs N busy loops during the run and the replayer at nice -15 (so the load reaches the node and its
# pipeline falls behind: the memory of an overloaded node). FABRIC_BUFFER sets source.buffer-size (unset: the node's default, 16MiB; the ring is mapped into the node, part of its RSS).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-300}; PPS=${2:-50000}
WORK=$(mktemp -d /tmp/fd-rssbench-XXXX)
source bench/node.sh
ID=$((RANDOM % 9000 + 1000)); NS=fdr${ID}a; IF=fdr${ID}c; PEER=fdr${ID}p; TAP=fdr${ID}t
REPLAY_PID=
BUSY_PIDS=()
cleanup() {
  for p in "${BUSY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$REPLAY_PID" ] && kill "$REPLAY_PID" 2>/dev/null || true
  stop_node
  ip link del "$IF" 2>/dev/null || true; ip link del "$TAP" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"
}
trap cleanup EXIT

build_node "$WORK/node"
echo "node: $NODE_DLL; load before: $(uptime)"
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" 25000
veth_into_namespace "$NS" "$IF" "$PEER"
start_node "$WORK/node-run" "    name = rss
    source { interface = $IF${FABRIC_BUFFER:+, buffer-size = $FABRIC_BUFFER} }
    sinks = [ { type = tap, device = $TAP } ]"
until [ "$(stats rss | jq -r .source.up)" = true ]; do sleep 0.1; done

if [ "$PPS" = topspeed ]; then RATE=--topspeed; else RATE=--pps=$PPS; fi
for _ in $(seq 1 "${BUSY:-0}"); do
  sh -c 'while :; do :; done' &
  BUSY_PIDS+=($!)
done
${BUSY:+nice -n -15} ip netns exec "$NS" tcpreplay --loop=0 "$RATE" -q -i "$PEER" "$WORK/outer.pcap" >/dev/null 2>&1 &
REPLAY_PID=$!
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$NODE_PID/status"; }
# The node's CPU time (user + system) in seconds, from /proc/PID/stat.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$NODE_PID/stat"; }
samples=()
for t in $(seq 0 10 "$DURATION"); do
  [ "$t" -gt 0 ] && sleep 10
  r=$(rss); samples+=("$r"); u=$(cpu)
  c=$(stats rss | jq -c '{captured, delivered: .stages[2].out.packets, dropped: ([.stages[].dropped[].packets] | add), kernelDropped: .source.kernelDropped}')
  echo "t=${t}s rss=${r}MiB cpu=${u}s $c"
  [ "$t" -eq 0 ] && { cpu0=$u; delivered0=$(jq -r .delivered <<< "$c"); }
done
delivered=$(jq -r .delivered <<< "$c")
max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
echo "load after: $(uptime)"
echo "rss first ${samples[0]} MiB, last ${samples[-1]} MiB, max $max MiB over ${DURATION}s at ${PPS} packets/s offered"
# CPU per million packets delivered over the run (from t=0, so start-up's compilation is not in it).
echo "node cpu $(echo "$u - $cpu0" | bc) s for $((delivered - delivered0)) packets delivered: $(echo "($u - $cpu0) * 1000000 / ($delivered - $delivered0)" | bc -l | xargs printf '%.2f') cpu-s per million"
