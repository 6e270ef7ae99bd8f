using System.Buffers.Binary;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>One captured frame of a corpus file (frame numbers start at 1, as in tshark/tcpdump).</summary>
internal sealed record CorpusFrame(int Number, byte[] Data, int OriginalLength, long TimestampNanoseconds);

/// <summary>
/// Test-only reader for the corpus captures in tests/corpus (classic pcap in both byte orders
/// with µs or ns timestamps, and pcapng SHB/IDB/EPB/SPB). The product reader lives with the
/// `fabric decap` command; this one only lets the decapsulator tests read real captures in place.
/// </summary>
internal static class CorpusCapture
{
    public const int LinkTypeEthernet = 1;
    public const int LinkTypeRaw = 101;

    /// <summary>The corpus directory (see <see cref="TestPaths"/>).</summary>
    public static string Directory => TestPaths.CorpusRoot;

    public static string PathOf(string relative) => TestPaths.Corpus(relative);

    public static (int LinkType, List<CorpusFrame> Frames) Read(string relative)
    {
        var bytes = File.ReadAllBytes(PathOf(relative));
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        return magic == 0x0A0D0D0A ? ReadPcapng(bytes) : ReadPcap(bytes);
    }

    private static (int, List<CorpusFrame>) ReadPcap(byte[] bytes)
    {
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        var (little, nanos) = magic switch
        {
            0xA1B2C3D4 => (true, false),
            0xA1B23C4D => (true, true),
            0xD4C3B2A1 => (false, false),
            0x4D3CB2A1 => (false, true),
            _ => throw new InvalidDataException("not a pcap file"),
        };
        uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
        var linkType = (int)(U32(20) & 0x0FFFFFFF);
        var frames = new List<CorpusFrame>();
        var offset = 24;
        while (offset + 16 <= bytes.Length)
        {
            var seconds = U32(offset);
            var fraction = U32(offset + 4);
            var captured = (int)U32(offset + 8);
            var original = (int)U32(offset + 12);
            offset += 16;
            if (captured < 0 || offset + captured > bytes.Length)
            {
                break;
            }

            frames.Add(new CorpusFrame(frames.Count + 1, bytes.AsSpan(offset, captured).ToArray(), Math.Max(original, captured),
                (seconds * 1_000_000_000L) + (nanos ? fraction : fraction * 1000L)));
            offset += captured;
        }

        return (linkType, frames);
    }

    private static (int, List<CorpusFrame>) ReadPcapng(byte[] bytes)
    {
        var frames = new List<CorpusFrame>();
        var linkTypes = new List<int>();
        var little = true;
        var offset = 0;
        while (offset + 12 <= bytes.Length)
        {
            var type = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset));
            if (type == 0x0A0D0D0A)
            {
                little = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 8)) == 0x1A2B3C4D;
            }

            uint U32(int at) => little ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at));
            ushort U16(int at) => little ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at)) : BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at));
            type = U32(offset);
            var length = (int)U32(offset + 4);
            if (length < 12 || offset + length > bytes.Length)
            {
                break;
            }

            switch (type)
            {
                case 1:
                    linkTypes.Add(U16(offset + 8));
                    break;
                case 6:
                {
                    var high = U32(offset + 12);
                    var low = U32(offset + 16);
                    var captured = (int)U32(offset + 20);
                    var original = (int)U32(offset + 24);
                    var micros = ((long)high << 32) | low;
                    frames.Add(new CorpusFrame(frames.Count + 1, bytes.AsSpan(offset + 28, captured).ToArray(),
                        Math.Max(original, captured), micros * 1000));
                    break;
                }

                case 3:
                {
                    var original = (int)U32(offset + 8);
                    var captured = Math.Min(original, length - 16);
                    frames.Add(new CorpusFrame(frames.Count + 1, bytes.AsSpan(offset + 12, captured).ToArray(), original, 0));
                    break;
                }
            }

            offset += length;
        }

        return (linkTypes.Count > 0 ? linkTypes[0] : LinkTypeEthernet, frames);
    }
}
