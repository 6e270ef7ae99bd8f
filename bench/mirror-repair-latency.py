#!/usr/bin/env python3
"""Repair latency of Fabric's OVS mirror agent over N Proxmox-style VM restarts.

Sets up a throw-away Open vSwitch (ovsdb-server + ovs-vswitchd --disable-system, netdev bridge,
database and sockets in a temp dir), taps named like Proxmox VM NICs (tap101i1, tap101i6,
tap103i1: the script refuses to run if they exist), starts one fabric-node (roles supervisor +
site-pve-a) and defines the seed mirror with the fabric console. Then, N times: del-port tap101i1,
delete the tap, create it again, add-port (one OVSDB transaction, like `ovs-vsctl add-port`).
The latency is from the add-port transaction's commit reply to the monitor update in which the
Mirror row selects the new Port UUID (both seen by this script's own OVSDB connection).

Usage: bench/mirror-repair-latency.py [--restarts 100] [--bin src/Nodes/Fabric.Node/bin/Release/net10.0]
Everything it creates is removed at the end (processes killed by pid, links deleted by name).
"""
import argparse, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time, uuid

TAPS = ["tap101i1", "tap101i6", "tap103i1"]


class Ovsdb:
    """Minimal RFC 7047 client: objects back to back, no "jsonrpc" member."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = ""
        self.dec = json.JSONDecoder()
        self.next_id = 0
        self.updates = []

    def send(self, method, params):
        self.next_id += 1
        self.sock.sendall(json.dumps({"method": method, "params": params, "id": self.next_id}).encode())
        return self.next_id

    def read(self):
        while True:
            self.buf = self.buf.lstrip()
            if self.buf:
                try:
                    obj, end = self.dec.raw_decode(self.buf)
                    self.buf = self.buf[end:]
                    return obj, time.monotonic()
                except json.JSONDecodeError:
                    pass
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("ovsdb-server closed the connection")
            self.buf += data.decode()

    def call(self, method, params):
        i = self.send(method, params)
        while True:
            msg, t = self.read()
            if msg.get("method") == "echo":
                self.sock.sendall(json.dumps({"id": msg["id"], "result": msg["params"], "error": None}).encode())
            elif msg.get("method") == "update2":
                self.updates.append((msg["params"][1], t))
            elif msg.get("id") == i:
                return msg, t

    def wait_update(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        for u, t in self.updates:
            if predicate(u):
                self.updates.clear()
                return t
        self.updates.clear()
        self.sock.settimeout(0.05)
        try:
            while time.monotonic() < deadline:
                try:
                    msg, t = self.read()
                except socket.timeout:
                    continue
                if msg.get("method") == "update2" and predicate(msg["params"][1]):
                    return t
                if msg.get("method") == "echo":
                    self.sock.sendall(json.dumps({"id": msg["id"], "result": msg["params"], "error": None}).encode())
        finally:
            self.sock.settimeout(None)
        raise TimeoutError("no mirror update within %s s" % timeout)


def run(*args, env=None):
    return subprocess.run(args, check=True, capture_output=True, text=True, env=env).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--restarts", type=int, default=100)
    ap.add_argument("--bin", default="src/Nodes/Fabric.Node/bin/Release/net10.0")
    ap.add_argument("--console-bin", default="src/Nodes/Fabric.Console/bin/Release/net10.0")
    a = ap.parse_args()
    for t in TAPS:
        if os.path.exists("/sys/class/net/" + t):
            sys.exit(f"{t} exists already on this machine; refusing to touch it")

    d = tempfile.mkdtemp(prefix="fm-bench-")
    env = dict(os.environ, OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)
    sock = os.path.join(d, "db.sock")
    bridge = "fmbb" + uuid.uuid4().hex[:6]
    procs, links = [], []
    try:
        run("ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
        procs.append(subprocess.Popen(["ovsdb-server", f"{d}/conf.db", f"--remote=punix:{sock}", f"--pidfile={d}/s.pid",
                                       f"--unixctl={d}/s.ctl", f"--log-file={d}/s.log"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        while not os.path.exists(sock):
            time.sleep(0.01)
        vsctl = ["ovs-vsctl", f"--db=unix:{sock}", "--timeout=10"]
        run(*vsctl, "--no-wait", "init", env=env)
        procs.append(subprocess.Popen(["ovs-vswitchd", f"unix:{sock}", "--disable-system", f"--pidfile={d}/v.pid", f"--unixctl={d}/v.ctl",
                                       f"--log-file={d}/v.log", "-vconsole:off"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        run(*vsctl, "add-br", bridge, "--", "set", "bridge", bridge, "datapath_type=netdev", env=env)
        links.append(bridge)
        for t in TAPS:
            run("ip", "tuntap", "add", "dev", t, "mode", "tap"); links.append(t)
            run("ip", "link", "set", t, "up")
            run(*vsctl, "add-port", bridge, t, env=env)

        port = free_port(); remote = free_port()
        conf = os.path.join(d, "node.conf")
        with open(conf, "w") as f:
            f.write(f'''fabric.data-dir = "{d}/data"
fabric.management.http {{ host = 127.0.0.1, port = {port} }}
akka.remote.dot-netty.tcp {{ hostname = 127.0.0.1, port = {remote} }}
akka.cluster.roles = [supervisor, site-pve-a]
fabric.sites = [ {{ name = pve-a, backend = ovs, ovsdb = "unix:{sock}" }} ]
akka.loglevel = WARNING
''')
        procs.append(subprocess.Popen([os.path.join(a.bin, "fabric-node"), "--config", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        fabric = [os.path.join(a.console_bin, "fabric"), "--node", f"http://127.0.0.1:{port}"]
        deadline = time.monotonic() + 60
        while subprocess.run(fabric + ["mirrors", "list"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                sys.exit("fabric-node did not come up")
            time.sleep(0.2)
        run(*fabric, "mirrors", "add", "seed-mirror", "--site", "pve-a", "--bridge", bridge,
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1")

        db = Ovsdb(sock)
        db.call("monitor_cond", ["Open_vSwitch", "bench", {"Mirror": [{"columns": ["name", "select_src_port"]}]}])
        br = db.call("transact", ["Open_vSwitch", {"op": "select", "table": "Bridge", "where": [["name", "==", bridge]], "columns": ["_uuid"]}])[0]["result"][0]["rows"][0]["_uuid"]
        # wait for the mirror to exist
        while "seed-mirror" not in run(*vsctl, "--columns=name", "list", "Mirror", env=env):
            time.sleep(0.05)
        time.sleep(0.5)

        lat = []
        for i in range(a.restarts):
            run(*vsctl, "del-port", bridge, "tap101i1", env=env)
            run("ip", "link", "del", "tap101i1")
            run("ip", "tuntap", "add", "dev", "tap101i1", "mode", "tap")
            run("ip", "link", "set", "tap101i1", "up")
            reply, t_commit = db.call("transact", ["Open_vSwitch",
                {"op": "insert", "table": "Interface", "row": {"name": "tap101i1"}, "uuid-name": "i"},
                {"op": "insert", "table": "Port", "row": {"name": "tap101i1", "interfaces": ["named-uuid", "i"]}, "uuid-name": "p"},
                {"op": "mutate", "table": "Bridge", "where": [["_uuid", "==", br]], "mutations": [["ports", "insert", ["set", [["named-uuid", "p"]]]]]}])
            new_port = reply["result"][1]["uuid"][1]

            def selects(u):
                for row in u.get("Mirror", {}).values():
                    body = row.get("modify") or row.get("insert") or row.get("initial") or {}
                    if new_port in json.dumps(body.get("select_src_port", [])):
                        return True
                return False

            t_repaired = db.wait_update(selects, 10)
            lat.append((t_repaired - t_commit) * 1000)
            time.sleep(0.05)

        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))]
        print(f"restarts={len(lat)} p50={p(0.5):.1f}ms p90={p(0.9):.1f}ms p99={p(0.99):.1f}ms max={lat[-1]:.1f}ms mean={statistics.mean(lat):.1f}ms")
    finally:
        for pr in reversed(procs):
            pr.send_signal(signal.SIGKILL); pr.wait()
        for l in links:
            if os.path.exists("/sys/class/net/" + l):
                subprocess.run(["ip", "link", "del", l], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


if __name__ == "__main__":
    main()
