#!/usr/bin/env bash
# Soak (issue 8, scenario 5): live tunnel traffic at a fixed rate for MINUTES through one fabric-node
# pipeline capture -> decap -> TAP + rotating PCAP (bounded by keep-size), while on the side an OVS
# mirror session of the same node is restarted every 10 s (its source port is deleted with its tap
# and both re-created, as when a VM restarts; the node's mirror agent must repair the session).
# Every 10 s it samples the node's RSS, threads, open fds and pipeline counters; at the end it checks
#   - zero unexplained loss: packets sent by tcpreplay = libpcap received (ps_recv, which counts the
#     kernel-ring drops too) = kernel-dropped + captured; every stage in = out + drops counted by
#     reason, decap takes in what capture let out, each sink what decap let out (and the node's own
#     "balanced" flag);
#   - RSS flat: median of the last third of the samples within 10 % of the median of the second third
#     (the first third is warm-up);
#   - no growth of threads or open fds: median of the last third <= median of the second third + 2
#     (the thread pool and the mirror agent's reconnects make a few come and go; a leak of one per
#     mirror restart grows by far more);
#   - every mirror restart repaired by the agent; the PCAP files within keep-size + rotate-size + one record;
#   - the node still running.
# Writes soak.csv and summary.txt into SOAK_OUT (default a new /tmp/fpf-soak-out-XXXX, printed) and exits
# 0 when everything held, 1 when a check failed, 2 when the soak could not run.
#   sudo bash bench/soak.sh [MINUTES]          (default 30; at least 1)
# Environment: SOAK_PPS (default 5000 packets/s offered; the loss-free maximum on a quiet machine is far
# above, see docs/benchmarks.md), SOAK_INTERVAL (10 s between samples and mirror restarts), SOAK_OUT,
# FABRIC_NODE_DIR (a built fabric-node directory: skips the build), FABRIC_CORPUS.
# Everything it creates (namespace, veth, taps, OVS bridge, ovsdb-server/ovs-vswitchd/fabric-node/tcpreplay
# processes, temp dir) is named with the prefix fpf + a random suffix and removed by name/pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
[[ $MINUTES =~ ^[0-9]+$ && $MINUTES -ge 1 ]] || { echo "soak.sh: MINUTES must be a whole number >= 1, got '$MINUTES'" >&2; exit 2; }
PPS=${SOAK_PPS:-5000}
INTERVAL=${SOAK_INTERVAL:-10}
DURATION=$((MINUTES * 60))
for tool in tcpreplay ovsdb-server ovs-vswitchd ovs-vsctl jq curl ip; do
  command -v "$tool" >/dev/null || { echo "soak.sh: $tool not found" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/fpf-soak-XXXX)
OUT=${SOAK_OUT:-$(mktemp -d /tmp/fpf-soak-out-XXXX)}
mkdir -p "$OUT"
source bench/node.sh
ID=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
NS=fpf${ID}n; IF=fpf${ID}c; PEER=fpf${ID}p; TAP=fpf${ID}t; BR=fpf${ID}b; MSRC=fpf${ID}s; MOUT=fpf${ID}o
OVS=$WORK/ovs
REPLAY_PID= OVSDB_PID= VSWITCHD_PID= NODE_PID=
LINKS=()
cleanup() {
  set +e
  [ -n "$REPLAY_PID" ] && kill "$REPLAY_PID" 2>/dev/null && wait "$REPLAY_PID" 2>/dev/null
  stop_node
  [ -n "$VSWITCHD_PID" ] && kill "$VSWITCHD_PID" 2>/dev/null && wait "$VSWITCHD_PID" 2>/dev/null
  [ -n "$OVSDB_PID" ] && kill "$OVSDB_PID" 2>/dev/null && wait "$OVSDB_PID" 2>/dev/null
  for l in "${LINKS[@]}" "$IF" "$TAP"; do [ -e "/sys/class/net/$l" ] && ip link del "$l" 2>/dev/null; done
  ip netns del "$NS" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 2' INT TERM
fail_setup() { echo "soak.sh: $*" >&2; exit 2; }

# ---- build and inputs
if [[ -n ${FABRIC_NODE_DIR:-} ]]; then
  NODE_DLL=$FABRIC_NODE_DIR/fabric-node.dll
else
  NODE_DLL=$WORK/node/fabric-node.dll
  dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
fi
[[ -f $NODE_DLL ]] || fail_setup "no fabric-node.dll in ${FABRIC_NODE_DIR:-$WORK/node}"
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" 2500 >/dev/null

# ---- an OVS of our own (userspace dummy datapath: no kernel module, no shared ovs-netdev tap)
mkdir -p "$OVS"
export OVS_RUNDIR=$OVS OVS_DBDIR=$OVS OVS_LOGDIR=$OVS OVS_SYSCONFDIR=$OVS
ovsdb-tool create "$OVS/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$OVS/conf.db" --remote="punix:$OVS/db.sock" --unixctl="$OVS/db.ctl" --log-file="$OVS/db.log" >/dev/null 2>&1 &
OVSDB_PID=$!
for _ in $(seq 1 100); do [ -S "$OVS/db.sock" ] && break; sleep 0.1; done
vsctl() { ovs-vsctl --db="unix:$OVS/db.sock" --timeout=10 "$@"; }
vsctl --no-wait init
ovs-vswitchd "unix:$OVS/db.sock" --enable-dummy --disable-system --unixctl="$OVS/vs.ctl" --log-file="$OVS/vs.log" -vconsole:off >/dev/null 2>&1 &
VSWITCHD_PID=$!
vsctl add-br "$BR" -- set bridge "$BR" datapath_type=dummy
for t in "$MSRC" "$MOUT"; do
  ip tuntap add dev "$t" mode tap; LINKS+=("$t"); ip link set "$t" up
  vsctl add-port "$BR" "$t"
done

# ---- traffic path and the node
veth_into_namespace "$NS" "$IF" "$PEER"
PCAP_DIR=$WORK/pcap
ROTATE_BYTES=$((4 * 1024 * 1024)); KEEP_BYTES=$((32 * 1024 * 1024))
# Bound of the directory: the closed files within keep-size, the file being written up to rotate-size
# plus the one record that crosses it (at most 16 + 65535 bytes).
PCAP_BOUND=$((KEEP_BYTES + ROTATE_BYTES + 16 + 65535))
start_node "$WORK/node-run" "    name = soak
    source { interface = $IF }
    sinks = [ { type = tap, device = $TAP }
              { type = pcap, directory = \"$PCAP_DIR\", rotate-size = 4MiB, keep-size = 32MiB } ]" "akka.cluster.roles = [capture, supervisor, site-soak]
akka.loglevel = WARNING
fabric.sites = [ { name = soak, backend = ovs, ovsdb = \"unix:$OVS/db.sock\" } ]
fabric.mirrors = [ { name = soak-mirror, site = soak, bridge = $BR, sources = [ $MSRC ], output = $MOUT } ]" \
  || fail_setup "fabric-node did not start: $(tail -n 5 "$WORK/node-run/node.log" 2>/dev/null)"
for _ in $(seq 1 300); do [ "$(stats soak | jq -r .source.up)" = true ] && break; sleep 0.1; done
[ "$(stats soak | jq -r .source.up)" = true ] || fail_setup "the soak pipeline's source did not come up"

mirror_selects() { vsctl --format=json --columns=select_src_port list Mirror | grep -q "$1"; }
src_uuid() { vsctl get Port "$MSRC" _uuid; }
uuid=$(src_uuid)
for _ in $(seq 1 600); do mirror_selects "$uuid" && break; sleep 0.1; done
mirror_selects "$uuid" || fail_setup "the mirror agent did not create the mirror session within 60 s (see $WORK/node-run/node.log)"

# ---- run
sent_before=$(ip netns exec "$NS" cat "/sys/class/net/$PEER/statistics/tx_packets")
ip netns exec "$NS" tcpreplay --loop=0 --pps="$PPS" --duration="$DURATION" -i "$PEER" "$WORK/outer.pcap" > "$WORK/tcpreplay.out" 2>&1 &
REPLAY_PID=$!
CSV=$OUT/soak.csv
echo "t_s,rss_kib,threads,fds,kernel_received,kernel_dropped,captured,decap_out,tap_out,pcap_out,dropped,pcap_dir_bytes,mirror_restarts,mirror_repaired,repair_ms" > "$CSV"
restarts=0 repaired=0 repair_ms=
# Bytes of the capture files (not du of the directory, which adds the directory's own block).
pcap_files_bytes() { find "$PCAP_DIR" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
start=$(date +%s.%N)
sample() {
  local t=$1 s rss threads fds pcap_bytes
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$NODE_PID/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$NODE_PID/status")
  fds=$(ls "/proc/$NODE_PID/fd" | wc -l)
  pcap_bytes=$(pcap_files_bytes)
  s=$(stats soak)
  echo "$t,$rss,$threads,$fds,$(jq -r '[.source.kernelReceived, .source.kernelDropped, .captured, .stages[1].out.packets, .stages[2].out.packets, .stages[3].out.packets, ([.stages[].dropped[].packets] | add // 0)] | map(tostring) | join(",")' <<<"$s"),${pcap_bytes:-0},$restarts,$repaired,$repair_ms" >> "$CSV"
}
restart_mirror() {
  # The source port goes away with its device and comes back under the same name (a new Port row):
  # the session is broken until the agent re-selects the new row.
  vsctl del-port "$BR" "$MSRC"
  ip link del "$MSRC"
  ip tuntap add dev "$MSRC" mode tap
  ip link set "$MSRC" up
  vsctl add-port "$BR" "$MSRC"
  restarts=$((restarts + 1))
  local new t0 deadline
  new=$(src_uuid); t0=$(date +%s%N); deadline=$((t0 + (INTERVAL - 1) * 1000000000))
  repair_ms=
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    if mirror_selects "$new"; then repaired=$((repaired + 1)); repair_ms=$(( ($(date +%s%N) - t0) / 1000000 )); return 0; fi
    sleep 0.05
  done
}
tick=0
while :; do
  t=$((tick * INTERVAL))
  sample "$t"
  [ "$t" -ge "$DURATION" ] && break
  kill -0 "$NODE_PID" 2>/dev/null || break
  restart_mirror
  tick=$((tick + 1))
  now=$(date +%s.%N)
  pause=$(awk -v s="$start" -v n="$now" -v k="$tick" -v i="$INTERVAL" 'BEGIN { p = s + k * i - n; print (p > 0 ? p : 0) }')
  sleep "$pause"
done

# ---- drain: tcpreplay done, libpcap ring read to the end, counters still
wait "$REPLAY_PID" || true; REPLAY_PID=
sent=$(awk '/Successful packets:/ {print $3}' "$WORK/tcpreplay.out")
failed_send=$(awk '/Failed packets:/ {print $3}' "$WORK/tcpreplay.out")
sent_tx=$(( $(ip netns exec "$NS" cat "/sys/class/net/$PEER/statistics/tx_packets") - sent_before ))
last=
for _ in $(seq 1 120); do
  sleep 0.5
  s=$(stats soak)
  now=$(jq -c '[.source.kernelReceived, .captured, ([.stages[].out.packets] | add), ([.stages[].dropped[].packets] | add // 0)]' <<<"$s")
  drained=$(jq '.captured == .source.kernelReceived - .source.kernelDropped and .balanced' <<<"$s")
  [ "$now" = "$last" ] && [ "$drained" = true ] && break
  last=$now
done
final=$(stats soak)
echo "$final" > "$OUT/final-stats.json"
node_alive=true; kill -0 "$NODE_PID" 2>/dev/null || node_alive=false

# ---- checks
fails=()
check() { if [ "$1" = true ]; then echo "PASS $2"; else echo "FAIL $2"; fails+=("$2"); fi; }
q() { jq -r "$1" <<<"$final"; }
recv=$(q .source.kernelReceived); kdrop=$(q .source.kernelDropped); ifdrop=$(q .source.interfaceDropped); captured=$(q .captured)
stage_laws=$(jq -r '[.stages[] | "\(.stage): in \(.in.packets) = out \(.out.packets) + dropped \([.dropped[].packets] | add // 0) \(if .in.packets == .out.packets + ([.dropped[].packets] | add // 0) then "ok" else "BROKEN" end)"] | join("; ")' <<<"$final")
chain_ok=$(jq '(.stages[0].out.packets == .stages[1].in.packets) and ([.stages[2:][] | .in.packets == $d] | all)' --argjson d "$(q '.stages[1].out.packets')" <<<"$final")
stages_ok=$(jq '[.stages[] | .in.packets == .out.packets + ([.dropped[].packets] | add // 0)] | all' <<<"$final")
drops_by_reason=$(jq -c '[.stages[] | {stage, dropped: (.dropped | with_entries(select(.value.packets > 0)) | map_values(.packets))}]' <<<"$final")

# thirds of the samples: [0, n/3) warm-up, [n/3, 2n/3) second third, [2n/3, n) last third
stats_col() { # COLUMN FROM TO(exclusive) -> median
  awk -F, -v c="$1" -v a="$2" -v b="$3" 'NR > 1 && NR - 2 >= a && NR - 2 < b { print $c }' "$CSV" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
n=$(( $(wc -l < "$CSV") - 1 ))
a=$((n / 3)); b=$((2 * n / 3))
rss2=$(stats_col 2 "$a" "$b"); rss3=$(stats_col 2 "$b" "$n")
thr2=$(stats_col 3 "$a" "$b"); thr3=$(stats_col 3 "$b" "$n")
fd2=$(stats_col 4 "$a" "$b"); fd3=$(stats_col 4 "$b" "$n")
rss_change=$(awk -v x="$rss2" -v y="$rss3" 'BEGIN { printf "%+.1f", (y - x) * 100 / x }')
pcap_final=$(pcap_files_bytes)
pcap_max=$(awk -F, 'NR > 1 && $12 > m { m = $12 } END { print m + 0 }' "$CSV")
((pcap_final > pcap_max)) && pcap_max=$pcap_final

{
  echo "names: fpf$ID (namespace $NS, links $IF $TAP $MSRC $MOUT, bridge $BR)"
  echo "soak: $MINUTES min, $PPS packets/s offered (tcpreplay --pps, ERSPAN II frames of zeek/erspanII.pcap), mirror restart every $INTERVAL s, $n samples"
  echo "sender: tcpreplay sent $sent (failed ${failed_send:-0}), veth tx counter $sent_tx"
  echo "capture: libpcap received $recv (includes kernel-dropped $kdrop), interface-dropped $ifdrop, captured $captured"
  echo "stages: $stage_laws"
  echo "drops by reason: $drops_by_reason"
  echo "rss KiB: median second third $rss2, last third $rss3 ($rss_change %); threads $thr2 -> $thr3; fds $fd2 -> $fd3"
  echo "mirror: $restarts restarts, $repaired repaired by the agent"
  echo "pcap directory: at most $pcap_max bytes of files (bound $PCAP_BOUND = keep-size $KEEP_BYTES + rotate-size $ROTATE_BYTES + one record), $(ls "$PCAP_DIR" | wc -l) files at the end"
  check "$([ "$sent" = "$sent_tx" ] && [ "$sent" -gt 0 ] && echo true || echo false)" "sender count consistent (tcpreplay $sent = veth tx $sent_tx)"
  check "$([ "$sent" = "$recv" ] && echo true || echo false)" "sent = libpcap received ($sent = $recv; received counts the $kdrop kernel-ring drops)"
  check "$([ "$recv" -eq $((kdrop + captured)) ] && echo true || echo false)" "libpcap received = kernel-dropped + captured ($recv = $kdrop + $captured)"
  check "$stages_ok" "every stage: in = out + drops counted by reason"
  check "$chain_ok" "decap in = capture out; each sink in = decap out"
  check "$(q .balanced)" "the node reports the pipeline balanced"
  check "$(awk -v x="$rss2" -v y="$rss3" 'BEGIN { d = (y - x) / x; print (d <= 0.10 && d >= -0.10) ? "true" : "false" }')" "RSS flat within 10 % ($rss_change %)"
  check "$(awk -v x="$thr2" -v y="$thr3" 'BEGIN { print (y <= x + 2) ? "true" : "false" }')" "no thread growth ($thr2 -> $thr3)"
  check "$(awk -v x="$fd2" -v y="$fd3" 'BEGIN { print (y <= x + 2) ? "true" : "false" }')" "no fd growth ($fd2 -> $fd3)"
  check "$([ "$restarts" -gt 0 ] && [ "$repaired" = "$restarts" ] && echo true || echo false)" "every mirror restart repaired ($repaired of $restarts)"
  check "$([ "$pcap_max" -le "$PCAP_BOUND" ] && echo true || echo false)" "PCAP disk use bounded ($pcap_max <= $PCAP_BOUND)"
  check "$node_alive" "fabric-node still running"
  if ((${#fails[@]} == 0)); then echo "RESULT: PASS"; else echo "RESULT: FAIL (${#fails[@]} checks)"; fi
} | tee "$OUT/summary.txt"
echo "soak: samples in $CSV, summary in $OUT/summary.txt"
grep -q '^RESULT: PASS' "$OUT/summary.txt"
