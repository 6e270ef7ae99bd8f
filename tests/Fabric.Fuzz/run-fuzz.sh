#!/usr/bin/env bash
# Fuzzes Fabric's parsers of outside input with SharpFuzz + AFL++: the decapsulator (raw frames), the
# capture-file reader (whole files), the OVSDB client's receive path (a server's byte stream) and the
# configuration loader with the pipeline/site/mirror settings readers (HOCON text).
#   tests/Fabric.Fuzz/run-fuzz.sh TARGET SECONDS     TARGET: decap | pcap | ovsdb | hocon | stream | all (SECONDS split between the five)
# stream: what a peer sends a stream source (records: header, limits, LZ4/zstd payload, frames).
# Builds, instruments Fabric.Protocols.dll (and for hocon Fabric.Configuration.dll, the loader, and
# Fabric.Actors.dll, the settings readers), seeds from
# the real captures in tests/corpus (decap, pcap), hocon/fabric.conf and hocon/examples (hocon),
# plus tests/Fabric.Fuzz/seeds/TARGET and regressions/TARGET, runs afl-fuzz for SECONDS, prints
# executions and crashes, and exits 1 if any crash was found (the crashing inputs are copied to
# $FABRIC_FUZZ_OUT/crashes, default a temp dir; add them to regressions/TARGET once fixed).
# Environment: FABRIC_FUZZ_OUT (work dir to keep), FABRIC_CORPUS (capture corpus directory),
# FABRIC_FUZZ_EXECS (also stop a target after about this many executions: afl-fuzz -E).
# docs/fuzzing.md says how to run it for hours.
set -euo pipefail

usage() { echo "usage: $0 decap|pcap|ovsdb|hocon|stream|all SECONDS" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
target=$1
seconds=$2
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 5 ]] || { echo "run-fuzz.sh: SECONDS must be a whole number of at least 5" >&2; exit 2; }
case $target in decap|pcap|ovsdb|hocon|stream|all) ;; *) usage ;; esac
all_targets=(decap pcap ovsdb hocon stream)

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v afl-fuzz >/dev/null || { echo "run-fuzz.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }

corpus=${FABRIC_CORPUS:-$root/tests/corpus}
[[ -f $corpus/INDEX.tsv ]] || { echo "run-fuzz.sh: no capture corpus at $corpus (no INDEX.tsv; set FABRIC_CORPUS)" >&2; exit 2; }

work=${FABRIC_FUZZ_OUT:-}
cleanup=0
if [[ -z $work ]]; then work=$(mktemp -d /tmp/fabric-fuzz.XXXXXX); cleanup=1; fi
mkdir -p "$work"
bin=$work/bin

echo "run-fuzz: building and instrumenting in $work"
(cd "$root" && dotnet tool restore >/dev/null)
rm -rf "$bin"
dotnet publish "$here/Fabric.Fuzz.csproj" -c Release -o "$bin" -nologo -v quiet -clp:ErrorsOnly

targets=$target
[[ $target == all ]] && targets="${all_targets[*]}"
# Seeds first: the instrumented assembly only runs under afl-fuzz.
for t in $targets; do
  seeds=$work/seeds-$t
  rm -rf "$seeds" && mkdir -p "$seeds"
  dotnet "$bin/Fabric.Fuzz.dll" seed "$t" "$corpus" "$seeds"
  for extra in "$here/seeds/$t" "$here/regressions/$t"; do
    if [[ -d $extra ]]; then find "$extra" -type f ! -name '*.md' -exec cp {} "$seeds/" \; ; fi
  done
  if [[ $t == hocon ]]; then
    cp "$root/hocon/fabric.conf" "$seeds/reference-fabric.conf"
    for example in "$root"/hocon/examples/*.conf; do cp "$example" "$seeds/example-$(basename "$example")"; done
  fi
done

(cd "$root" && dotnet sharpfuzz "$bin/Fabric.Protocols.dll" >/dev/null)
if [[ " $targets " == *" hocon "* ]]; then
  # The loader and settings readers. Not Akka.dll (its HOCON parser): instrumented, its caches made the
  # coverage unstable (8 %) and AFL++ spent its time re-calibrating at about 5 executions/s.
  (cd "$root" && dotnet sharpfuzz "$bin/Fabric.Configuration.dll" >/dev/null)
  (cd "$root" && dotnet sharpfuzz "$bin/Fabric.Actors.dll" >/dev/null)
fi

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_SKIP_BIN_CHECK=1
export AFL_NO_AFFINITY=1 AFL_AUTORESUME=1
export DOTNET_TieredPGO=0 DOTNET_CLI_TELEMETRY_OPTOUT=1

total_crashes=0
run_one() {
  local t=$1 secs=$2
  local seeds=$work/seeds-$t findings=$work/findings-$t
  echo "run-fuzz: afl-fuzz $t for $secs s"
  # -V: stop after SECONDS; -t: per-input timeout (ms) generous for .NET; -m none: the CLR reserves lots of address space.
  local limit=()
  [[ -n ${FABRIC_FUZZ_EXECS:-} ]] && limit=(-E "$FABRIC_FUZZ_EXECS")
  afl-fuzz -V "$secs" "${limit[@]}" -t 5000 -m none -i "$seeds" -o "$findings" -- "$(command -v dotnet)" "$bin/Fabric.Fuzz.dll" "$t" > "$work/afl-$t.log" 2>&1 || {
    echo "run-fuzz: afl-fuzz failed for $t; last lines of $work/afl-$t.log:" >&2
    tail -n 15 "$work/afl-$t.log" >&2
    exit 1
  }
  local stats=$findings/default/fuzzer_stats
  local execs crashes hangs
  execs=$(awk -F: '/^execs_done/ {gsub(/ /,"",$2); print $2}' "$stats")
  crashes=$(awk -F: '/^(saved_crashes|unique_crashes)/ {gsub(/ /,"",$2); print $2}' "$stats" | head -n1)
  hangs=$(awk -F: '/^(saved_hangs|unique_hangs)/ {gsub(/ /,"",$2); print $2}' "$stats" | head -n1)
  # Hangs (an input over the 5 s limit) are reported, not failed on: a loaded machine makes some.
  echo "run-fuzz: $t: $execs executions, ${crashes:-0} crashes, ${hangs:-0} hangs (inputs in $findings/default/hangs)"
  if [[ ${crashes:-0} -gt 0 ]]; then
    mkdir -p "$work/crashes/$t"
    find "$findings/default/crashes" -type f -name 'id:*' -exec cp {} "$work/crashes/$t/" \;
    echo "run-fuzz: crashing inputs kept in $work/crashes/$t" >&2
    cleanup=0
    total_crashes=$((total_crashes + crashes))
  fi
}

if [[ $target == all ]]; then
  share=$((seconds / ${#all_targets[@]}))
  ((share >= 5)) || share=5
  for t in "${all_targets[@]}"; do run_one "$t" "$share"; done
else
  run_one "$target" "$seconds"
fi

if ((cleanup)); then rm -rf "$work"; fi
if ((total_crashes > 0)); then
  echo "run-fuzz: $total_crashes crash(es) found" >&2
  exit 1
fi
echo "run-fuzz: no crash"
