#!/usr/bin/env bash
# Builds fabric_<version>_amd64.deb: fabric-node published self-contained for linux-x64 and the
# console's NativeAOT executable (no .NET runtime needed on the sensor for either), installed under /usr/lib/fabric/{node,console} with
# /usr/bin/fabric-node and /usr/bin/fabric links, the fabric-node systemd unit, the default
# /etc/fabric/fabric.conf (a conffile) and the maintainer scripts (fabric system user,
# /var/lib/fabric, purge).
#
# usage: deploy/deb/build-deb.sh [--version V] [--output DIR] [--publish-dir DIR]
#   --version      package version (default: 0.1.0+git<short commit>, or 0.1.0 outside git)
#   --output       where the .deb is written (default: artifacts/deb under the repository)
#   --publish-dir  reuse (or keep) the publish output there: a directory that already holds
#                  node/fabric-node and console/fabric is packaged as it is, not published again
# Prints the path of the .deb on its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
version=""
output="$repo/artifacts/deb"
publish=""

while (($#)); do
  case "$1" in
    --version) version="${2:?--version needs a value}"; shift 2 ;;
    --output) output="${2:?--output needs a directory}"; shift 2 ;;
    --publish-dir) publish="${2:?--publish-dir needs a directory}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument \"$1\" (see --help)" >&2; exit 2 ;;
  esac
done

if [[ -z "$version" ]]; then
  if commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)"; then
    version="0.1.0+git$commit"
  else
    version="0.1.0"
  fi
fi
if ! [[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]]; then
  echo "build-deb.sh: --version \"$version\" is not a Debian version (must start with a digit)" >&2
  exit 2
fi

work="$(mktemp -d /tmp/fabric-deb.XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [[ -z "$publish" ]]; then
  publish="$work/publish"
fi

# 1. Publish: the node self-contained for linux-x64 and ReadyToRun (Fabric.Node.csproj); the console is the NativeAOT executable of
#    scripts/publish-console.sh (artifacts/console/fabric, the one bin/fabric and the tests run),
#    published there when it is missing or out of date. Each in its own directory.
if [[ ! -x "$publish/node/fabric-node" ]]; then
  echo "build-deb.sh: publishing Fabric.Node" >&2
  # --artifacts-path: its own obj/ and bin/, so a build running meanwhile in the
  # repository (tests, an IDE) neither sees nor disturbs the linux-x64 restore.
  dotnet publish "$repo/src/Nodes/Fabric.Node" -c Release -r linux-x64 --self-contained \
    --artifacts-path "$work/artifacts" -p:DebugType=none -p:GenerateDocumentationFile=false -o "$publish/node" -v quiet -nologo >&2
fi
if [[ ! -x "$publish/console/fabric" ]]; then
  console="$(bash "$repo/scripts/publish-console.sh")"
  install -D -m 0755 "$console" "$publish/console/fabric"
fi

# 2. Package tree.
root="$work/root"
install -d "$root/DEBIAN" "$root/usr/lib/fabric" "$root/usr/bin" "$root/etc/fabric" \
  "$root/lib/systemd/system" "$root/usr/share/doc/fabric"
cp -a "$publish/node" "$root/usr/lib/fabric/node"
cp -a "$publish/console" "$root/usr/lib/fabric/console"
rm -f "$root"/usr/lib/fabric/*/*.pdb
ln -s ../lib/fabric/node/fabric-node "$root/usr/bin/fabric-node"
ln -s ../lib/fabric/console/fabric "$root/usr/bin/fabric"
install -m 0644 "$here/fabric-node.service" "$root/lib/systemd/system/fabric-node.service"
install -m 0640 "$here/fabric.conf" "$root/etc/fabric/fabric.conf"
install -m 0644 "$repo/hocon/fabric.conf" "$root/usr/share/doc/fabric/fabric.reference.conf"
for script in postinst prerm postrm; do
  install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
echo "/etc/fabric/fabric.conf" > "$root/DEBIAN/conffiles"

size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
sed -e "s/@VERSION@/$version/" -e "s/@SIZE@/$size/" "$here/debian/control" > "$root/DEBIAN/control"

# 3. Build. gzip -1: the payload is mostly already-dense .NET assemblies; xz would take minutes
#    for a few percent.
mkdir -p "$output"
deb="$output/fabric_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >&2
echo "$deb"
