#!/usr/bin/env bash
# Publishes the console (src/Nodes/Fabric.Console) with NativeAOT to artifacts/console/fabric: one native
# linux-x64 executable (no .NET runtime needed) that starts in milliseconds. bin/fabric, test.sh, demo.sh,
# deploy/deb/build-deb.sh and the console tests all run this build.
#   bash scripts/publish-console.sh [--force]
# Skips the publish when artifacts/console/fabric was published from the same inputs: the commit (its id is
# in `fabric --version`) and any uncommitted change to the console's sources, the projects it references
# (Fabric.Configuration, Fabric.Protocols), hocon/fabric.conf and the build props. Needs clang and zlib1g-dev
# (scripts/prereqs.sh installs them). Prints the executable's path on its last line.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/artifacts/console"
exe="$out/fabric"
stamp="$out/.inputs"

inputs=(src/Nodes/Fabric.Console src/Configuration src/Protocols hocon/fabric.conf
  Directory.Build.props Directory.Packages.props src/Directory.Build.props global.json scripts/publish-console.sh)

# What the executable is built from, as one hash; empty outside a git checkout (then it always publishes).
inputs_hash() {
  git -C "$repo" rev-parse --verify -q HEAD >/dev/null 2>&1 || return 0
  {
    git -C "$repo" rev-parse HEAD
    git -C "$repo" diff HEAD --binary -- "${inputs[@]}"
    git -C "$repo" ls-files --others --exclude-standard -z -- "${inputs[@]}" |
      (cd "$repo" && xargs -0 -r sha256sum)
  } | sha256sum | cut -d' ' -f1
}

hash=$(inputs_hash)
if [[ ${1:-} != --force && -n $hash && -x $exe && -f $stamp && $(cat "$stamp") == "$hash" ]]; then
  echo "publish-console.sh: $exe is up to date" >&2
  echo "$exe"
  exit 0
fi

for tool in clang; do
  command -v "$tool" >/dev/null || { echo "publish-console.sh: $tool not found (NativeAOT links with it); run scripts/prereqs.sh" >&2; exit 2; }
done

echo "publish-console.sh: publishing the console with NativeAOT (about a minute, longer under load)" >&2
rm -f "$stamp"
# --artifacts-path: its own obj/ and bin/, so the linux-x64 restore neither disturbs nor is disturbed by
# `dotnet build` in the repository (tests, an IDE) running meanwhile.
dotnet publish "$repo/src/Nodes/Fabric.Console" -c Release -r linux-x64 \
  --artifacts-path "$repo/artifacts/console-build" -o "$out" -nologo -v quiet -clp:ErrorsOnly >&2
[[ -x $exe ]] || { echo "publish-console.sh: the publish left no $exe" >&2; exit 1; }
[[ -n $hash ]] && echo "$hash" > "$stamp"
echo "$exe"
