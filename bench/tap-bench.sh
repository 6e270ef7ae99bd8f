#!/usr/bin/env bash
# TAP sink frames/s: Fabric (file source at top speed -> decap -> TAP sink, in a fabric-node) versus a
# small C program that write()s the same inner frames into a TAP. Same frames, same machine, runs
# alternated; prints each run, the medians and the ratio.
#   sudo bash bench/tap-bench.sh [RUNS] [COPIES]     (COPIES x 4 frames of zeek/erspanII.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; COPIES=${2:-250000}
WORK=$(mktemp -d /tmp/fd-tapbench-XXXX)
NODE_DLL=$WORK/node/fabric-node.dll
source bench/node.sh
TAPC=fdbc$RANDOM; TAPF=fdbf$RANDOM
cleanup() { stop_node; ip link del "$TAPC" 2>/dev/null || true; ip link del "$TAPF" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
cc -O2 -o "$WORK/tap_writer" bench/tap_writer.c
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES" --inner "$WORK/inner.pcap"
FRAMES=$((COPIES * 4))
ip tuntap add dev "$TAPC" mode tap
echo 1 > "/proc/sys/net/ipv6/conf/$TAPC/disable_ipv6"
ip link set "$TAPC" mtu 9000 up

c_rates=(); f_rates=()
for run in $(seq 1 "$RUNS"); do
  line=$("$WORK/tap_writer" "$TAPC" "$WORK/inner.pcap" 1)
  c=$(sed -E 's/.*frames_per_s=([0-9]+).*/\1/' <<<"$line"); c_rates+=("$c")
  echo "run $run: $line"

  start_node "$WORK/n$run" "    name = bench
    autostart = off
    source { file = \"$WORK/outer.pcap\", speed = topspeed }
    sinks = [ { type = tap, device = $TAPF } ]"
  curl -sf -X POST "http://127.0.0.1:$NODE_HTTP/pipelines/bench/start" >/dev/null
  t0=$(date +%s.%N)
  while [ "$(stats bench | jq -r .state)" != finished ]; do
    kill -0 "$NODE_PID" 2>/dev/null || { echo "fabric-node exited" >&2; exit 1; }
    [ "$(python3 -c "print(int($(date +%s.%N) - $t0 > 300))")" = 1 ] && { echo "not finished within 300 s: $(stats bench | jq -c .)" >&2; exit 1; }
    sleep 0.02
  done
  t1=$(date +%s.%N)
  out=$(stats bench | jq '.stages[2].out.packets'); dropped=$(stats bench | jq '[.stages[].dropped[].packets] | add')
  f=$(python3 -c "print(round($out / ($t1 - $t0)))"); f_rates+=("$f")
  echo "run $run: fabric frames=$out dropped=$dropped seconds=$(python3 -c "print(round($t1 - $t0, 3))") frames_per_s=$f (of $FRAMES)"
  stop_node
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc=$(median "${c_rates[@]}"); mf=$(median "${f_rates[@]}")
echo "median c-writer frames/s: $mc"
echo "median fabric  frames/s: $mf"
python3 -c "print('ratio fabric / c-writer: %.2f' % ($mf / $mc))"
