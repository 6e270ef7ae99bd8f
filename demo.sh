#!/usr/bin/env bash
# Fabric's main job on one machine: installs what it needs, builds, and brings up a local
# 3-node cluster on loopback (no seed nodes: Cluster Bootstrap), then shows its members.
#   bash demo.sh          start (or show, if it is running)
#   bash demo.sh down     stop exactly the processes it started
# Run as root on Debian 12 with the .NET 10 SDK.
set -euo pipefail
cd "$(dirname "$0")"

case "${1:-up}" in
  up)
    bash scripts/prereqs.sh
    dotnet pwsh ./cluster.ps1 up -Nodes 3
    echo
    echo "The cluster keeps running. Try:"
    echo "  dotnet pwsh ./cluster.ps1 status      # members through the console"
    echo "  dotnet pwsh ./cluster.ps1 logs -Node 1"
    echo "  bash demo.sh down                      # stop it"
    ;;
  down)
    dotnet tool restore >/dev/null
    dotnet pwsh ./cluster.ps1 down
    ;;
  *)
    echo "usage: bash demo.sh [up|down]" >&2
    exit 2
    ;;
esac
