#!/usr/bin/env bash
# `fabric decap IN OUT` against `tcpdump -r IN -w OUT` on the same generated capture, same run.
#   bench/decap-vs-tcpdump.sh [PACKETS] [RUNS]      defaults: 5000000 packets, 5 runs of each
# Generates a PACKETS-packet ERSPAN II capture whose inner frames are a 7:4:1 IMIX of 64/576/1500
# bytes (bench/gen-erspan-imix.py), builds the console in Release, then alternates the two commands
# RUNS times each (tcpdump first, then fabric, then tcpdump...), all reading the file from the page
# cache (one untimed warm-up read first) and writing to the same directory, with an untimed `sync`
# before each command so that neither pays for the other's write-back. Prints every wall time,
# the medians and the ratio fabric/tcpdump (goal <= 1.0). Work files go to $BENCH_DIR (default a
# temp dir under /var/tmp, removed at the end); the two outputs go to $BENCH_OUT (default the same
# dir; e.g. BENCH_OUT=/dev/shm takes the disk's write-back out of the measurement).
set -euo pipefail
packets=${1:-5000000}
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=${BENCH_DIR:-$(mktemp -d /var/tmp/fabric-bench.XXXXXX)}
keep=${BENCH_DIR:+1}
out=${BENCH_OUT:-$work}
mkdir -p "$work" "$out"
trap 'rm -f "$out/fabric-out.pcap" "$out/tcpdump-out.pcap"; [[ -n "$keep" ]] || rm -rf "$work"' EXIT

echo "bench: building fabric (Release)"
dotnet build "$root/src/Nodes/Fabric.Console" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$work/fabric-bin" >/dev/null
fabric=$work/fabric-bin/fabric

input=$work/erspan-imix-$packets.pcap
if [[ ! -f $input ]]; then
  echo "bench: generating $packets ERSPAN II IMIX packets"
  python3 "$here/gen-erspan-imix.py" "$input" "$packets"
fi
size=$(stat -c %s "$input")
echo "bench: input $input, $size bytes"
cat "$input" > /dev/null   # warm the page cache once, untimed

[[ -x /usr/bin/time ]] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
# Wall time and CPU time (user + system) of one command: "WALL CPU".
measure() {
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" "$@" > /dev/null 2>&1
  local wall user sys
  read -r wall user sys < "$work/time.txt"
  echo "$wall $(echo "$user + $sys" | bc -l)"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Correctness first: every packet is ERSPAN, so fabric must write as many frames as it reads.
written=$("$fabric" decap "$input" "$out/fabric-out.pcap" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["written"])')
[[ $written == "$packets" ]] || { echo "bench: fabric wrote $written frames, expected $packets" >&2; exit 1; }

tcpdump_times=() fabric_times=() tcpdump_cpu=() fabric_cpu=()
for ((i = 1; i <= runs; i++)); do
  # sync (untimed) before each command: each starts with no dirty pages left by the other one.
  sync
  read -r t tc < <(measure tcpdump -r "$input" -w "$out/tcpdump-out.pcap")
  sync
  read -r f fc < <(measure "$fabric" decap "$input" "$out/fabric-out.pcap")
  tcpdump_times+=("$t") fabric_times+=("$f") tcpdump_cpu+=("$tc") fabric_cpu+=("$fc")
  printf 'bench: run %d: tcpdump %.2f s (cpu %.2f s), fabric %.2f s (cpu %.2f s)\n' "$i" "$t" "$tc" "$f" "$fc"
done

mt=$(median "${tcpdump_times[@]}")
mf=$(median "${fabric_times[@]}")
mtc=$(median "${tcpdump_cpu[@]}")
mfc=$(median "${fabric_cpu[@]}")
ratio=$(echo "$mf / $mt" | bc -l)
printf 'bench: %s packets, %s bytes, %d runs each (alternating), outputs in %s\n' "$packets" "$size" "$runs" "$out"
printf 'bench: median tcpdump -r IN -w OUT : %.3f s (%.2f Mpps)\n' "$mt" "$(echo "$packets / $mt / 1000000" | bc -l)"
printf 'bench: median fabric decap IN OUT  : %.3f s (%.2f Mpps)\n' "$mf" "$(echo "$packets / $mf / 1000000" | bc -l)"
printf 'bench: ratio fabric/tcpdump        : %.3f (goal <= 1.0)\n' "$ratio"
printf 'bench: median cpu (user+sys): tcpdump %.2f s, fabric %.2f s, ratio %.3f\n' "$mtc" "$mfc" "$(echo "$mfc / $mtc" | bc -l)"
