# Helpers for the data-plane bench scripts (sourced). Starts one fabric-node (role capture) with the
# pipeline given as HOCON, on free loopback ports, in a temporary directory; stops it by pid.
# The capture corpus: $FABRIC_CORPUS, else tests/corpus in this repository.
corpus() {
  local c=${FABRIC_CORPUS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/corpus}
  [ -f "$c/INDEX.tsv" ] && { echo "$c"; return 0; }
  echo "no capture corpus at $c (no INDEX.tsv; set FABRIC_CORPUS)" >&2; return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_node DIR PIPELINE_HOCON [EXTRA_HOCON]  -> sets NODE_PID, NODE_HTTP (EXTRA_HOCON goes last, so it wins)
# NODE_NICE: run the node at that nice value (as systemd's Nice= would).
start_node() {
  local dir=$1 pipeline=$2 extra=${3:-}
  NODE_DIR=$dir
  NODE_HTTP=$(free_port); local remoting; remoting=$(free_port)
  mkdir -p "$dir"
  cat > "$dir/node.conf" <<CONF
akka.cluster.roles = [capture]
akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = $remoting }
fabric {
  data-dir = "$dir"
  management.http { host = 127.0.0.1, port = $NODE_HTTP }
  pipelines = [ {
$pipeline
  } ]
}
akka.discovery.config.services.fabric-local.endpoints = [ "127.0.0.1:$NODE_HTTP" ]
akka.management.cluster.bootstrap.contact-point-discovery { service-name = fabric-local, discovery-method = config, required-contact-point-nr = 1 }
$extra
CONF
  ${NODE_NICE:+nice -n "$NODE_NICE"} dotnet "$NODE_DLL" --config "$dir/node.conf" > "$dir/node.log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$NODE_HTTP/pipelines" >/dev/null 2>&1 && return 0
    kill -0 "$NODE_PID" 2>/dev/null || { echo "fabric-node exited; see $dir/node.log" >&2; return 1; }
    sleep 0.1
  done
  echo "fabric-node did not answer; see $dir/node.log" >&2; return 1
}

stop_node() { [ -n "${NODE_PID:-}" ] && kill "$NODE_PID" 2>/dev/null && wait "$NODE_PID" 2>/dev/null; NODE_PID=; }

# stats NAME -> JSON of one pipeline
stats() {
  kill -0 "$NODE_PID" 2>/dev/null || { echo "fabric-node exited; its log:" >&2; tail -20 "$NODE_DIR/node.log" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$NODE_HTTP/pipelines/$1/stats" | jq '.pipelines[0]'
}

# veth_into_namespace NS IF PEER -> namespace NS holding PEER, IF on this side; both up, mtu 9000, no IPv6
# (so the kernel adds no packets of its own to the capture).
veth_into_namespace() {
  local ns=$1 if=$2 peer=$3
  ip netns add "$ns"
  ip link add "$if" type veth peer name "$peer"
  echo 1 > "/proc/sys/net/ipv6/conf/$if/disable_ipv6"
  ip link set "$peer" netns "$ns"
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
  ip link set "$if" mtu 9000 up
  ip netns exec "$ns" ip link set "$peer" mtu 9000 up
}

# build_node DIR -> sets NODE_DLL. Today's build (dotnet build -c Release) into DIR; with R2R=1 the node
# published as the .deb publishes it, ReadyToRun (framework-dependent linux-x64 here; Fabric.Node.csproj sets
# PublishReadyToRun and which assemblies stay IL; TieredCompilation stays off as the project sets it), kept in $R2R_DIR (default artifacts/node-r2r) and reused while the node's inputs
# (src/Nodes/Fabric.Node, src/Actors, src/Configuration, src/Protocols, the build props: their contents) are
# the ones it was published from: the ReadyToRun publish takes minutes (crossgen of every dependency).
build_node() {
  local dir=$1 repo
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [ "${R2R:-0}" = 1 ]; then
    local r2r=${R2R_DIR:-$repo/artifacts/node-r2r} hash
    hash=$(node_inputs_hash "$repo")
    if [ -z "$hash" ] || [ ! -f "$r2r/fabric-node.dll" ] || [ "$(cat "$r2r/.inputs" 2>/dev/null)" != "$hash" ]; then
      echo "bench: publishing fabric-node ReadyToRun into $r2r (minutes)" >&2
      rm -rf "$r2r"
      dotnet publish "$repo/src/Nodes/Fabric.Node" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
        --artifacts-path "$repo/artifacts/node-r2r-build" -o "$r2r" -nologo -v quiet -clp:ErrorsOnly >/dev/null
      [ -n "$hash" ] && echo "$hash" > "$r2r/.inputs"
    fi
    NODE_DLL=$r2r/fabric-node.dll
  else
    dotnet build -c Release "$repo/src/Nodes/Fabric.Node" -o "$dir" -nologo -v quiet -clp:ErrorsOnly >/dev/null
    NODE_DLL=$dir/fabric-node.dll
  fi
}

# node_inputs_hash REPO: a hash over the contents of the files fabric-node is built from (tracked and untracked,
# not ignored), so a commit alone does not make a new publish; empty outside git.
node_inputs_hash() {
  local repo=$1 paths=(src/Nodes/Fabric.Node src/Actors src/Configuration src/Protocols hocon/fabric.conf
    Directory.Build.props Directory.Packages.props src/Directory.Build.props global.json)
  git -C "$repo" rev-parse --verify -q HEAD >/dev/null 2>&1 || return 0
  (cd "$repo" && git ls-files -co --exclude-standard -- "${paths[@]}" | sort -u |
    while IFS= read -r f; do [ -f "$f" ] && sha256sum "$f"; done) | sha256sum | cut -d' ' -f1
}

# bench_certs DIR: one CA and two node certificates, a and b, in DIR (as docs/operator-guide.md makes them);
# then `tls a` (or b) prints the fabric.remote.tls HOCON for that node.
bench_certs() {
  BENCH_CERTS=$1
  (cd "$1" && {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' > node.ext
    for n in a b; do
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr -subj /CN=bench-$n
      openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2 -extfile node.ext
    done
    chmod 600 ./*.key
  } >/dev/null 2>&1)
}
tls() { echo "fabric.remote.tls { enabled = true, certificate-file = \"$BENCH_CERTS/$1.crt\", key-file = \"$BENCH_CERTS/$1.key\", ca-file = \"$BENCH_CERTS/ca.crt\" }"; }
