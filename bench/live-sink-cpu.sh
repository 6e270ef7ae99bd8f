#!/usr/bin/env bash
# CPU seconds of the receiving fabric-node per million frames delivered, per delivery path, same replay:
# capture on a veth -> decap -> one sink: a classic pcap file, a pcapng file, or a TAP.
#   sudo bash bench/live-sink-cpu.sh [COPIES] [RUNS]     (COPIES x 4 frames of zeek/erspanII.pcap; default 250000)
# Each run starts one node per path in turn (the paths alternate, run after run), waits until its source is up,
# measures the node's idle CPU over IDLE seconds (default 3), then replays the capture from a namespace with
# tcpreplay --topspeed and waits until the node's counters stop moving. CPU = utime + stime of the node process
# (/proc/PID/stat) over the replay, raw and minus the idle rate over the same time. Files go to BENCH_DIR (default a
# temp dir under /dev/shm: the page-cache limit, not a disk's write-back). Prints one line per run and path, then
# the medians. tcpdump -w FILE on the same replay is timed the same way, as the reference for the file paths.
set -euo pipefail
cd "$(dirname "$0")/.."
COPIES=${1:-250000}; RUNS=${2:-3}; IDLE=${IDLE:-3}
base=/tmp; [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
WORK=$(mktemp -d "${BENCH_DIR:-$base}/fd-delivery-XXXX")
NODE_DLL=$WORK/node/fabric-node.dll
source bench/node.sh
ID=$((RANDOM % 9000 + 1000)); NS=fdd${ID}a; IF=fdd${ID}c; PEER=fdd${ID}p; TAP=fdd${ID}t
TCPDUMP_PID=
cleanup() {
  stop_node || true
  [ -n "$TCPDUMP_PID" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  ip link del "$IF" 2>/dev/null || true; ip link del "$TAP" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"
}
trap cleanup EXIT

dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES"
veth_into_namespace "$NS" "$IF" "$PEER"
tick=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tick" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$1/stat"; }

sink_of() {
  case $1 in
    pcap) echo "{ type = pcap, directory = \"$WORK/files\", format = pcap }" ;;
    pcapng) echo "{ type = pcap, directory = \"$WORK/files\", format = pcapng }" ;;
    tap) echo "{ type = tap, device = $TAP }" ;;
  esac
}

replay() {
  ip netns exec "$NS" tcpreplay --topspeed -i "$PEER" "$WORK/outer.pcap" > "$WORK/replay.out" 2>&1
  awk '/Successful packets:/ {print $3}' "$WORK/replay.out"
}

declare -A raw net
paths=(pcap pcapng tap tcpdump)
for run in $(seq 1 "$RUNS"); do
  for ((k = 0; k < ${#paths[@]}; k++)); do
    path=${paths[(run + k) % ${#paths[@]}]}
    rm -rf "$WORK/files"; mkdir -p "$WORK/files"
    if [ "$path" = tcpdump ]; then
      : > "$WORK/tcpdump.err"
      tcpdump -i "$IF" -n -w "$WORK/files/tcpdump.pcap" 2> "$WORK/tcpdump.err" &
      TCPDUMP_PID=$!
      until grep -q "listening on" "$WORK/tcpdump.err"; do sleep 0.05; done
      c0=$(cpu_of "$TCPDUMP_PID"); t0=$(date +%s.%N)
      sent=$(replay)
      sleep 1
      c1=$(cpu_of "$TCPDUMP_PID"); t1=$(date +%s.%N)
      kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; TCPDUMP_PID=
      delivered=$(awk '/packets captured/ {print $1}' "$WORK/tcpdump.err")
      idle=0
    else
      start_node "$WORK/node-run" "    name = live
    source { interface = $IF }
    sinks = [ $(sink_of "$path") ]"
      until [ "$(stats live | jq -r .source.up)" = true ]; do sleep 0.1; done
      sleep 1
      i0=$(cpu_of "$NODE_PID"); sleep "$IDLE"; i1=$(cpu_of "$NODE_PID")
      before=$(stats live)
      c0=$(cpu_of "$NODE_PID"); t0=$(date +%s.%N)
      sent=$(replay)
      last=-1
      for _ in $(seq 1 120); do
        sleep 0.5
        s=$(stats live)
        now=$(jq '.stages[-1].out.packets + ([.stages[].dropped[].packets] | add)' <<<"$s")
        [ "$now" = "$last" ] && break
        last=$now
      done
      c1=$(cpu_of "$NODE_PID"); t1=$(date +%s.%N)
      after=$(stats live)
      delivered=$(( $(jq '.stages[-1].out.packets' <<<"$after") - $(jq '.stages[-1].out.packets' <<<"$before") ))
      idle=$(echo "($i1 - $i0) / $IDLE * ($t1 - $t0)" | bc -l)
      stop_node
      ip link del "$TAP" 2>/dev/null || true
    fi
    r=$(echo "($c1 - $c0) / $delivered * 1000000" | bc -l)
    n=$(echo "($c1 - $c0 - $idle) / $delivered * 1000000" | bc -l)
    raw[$path]+="$r " net[$path]+="$n "
    printf 'run %d %-7s: offered %s, delivered %s, cpu %.2f s over %.1f s (idle %.2f s) -> %.2f CPU-s/M raw, %.2f minus idle; load %s\n' \
      "$run" "$path" "$sent" "$delivered" "$(echo "$c1 - $c0" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$idle" "$r" "$n" \
      "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for path in "${paths[@]}"; do
  read -ra r <<< "${raw[$path]}"; read -ra n <<< "${net[$path]}"
  printf 'median %-7s: %.2f CPU-s per million frames raw, %.2f minus idle (%d runs)\n' "$path" "$(median "${r[@]}")" "$(median "${n[@]}")" "$RUNS"
done
