#!/usr/bin/env bash
# `fabric decap IN OUT` against the copy limit (`cat IN > OUT`) and tcpdump's copy (`tcpdump -r IN -w OUT`) on the
# same generated capture, in the same rotated rounds.
#   bench/decap-vs-tcpdump.sh [PACKETS] [RUNS]      defaults: 5000000 packets, 5 rounds
# Generates a PACKETS-packet ERSPAN II capture whose inner frames are a 7:4:1 IMIX of 64/576/1500 bytes
# (bench/gen-erspan-imix.py, with --expected: the inner frames fabric must write), then runs RUNS rounds of
# cat, tcpdump, fabric (and FABRIC_BEFORE when given), each round starting one command further on, so that no
# command always runs first or after the same neighbour. Every command reads IN from the page cache (warmed once,
# untimed) and writes a new OUT in the same directory: the previous OUT is removed before each command, untimed,
# so that no command pays for freeing another's output pages. Fabric's output is compared with the expected
# inner frames (cmp: 0 bytes may differ) before timing. Prints every wall and CPU time, medians, ranges (min-max),
# the ratios to cat and to tcpdump (goals: fabric <= 2x cat, <= 0.4x tcpdump), and the load average before and after.
# Environment:
#   FABRIC         the fabric command to time (words split on spaces), e.g. artifacts/console/fabric or
#                  "dotnet /path/fabric.dll"; default: the console of this checkout, built in Release into the work dir
#   FABRIC_BEFORE  an older build to time in the same rounds (before/after in one run); default: none
#   BENCH_NICE     run every timed command (cat, tcpdump, fabric alike) at this nice value, e.g. -10 on a machine
#                  shared with other work, to see what each does with the cores it can get (default: not changed)
#   BENCH_DIR      work directory, on tmpfs for the page-cache limit (default: a temp dir under /dev/shm, else /var/tmp;
#                  removed at the end unless given); the generated capture is kept there and reused when given
set -euo pipefail
packets=${1:-5000000}
runs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
if [[ -n ${BENCH_DIR:-} ]]; then
  work=$BENCH_DIR
  keep=1
else
  base=/var/tmp
  [[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
  work=$(mktemp -d "$base/fabric-bench.XXXXXX")
  keep=
fi
mkdir -p "$work"
out=$work/out.pcap
trap 'rm -f "$out" "$work/check.pcap" "$work/time.txt"; [[ -n "$keep" ]] || rm -rf "$work"' EXIT

[[ -x /usr/bin/time ]] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
command -v tcpdump >/dev/null || { echo "bench: needs tcpdump (scripts/prereqs.sh installs it)" >&2; exit 2; }

if [[ -n ${FABRIC:-} ]]; then
  read -ra fabric <<< "$FABRIC"
else
  echo "bench: building fabric (Release)"
  dotnet build "$root/src/Nodes/Fabric.Console" -c Release -nologo -v quiet -clp:ErrorsOnly -o "$work/fabric-bin" >/dev/null
  fabric=("$work/fabric-bin/fabric")
fi
before=()
[[ -n ${FABRIC_BEFORE:-} ]] && read -ra before <<< "$FABRIC_BEFORE"

input=$work/erspan-imix-$packets.pcap
expected=$work/erspan-imix-$packets.inner.pcap
if [[ ! -f $input || ! -f $expected ]]; then
  echo "bench: generating $packets ERSPAN II IMIX packets and their expected inner frames"
  python3 "$here/gen-erspan-imix.py" "$input" "$packets" --expected "$expected"
fi
size=$(stat -c %s "$input")
echo "bench: input $input, $size bytes; work dir $work ($(stat -f -c %T "$work"))"
cat "$input" > /dev/null   # warm the page cache once, untimed

# Correctness first: fabric's output is the expected inner frames, byte for byte.
check() {
  local name=$1; shift
  rm -f "$work/check.pcap"
  "$@" decap "$input" "$work/check.pcap" > /dev/null
  if ! cmp -s "$work/check.pcap" "$expected"; then
    echo "bench: $name's output differs from the expected inner frames ($(cmp "$work/check.pcap" "$expected" 2>&1 | head -1))" >&2
    exit 1
  fi
  echo "bench: $name: output identical to the expected inner frames ($packets frames, 0 differ)"
  rm -f "$work/check.pcap"
}
check fabric "${fabric[@]}"
(( ${#before[@]} )) && check fabric-before "${before[@]}"

# Wall time and CPU time (user + system) of one command, writing a new OUT: "WALL CPU".
measure() {
  rm -f "$out"
  sync   # untimed: on a disk, no command pays for the previous one's write-back (no-op on tmpfs)
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" ${BENCH_NICE:+nice -n "$BENCH_NICE"} "$@" > /dev/null 2>&1
  local wall user sys
  read -r wall user sys < "$work/time.txt"
  rm -f "$out"
  echo "$wall $(echo "$user + $sys" | bc -l)"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%.2f-%.2f", lo, hi}'; }

names=(cat tcpdump fabric)
(( ${#before[@]} )) && names+=(fabric-before)
run_one() {
  case $1 in
    cat) measure sh -c 'cat "$1" > "$2"' sh "$input" "$out" ;;
    tcpdump) measure tcpdump -r "$input" -w "$out" ;;
    fabric) measure "${fabric[@]}" decap "$input" "$out" ;;
    fabric-before) measure "${before[@]}" decap "$input" "$out" ;;
  esac
}

[[ -n ${BENCH_NICE:-} ]] && echo "bench: every timed command runs at nice $BENCH_NICE"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A walls cpus
for ((i = 0; i < runs; i++)); do
  line="bench: round $((i + 1)):"
  for ((k = 0; k < ${#names[@]}; k++)); do
    name=${names[(i + k) % ${#names[@]}]}
    read -r w c < <(run_one "$name")
    walls[$name]+="$w " cpus[$name]+="$c "
    line+=$(printf ' %s %.2f s (cpu %.2f)' "$name" "$w" "$c")
  done
  echo "$line; load $(cut -d' ' -f1 /proc/loadavg)"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A med
printf 'bench: %s packets, %s bytes, %d rounds (rotated); load average %s before, %s after (%d CPUs)\n' \
  "$packets" "$size" "$runs" "$load_before" "$load_after" "$(nproc)"
for name in "${names[@]}"; do
  read -ra w <<< "${walls[$name]}"
  read -ra c <<< "${cpus[$name]}"
  med[$name]=$(median "${w[@]}")
  printf 'bench: %-13s wall median %.3f s (range %s, %.2f Mpps), cpu median %.2f s (range %s)\n' \
    "$name" "${med[$name]}" "$(range "${w[@]}")" "$(echo "$packets / ${med[$name]} / 1000000" | bc -l)" \
    "$(median "${c[@]}")" "$(range "${c[@]}")"
done
for name in fabric fabric-before; do
  [[ -n ${med[$name]:-} ]] || continue
  printf 'bench: %-13s / cat %.3f (goal <= 2), / tcpdump %.3f (goal <= 0.4)\n' "$name" \
    "$(echo "${med[$name]} / ${med[cat]}" | bc -l)" "$(echo "${med[$name]} / ${med[tcpdump]}" | bc -l)"
done
if [[ -n ${med[fabric-before]:-} ]]; then
  printf 'bench: fabric / fabric-before %.3f\n' "$(echo "${med[fabric]} / ${med[fabric-before]}" | bc -l)"
fi
