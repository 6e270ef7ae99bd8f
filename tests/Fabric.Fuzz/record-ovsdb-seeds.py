#!/usr/bin/env python3
"""Records the ovsdb fuzz target's seeds from a real ovsdb-server (tests/Fabric.Fuzz/seeds/ovsdb).

Starts ovsdb-server on a fresh vswitch database in a temp dir, sends the requests the fuzz target's
client sends (ids 1-5: get_schema, monitor_cond, list_dbs, transact, echo), changes the database
with ovs-vsctl so that update2 notifications arrive, and writes what the server sent as seeds:
byte 0 is the target's read-size byte (read size = 1 + byte 0), the rest the server's bytes as received.
    tests/Fabric.Fuzz/record-ovsdb-seeds.py OUT-DIR
"""
import json, os, signal, socket, subprocess, sys, tempfile, time

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
tmp = tempfile.mkdtemp(prefix="fpf-ovsdb-")
db, sock = os.path.join(tmp, "conf.db"), os.path.join(tmp, "db.sock")
subprocess.run(["ovsdb-tool", "create", db, "/usr/share/openvswitch/vswitch.ovsschema"], check=True)
server = subprocess.Popen(["ovsdb-server", db, "--remote=punix:" + sock, "--unixctl=" + os.path.join(tmp, "ctl"),
                           "--log-file=" + os.path.join(tmp, "log")])
try:
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    vsctl = ["ovs-vsctl", "--db=unix:" + sock, "--no-wait"]
    subprocess.run(vsctl + ["init"], check=True)
    subprocess.run(vsctl + ["add-br", "br0", "--", "add-port", "br0", "p1", "--", "set", "Interface", "p1", "type=internal"], check=True)

    c = socket.socket(socket.AF_UNIX)
    c.connect(sock)
    c.settimeout(0.5)
    received = bytearray()

    def drain():
        while True:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                return
            if not chunk:
                return
            received.extend(chunk)

    def send(obj):
        c.sendall(json.dumps(obj).encode())

    monitor = {t: [{"columns": cols}] for t, cols in {
        "Bridge": ["name", "ports", "mirrors"], "Port": ["name", "interfaces", "tag"],
        "Interface": ["name", "ofport", "external_ids"],
        "Mirror": ["name", "select_all", "select_src_port", "select_dst_port", "output_port", "external_ids"]}.items()}
    send({"method": "get_schema", "params": ["Open_vSwitch"], "id": 1})
    send({"method": "monitor_cond", "params": ["Open_vSwitch", "fabric", monitor], "id": 2})
    send({"method": "list_dbs", "params": [], "id": 3})
    send({"method": "transact", "params": ["Open_vSwitch", {"op": "comment", "comment": "fuzz"},
                                             {"op": "insert", "table": "Bridge", "row": {"name": 5}}], "id": 4})
    send({"method": "echo", "params": ["fabric"], "id": 5})
    drain()
    head = len(received)
    for step in (["add-port", "br0", "p2", "--", "set", "Interface", "p2", "type=internal", "external_ids:owner=fabric"],
                 ["--", "--id=@p1", "get", "Port", "p1", "--", "--id=@p2", "get", "Port", "p2", "--", "--id=@m", "create", "Mirror",
                  "name=fabric-m1", "select_src_port=@p1", "select_dst_port=@p1", "output_port=@p2", "external_ids:fabric-session=m1",
                  "--", "add", "Bridge", "br0", "mirrors", "@m"],
                 ["set", "Port", "p1", "tag=10"],
                 ["set", "Mirror", "fabric-m1", "select_all=true", "external_ids:fabric-session=m2"],
                 ["remove", "Interface", "p2", "external_ids", "owner"],
                 ["clear", "Bridge", "br0", "mirrors"],
                 ["del-port", "br0", "p2"]):
        subprocess.run(vsctl + step, check=True)
        drain()
    c.close()
finally:
    server.send_signal(signal.SIGTERM)
    server.wait()
    subprocess.run(["rm", "-rf", tmp], check=True)

# Split into messages, to write smaller seeds as well.
decoder, messages, text, pos = json.JSONDecoder(), [], received.decode(), 0
while pos < len(text):
    obj, end = decoder.raw_decode(text, pos)
    messages.append(text[pos:end])
    pos = end
replies = {json.loads(m).get("id"): m for m in messages if "method" not in json.loads(m)}
updates = [m for m in messages if json.loads(m).get("method") == "update2"]

def write(name, read_byte, parts):
    data = "".join(parts).encode()
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([read_byte]) + data)
    print(f"{name}: {len(data)} bytes, {len(parts)} messages")

write("session-vswitch-full", 0xff, [received.decode()])
write("monitor-initial-then-updates", 0x3f, [replies[2]] + updates)
write("replies-list-dbs-transact-echo", 0x07, [replies[3], replies[4], replies[5]])
write("update2-notifications", 0x00, updates)
