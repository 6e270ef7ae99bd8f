#!/usr/bin/env bash
# Start-up of the console: the published NativeAOT `fabric` (scripts/publish-console.sh, what bin/fabric and the
# .deb run) against the JIT build of the same sources (`dotnet build -c Release`, its apphost), in one run.
#   bash bench/console-startup.sh [ROUNDS] [PACKETS] [DECAP_RUNS]     defaults: 31 rounds, 1000000 packets, 5 runs
# 1. `fabric --version`, ROUNDS rounds, AOT and JIT alternating (which goes first alternates too); wall time of
#    each exec to exit, in ms. Goal: AOT under 50 ms.
# 2. `fabric decap IN OUT` of a PACKETS-packet ERSPAN II IMIX capture (bench/gen-erspan-imix.py), AOT, JIT and
#    `tcpdump -r IN -w OUT` (a plain copy, no decap) alternating DECAP_RUNS times; input read from the page cache
#    (one untimed warm-up read), outputs on $BENCH_OUT (default /dev/shm: tmpfs), an untimed sync before each.
#    Goal: AOT <= 0.5x tcpdump's copy. PACKETS=0 skips this part.
# Prints every time, the medians and ranges, the ratios, and the load average before and after.
set -euo pipefail
rounds=${1:-31}
packets=${2:-1000000}
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d /var/tmp/fabric-startup.XXXXXX)
out=${BENCH_OUT:-/dev/shm}
trap 'rm -rf "$work"; rm -f "$out/fcs-$$-"*.pcap' EXIT

echo "bench: load before: $(uptime)"
aot=$(bash "$root/scripts/publish-console.sh")
dotnet build "$root/src/Nodes/Fabric.Console" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$work/jit" >/dev/null
jit=$work/jit/fabric
[[ "$("$aot" --version)" == "$("$jit" --version)" ]] || { echo "bench: the AOT and JIT builds are of different commits" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {print lo "-" hi}'; }
# Wall time of one command in ms (EPOCHREALTIME around fork+exec+exit), its output discarded.
ms() {
  local start=$EPOCHREALTIME
  "$@" > /dev/null 2>&1
  echo "$EPOCHREALTIME $start" | awk '{printf "%.1f", ($1 - $2) * 1000}'
}

echo "bench: part 1: fabric --version, $rounds rounds, AOT ($aot) and JIT ($jit) alternating"
"$aot" --version >/dev/null; "$jit" --version >/dev/null   # untimed: both files in the page cache
aot_ms=() jit_ms=()
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then a=$(ms "$aot" --version); j=$(ms "$jit" --version); else j=$(ms "$jit" --version); a=$(ms "$aot" --version); fi
  aot_ms+=("$a") jit_ms+=("$j")
done
echo "bench: --version AOT ms: ${aot_ms[*]}"
echo "bench: --version JIT ms: ${jit_ms[*]}"
am=$(median "${aot_ms[@]}") jm=$(median "${jit_ms[@]}")
printf 'bench: --version median AOT %s ms (range %s), JIT %s ms (range %s), AOT/JIT %.3f\n' \
  "$am" "$(range "${aot_ms[@]}")" "$jm" "$(range "${jit_ms[@]}")" "$(echo "$am / $jm" | bc -l)"

if ((packets > 0)); then
  input=$work/erspan-imix-$packets.pcap
  echo "bench: part 2: generating $packets ERSPAN II IMIX packets"
  python3 "$here/gen-erspan-imix.py" "$input" "$packets"
  cat "$input" > /dev/null
  written=$("$aot" decap "$input" "$out/fcs-$$-aot.pcap" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["written"])')
  [[ $written == "$packets" ]] || { echo "bench: fabric (AOT) wrote $written frames, expected $packets" >&2; exit 1; }
  "$jit" decap "$input" "$out/fcs-$$-jit.pcap" > /dev/null
  cmp "$out/fcs-$$-aot.pcap" "$out/fcs-$$-jit.pcap" || { echo "bench: AOT and JIT outputs differ" >&2; exit 1; }
  echo "bench: input $(stat -c %s "$input") bytes; AOT and JIT outputs identical ($written frames); outputs in $out"
  sec() { sync; echo "$(ms "$@")" | awk '{printf "%.3f", $1 / 1000}'; }
  t_aot=() t_jit=() t_tcp=()
  for ((i = 1; i <= runs; i++)); do
    t=$(sec tcpdump -r "$input" -w "$out/fcs-$$-tcpdump.pcap")
    a=$(sec "$aot" decap "$input" "$out/fcs-$$-aot.pcap")
    j=$(sec "$jit" decap "$input" "$out/fcs-$$-jit.pcap")
    t_tcp+=("$t") t_aot+=("$a") t_jit+=("$j")
    echo "bench: run $i: tcpdump -r -w $t s, fabric decap AOT $a s, JIT $j s"
  done
  ta=$(median "${t_aot[@]}") tj=$(median "${t_jit[@]}") tt=$(median "${t_tcp[@]}")
  printf 'bench: decap %d packets median: AOT %s s (range %s), JIT %s s (range %s), tcpdump -r -w %s s (range %s)\n' \
    "$packets" "$ta" "$(range "${t_aot[@]}")" "$tj" "$(range "${t_jit[@]}")" "$tt" "$(range "${t_tcp[@]}")"
  printf 'bench: ratios of medians: AOT/tcpdump %.3f (goal <= 0.5), JIT/tcpdump %.3f, AOT/JIT %.3f\n' \
    "$(echo "$ta / $tt" | bc -l)" "$(echo "$tj / $tt" | bc -l)" "$(echo "$ta / $tj" | bc -l)"
fi
echo "bench: load after: $(uptime)"
