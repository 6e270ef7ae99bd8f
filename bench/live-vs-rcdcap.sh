#!/usr/bin/env bash
# Live capture into a TAP, one receiver at a time, alternating in rounds on the same veth with the same
# offered load: tcpreplay of a large ERSPAN II IMIX capture (bench/gen-erspan-imix.py) from a namespace, once
# at the sender's top speed and once at a fixed rate (RATE, default 100000 pps). Receivers:
#   rcdcap   RCDCap -> TAP:  $RCDCAP -i IF --erspan --tap-persist --tap-device TAP   (only when RCDCAP= is set)
#   fabric   a fabric-node built from this tree: capture -> decap -> TAP sink (its pipeline started for the round)
#   before   the same with an older build (only when FABRIC_BEFORE_DLL=/path/fabric-node.dll is set)
#   tcpdump  tcpdump -i IF -w /dev/null (no decap, no TAP: the capture floor)
# and, once per round, the C TAP-write floor: bench/tap_writer.c write()s the same inner frames into a TAP.
# For each: offered (tcpreplay's successful packets), delivered (the TAP's rx_packets, i.e. frames written into
# it; tcpdump: packets captured), loss %, and CPU seconds of the receiving process per million delivered
# (utime+stime from /proc/PID/stat over the round). Fabric's node also runs an actor system and an HTTP server:
# its idle CPU is measured over a window as long as the round, right after it, pipeline still running, and
# reported both raw and subtracted ("net").
#   sudo [RCDCAP=/path/rcdcap] [CONTEND=1] [FABRIC_BEFORE_DLL=...] bash bench/live-vs-rcdcap.sh [PACKETS] [ROUNDS]
# CONTEND=1: two equal-priority (nice 0) busy loops run during the whole run (stress-ng --cpu 2 if installed),
# killed by pid at the end; the replayer then runs at nice -15 so the offered load does not slow down with
# the machine, as a NIC's would not. FABRIC_NICE: the new node's fabric.pipelines[].nice (unset: its default;
# `null`: the old behaviour). CAPTURE_NICE=N runs RCDCap and tcpdump at nice N (as a unit's Nice= would; e.g. -10,
# what Fabric's data-plane threads ask for by default): like with like under contention. RATE=N: the fixed rate in packets/s. PERTHREAD=1: after each Fabric round, its
# threads' run-queue wait and CPU time from /proc/PID/task/*/schedstat.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKETS=${1:-1000000}; ROUNDS=${2:-3}; RATE=${RATE:-100000}
if [ -n "${RCDCAP:-}" ] && [ ! -x "$RCDCAP" ]; then
  echo "live-vs-rcdcap.sh: RCDCAP=$RCDCAP is not an executable file" >&2; exit 2
fi
WORK=$(mktemp -d /tmp/fd-rcdbench-XXXX)
NODE_DLL=$WORK/node/fabric-node.dll
source bench/node.sh
ID=$((RANDOM % 9000 + 1000)); NS=frc${ID}a; IF=frc${ID}c; PEER=frc${ID}p
TAP_R=frc${ID}r; TAP_F=frc${ID}f; TAP_B=frc${ID}b; TAP_C=frc${ID}w
HZ=$(getconf CLK_TCK)
BUSY_PIDS=(); CHILD_PID=; BEFORE_PID=; BEFORE_HTTP=; NEW_PID=; NEW_HTTP=
cleanup() {
  set +e
  for p in "${BUSY_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$CHILD_PID" ] && kill "$CHILD_PID" 2>/dev/null && wait "$CHILD_PID" 2>/dev/null
  [ -n "$BEFORE_PID" ] && kill "$BEFORE_PID" 2>/dev/null && wait "$BEFORE_PID" 2>/dev/null
  [ -n "$NEW_PID" ] && kill "$NEW_PID" 2>/dev/null && wait "$NEW_PID" 2>/dev/null
  for dev in "$IF" "$TAP_R" "$TAP_F" "$TAP_B" "$TAP_C"; do ip link del "$dev" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

cpu_ticks() {  # utime + stime (fields 14, 15) of a running process
  [ -r "/proc/$1/stat" ] || { echo "process $1 is gone$( [ -f "$WORK/rcdcap.log" ] && echo "; rcdcap said: $(tail -5 "$WORK/rcdcap.log")")" >&2; exit 1; }
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
rx() { cat "/sys/class/net/$1/statistics/rx_packets"; }
# wait_still CMD: until CMD's output has not changed for 1 s (at most 60 s)
wait_still() { local last=-1 now; for _ in $(seq 1 120); do now=$("$@"); [ "$now" = "$last" ] && return 0; last=$now; sleep 0.5; done; }
new_tap() { ip tuntap add dev "$1" mode tap; echo 1 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6"; ip link set "$1" mtu 9000 up; }
per_m() { python3 -c "import sys; t, n = float(sys.argv[1]), int(sys.argv[2]); print(f'{t / n * 1e6:.2f}' if n else 'n/a')" "$1" "$2"; }
loss() { python3 -c "import sys; o, d = int(sys.argv[1]), int(sys.argv[2]); print(f'{max(0, o - d) / o * 100:.1f}' if o else 'n/a')" "$1" "$2"; }
RESULTS=$WORK/results.tsv; : > "$RESULTS"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$RESULTS"; }   # receiver rate offered delivered cpu_raw cpu_net

echo "building the node and the C writer; generating $PACKETS ERSPAN II IMIX packets"
dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
cc -O2 -o "$WORK/tap_writer" bench/tap_writer.c
python3 bench/gen-erspan-imix.py "$WORK/outer.pcap" "$PACKETS" >/dev/null
# The inner frames for the C writer: the outer Ethernet/IPv4/GRE(+seq)/ERSPAN II headers (14+20+8+8 bytes) cut off.
python3 - "$WORK/outer.pcap" "$WORK/inner.pcap" <<'PY'
import struct, sys
src, dst = open(sys.argv[1], "rb"), open(sys.argv[2], "wb")
dst.write(src.read(24))
while (h := src.read(16)):
    ts, us, cap, orig = struct.unpack("<IIII", h)
    data = src.read(cap)[50:]
    dst.write(struct.pack("<IIII", ts, us, len(data), orig - 50) + data)
PY
veth_into_namespace "$NS" "$IF" "$PEER"
new_tap "$TAP_C"

# One node per build, started once; its pipeline (capture on IF -> decap -> TAP) only runs during its rounds.
node_pipeline() {
  echo "    name = live
    autostart = off
    source { interface = $IF }
    $2
    sinks = [ { type = tap, device = $1 } ]"
}
start_node "$WORK/new" "$(node_pipeline "$TAP_F" "${FABRIC_NICE:+nice = $FABRIC_NICE}")"
NEW_PID=$NODE_PID; NEW_HTTP=$NODE_HTTP
RECEIVERS=()
[ -n "${RCDCAP:-}" ] && RECEIVERS+=(rcdcap)
RECEIVERS+=(fabric)
if [ -n "${FABRIC_BEFORE_DLL:-}" ]; then
  NODE_DLL=$FABRIC_BEFORE_DLL start_node "$WORK/before" "$(node_pipeline "$TAP_B" "")"
  BEFORE_PID=$NODE_PID; BEFORE_HTTP=$NODE_HTTP
  RECEIVERS+=(before)
fi
RECEIVERS+=(tcpdump)
[ -z "${RCDCAP:-}" ] && echo "RCDCAP is not set: running Fabric and tcpdump (and the C floor) only, no RCDCap"

if [ "${CONTEND:-0}" = 1 ]; then
  if command -v stress-ng >/dev/null; then stress-ng --cpu 2 --quiet & BUSY_PIDS+=($!)
  else for _ in 1 2; do sh -c 'while :; do :; done' & BUSY_PIDS+=($!); done; fi
  BUSY_NICE=-15; sleep 2
  echo "contention: two busy loops at nice 0 (pids ${BUSY_PIDS[*]}); tcpreplay at nice $BUSY_NICE"
fi
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); receivers: ${RECEIVERS[*]}; nproc $(nproc); rcdcap/tcpdump nice ${CAPTURE_NICE:-0}; fabric nice ${FABRIC_NICE:-default (-10)}"

replay() {  # replay top|RATE -> sets SENT, PPS
  local speed=--topspeed; [ "$1" != top ] && speed="--pps=$1"
  ${BUSY_NICE:+nice -n "$BUSY_NICE"} ip netns exec "$NS" tcpreplay $speed -i "$PEER" "$WORK/outer.pcap" > "$WORK/replay.out" 2>&1
  SENT=$(awk '/Successful packets:/ {print $3}' "$WORK/replay.out")
  PPS=$(awk '/Rated:/ {for (i = 1; i <= NF; i++) if ($i ~ /^pps/) print int($(i-1))}' "$WORK/replay.out")
}

threads() {  # threads PID: per thread name, run-queue wait and CPU in s (schedstat) -> file
  for t in /proc/"$1"/task/*; do printf '%s\t%s\n' "$(tr ' ' _ < "$t/comm")" "$(cat "$t/schedstat" 2>/dev/null)"; done
}

run_fabric() {  # run_fabric NAME HTTP PID TAP RATE
  local name=$1 http=$2 pid=$3 tap=$4 rate=$5
  curl -sf -X POST "http://127.0.0.1:$http/pipelines/live/start" >/dev/null
  until [ "$(curl -sf "http://127.0.0.1:$http/pipelines/live/stats" | jq -r '.pipelines[0].source.up')" = true ]; do sleep 0.1; done
  sleep 0.5
  local r0 c0 t0 r1 c1 t1 c2
  [ "${PERTHREAD:-0}" = 1 ] && threads "$pid" > "$WORK/th0"
  r0=$(rx "$tap"); c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
  replay "$rate"
  wait_still rx "$tap"
  r1=$(rx "$tap"); c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
  [ "${PERTHREAD:-0}" = 1 ] && threads "$pid" > "$WORK/th1"
  local s; s=$(curl -sf "http://127.0.0.1:$http/pipelines/live/stats" | jq -c '.pipelines[0] | {kernelDropped: .source.kernelDropped, stages: [.stages[] | {stage, dropped: ([.dropped[].packets] | add)}]}')
  # Idle baseline over as long a window, right after, the pipeline still running and no traffic.
  sleep "$(python3 -c "print($t1 - $t0)")"
  c2=$(cpu_ticks "$pid")
  curl -sf -X POST "http://127.0.0.1:$http/pipelines/live/stop" >/dev/null
  local delivered=$((r1 - r0)) raw net
  raw=$(python3 -c "print(($c1 - $c0) / $HZ)"); net=$(python3 -c "print(max(0.0, ($c1 - $c0 - ($c2 - $c1)) / $HZ))")
  record "$name" "$rate" "$SENT" "$delivered" "$raw" "$net"
  echo "  $name: offered $SENT at $PPS pps, delivered $delivered, loss $(loss "$SENT" "$delivered") %, CPU-s/M raw $(per_m "$raw" "$delivered"), net $(per_m "$net" "$delivered") (idle $(python3 -c "print(round(($c2 - $c1) / $HZ / ($t1 - $t0), 3))") CPU-s/s) $s"
  if [ "${PERTHREAD:-0}" = 1 ]; then
    python3 - "$WORK/th0" "$WORK/th1" <<'PY'
import sys
def load(p):
    d = {}
    for line in open(p):
        name, _, rest = line.rstrip("\n").partition("\t")
        if rest:
            run, wait, _ = map(int, rest.split())
            a = d.setdefault(name, [0, 0]); a[0] += run; a[1] += wait
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
rows = sorted(((b[n][0] - a.get(n, [0, 0])[0], b[n][1] - a.get(n, [0, 0])[1], n) for n in b), reverse=True)[:5]
print("    threads (ran s / waited in run queue s): " + ", ".join(f"{n} {r / 1e9:.2f}/{w / 1e9:.2f}" for r, w, n in rows))
PY
  fi
}

run_rcdcap() {  # run_rcdcap RATE
  ${CAPTURE_NICE:+nice -n "$CAPTURE_NICE"} "$RCDCAP" -i "$IF" --erspan --tap-persist --tap-device "$TAP_R" -s 9000 < /dev/null > "$WORK/rcdcap.log" 2>&1 &
  CHILD_PID=$!
  for _ in $(seq 1 100); do [ -e "/sys/class/net/$TAP_R" ] && break; sleep 0.1; done
  echo 1 > "/proc/sys/net/ipv6/conf/$TAP_R/disable_ipv6" 2>/dev/null || true
  ip link set "$TAP_R" mtu 9000 up
  sleep 1
  kill -0 "$CHILD_PID" || { echo "rcdcap exited: $(tail -3 "$WORK/rcdcap.log")" >&2; exit 1; }
  local r0 c0 r1 c1
  r0=$(rx "$TAP_R"); c0=$(cpu_ticks "$CHILD_PID")
  replay "$1"
  wait_still rx "$TAP_R"
  r1=$(rx "$TAP_R"); c1=$(cpu_ticks "$CHILD_PID")
  kill -INT "$CHILD_PID"; wait "$CHILD_PID" 2>/dev/null || true; CHILD_PID=
  local delivered=$((r1 - r0)) raw; raw=$(python3 -c "print(($c1 - $c0) / $HZ)")
  record rcdcap "$1" "$SENT" "$delivered" "$raw" "$raw"
  echo "  rcdcap: offered $SENT at $PPS pps, delivered $delivered, loss $(loss "$SENT" "$delivered") %, CPU-s/M $(per_m "$raw" "$delivered")"
}

run_tcpdump() {  # run_tcpdump RATE
  ${CAPTURE_NICE:+nice -n "$CAPTURE_NICE"} tcpdump -i "$IF" -n -w /dev/null 2> "$WORK/tcpdump.err" &
  CHILD_PID=$!
  until grep -q "listening on" "$WORK/tcpdump.err"; do sleep 0.05; done
  local c0 c1; c0=$(cpu_ticks "$CHILD_PID")
  replay "$1"
  sleep 1
  c1=$(cpu_ticks "$CHILD_PID")
  kill -INT "$CHILD_PID"; wait "$CHILD_PID" 2>/dev/null || true; CHILD_PID=
  local delivered raw; delivered=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump.err"); raw=$(python3 -c "print(($c1 - $c0) / $HZ)")
  record tcpdump "$1" "$SENT" "$delivered" "$raw" "$raw"
  echo "  tcpdump: offered $SENT at $PPS pps, captured $delivered, kernel-dropped $(awk '/dropped by kernel/ {print $1}' "$WORK/tcpdump.err"), loss $(loss "$SENT" "$delivered") %, CPU-s/M $(per_m "$raw" "$delivered")"
}

run_floor() {
  local line cpu frames
  line=$( { TIMEFORMAT='%U %S'; time "$WORK/tap_writer" "$TAP_C" "$WORK/inner.pcap" 1; } 2> "$WORK/floor.time")
  frames=$(sed -E 's/.*frames=([0-9]+).*/\1/' <<<"$line")
  cpu=$(awk '{print $1 + $2}' "$WORK/floor.time")
  record c-floor - "$frames" "$frames" "$cpu" "$cpu"
  echo "  c-floor: $line, CPU-s/M $(per_m "$cpu" "$frames")"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "round $round (load average $(cut -d' ' -f1 /proc/loadavg))"
  run_floor
  for rate in top "$RATE"; do
    for receiver in "${RECEIVERS[@]}"; do
      case $receiver in
        rcdcap) run_rcdcap "$rate" ;;
        fabric) run_fabric fabric "$NEW_HTTP" "$NEW_PID" "$TAP_F" "$rate" ;;
        before) run_fabric before "$BEFORE_HTTP" "$BEFORE_PID" "$TAP_B" "$rate" ;;
        tcpdump) run_tcpdump "$rate" ;;
      esac
    done
  done
done

echo "summary: median [min-max] over $ROUNDS rounds; load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
groups = {}
for name, rate, offered, delivered, raw, net in rows:
    groups.setdefault((name, rate), []).append((int(offered), int(delivered), float(raw), float(net)))
def fmt(values, digits):
    return f"{statistics.median(values):.{digits}f} [{min(values):.{digits}f}-{max(values):.{digits}f}]"
print(f"{'receiver':10} {'rate':>7}  {'delivered':>26}  {'loss %':>18}  {'CPU-s/M raw':>18}  {'CPU-s/M net':>18}")
for (name, rate), runs in groups.items():
    delivered = [d for _, d, _, _ in runs]
    loss = [max(0, o - d) / o * 100 for o, d, _, _ in runs]
    raw = [r / d * 1e6 for _, d, r, _ in runs if d]
    net = [n / d * 1e6 for _, d, _, n in runs if d]
    print(f"{name:10} {rate:>7}  {fmt(delivered, 0):>26}  {fmt(loss, 1):>18}  {fmt(raw, 2) if raw else 'n/a':>18}  {fmt(net, 2) if net else 'n/a':>18}")
PY
