#!/usr/bin/env bash
# Fabric's whole story on one machine, live, in about a minute after the build:
#   bash demo.sh          (= up) installs what it needs, builds, and starts
#   the Proxmox half:
#     - a real Open vSwitch in .demo/ovs (ovsdb-server, ovs-vswitchd --disable-system: the userspace
#       datapath) whose bridge vmbr1 (datapath_type=netdev) and VM taps live in the namespace
#       fxdemo-pve ("the Proxmox host"); "VMs" are the namespaces fxdemo-vm101, -vm102, -vm103, each
#       NIC a veth whose host end has the Proxmox name: tap101i1 (net1) and tap101i6 (net6) of VM 101,
#       tap102i1 of VM 102, tap103i1 of VM 103, the sensor;
#     - VM 101 talks to VM 102 over net1 (UDP echo) and sends on net6;
#     - the mirror seed-mirror declared in .demo/node.conf (vm:101/net1, vm:101/net6 -> vm:103/net1),
#       kept by fabric-node; tcpdump on the sensor's net1 shows VM 101's traffic;
#     - then VM 101 restarts the Proxmox way (ovs-vsctl del-port, the taps go, new taps, add-port) and
#       `fabric mirrors history seed-mirror` shows the repair and its latency in milliseconds;
#   the cloud half:
#     - namespace fxdemo-src, joined to this namespace by the veth pair fxdemo0 (here) / fxdemo1 (there);
#       in it a kernel vxlan device fxdemo-vx (VNI 42, remote = fxdemo0's address, dstport 4789) and a
#       python3 sender of 5 UDP datagrams/s through it (AWS Traffic Mirroring's VXLAN), and tcpreplay
#       of the corpus capture tests/corpus/zeek/erspanII.pcap (ERSPAN type II) onto fxdemo1, 2 frames/s;
#     - the pipeline `demo` of the same fabric-node: source fxdemo0, decap, sinks TAP fxdemo-tap and
#       rotating PCAP files under .demo/pcap; its live stats and tcpdump on the TAP.
#   bash demo.sh down     stops exactly what `up` started (pids from .demo/state and .demo/ovs, the
#                         names above); safe to run twice.
# Run as root on Debian 12 with the .NET 10 SDK. Addresses: 172.31.254.0/30 on the cloud veths,
# 10.254.42.0/24 inside the tunnel, 10.254.101.0/24 and 10.254.106.0/24 between the VMs; they exist only
# on these links and namespaces, so the traffic never leaves this machine.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
repo=$(pwd)

# The cloud half.
NS=fxdemo-src
VETH=fxdemo0          # root side: the pipeline's interface
PEER=fxdemo1          # namespace side
VXLAN=fxdemo-vx
TAP=fxdemo-tap
ROOT_ADDR=172.31.254.1
NS_ADDR=172.31.254.2
INNER_ADDR=10.254.42.1
INNER_PEER=10.254.42.2
INNER_PEER_MAC=02:fd:de:00:00:02
ERSPAN_CAPTURE="$repo/tests/corpus/zeek/erspanII.pcap"   # 4 frames: ICMP 23.0.0.2 <-> 23.0.0.3 in ERSPAN II
# The Proxmox half.
PVE_NS=fxdemo-pve     # the "Proxmox host": OVS's datapath, vmbr1 and the VMs' taps
BRIDGE=vmbr1
SITE=pve
MIRROR=seed-mirror
# One line per VM NIC: vmid, n (netN, tap<vmid>i<n>), the guest's address (- = none), the guest's MAC.
VM_NICS="101 1 10.254.101.1/24 02:fd:00:65:01:01
101 6 10.254.106.1/24 02:fd:00:65:01:06
102 1 10.254.101.2/24 02:fd:00:66:01:01
103 1 - 02:fd:00:67:01:01"
VM_NAMESPACES="fxdemo-vm101 fxdemo-vm102 fxdemo-vm103"
NET6_PEER=10.254.106.2           # VM 101's net6 traffic goes here (a static neighbour; nobody answers)
NET6_PEER_MAC=02:fd:00:6a:06:02
TRAFFIC_SECONDS=600   # the traffic generators stop by themselves after 10 minutes
STATE_DIR="$repo/.demo"
STATE="$STATE_DIR/state"
OVS_DIR="$STATE_DIR/ovs"
NODE_DLL="$repo/src/Nodes/Fabric.Node/bin/Release/net10.0/fabric-node.dll"

fail() { echo "demo.sh: $*" >&2; exit 1; }
step() { echo; echo "==> $*"; }
# Prints a command as the reader would type it, then runs it.
show() { echo "\$ $*"; "$@"; }

[[ $EUID -eq 0 ]] || fail "run as root (it creates network namespaces, veth pairs, a TAP device and an Open vSwitch)"

# A pid is ours only while its command line still has the expected word (guards against pid reuse).
is_ours() {
  local pid=$1 word=$2 cmd
  [[ -n "$pid" ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmd" == *"$word"* ]]
}

state_get() { [[ -f "$STATE" ]] && sed -n "s/^$1=//p" "$STATE" | head -n1 || true; }

stop_pid() {
  local name=$1 pid=$2 word=$3
  is_ours "$pid" "$word" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 75); do is_ours "$pid" "$word" || break; sleep 0.2; done
  if is_ours "$pid" "$word"; then
    echo "$name (pid $pid) did not stop within 15 s: killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  echo "stopped $name (pid $pid)"
}

link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
ns_exists() { [[ -e "/run/netns/$1" ]]; }
run() { "$@" || fail "failed: $*"; }
vsctl() { ovs-vsctl --db="unix:$OVS_DIR/db.sock" --timeout=10 "$@"; }
# An OVS daemon's pid: from its pidfile in .demo/ovs, else as recorded in the state file ($2).
ovs_pid() { cat "$OVS_DIR/$1.pid" 2>/dev/null || state_get "$2"; }
all_namespaces() { echo "$NS $PVE_NS $VM_NAMESPACES"; }

# Seconds since the build finished, e.g. "12.3".
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

down() {
  stop_pid "VM 101's traffic" "$(state_get traffic_vm101_pid)" vm-traffic.py
  stop_pid "VM 102's echo" "$(state_get traffic_vm102_pid)" vm-traffic.py
  stop_pid "VXLAN traffic generator" "$(state_get traffic_vxlan_pid)" traffic.py
  stop_pid "ERSPAN replay" "$(state_get traffic_erspan_pid)" erspanII.pcap
  stop_pid fabric-node "$(state_get node_pid)" fabric-node
  # OVS: the pids its daemons wrote into .demo/ovs (also when the state file is gone).
  stop_pid ovs-vswitchd "$(ovs_pid ovs-vswitchd vswitchd_pid)" "$OVS_DIR"
  stop_pid ovsdb-server "$(ovs_pid ovsdb-server ovsdb_pid)" "$OVS_DIR"
  if link_exists "$TAP"; then ip link del dev "$TAP" && echo "deleted TAP $TAP"; fi
  if link_exists "$VETH"; then ip link del dev "$VETH" && echo "deleted veth $VETH"; fi
  local ns
  for ns in $(all_namespaces); do
    if ns_exists "$ns"; then ip netns del "$ns" && echo "deleted namespace $ns (with its links)"; fi
  done
  rm -rf "$STATE_DIR"
}

port_free() { python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The pipeline's JSON from the node's management API, or nothing while it is not reachable.
pipeline_json() { curl -fsS --max-time 3 "$FABRIC_NODE/pipelines/demo/stats" 2>/dev/null || true; }
mirror_health() { curl -fsS --max-time 3 "$FABRIC_NODE/mirrors/$MIRROR" 2>/dev/null | jq -r '.status.health // empty' 2>/dev/null || true; }
# The mirror's repairs recorded at or after $1 (an ISO 8601 UTC time), oldest first, one text a line.
repairs_since() {
  curl -fsS --max-time 3 "$FABRIC_NODE/mirrors/$MIRROR/history?limit=200" 2>/dev/null |
    jq -r --arg since "$1" '[.entries[] | select(.kind == "repair" and .at >= $since)] | sort_by(.at) | .[].text' 2>/dev/null || true
}
# Whether the OVS Mirror row selects VM 101's current ports (both directions) again.
mirror_holds_vm101() {
  local src dst tap uuid
  src=$(vsctl get Mirror "$MIRROR" select_src_port 2>/dev/null) || return 1
  dst=$(vsctl get Mirror "$MIRROR" select_dst_port 2>/dev/null) || return 1
  for tap in tap101i1 tap101i6; do
    uuid=$(vsctl get Port "$tap" _uuid 2>/dev/null) || return 1
    [[ "$src" == *"$uuid"* && "$dst" == *"$uuid"* ]] || return 1
  done
}

fabric() { "$repo/bin/fabric" "$@"; }

create_cloud_network() {
  run ip netns add "$NS"
  run ip netns exec "$NS" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  run ip netns exec "$NS" ip link set lo up
  run ip link add "$VETH" type veth peer name "$PEER"
  run sysctl -q -w "net.ipv6.conf.$VETH.disable_ipv6=1"   # the kernel adds no traffic of its own
  run ip link set "$PEER" netns "$NS"
  run ip addr add "$ROOT_ADDR/30" dev "$VETH"
  run ip link set "$VETH" mtu 9000 up
  run ip netns exec "$NS" ip addr add "$NS_ADDR/30" dev "$PEER"
  run ip netns exec "$NS" ip link set "$PEER" mtu 9000 up
  run ip netns exec "$NS" ip link add "$VXLAN" type vxlan id 42 remote "$ROOT_ADDR" local "$NS_ADDR" dstport 4789 dev "$PEER"
  run ip netns exec "$NS" ip addr add "$INNER_ADDR/24" dev "$VXLAN"
  run ip netns exec "$NS" ip link set "$VXLAN" up
  run ip netns exec "$NS" ip neigh replace "$INNER_PEER" lladdr "$INNER_PEER_MAC" dev "$VXLAN" nud permanent
}

# A VM NIC as qemu-server makes it: the host end tap<vmid>i<n> in the Proxmox namespace, the guest's
# end net<n> (with the guest's fixed MAC and address) in the VM's namespace; then add-port to vmbr1.
vm_nic_up() {
  local vmid=$1 n=$2 addr=$3 mac=$4 vm="fxdemo-vm$1" tap="tap$1i$2"
  run ip -n "$PVE_NS" link add "$tap" type veth peer name "net$n" netns "$vm"
  run ip -n "$vm" link set "net$n" address "$mac"
  run ip -n "$PVE_NS" link set "$tap" up
  run ip -n "$vm" link set "net$n" up
  [[ "$addr" == - ]] || run ip -n "$vm" addr add "$addr" dev "net$n"
  if [[ "$vmid/$n" == 101/6 ]]; then
    run ip -n "$vm" neigh replace "$NET6_PEER" lladdr "$NET6_PEER_MAC" dev net6 nud permanent
  fi
  run vsctl add-port "$BRIDGE" "$tap"
}

create_proxmox_host() {
  local ns
  for ns in $PVE_NS $VM_NAMESPACES; do
    run ip netns add "$ns"
    run ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    run ip -n "$ns" link set lo up
  done
  mkdir -p "$OVS_DIR"
  ((${#OVS_DIR} < 96)) || fail "$OVS_DIR is too long a path for OVS's unix sockets (about 100 characters at most): use a shorter clone path"
  # The tests' way (tests/Fabric.Actors.Tests/Mirrors/Sandbox/OvsSandbox.cs): everything of OVS in one
  # directory, nothing in /var/run/openvswitch; ovs-vswitchd inside the Proxmox namespace, so its
  # datapath (ovs-netdev), vmbr1 and the taps exist only there.
  export OVS_RUNDIR="$OVS_DIR" OVS_DBDIR="$OVS_DIR" OVS_LOGDIR="$OVS_DIR" OVS_SYSCONFDIR="$OVS_DIR"
  run ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  run ovsdb-server "$OVS_DIR/conf.db" --remote="punix:$OVS_DIR/db.sock" --pidfile="$OVS_DIR/ovsdb-server.pid" \
    --unixctl="$OVS_DIR/ovsdb-server.ctl" --log-file="$OVS_DIR/ovsdb-server.log" --detach -vconsole:off 2>>"$OVS_DIR/start.log"
  run vsctl --no-wait init
  run ip netns exec "$PVE_NS" ovs-vswitchd "unix:$OVS_DIR/db.sock" --disable-system --pidfile="$OVS_DIR/ovs-vswitchd.pid" \
    --unixctl="$OVS_DIR/ovs-vswitchd.ctl" --log-file="$OVS_DIR/ovs-vswitchd.log" --detach -vconsole:off 2>>"$OVS_DIR/start.log"
  { echo "ovsdb_pid=$(cat "$OVS_DIR/ovsdb-server.pid")"; echo "vswitchd_pid=$(cat "$OVS_DIR/ovs-vswitchd.pid")"; } >>"$STATE"
  run vsctl add-br "$BRIDGE" -- set bridge "$BRIDGE" datapath_type=netdev
  while read -r vmid n addr mac; do vm_nic_up "$vmid" "$n" "$addr" "$mac"; done <<<"$VM_NICS"
}

start_background() {
  local key=$1; shift
  setsid nohup "$@" >"$STATE_DIR/$key.log" 2>&1 </dev/null &
  echo "traffic_${key}_pid=$!" >>"$STATE"
}

up() {
  step "prerequisites"
  bash scripts/prereqs.sh
  local tool
  for tool in curl jq tcpdump tcpreplay ovs-vsctl ovsdb-server ovs-vswitchd; do
    command -v "$tool" >/dev/null || fail "$tool is missing (bash scripts/prereqs.sh installs it)"
  done
  [[ -f "$ERSPAN_CAPTURE" ]] || fail "$ERSPAN_CAPTURE is missing (the corpus ships with the repository)"

  local ns leftover=0
  for ns in $(all_namespaces); do ns_exists "$ns" && leftover=1; done
  if [[ -f "$STATE" || -d "$OVS_DIR" ]] || link_exists "$TAP" || link_exists "$VETH" || ((leftover)); then
    step "cleaning up a previous demo"
    down
  fi

  step "building fabric-node (Release) and publishing fabric (NativeAOT, artifacts/console/fabric)"
  if ! out=$(dotnet build src/Nodes/Fabric.Node/Fabric.Node.csproj -c Release -nologo -v quiet -clp:ErrorsOnly 2>&1); then
    echo "$out" >&2
    fail "build of src/Nodes/Fabric.Node/Fabric.Node.csproj failed"
  fi
  if ! out=$(bash scripts/publish-console.sh 2>&1); then
    echo "$out" >&2
    fail "publishing the console (scripts/publish-console.sh) failed"
  fi
  echo "built; the commands are bin/fabric and bin/fabric-node (export PATH=\"$repo/bin:\$PATH\" to type fabric …)"
  T0=$EPOCHREALTIME

  mkdir -p "$STATE_DIR/data" "$STATE_DIR/pcap"
  : >"$STATE"

  step "the Proxmox host: Open vSwitch in $OVS_DIR (userspace datapath), bridge $BRIDGE in namespace $PVE_NS"
  create_proxmox_host
  echo "VM 101: tap101i1 = net1 (10.254.101.1), tap101i6 = net6 (10.254.106.1); VM 102: tap102i1 (10.254.101.2);"
  echo "VM 103, the sensor: tap103i1 (no address). Each VM is a namespace (fxdemo-vm101 …), each NIC a veth."
  show ovs-vsctl --db="unix:$OVS_DIR/db.sock" list-ports "$BRIDGE"

  step "the cloud: namespace $NS: veth $PEER <-> $VETH, kernel vxlan $VXLAN (VNI 42 -> $ROOT_ADDR:4789)"
  create_cloud_network

  local http remoting
  http=8558
  port_free "$http" || http=$(free_port)
  remoting=$(free_port)
  export FABRIC_NODE="http://127.0.0.1:$http"
  cat >"$STATE_DIR/node.conf" <<EOF
# Written by demo.sh; removed by 'bash demo.sh down'.
akka.cluster.roles = [capture, supervisor, site-$SITE]
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $remoting }
akka.discovery.config.services.fabric-demo.endpoints = [ "127.0.0.1:$http" ]
fabric {
  data-dir = "$STATE_DIR/data"
  management.http { host = 127.0.0.1, port = $http }
  cluster.discovery { method = config, service-name = fabric-demo, required-contact-points = 1 }
  persistence.provider = sqlite
  # The Proxmox half: this node is the mirror supervisor and the agent of site $SITE (its OVS).
  sites = [ { name = $SITE, backend = ovs, ovsdb = "unix:$OVS_DIR/db.sock" } ]
  mirrors = [
    { name = $MIRROR, site = $SITE, bridge = $BRIDGE, sources = ["vm:101/net1", "vm:101/net6"], direction = both, output = "vm:103/net1" }
  ]
  # The cloud half: tunnelled traffic in on $VETH, decapsulated frames out.
  pipelines = [
    {
      name = demo
      source { interface = $VETH }
      sinks = [
        { type = tap, device = $TAP, mtu = 9000 }
        { type = pcap, directory = "$STATE_DIR/pcap", rotate-size = 1MiB, keep-size = 16MiB, flush-interval = 200ms }
      ]
    }
  ]
}
EOF

  step "starting fabric-node (roles capture, supervisor, site-$SITE; config $STATE_DIR/node.conf)"
  local node_pid
  # setsid + nohup: the node outlives this script and gets no terminal signals; $! is its pid.
  setsid nohup "$repo/bin/fabric-node" --config "$STATE_DIR/node.conf" >"$STATE_DIR/node.log" 2>&1 </dev/null &
  node_pid=$!
  { echo "node_pid=$node_pid"; echo "management=$FABRIC_NODE"; echo "log=$STATE_DIR/node.log"; } >>"$STATE"

  local started=$SECONDS json=""
  until json=$(pipeline_json) && [[ "$(jq -r '.pipelines[0].state // empty' <<<"$json" 2>/dev/null)" == running ]] && link_exists "$TAP"; do
    is_ours "$node_pid" fabric-node || fail "fabric-node exited before its pipeline ran"
    ((SECONDS - started < 60)) || fail "pipeline demo was not running within 60 s"
    sleep 0.2
  done
  echo "fabric-node ready at +$(elapsed) s (management $FABRIC_NODE)"

  step "traffic: VXLAN 5/s and ERSPAN II replayed 2 frames/s (for $TRAFFIC_SECONDS s); VM 101 <-> VM 102 and VM 101 net6 (5/s each) once their mirror is in place"
  cat >"$STATE_DIR/vm-traffic.py" <<EOF
# Written by demo.sh: the VMs' traffic. "echo ADDR": answer UDP on ADDR:7; "send": VM 101's datagrams.
# SO_NO_CHECK (11): UDP checksum 0 ("none", valid in IPv4). A veth leaves the checksum to an offload that
# OVS's userspace datapath does not do, so the receiving VM would drop the datagram as corrupt.
import socket, sys, time
end = time.time() + $TRAFFIC_SECONDS
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, 11, 1)
    return s
if sys.argv[1] == "echo":
    s = udp()
    s.bind((sys.argv[2], 7))
    s.settimeout(1)
    while time.time() < end:
        try:
            data, peer = s.recvfrom(2048)
            s.sendto(b"echo: " + data, peer)
        except OSError:
            pass
else:
    socks = {dst: udp() for dst in ("10.254.101.2", "$NET6_PEER")}
    for s in socks.values():
        s.setblocking(False)
    i = 0
    while time.time() < end:
        for dst, s in socks.items():
            try:
                s.sendto(b"vm101 datagram %d" % i, (dst, 7))
            except OSError:
                pass  # no route while VM 101's NICs are re-created (the restart)
            try:
                while s.recv(2048):
                    pass  # VM 102's answers
            except OSError:
                pass
        i += 1
        time.sleep(0.2)
EOF
  cat >"$STATE_DIR/traffic.py" <<EOF
# Written by demo.sh: steady, known inner traffic (UDP to $INNER_PEER:5000..5009, 64/200/1000 bytes).
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sizes = [64, 200, 1000]
for i in range($TRAFFIC_SECONDS * 5):
    s.sendto(bytes([i % 256]) * sizes[i % 3], ("$INNER_PEER", 5000 + i % 10))
    time.sleep(0.2)
EOF
  start_background vxlan ip netns exec "$NS" python3 "$STATE_DIR/traffic.py"
  start_background erspan ip netns exec "$NS" tcpreplay -q -i "$PEER" --pps=2 --loop=$((TRAFFIC_SECONDS / 2)) "$ERSPAN_CAPTURE"

  started=$SECONDS
  until [[ "$(curl -fsS --max-time 3 "$FABRIC_NODE/pipelines" 2>/dev/null | jq -r '.pipelines[0].delivered // 0' 2>/dev/null)" -gt 0 ]]; do
    ((SECONDS - started < 20)) || fail "no packet delivered within 20 s"
    sleep 0.1
  done
  local first_frame
  first_frame=$(elapsed)
  echo "first decapsulated frame delivered at +$first_frame s"

  # ---- The Proxmox half ------------------------------------------------------------------------
  step "the mirror, declared in $STATE_DIR/node.conf: $MIRROR = vm:101/net1, vm:101/net6 -> vm:103/net1 on $BRIDGE"
  started=$SECONDS
  until [[ "$(mirror_health)" == healthy ]]; do
    ((SECONDS - started < 30)) || fail "mirror $MIRROR not healthy within 30 s"
    sleep 0.2
  done
  show fabric mirrors list || fail "fabric mirrors list failed"

  # The VMs start talking once the mirror is in place. OVS's userspace datapath (this demo's; a
  # Proxmox host runs the kernel one) was seen to keep a flow cached before a mirror was made with
  # its old actions, unmirrored, until the flow expires; new flows, as after the restart below,
  # are mirrored at once.
  start_background vm102 ip netns exec fxdemo-vm102 python3 "$STATE_DIR/vm-traffic.py" echo 10.254.101.2
  start_background vm101 ip netns exec fxdemo-vm101 python3 "$STATE_DIR/vm-traffic.py" send

  step "the sensor VM 103 sees VM 101's traffic (net1 and net6): tcpdump on its NIC (net1 in fxdemo-vm103)"
  # Until it has seen each of the three (VM 101's datagrams on net1 and on net6, VM 102's answer on
  # net1) and at least 6 frames: the first frames after the mirror is made can all be of one NIC.
  (timeout 20 ip netns exec fxdemo-vm103 tcpdump -l -n -e -i net1 udp 2>&1 || true) | awk '
    { print; fflush() }
    / 10\.254\.101\.1\.[0-9]+ > 10\.254\.101\.2\.7: UDP/ { net1 = 1 }
    / 10\.254\.106\.1\.[0-9]+ > 10\.254\.106\.2\.7: UDP/ { net6 = 1 }
    / 10\.254\.101\.2\.7 > 10\.254\.101\.1\.[0-9]+: UDP/ { reply = 1 }
    / UDP/ { frames++ }
    net1 && net6 && reply && frames >= 6 { all = 1; exit }
    END { print (all ? "the sensor saw VM 101 on net1 and net6, and VM 102 answering" : "the sensor saw " frames + 0 " frames, not all three kinds") }' | tee "$STATE_DIR/sensor-before.txt"
  local seen
  seen=$(tail -n 1 "$STATE_DIR/sensor-before.txt")
  [[ $seen == "the sensor saw VM 101 on net1 and net6, and VM 102 answering" ]] || fail "the sensor did not see VM 101's net1 and net6 traffic and VM 102's answer within 20 s"

  step "VM 101 restarts the Proxmox way: qemu-server's del-port, the old taps go with the old qemu, new taps, add-port"
  local since
  since=$(date -u +%Y-%m-%dT%H:%M:%S.%3N)
  show ovs-vsctl --db="unix:$OVS_DIR/db.sock" del-port "$BRIDGE" tap101i1 -- del-port "$BRIDGE" tap101i6 || fail "del-port failed"
  show ip -n "$PVE_NS" link del tap101i1 || fail "ip link del failed"
  show ip -n "$PVE_NS" link del tap101i6 || fail "ip link del failed"
  echo "\$ ip -n $PVE_NS link add tap101i1 type veth peer name net1 netns fxdemo-vm101 …; ovs-vsctl add-port $BRIDGE tap101i1 (and tap101i6)"
  while read -r vmid n addr mac; do
    if [[ $vmid == 101 ]]; then vm_nic_up "$vmid" "$n" "$addr" "$mac"; fi
  done <<<"$VM_NICS"

  started=$SECONDS
  until mirror_holds_vm101 && [[ -n "$(repairs_since "$since")" && "$(mirror_health)" == healthy ]]; do
    ((SECONDS - started < 30)) || fail "$MIRROR was not repaired within 30 s of VM 101's restart"
    sleep 0.1
  done
  local repair_shown
  step "the repairs, in the supervisor's journal: fabric mirrors history $MIRROR"
  show fabric mirrors history "$MIRROR" --limit 8 || fail "fabric mirrors history failed"
  repair_shown=$(elapsed)
  echo "VM 101's restart, repaired on OVS's change events (the seed's cron took a minute or more):"
  repairs_since "$since" | sed 's/^/  /'

  step "the sensor sees the restarted VM 101 again: tcpdump on VM 103's net1"
  timeout 20 ip netns exec fxdemo-vm103 tcpdump -c 4 -l -n -e -i net1 udp and src host 10.254.101.1 2>&1 ||
    fail "the sensor did not see VM 101's frames again within 20 s"

  # ---- The cloud half --------------------------------------------------------------------------
  step "the cloud half, live: fabric pipelines stats demo (2 samples, rates over 2 s)"
  for _ in 1 2; do show fabric pipelines stats demo --interval 2 || fail "fabric pipelines stats failed"; done

  step "the decapsulated VXLAN frames on the TAP: tcpdump -c 5 -e -n -i $TAP udp"
  timeout 20 tcpdump -c 5 -l -e -n -i "$TAP" udp 2>&1 || fail "tcpdump did not see 5 frames on $TAP within 20 s"
  step "the decapsulated ERSPAN frames on the TAP: tcpdump -c 2 -e -n -i $TAP icmp"
  timeout 20 tcpdump -c 2 -l -e -n -i "$TAP" icmp 2>&1 || fail "tcpdump did not see 2 ERSPAN inner frames on $TAP within 20 s"
  step "the rotating PCAP sink: $STATE_DIR/pcap"
  ls -l "$STATE_DIR/pcap" | tail -n 3

  echo
  echo "timing (from the end of the build): first decapsulated frame +$first_frame s, repair shown +$repair_shown s"
  local export_line=""
  [[ "$http" == 8558 ]] || export_line="  export FABRIC_NODE=$FABRIC_NODE                  # this demo's node (not the default port 8558)"$'\n'
  cat <<EOF

The demo keeps running (traffic for $TRAFFIC_SECONDS s). Try:
  export PATH="$repo/bin:\$PATH"                      # fabric and fabric-node by name
${export_line}  fabric mirrors show $MIRROR
  fabric mirrors history $MIRROR
  fabric pipelines stats demo --watch
  fabric pipelines stop demo                                   # then: fabric pipelines start demo
  tcpdump -n -e -i $TAP                                   # what Arkime, Suricata, Zeek would read
  ip netns exec fxdemo-vm103 tcpdump -n -e -i net1             # the sensor VM's mirrored traffic
  ovs-vsctl --db=unix:$OVS_DIR/db.sock list Mirror
  curl -s $FABRIC_NODE/metrics | grep -E 'fabric_(pipeline|mirror)'
  tcpdump -n -r "\$(ls $STATE_DIR/pcap/demo-*.pcap | tail -n1)" | head   # the rotating PCAP sink
  dotnet pwsh ./cluster.ps1 up -Nodes 3                          # a 3-node cluster (Cluster Bootstrap)
  bash demo.sh down                                              # stop and remove all of this
EOF
}

case "${1:-up}" in
  up)
    # On failure, leave nothing half-started behind unless asked to (DEMO_KEEP_ON_FAILURE=1).
    trap 'rc=$?; if ((rc != 0)) && [[ "${DEMO_KEEP_ON_FAILURE:-0}" != 1 ]]; then
      ((rc != 130 && rc != 143)) && [[ -f "$STATE_DIR/node.log" ]] && { echo "--- end of $STATE_DIR/node.log:" >&2; tail -n 15 "$STATE_DIR/node.log" >&2; }
      echo "demo.sh: up failed; removing what it started" >&2; down >/dev/null 2>&1 || true; fi' EXIT
    trap 'exit 130' INT     # Ctrl-C or a kill also run the clean-up above
    trap 'exit 143' TERM
    up
    ;;
  down)
    down
    ;;
  *)
    echo "usage: bash demo.sh [up|down]" >&2
    exit 2
    ;;
esac
