using System.Buffers.Binary;

namespace Fabric.Protocols.Tests.Pcap;

/// <summary>
/// Builds capture files byte by byte for the cases the corpus lacks (big-endian, several pcapng
/// interfaces and sections, simple packet blocks, unknown blocks). tshark reads every file built
/// here in <see cref="CaptureFileReaderTests"/>, so the builder itself is checked by an independent reader.
/// </summary>
public sealed class CaptureBytes
{
    private readonly List<byte> _bytes = [];
    private bool _bigEndian;

    public byte[] ToArray() => [.. _bytes];

    public CaptureBytes ClassicHeader(uint magic, uint linkType, uint snapLength, bool bigEndian)
    {
        _bigEndian = bigEndian;
        U32(magic).U16(2).U16(4).U32(0).U32(0).U32(snapLength).U32(linkType);
        return this;
    }

    public CaptureBytes ClassicRecord(uint seconds, uint fraction, ReadOnlySpan<byte> data, uint originalLength, bool modified = false)
    {
        U32(seconds).U32(fraction).U32((uint)data.Length).U32(originalLength);
        if (modified)
        {
            U32(0).U16(0).Byte(0).Byte(0);
        }

        _bytes.AddRange(data.ToArray());
        return this;
    }

    public CaptureBytes SectionHeader(bool bigEndian)
    {
        _bigEndian = bigEndian;
        return Block(0x0A0D0D0A, b => b.U32(0x1A2B3C4D).U16(1).U16(0).U64(ulong.MaxValue));
    }

    public CaptureBytes InterfaceDescription(ushort linkType, uint snapLength, byte? tsresol = null, long? tsoffset = null)
    {
        return Block(0x00000001, b =>
        {
            b.U16(linkType).U16(0).U32(snapLength);
            if (tsresol is { } r)
            {
                b.U16(9).U16(1).Byte(r).Byte(0).Byte(0).Byte(0);
            }

            if (tsoffset is { } o)
            {
                b.U16(14).U16(8).U64((ulong)o);
            }

            if (tsresol is not null || tsoffset is not null)
            {
                b.U16(0).U16(0);
            }
        });
    }

    public CaptureBytes EnhancedPacket(uint interfaceId, ulong ticks, ReadOnlySpan<byte> data, uint originalLength)
    {
        var copy = data.ToArray();
        return Block(0x00000006, b =>
        {
            b.U32(interfaceId).U32((uint)(ticks >> 32)).U32((uint)ticks).U32((uint)copy.Length).U32(originalLength);
            b._bytes.AddRange(copy);
            b.Pad();
        });
    }

    public CaptureBytes SimplePacket(ReadOnlySpan<byte> data, uint originalLength)
    {
        var copy = data.ToArray();
        return Block(0x00000003, b =>
        {
            b.U32(originalLength);
            b._bytes.AddRange(copy);
            b.Pad();
        });
    }

    /// <summary>An interface statistics block without options (the reader skips it).</summary>
    public CaptureBytes InterfaceStatistics(uint interfaceId) =>
        Block(0x00000005, b => b.U32(interfaceId).U32(0).U32(0));

    public CaptureBytes UnknownBlock(uint type, int bodyLength)
    {
        return Block(type, b =>
        {
            for (var i = 0; i < bodyLength; i++)
            {
                b.Byte((byte)i);
            }

            b.Pad();
        });
    }

    private CaptureBytes Block(uint type, Action<CaptureBytes> body)
    {
        var inner = new CaptureBytes { _bigEndian = _bigEndian };
        body(inner);
        var total = (uint)(inner._bytes.Count + 12);
        U32(type).U32(total);
        _bytes.AddRange(inner._bytes);
        U32(total);
        return this;
    }

    private void Pad()
    {
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }
    }

    private CaptureBytes Byte(byte value)
    {
        _bytes.Add(value);
        return this;
    }

    private CaptureBytes U16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        }

        _bytes.AddRange(b.ToArray());
        return this;
    }

    private CaptureBytes U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        }

        _bytes.AddRange(b.ToArray());
        return this;
    }

    private CaptureBytes U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        if (_bigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        }

        _bytes.AddRange(b.ToArray());
        return this;
    }
}
