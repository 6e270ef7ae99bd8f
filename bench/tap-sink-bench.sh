#!/usr/bin/env bash
# TAP sink frames/s, like for like: Fabric's TAP sink write path (TapDevice.Write per frame, frames
# already in memory) versus bench/tap_writer.c, the same inner frames into the same TAP, runs alternated.
#   sudo bash bench/tap-sink-bench.sh [RUNS] [COPIES]     (COPIES x 4 frames of zeek/erspanII.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}; COPIES=${2:-250000}
WORK=$(mktemp -d /tmp/fd-tapsink-XXXX)
TAP=fdts$RANDOM
cleanup() { ip link del "$TAP" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
source bench/node.sh   # corpus()

dotnet build -c Release tests/Fabric.Benchmarks -o "$WORK/bench" -nologo -v quiet -clp:ErrorsOnly >/dev/null
cc -O2 -o "$WORK/tap_writer" bench/tap_writer.c
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES" --inner "$WORK/inner.pcap"
ip tuntap add dev "$TAP" mode tap
echo 1 > "/proc/sys/net/ipv6/conf/$TAP/disable_ipv6"
ip link set "$TAP" mtu 9000 up

c=(); f=()
for run in $(seq 1 "$RUNS"); do
  line=$("$WORK/tap_writer" "$TAP" "$WORK/inner.pcap" 1); echo "run $run: $line"
  c+=("$(sed -E 's/.*frames_per_s=([0-9]+).*/\1/' <<<"$line")")
  line=$(dotnet "$WORK/bench/Fabric.Benchmarks.dll" tap-sink "$TAP" "$WORK/inner.pcap" 1); echo "run $run: $line"
  f+=("$(sed -E 's/.*frames_per_s=([0-9]+).*/\1/' <<<"$line")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
mc=$(median "${c[@]}"); mf=$(median "${f[@]}")
echo "median c-writer frames/s: $mc"
echo "median fabric tap-sink frames/s: $mf"
awk -v f="$mf" -v c="$mc" 'BEGIN {printf "ratio fabric tap-sink / c-writer: %.2f\n", f / c}'
