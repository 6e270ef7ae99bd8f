#!/usr/bin/env python3
"""Writes a large capture for the data-plane benchmarks: N copies of a corpus capture's frames, the
inner and outer IPv4 identification varied so copies differ, classic pcap, little-endian, µs.
   make_capture.py SOURCE.pcap OUT.pcap N [--inner OUT-INNER.pcap]
With --inner the decapsulated (inner) frames are written too, by Fabric's own rules re-done here
only for ERSPAN II / VXLAN / GRE-TEB over IPv4 (the benchmark inputs)."""
import struct, sys

def records(path):
    with open(path, 'rb') as f:
        data = f.read()
    magic = struct.unpack('<I', data[:4])[0]
    assert magic in (0xa1b2c3d4, 0xa1b23c4d), 'classic little-endian pcap expected'
    p = 24
    while p + 16 <= len(data):
        sec, frac, caplen, length = struct.unpack('<IIII', data[p:p + 16])
        yield data[p + 16:p + 16 + caplen], length
        p += 16 + caplen

def inner(frame):
    # Ethernet, IPv4 only (benchmark inputs); GRE (ERSPAN II 0x88BE with seq, TEB 0x6558) or UDP 4789 VXLAN.
    if frame[12:14] != b'\x08\x00':
        return None
    ihl = (frame[14] & 15) * 4
    ip = 14
    proto = frame[ip + 9]
    l4 = ip + ihl
    if proto == 47:
        flags, ptype = struct.unpack('>HH', frame[l4:l4 + 4])
        p = l4 + 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
        if ptype == 0x88BE:
            return frame[p + 8:]
        if ptype == 0x6558:
            return frame[p:]
    if proto == 17 and struct.unpack('>H', frame[l4 + 2:l4 + 4])[0] == 4789:
        return frame[l4 + 16:]
    return None

def main():
    src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    inner_out = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == '--inner' else None
    frames = list(records(src))
    o = open(out, 'wb')
    o.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    io = open(inner_out, 'wb') if inner_out else None
    if io:
        io.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t = 1_700_000_000
    k = 0
    for copy in range(n):
        for frame, length in frames:
            f = bytearray(frame)
            if f[12:14] == b'\x08\x00':
                struct.pack_into('>H', f, 18, (copy * 7 + k) & 0xffff)   # outer IPv4 id
            x = inner(bytes(f))
            if x is not None:
                start = len(f) - len(x)
                if x[12:14] == b'\x08\x00' and len(x) >= 34:
                    struct.pack_into('>H', f, start + 18, copy & 0xffff)  # inner IPv4 id
            k += 1
            usec = k % 1_000_000
            o.write(struct.pack('<IIII', t + k // 1_000_000, usec, len(f), len(f) + (length - len(frame))))
            o.write(f)
            if io and x is not None:
                y = bytes(f[len(f) - len(x):])
                io.write(struct.pack('<IIII', t + k // 1_000_000, usec, len(y), len(y)))
                io.write(y)
    o.close()
    if io:
        io.close()

if __name__ == '__main__':
    main()
