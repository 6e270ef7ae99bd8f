#!/usr/bin/env python3
"""Singleton failover of mirror supervision after kill -9, measured N times.

Three fabric-nodes on loopback (roles supervisor + site-pve-a on each, Cluster Bootstrap with
config discovery, PostgreSQL 15 journal in a fresh database), a throw-away Open vSwitch like
bench/mirror-repair-latency.py, and the seed mirror. Each round: kill -9 of the node hosting the
singletons (the oldest member), restart VM 101's NIC the Proxmox way right away, and time from the
kill until the mirror row selects the new port (the agent and the supervisor have moved, recovered
and repaired). The killed node is started again (same ports) before the next round.

Usage: bench/mirror-failover.py [--rounds 3] [--bin src/Nodes/Fabric.Node/bin/Release/net10.0]
Needs PostgreSQL on 127.0.0.1:5432 with role fabric/fabric (CREATEDB). Removes everything it made.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request, uuid

TAPS = ["tap101i1", "tap101i6", "tap103i1"]


def run(*args, env=None):
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "fabric", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, capture_output=True, env=dict(os.environ, PGPASSWORD="fabric"))


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as r:
            return json.loads(r.read() or b"null")
    except Exception:
        return None


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            sys.exit(f"timeout: {what}")
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default="src/Nodes/Fabric.Node/bin/Release/net10.0")
    ap.add_argument("--console-bin", default="src/Nodes/Fabric.Console/bin/Release/net10.0")
    a = ap.parse_args()
    for t in TAPS:
        if os.path.exists("/sys/class/net/" + t):
            sys.exit(f"{t} exists already on this machine; refusing to touch it")

    d = tempfile.mkdtemp(prefix="fm-failover-")
    env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)
    sock = os.path.join(d, "db.sock")
    bridge = "fmbf" + uuid.uuid4().hex[:6]
    db = "fm_failover_" + uuid.uuid4().hex[:8]
    ovs, links, nodes = [], [], {}
    psql(f"CREATE DATABASE {db}")
    try:
        run("ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
        ovs.append(subprocess.Popen(["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{sock}", f"--pidfile={d}/s.pid",
                                     f"--unixctl={d}/s.ctl", f"--log-file={d}/s.log"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: os.path.exists(sock), 10, "ovsdb-server")
        vsctl = ["ovs-vsctl", f"--db=unix:{sock}", "--timeout=10"]
        run(*vsctl, "--no-wait", "init", env=env)
        ovs.append(subprocess.Popen(["ovs-vswitchd", f"unix:{sock}", "--disable-system", f"--pidfile={d}/v.pid", f"--unixctl={d}/v.ctl",
                                     f"--log-file={d}/v.log", "-vconsole:off"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        run(*vsctl, "add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev", env=env)
        links.append(bridge)
        for t in TAPS:
            run("ip", "tuntap", "add", "dev", t, "mode", "tap"); links.append(t)
            run("ip", "link", "set", t, "up")
            run(*vsctl, "add-port", bridge, t, env=env)

        mgmt = [free_port() for _ in range(3)]
        remote = {m: free_port() for m in mgmt}
        endpoints = ", ".join(f'"127.0.0.1:{m}"' for m in mgmt)

        def start(m):
            conf = os.path.join(d, f"node-{m}.conf")
            with open(conf, "w") as f:
                f.write(f'''fabric.data-dir = "{d}/data-{m}"
fabric.management.http {{ host = 127.0.0.1, port = {m} }}
akka.remote.dot-netty.tcp {{ hostname = 127.0.0.1, port = {remote[m]} }}
akka.cluster.roles = [supervisor, site-pve-a]
akka.loglevel = WARNING
fabric.sites = [ {{ name = pve-a, backend = ovs, ovsdb = "unix:{sock}" }} ]
fabric.mirror-agent.report-interval = 500ms
fabric.cluster.discovery {{ method = config, required-contact-points = 3, stable-margin = 1s }}
akka.discovery.config.services.fabric.endpoints = [{endpoints}]
fabric.persistence {{ provider = postgresql, postgresql.connection-string = "Host=127.0.0.1;Port=5432;Database={db};Username=fabric;Password=fabric" }}
''')
            nodes[m] = subprocess.Popen([os.path.join(a.bin, "fabric-node"), "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up(m):
            v = get(m, "cluster/members")
            return v is not None and sum(1 for x in v["members"] if x["status"] == "Up") == 3 and not v["unreachable"]

        def holds(port):
            try:
                return run(*vsctl, "get", "Port", port, "_uuid", env=env).strip() in run(*vsctl, "get", "Mirror", "seed-mirror", "select_src_port", env=env)
            except subprocess.CalledProcessError:
                return False

        for m in mgmt:
            start(m)
        for m in mgmt:
            wait(lambda: up(m), 180, "3 Up members")
        fabric = [os.path.join(a.console_bin, "fabric"), "--node", f"http://127.0.0.1:{mgmt[0]}"]
        wait(lambda: subprocess.run(fabric + ["mirrors", "list"], capture_output=True).returncode == 0, 120, "mirror supervision")
        run(*fabric, "mirrors", "add", "seed-mirror", "--site", "pve-a", "--bridge", bridge,
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1")
        wait(lambda: holds("tap101i1"), 60, "seed mirror applied")

        times = []
        for r in range(a.rounds):
            view = get(mgmt[0], "cluster/members") or get(mgmt[1], "cluster/members") or get(mgmt[2], "cluster/members")
            oldest = view["oldest"]
            victim = next(m for m in mgmt if oldest.endswith(f":{remote[m]}"))
            t0 = time.monotonic()
            nodes[victim].send_signal(signal.SIGKILL); nodes[victim].wait()
            run(*vsctl, "del-port", bridge, "tap101i1", env=env)
            run("ip", "link", "del", "tap101i1")
            run("ip", "tuntap", "add", "dev", "tap101i1", "mode", "tap")
            run("ip", "link", "set", "tap101i1", "up")
            run(*vsctl, "--no-wait", "add-port", bridge, "tap101i1", env=env)
            wait(lambda: holds("tap101i1"), 120, "repair after the failover")
            times.append(time.monotonic() - t0)
            print(f"round {r + 1}: kill -9 of the singletons' node -> repair {times[-1]:.1f} s", flush=True)
            start(victim)
            for m in mgmt:
                wait(lambda: up(m), 180, "3 Up members again")

        times.sort()
        print(f"rounds={len(times)} median={times[len(times) // 2]:.1f}s min={times[0]:.1f}s max={times[-1]:.1f}s")
    finally:
        for p in list(nodes.values()) + list(reversed(ovs)):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL); p.wait()
        for l in links:
            if os.path.exists("/sys/class/net/" + l):
                subprocess.run(["ip", "link", "del", l], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)
        try:
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass


if __name__ == "__main__":
    main()
