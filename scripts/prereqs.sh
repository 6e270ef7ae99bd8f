#!/usr/bin/env bash
# Installs what Fabric's build, demo and tests need on Debian 12, idempotently, and starts
# PostgreSQL. Safe to run again: it only asks apt when a package is missing.
set -euo pipefail

packages=(
  libpcap0.8 libpcap0.8-dev      # capture (SharpPcap loads libpcap.so)
  tcpdump tshark tcpreplay       # independent consumers, decoders and load
  python3-scapy                  # test traffic
  openvswitch-switch             # real OVS for the mirror tests (userspace datapath)
  postgresql                     # PostgreSQL 15: the multi-node journal
  afl++                          # fuzzing
  iproute2 jq tmux procps psmisc # namespaces, veths, taps; scripts
  ansible python3-apt prometheus # deploy/ansible checks (apt module); promtool for /metrics and rules
  debootstrap systemd-container curl # the .deb under a real systemd (nspawn container), /ready from its netns
  clang zlib1g-dev               # NativeAOT publish of the console (scripts/publish-console.sh)
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "prereqs: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's openvswitch-switch may start the system OVS on install; the tests never use it
# (they run their own ovsdb-server/ovs-vswitchd in a temporary directory).

# PostgreSQL 15: started, with the role the tests use (they create and drop their own databases).
if command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster 15 main start >/dev/null 2>&1 || true   # "already running" is fine
  for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  # From /: postgres may not enter the directory this runs in (a clone under /root or a temp dir).
  (cd / && { su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='fabric'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE fabric LOGIN PASSWORD 'fabric' CREATEDB\""; })
fi

# Local .NET tools: PowerShell (cluster.ps1) and SharpFuzz (fuzzing).
cd "$(dirname "$0")/.."
dotnet tool restore >/dev/null
