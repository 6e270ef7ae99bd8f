#!/usr/bin/env python3
"""The corpus mix: every record of every classic Ethernet pcap under CORPUS (tests/corpus), in file-name order,
repeated until OUT holds FRAMES records (timestamps rewritten 1 us apart, original lengths kept).
  python3 bench/make-corpus-mix.py CORPUS OUT FRAMES"""
import os, struct, sys

corpus, out, frames = sys.argv[1], sys.argv[2], int(sys.argv[3])
records = []
for root, _, files in sorted(os.walk(corpus)):
    for name in sorted(files):
        if not name.endswith('.pcap'):
            continue
        data = open(os.path.join(root, name), 'rb').read()
        if len(data) < 24:
            continue
        magic = data[:4]
        endian = {b'\xd4\xc3\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\x4d\x3c\xb2\xa1': '<', b'\xa1\xb2\x3c\x4d': '>'}.get(magic)
        if endian is None or struct.unpack(endian + 'I', data[20:24])[0] != 1:
            continue
        at = 24
        while at + 16 <= len(data):
            _, _, incl, orig = struct.unpack(endian + 'IIII', data[at:at + 16])
            if incl > 65535 or at + 16 + incl > len(data):
                break
            records.append((data[at + 16:at + 16 + incl], orig))
            at += 16 + incl
if not records:
    sys.exit('no Ethernet pcap records under ' + corpus)
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(frames):
        frame, orig = records[i % len(records)]
        t = 1_700_000_000_000_000 + i
        f.write(struct.pack('<IIII', t // 1_000_000, t % 1_000_000, len(frame), max(orig, len(frame))))
        f.write(frame)
print(f'{frames} frames from {len(records)} corpus records, mean {sum(len(r[0]) for r in records) / len(records):.0f} bytes')
