#!/usr/bin/env bash
# Runs every Fabric test: installs what is missing (apt packages, local .NET tools), starts
# PostgreSQL, builds, runs each test project, fuzzes briefly, and prints one summary line.
# Run as root (tests create network namespaces, veths, TAP devices and OVS bridges).
# It also clones this repository's HEAD into an empty temporary directory and runs the Protocols
# tests and the fuzz seeds there, to show a plain clone needs nothing beside it.
# Environment: FABRIC_TEST_PROJECTS (space-separated test projects to run; default all),
# FABRIC_FUZZ_SECONDS (default 60), FABRIC_TEST_FRESH_CLONE=0 (skip the fresh-clone step).
set -uo pipefail
cd "$(dirname "$0")"
root=$(pwd)

if [[ $EUID -ne 0 ]]; then
  echo "test.sh: run as root (the tests create namespaces, veths and TAP devices)" >&2
  exit 2
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export FABRIC_TEST_PG="Host=127.0.0.1;Port=5432;Username=fabric;Password=fabric"

# Each step's wall time, printed with the summary (what dominates a run).
timings=()
step_name="" step_start=$SECONDS
step() {
  [[ -n $step_name ]] && timings+=("$step_name $((SECONDS - step_start)) s")
  step_name=$1 step_start=$SECONDS
  [[ -n $1 ]] && echo "== $1"
  return 0
}

step "prereqs"
bash scripts/prereqs.sh || { echo "test.sh: installing prerequisites failed" >&2; exit 1; }
step "build"

dotnet build Fabric.sln -c Release -nologo -v quiet -clp:ErrorsOnly || { echo "test.sh: build failed" >&2; exit 1; }

results=$(mktemp -d)
failed_projects=()
# Unit tests first, then process-level tests (real nodes, namespaces, OVS) one project at a time:
# they share 2 cores and must not starve each other.
projects=${FABRIC_TEST_PROJECTS-Fabric.Protocols.Tests Fabric.Actors.Tests Fabric.Console.Tests Fabric.Node.Tests Fabric.System.Tests}
# The console as it ships (NativeAOT, artifacts/console/fabric): bin/fabric and the console and system tests
# run it (skipped when it is up to date, and when only other projects run, as in the fresh-clone step).
if [[ " $projects " == *" Fabric.Console.Tests "* || " $projects " == *" Fabric.System.Tests "* ]]; then
  step "publish console (NativeAOT)"
  bash scripts/publish-console.sh >/dev/null || { echo "test.sh: publishing the console failed" >&2; exit 1; }
fi
for project in $projects; do
  step "$project"
  if ! dotnet test "tests/$project" -c Release --no-build -nologo \
        --logger "trx;LogFileName=$project.trx" --results-directory "$results" \
        --logger "console;verbosity=minimal"; then
    failed_projects+=("$project")
  fi
done

# A plain clone stands on its own: HEAD cloned into an empty directory with nothing beside it
# (no shared folder anywhere above it), where this same script runs the Protocols tests (they read the
# corpus on every capture) and the fuzz seeds (built from the corpus).
clone_rc=0
if [[ ${FABRIC_TEST_FRESH_CLONE:-1} != 0 ]]; then
  step "fresh clone (HEAD, into an empty directory)"
  clone_parent=$(mktemp -d /tmp/fabric-clone.XXXXXX)
  clone_dir=$clone_parent/fabric
  if [[ -n "$(git status --porcelain 2>/dev/null)" ]]; then
    echo "test.sh: note: uncommitted changes are not in the clone (it is of HEAD)"
  fi
  outside=""
  for dir in "$clone_parent" $(p=$clone_parent; while [[ $p != / ]]; do p=$(dirname "$p"); echo "$p"; done); do
    [[ -e $dir/shared ]] && outside="$dir/shared"
  done
  if [[ -n $outside ]]; then
    echo "test.sh: the fresh clone would have $outside above it" >&2; clone_rc=1
  elif git clone -q "$root" "$clone_dir"; then
    (cd "$clone_dir" && env -u FABRIC_CORPUS FABRIC_TEST_FRESH_CLONE=0 FABRIC_TEST_PROJECTS=Fabric.Protocols.Tests \
        FABRIC_FUZZ_SECONDS=20 bash test.sh 2>&1) | sed -u 's/^/  clone| /'
    clone_rc=${PIPESTATUS[0]}
  else
    echo "test.sh: git clone of $root failed" >&2; clone_rc=1
  fi
  rm -rf "$clone_parent"
fi

fuzz_rc=0
if [[ -x tests/Fabric.Fuzz/run-fuzz.sh ]]; then
  step "fuzz (brief; docs/fuzzing.md says how to run it for hours)"
  tests/Fabric.Fuzz/run-fuzz.sh all "${FABRIC_FUZZ_SECONDS:-60}" || fuzz_rc=$?
fi

# One summary line over every project, from the trx files.
read -r passed failed skipped < <(python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(path).getroot().find(".//{*}Counters")
    if c is None:
        continue
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    root = ET.parse(path).getroot()
    s += sum(1 for r in root.iter() if r.tag.endswith("UnitTestResult") and r.get("outcome") == "NotExecuted")
print(p, f, s)
PY
)
rm -rf "$results"

step ""
printf -v joined '%s; ' "${timings[@]}"
echo "Steps (wall time): ${joined%; }"
echo "Tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
if ((${#failed_projects[@]})); then
  echo "test.sh: failing projects: ${failed_projects[*]}" >&2
  exit 1
fi
if ((clone_rc != 0)); then
  echo "test.sh: the fresh clone's tests failed (exit $clone_rc; its output is above, prefixed 'clone|')" >&2
  exit 1
fi
if ((fuzz_rc != 0)); then
  echo "test.sh: fuzzing found a crash or could not run (exit $fuzz_rc)" >&2
  exit 1
fi
if [[ "${passed:-0}" == 0 ]]; then
  echo "test.sh: no test ran" >&2
  exit 1
fi
