#!/usr/bin/env python3
"""Writes a classic pcap of ERSPAN Type II packets whose inner frames follow a 7:4:1 IMIX of
64/576/1500-byte Ethernet frames (IPv4/UDP inside), for bench/decap-vs-tcpdump.sh.

usage: gen-erspan-imix.py OUT.pcap [PACKETS] [--expected INNER.pcap]   (default 5 000 000 packets)

--expected also writes INNER.pcap: the inner frames alone, with the same timestamps, as a classic pcap exactly as
`fabric decap OUT.pcap X.pcap` must write it (microseconds, snap length 262144, Ethernet), so that the benchmark
and the tests check Fabric's output byte for byte (`cmp`).

Outer: Ethernet / IPv4 (proto 47) / GRE with the sequence bit (0x1000, 0x88BE) / ERSPAN II
(version 1, VLAN 100, En 2, session 42, index 7) / inner frame. The GRE sequence number and the
timestamp (1 us apart) change per packet; everything else repeats, so the file is written in
large chunks.
"""
import struct
import sys


def checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(payload: bytes, proto: int, src: bytes, dst: bytes) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x1234, 0x4000, 64, proto, 0, src, dst)
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def inner_frame(size: int) -> bytes:
    # Ethernet (14) + IPv4 (20) + UDP (8) + payload = size bytes.
    payload = bytes((i * 7) & 0xFF for i in range(size - 42))
    udp = struct.pack("!HHHH", 40000, 5001, 8 + len(payload), 0) + payload
    ip = ipv4(udp, 17, bytes([192, 168, 10, 1]), bytes([192, 168, 10, 2]))
    return bytes.fromhex("0200000000bb0200000000aa0800") + ip


def outer_prefix_and_suffix(inner: bytes):
    """Returns (bytes before the GRE sequence number, bytes after it) for one inner frame."""
    erspan = struct.pack("!HHI", (1 << 12) | 100, (0 << 13) | (2 << 11) | (0 << 10) | 42, 7)
    gre_after_seq = erspan + inner
    gre_len = 8 + len(gre_after_seq)
    ip_header_payload_len = gre_len
    ip = ipv4(b"\x00" * ip_header_payload_len, 47, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))[:20]
    eth = bytes.fromhex("0200000000020200000000010800")
    before = eth + ip + struct.pack("!HH", 0x1000, 0x88BE)
    return before, gre_after_seq


def main() -> int:
    args = sys.argv[1:]
    expected = None
    if "--expected" in args:
        at = args.index("--expected")
        if at + 1 >= len(args):
            print(__doc__, file=sys.stderr)
            return 2
        expected = args[at + 1]
        del args[at:at + 2]
    if len(args) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    out = args[0]
    packets = int(args[1]) if len(args) == 2 else 5_000_000
    imix = [64] * 7 + [576] * 4 + [1500]
    inners = {size: inner_frame(size) for size in set(imix)}
    templates = {size: outer_prefix_and_suffix(inners[size]) for size in set(imix)}
    base = 1_700_000_000
    file_header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    with open(out, "wb", buffering=8 << 20) as f, \
            (open(expected, "wb", buffering=8 << 20) if expected else open("/dev/null", "wb")) as g:
        f.write(file_header)
        g.write(file_header)
        pack_record = struct.Struct("<IIII").pack
        pack_seq = struct.Struct("!I").pack
        chunk = []
        inner_chunk = []
        for n in range(packets):
            size = imix[n % 12]
            before, after = templates[size]
            length = len(before) + 4 + len(after)
            micros = n
            seconds, fraction = base + micros // 1_000_000, micros % 1_000_000
            chunk.append(pack_record(seconds, fraction, length, length))
            chunk.append(before)
            chunk.append(pack_seq(n & 0xFFFFFFFF))
            chunk.append(after)
            if expected:
                inner_chunk.append(pack_record(seconds, fraction, size, size))
                inner_chunk.append(inners[size])
            if len(chunk) >= 400_000:
                f.write(b"".join(chunk))
                chunk.clear()
                g.write(b"".join(inner_chunk))
                inner_chunk.clear()
        f.write(b"".join(chunk))
        g.write(b"".join(inner_chunk))
    return 0


if __name__ == "__main__":
    sys.exit(main())
