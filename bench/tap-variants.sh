#!/usr/bin/env bash
# Issue 16, item 3: what it costs to hand frames to a TAP, per way of doing it, on the same inner frames, in
# rotated rounds: bench/tap_variants.c (write, writev, io_uring, hard-linked io_uring, IFF_MULTI_QUEUE with two
# writers, IFF_NAPI, IFF_NAPI_FRAGS) and Fabric's own TAP write path (Fabric.Benchmarks tap-sink: write() per
# frame, and the io_uring batch the sink uses by default). Prints each run and, per way, the median and range of
# CPU seconds per million frames (the writer's own user + system time, which includes the kernel's receive
# path for the frames) and the ratio to plain write().
#   sudo bash bench/tap-variants.sh [ROUNDS] [COPIES]     (COPIES x 4 frames of zeek/erspanII.pcap)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}; COPIES=${2:-250000}
WORK=$(mktemp -d /tmp/fd-tapvar-XXXX)
TAP=fdtv$RANDOM
cleanup() { ip link del "$TAP" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
source bench/node.sh   # corpus()

dotnet build -c Release tests/Fabric.Benchmarks -o "$WORK/bench" -nologo -v quiet -clp:ErrorsOnly >/dev/null
cc -O2 -pthread -o "$WORK/tap_variants" bench/tap_variants.c
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES" --inner "$WORK/inner.pcap" >/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

modes=(write writev uring uringlinked mq napi napifrags fabric-write fabric-ring)
declare -A cpu
for round in $(seq 1 "$ROUNDS"); do
  # rotate the order each round so no way always runs first
  for k in $(seq 0 $((${#modes[@]} - 1))); do
    m=${modes[$(((k + round) % ${#modes[@]}))]}
    dev=$TAP$k
    case $m in
      fabric-*) line=$(dotnet "$WORK/bench/Fabric.Benchmarks.dll" tap-sink "$dev" "$WORK/inner.pcap" 1 "${m#fabric-}")
                ip link del "$dev" 2>/dev/null || true ;;   # tap-sink makes it persistent
      *) line=$("$WORK/tap_variants" "$m" "$dev" "$WORK/inner.pcap" 1) ;;
    esac
    echo "round $round $m: $line"
    cpu[$m]+="$(sed -E 's/.*cpu_s_per_m=([0-9.]+).*/\1/' <<<"$line") "
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
base=$(median "${cpu[write]}")
printf '%-12s %8s %17s %8s\n' way "CPU-s/M" range "x write"
for m in "${modes[@]}"; do
  med=$(median "${cpu[$m]}")
  range=$(printf '%s\n' ${cpu[$m]} | sort -g | sed -n '1p;$p' | paste -sd- -)
  awk -v m="$m" -v v="$med" -v r="$range" -v b="$base" 'BEGIN {printf "%-12s %8.3f %17s %8.2f\n", m, v, r, v / b}'
done
