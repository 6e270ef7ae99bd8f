#!/usr/bin/env bash
# Issue 16, item 3: what each delivery path costs the node, per million frames, so an operator can pick the
# cheapest one their sensor accepts. One fabric-node per run: a file source (a FIFO fed by cat, so a
# pcap-over-ip client can connect before the first frame) of COPIES x 4 ERSPAN II frames (zeek/erspanII.pcap,
# bench/make_capture.py) -> decap -> one delivery path. For each path, rotated over ROUNDS rounds: frames
# delivered, and CPU seconds of the node per million delivered (utime + stime from /proc over the run), raw and
# with the node's idle CPU over the same length of time (measured right after, the pipeline finished) taken off.
# Paths: tap (io_uring, the default), tap-write (io-uring = off), tap-vlan (mark-source = vlan), balance (two
# TAPs), pcap (classic, on /dev/shm), pcapng (/dev/shm), pcap-over-ip (one local client reading to the end),
# stream (TLS to a second node on loopback, which writes pcap to /dev/shm; its CPU is reported beside).
#   sudo bash bench/delivery-paths.sh [ROUNDS] [COPIES] [PATHS...]     (defaults 3, 250000, all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}; COPIES=${2:-250000}; shift $(( $# > 2 ? 2 : $# ))
PATHS=("$@"); [ ${#PATHS[@]} -eq 0 ] && PATHS=(tap tap-write tap-vlan balance pcap pcapng pcap-over-ip stream)
WORK=$(mktemp -d /tmp/fd-paths-XXXX)
SHM=$(mktemp -d /dev/shm/fd-paths-XXXX)
TAG=fdp$((RANDOM % 1000))
B_PID=; FEED_PID=; CLIENT_PID=
cleanup() {
  stop_node
  for p in $B_PID $FEED_PID $CLIENT_PID; do kill "$p" 2>/dev/null || true; done
  for d in ${TAG}a ${TAG}b ${TAG}c; do ip link del "$d" 2>/dev/null || true; done
  rm -rf "$WORK" "$SHM"
}
trap cleanup EXIT
source bench/node.sh
NODE_DLL=$WORK/node/fabric-node.dll
dotnet build -c Release src/Nodes/Fabric.Node -o "$WORK/node" -nologo -v quiet -clp:ErrorsOnly >/dev/null
python3 bench/make_capture.py "$(corpus)/zeek/erspanII.pcap" "$WORK/outer.pcap" "$COPIES" >/dev/null
FRAMES=$((COPIES * 4))

bench_certs "$WORK"   # one CA, nodes a and b, for the stream path; tls a|b gives the HOCON
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# A pcap-over-ip client: reads the stream to its end and prints the records it got.
cat > "$WORK/client.py" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
for _ in range(500):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.01)
else:
    sys.exit("pcap-over-ip client: cannot connect")
open(sys.argv[2], "w").write("connected\n")
buf = b""; need = 24; records = 0; header = True
while True:
    chunk = s.recv(1 << 20)
    if not chunk: break
    buf += chunk; p = 0
    while len(buf) - p >= need:
        if header: p += 24; header = False; need = 16; continue
        caplen = struct.unpack_from("<I", buf, p + 8)[0]
        if len(buf) - p < 16 + caplen: break
        p += 16 + caplen; records += 1
    buf = buf[p:]
print(records)
PY

sink_for() {
  case $1 in
    tap) echo "{ type = tap, device = ${TAG}a }" ;;
    tap-write) echo "{ type = tap, device = ${TAG}a, io-uring = off }" ;;
    tap-vlan) echo "{ type = tap, device = ${TAG}a, mark-source = vlan }" ;;
    balance) echo "{ type = balance, members = [ { type = tap, device = ${TAG}b }, { type = tap, device = ${TAG}c } ] }" ;;
    pcap) echo "{ type = pcap, directory = \"$SHM/$2\", rotate-size = 256MiB, keep-size = 512MiB }" ;;
    pcapng) echo "{ type = pcap, format = pcapng, directory = \"$SHM/$2\", rotate-size = 256MiB, keep-size = 512MiB }" ;;
    pcap-over-ip) echo "{ type = pcap-over-ip, listen = \"127.0.0.1:$3\", client-buffer = 512MiB }" ;;
    stream) echo "{ type = stream, destination = \"127.0.0.1:$3\", compression = none }" ;;
  esac
}

declare -A raw net recv
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$ROUNDS"); do
  for k in $(seq 0 $((${#PATHS[@]} - 1))); do
    path=${PATHS[$(((k + round) % ${#PATHS[@]}))]}
    port=$(free_port)
    if [ "$path" = stream ]; then
      mkdir -p "$SHM/b$round"
      start_node "$WORK/b-$round" "name = central
        source { stream { listen = \"127.0.0.1:$port\", max-record-bytes = 32MiB } }
        decap { non-encapsulated = pass }
        sinks = [ { type = pcap, directory = \"$SHM/b$round\", rotate-size = 256MiB, keep-size = 512MiB } ]" "$(tls b)"
      B_PID=$NODE_PID; B_HTTP=$NODE_HTTP; NODE_PID=
    fi
    rm -f "$WORK/feed"; mkfifo "$WORK/feed"
    start_node "$WORK/$path-$round" "name = bench
      autostart = off
      source { file = \"$WORK/feed\" }
      sinks = [ $(sink_for "$path" "$path-$round" "$port") ]" "$( [ "$path" = stream ] && tls a )"
    curl -sf -X POST "http://127.0.0.1:$NODE_HTTP/pipelines/bench/start" >/dev/null
    if [ "$path" = pcap-over-ip ]; then
      rm -f "$WORK/connected"
      python3 "$WORK/client.py" "$port" "$WORK/connected" > "$WORK/client.out" & CLIENT_PID=$!
      for _ in $(seq 1 500); do [ -f "$WORK/connected" ] && break; sleep 0.01; done
      sleep 0.2   # the sink has accepted it
    fi
    c0=$(ticks "$NODE_PID"); b0=0; [ -n "$B_PID" ] && b0=$(ticks "$B_PID")
    t0=$(date +%s.%N)
    cat "$WORK/outer.pcap" > "$WORK/feed" & FEED_PID=$!
    got=0
    for _ in $(seq 1 6000); do
      json=$(stats bench)
      state=$(jq -r .state <<<"$json")
      got=$(jq '[.stages[2:][] | .out.packets] | max' <<<"$json")
      if [ "$state" = finished ]; then
        if [ "$path" = stream ]; then
          b=$(curl -sf "http://127.0.0.1:$B_HTTP/pipelines/central/stats" | jq '.pipelines[0].stages[-1].out.packets')
          [ "$b" -ge "$got" ] && break
        else
          break
        fi
      fi
      sleep 0.05
    done
    t1=$(date +%s.%N); c1=$(ticks "$NODE_PID"); b1=0; [ -n "$B_PID" ] && b1=$(ticks "$B_PID")
    wait "$FEED_PID" 2>/dev/null || true; FEED_PID=
    [ "$path" = balance ] && got=$(jq '[.stages[2].members[].out.packets] | add' <<<"$json")
    if [ "$path" = pcap-over-ip ]; then
      stop_node; wait "$CLIENT_PID" || true; CLIENT_PID=; got=$(cat "$WORK/client.out")
      idle=0   # the node is gone: no idle figure for this path (see the tap rows' for a node's idle CPU)
    else
      dt=$(python3 -c "print($t1 - $t0)")
      i0=$(ticks "$NODE_PID"); sleep "$dt"; i1=$(ticks "$NODE_PID"); idle=$((i1 - i0))
      stop_node
    fi
    dropped=$(jq '[.. | objects | select(has("dropped")) | .dropped[]?.packets] | add // 0' <<<"$json")
    r=$(python3 -c "print(round(($c1 - $c0) / $hz * 1e6 / max(1, $got), 3))")
    n=$(python3 -c "print(round(($c1 - $c0 - $idle) / $hz * 1e6 / max(1, $got), 3))")
    line="round $round $path: delivered=$got of $FRAMES dropped=$dropped seconds=$(python3 -c "print(round($t1 - $t0, 2))") cpu_s_per_m=$r net=$n"
    raw[$path]+="$r "; net[$path]+="$n "
    if [ -n "$B_PID" ]; then
      rb=$(python3 -c "print(round(($b1 - $b0) / $hz * 1e6 / max(1, $got), 3))"); recv[$path]+="$rb "
      line+=" receiver_cpu_s_per_m=$rb"; kill "$B_PID"; wait "$B_PID" 2>/dev/null || true; B_PID=
    fi
    echo "$line"
    rm -rf "${SHM:?}"/*
    for d in ${TAG}a ${TAG}b ${TAG}c; do ip link del "$d" 2>/dev/null || true; done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-13s %12s %16s %12s\n' path "CPU-s/M raw" "range" "idle off"
for p in "${PATHS[@]}"; do
  printf '%-13s %12s %16s %12s%s\n' "$p" "$(median "${raw[$p]}")" "$(printf '%s\n' ${raw[$p]} | sort -g | sed -n '1p;$p' | paste -sd- -)" \
    "$(median "${net[$p]}")" "${recv[$p]:+   (receiver $(median "${recv[$p]}"))}"
done
