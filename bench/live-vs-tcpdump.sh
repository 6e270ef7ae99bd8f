#!/usr/bin/env bash
# Live capture, same run, same veth, same offered load: tcpreplay --topspeed of a large ERSPAN II capture
# from a namespace onto a veth; on the root side Fabric (capture + decap + TAP sink, in a fabric-node) and
# `tcpdump -i IF -w /dev/null` capture at the same time. Prints what each received and dropped.
#   sudo bash bench/live-vs-tcpdump.sh [COPIES] [RUNS]     (COPIES x 4 frames of zeek/erspanII.pcap)
# Kernel rings: Fabric's source.buffer-size (unset: the node's default, 16MiB; FABRIC_BUFFER=2MiB for libpcap's) and
# tcpdump's -B in KiB (TCPDUMP_BUFFER_KIB; unset: libpcap's 2 MiB default). Compare like with like.
# FABRIC_WHEN_FULL=drop|wait sets the TAP sink's when-full (unset: the default, wait for an only sink).
# BUSY=N runs N busy loops (one process each, normal priority) during the runs: a machine saturated by
# other work, the same for both (each loop is killed by its pid at the end). The replayer then runs at nice
# -15 (BUSY_NICE), so the offered load does not slow down with the machine, as a NIC's would not.
# CAPTURE_NICE=N runs both capture tools (the fabric-node and tcpdump) at nice N, as a unit's Nice= would:
# with BUSY, capture then takes precedence over the busy loops, the same for both.
# ISOLATE=1 emulates a sensor with an isolated core (isolcpus=): the busy loops and the replayer run on CPU 0,
# Fabric's capture, decap and TAP sink threads are pinned to the last CPU (capture-cpu, decap-cpu, sink cpu)
# and tcpdump runs there too (taskset).
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-250000}; RUNS=${2:-3}
WORK=$(mktemp -d /tmp/fd-livebench-XXXX)
NODE_DLL=$WORK/node/fabric-node.dll
source bench/node.sh
[ -n "${CAPTURE_NICE:-}" ] && export NODE_NICE=$CAPTURE_NICE
LAST_CPU=$(( $(nproc) - 1 ))
PIN_OTHERS=; PIN_CAPTURE=; PIPELINE_CPUS=; SINK_CPU=
if [ "${ISOLATE:-0}" = 1 ]; then
  PIN_OTHERS="taskset -c 0"; PIN_CAPTURE="taskset -c $LAST_CPU"
  PIPELINE_CPUS="capture-cpu = $LAST_CPU, decap-cpu = $LAST_CPU"; SINK_CPU=", cpu = $LAST_CPU"
fi
ID=$((RANDOM % 9000 + 1000)); NS=fdl${ID}a; IF=fdl${ID}c; PEER=fdl${ID}p; TAP=fdl${ID}t
TCPDUMP_PID=
BUSY_PIDS=()
cleanup() {
  for p in "${BUSY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  stop_node
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  ip link del "$IF" 2>/dev/null || true; ip link del "$TAP" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES"
veth_into_namespace "$NS" "$IF" "$PEER"

start_node "$WORK/node-run" "    name = live
    source { interface = $IF${FABRIC_BUFFER:+, buffer-size = $FABRIC_BUFFER} }
    $PIPELINE_CPUS
    sinks = [ { type = tap, device = $TAP${FABRIC_WHEN_FULL:+, when-full = $FABRIC_WHEN_FULL}$SINK_CPU } ]"
until [ "$(stats live | jq -r .source.up)" = true ]; do sleep 0.1; done
for _ in $(seq 1 "${BUSY:-0}"); do
  $PIN_OTHERS sh -c 'while :; do :; done' &
  BUSY_PIDS+=($!)
done
[ "${BUSY:-0}" -gt 0 ] && BUSY_NICE=${BUSY_NICE:--15} && sleep 2 && echo "busy loops: ${BUSY}; load average $(cut -d' ' -f1 /proc/loadavg)"

for run in $(seq 1 "$RUNS"); do
  before=$(stats live)
  $PIN_CAPTURE ${CAPTURE_NICE:+nice -n "$CAPTURE_NICE"} tcpdump -i "$IF" -n ${TCPDUMP_BUFFER_KIB:+-B "$TCPDUMP_BUFFER_KIB"} -w /dev/null 2> "$WORK/tcpdump.err" &
  TCPDUMP_PID=$!
  until grep -q "listening on" "$WORK/tcpdump.err"; do sleep 0.05; done
  $PIN_OTHERS ${BUSY_NICE:+nice -n "$BUSY_NICE"} ip netns exec "$NS" tcpreplay --topspeed -i "$PEER" "$WORK/outer.pcap" > "$WORK/replay.out" 2>&1
  sent=$(awk '/Successful packets:/ {print $3}' "$WORK/replay.out")
  rate=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) print int($(i-1))}' "$WORK/replay.out")
  # Wait until Fabric has read everything libpcap received (its ring is drained) and its counters stop moving.
  last=-1
  for _ in $(seq 1 120); do
    sleep 0.5
    s=$(stats live)
    now=$(jq '.stages[2].in.packets + ([.stages[].dropped[].packets] | add)' <<<"$s")
    drained=$(jq '.captured >= .source.kernelReceived - .source.kernelDropped' <<<"$s")
    [ "$now" = "$last" ] && [ "$drained" = true ] && break
    last=$now
  done
  kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; TCPDUMP_PID=
  after=$(stats live)
  t_captured=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump.err")
  t_dropped=$(awk '/dropped by kernel/ {print $1}' "$WORK/tcpdump.err")
  delta() { echo $(( $(jq "$1" <<<"$after") - $(jq "$1" <<<"$before") )); }
  f_recv=$(delta .source.kernelReceived); f_kdrop=$(delta .source.kernelDropped)
  f_captured=$(delta .captured); f_delivered=$(delta '.stages[2].out.packets')
  f_dropped=$(delta '[.stages[].dropped[].packets] | add')
  echo "run $run: offered $sent (at $rate packets/s) | tcpdump captured $t_captured, kernel-dropped $t_dropped | fabric libpcap-received $f_recv, kernel-dropped $f_kdrop, captured $f_captured, delivered to TAP $f_delivered, pipeline-dropped $f_dropped"
done
echo "pipeline drops by reason (all runs):"
stats live | jq -c '[.stages[] | {stage, dropped: (.dropped | with_entries(select(.value.packets > 0)) | map_values(.packets))}]'
